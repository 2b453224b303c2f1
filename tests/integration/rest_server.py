#!/usr/bin/python3
"""rest_server.py — a scripted HTTP server on loopback for the REST poller test (rest_poll.sh).

It answers the four REST venues' request paths by route:
  /api/v3/simple/price        -> "coingecko"
  /query?symbol=S             -> "alphavantage:S"  (from_currency/to_currency and
                                 from_symbol/to_symbol -> "alphavantage:A/B")
  /v8/finance/chart/S         -> "yahoo:S"
  /api/v3/fx                  -> "fmp"
  /api/v3/aggTrades, /api/v3/historicalTrades (Binance backfill): answered from the aggTrade
      and trade frames of --binance-frames (recorded WebSocket frames, one per line), by
      symbol, fromId and limit, in Binance's REST shapes; logged as "binance-rest"
  /products/P/trades (Coinbase), /api/v5/market/history-trades (OKX), /v5/market/recent-trade
      (Bybit): the backfill of the other venues, answered from the trades of --coinbase-frames,
      --okx-frames, --bybit-frames (WebSocket frames as the live feeds send them) in each
      venue's REST shape and paging (Coinbase `after`, OKX `after` = older than that id, both
      newest first; Bybit the most recent `limit`, or --bybit-recent N of them); --page-max N
      caps every page at N rows (a venue may return short pages); logged as "coinbase-rest",
      "okx-rest", "bybit-rest". A plan entry of that name replaces the answers (a 404).
Each route plays the steps of its plan in order, the last one repeating. A step is
  {"status": 200, "body": "...", "headers": {"Retry-After": "2"},
   "retry_after_date": 2,   # a Retry-After HTTP date this many seconds ahead (rounded up)
   "stall": 3.0}            # wait this long before answering (a timeout for the client)
Every request is logged as one JSON line to --log: monotonic time, route, step, status, the
query and the API-key header. --port-file gets the port once listening (port 0 = any free).
"""
import argparse
import email.utils
import json
import math
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--plan", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--port-file", required=True)
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--binance-frames")
ap.add_argument("--coinbase-frames")
ap.add_argument("--okx-frames")
ap.add_argument("--bybit-frames")
ap.add_argument("--page-max", type=int, default=0)
ap.add_argument("--bybit-recent", type=int, default=0)
args = ap.parse_args()
plan = json.load(open(args.plan))
lock = threading.Lock()
counts = {}
log = open(args.log, "a", buffering=1)


agg, trd = {}, {}
if args.binance_frames:
    for line in open(args.binance_frames):
        if not line.strip():
            continue
        m = json.loads(line)
        x = m.get("data", m)
        if x.get("e") == "aggTrade":
            agg.setdefault(x["s"], []).append({"a": x["a"], "p": x["p"], "q": x["q"], "f": x["f"],
                                               "l": x["l"], "T": x["T"], "m": x["m"], "M": True})
        elif x.get("e") == "trade":
            trd.setdefault(x["s"], []).append({"id": x["t"], "price": x["p"], "qty": x["q"],
                                               "quoteQty": "0", "time": x["T"], "isBuyerMaker": x["m"],
                                               "isBestMatch": True})


cb, okx, byb = {}, {}, {}
if args.coinbase_frames:
    for line in open(args.coinbase_frames):
        m = json.loads(line)
        for ev in m.get("events", []):
            for t in ev.get("trades", []):
                cb.setdefault(t["product_id"], []).append(
                    {"time": t["time"], "trade_id": int(t["trade_id"]), "price": t["price"],
                     "size": t["size"], "side": t["side"].lower()})
if args.okx_frames:
    for line in open(args.okx_frames):
        for t in json.loads(line).get("data", []):
            okx.setdefault(t["instId"], []).append(
                {"instId": t["instId"], "side": t["side"], "sz": t["sz"], "px": t["px"],
                 "tradeId": t["tradeId"], "ts": t["ts"]})
if args.bybit_frames:
    for line in open(args.bybit_frames):
        for t in json.loads(line).get("data", []):
            byb.setdefault(t["s"], []).append(
                {"execId": t["i"], "symbol": t["s"], "price": t["p"], "size": t["v"],
                 "side": t["S"], "time": str(t["T"]), "isBlockTrade": False})


def page(rows, lim):
    if args.page_max:
        lim = min(lim, args.page_max)
    return rows[:lim]


def other_rest(path, q):
    if path.startswith("/products/"):
        rows = sorted(cb.get(path.split("/")[2], []), key=lambda r: -r["trade_id"])
        if "after" in q:
            rows = [r for r in rows if r["trade_id"] < int(q["after"][0])]
        return "coinbase-rest", json.dumps(page(rows, int(q.get("limit", ["1000"])[0])))
    if path == "/api/v5/market/history-trades":
        rows = sorted(okx.get(q.get("instId", [""])[0], []), key=lambda r: -int(r["tradeId"]))
        if "after" in q:
            rows = [r for r in rows if int(r["tradeId"]) < int(q["after"][0])]
        data = page(rows, min(100, int(q.get("limit", ["100"])[0])))
        return "okx-rest", json.dumps({"code": "0", "msg": "", "data": data})
    if path == "/v5/market/recent-trade":
        rows = sorted(byb.get(q.get("symbol", [""])[0], []), key=lambda r: -int(r["time"]))
        lim = int(q.get("limit", ["60"])[0])
        if args.bybit_recent:
            lim = min(lim, args.bybit_recent)
        body = {"retCode": 0, "retMsg": "OK",
                "result": {"category": q.get("category", ["spot"])[0], "list": rows[:lim]},
                "retExtInfo": {}, "time": 0}
        return "bybit-rest", json.dumps(body)
    return None, None


def binance_rest(path, q):
    agg_ = path.endswith("aggTrades")
    rows = (agg if agg_ else trd).get(q.get("symbol", [""])[0], [])
    frm, lim = int(q.get("fromId", ["0"])[0]), int(q.get("limit", ["500"])[0])
    key = "a" if agg_ else "id"
    sel = sorted((r for r in rows if r[key] >= frm), key=lambda r: r[key])[:lim]
    return json.dumps(sel, separators=(",", ":"))


def route_of(path, q):
    if path.startswith("/api/v3/simple/price"):
        return "coingecko"
    if path == "/query":
        if "symbol" in q:  # GLOBAL_QUOTE, TIME_SERIES_INTRADAY, CRYPTO_INTRADAY
            return "alphavantage:" + q["symbol"][0]
        if "from_symbol" in q:  # FX_INTRADAY
            return "alphavantage:%s/%s" % (q["from_symbol"][0], q.get("to_symbol", ["?"])[0])
        return "alphavantage:%s/%s" % (q.get("from_currency", ["?"])[0], q.get("to_currency", ["?"])[0])
    if path.startswith("/v8/finance/chart/"):
        return "yahoo:" + urllib.parse.unquote(path.rsplit("/", 1)[1])
    if path.startswith("/api/v3/fx"):
        return "fmp"
    return None


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        route = route_of(u.path, q)
        steps = plan.get(route) if route else None
        if u.path in ("/api/v3/aggTrades", "/api/v3/historicalTrades"):
            route, steps = "binance-rest", [{"status": 200, "body": binance_rest(u.path, q)}]
        else:
            r2, body2 = other_rest(u.path, q)
            if r2:
                route = r2
                steps = plan.get(r2) or [{"status": 200, "body": body2}]
        t = time.monotonic()
        if not steps:
            step, k = {"status": 404, "body": '{"error":"no such route"}'}, -1
        else:
            with lock:
                k = counts.get(route, 0)
                counts[route] = k + 1
            step = steps[min(k, len(steps) - 1)]
        rec = {"t": t, "route": route, "step": k, "status": step.get("status", 200),
               "path": u.path, "query": {a: b[0] for a, b in q.items()},
               "key": self.headers.get("x-cg-demo-api-key"), "stall": step.get("stall", 0)}
        with lock:
            log.write(json.dumps(rec) + "\n")
        if step.get("stall"):
            time.sleep(step["stall"])
        body = step.get("body", "").encode()
        try:
            self.send_response(step.get("status", 200))
            for h, v in step.get("headers", {}).items():
                self.send_header(h, v)
            if "retry_after_date" in step:
                at = math.ceil(time.time()) + step["retry_after_date"]
                self.send_header("Retry-After", email.utils.formatdate(at, usegmt=True))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the stall)


srv = ThreadingHTTPServer(("127.0.0.1", args.port), H)
srv.daemon_threads = True
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(args.port_file + ".tmp", args.port_file)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
sys.exit(0)
