#!/usr/bin/python3
"""redis_check.py — compares what tickpipe's Redis sink left in a Redis server with the
journals of a data directory (used by redis_sink.sh; independent of tickpipe's code: it reads
`tickpipe journal dump` and asks the server with redis-cli).

Checks:
  - tickpipe:last:<instrument>: price, size, ts, ts_ns equal the trade with the largest ts in
    the input journal (the last of those in log order on a tie); bid, ask, quote_ts_ns the
    quote likewise (when --expect-last says so; an instrument may be excluded with --skip-last);
  - tickpipe:bars:<instrument>:<interval>: the stream holds the last XLEN final bars of the
    output journal for that instrument and interval, in order, each with the id
    <ms>-<ns remainder> of its ts and every bar column equal to the journal's (null = ""),
    and XLEN is at least min(maxlen, bars) and no more than bars; no other bar stream exists;
  - tickpipe:offsets equals the ends of both journals;
  - with --sub FILE... (outputs of `redis-cli --raw PSUBSCRIBE 'tickpipe:*'`): the messages on
    tickpipe:ticks:* are, in order, exactly the journal's ticks (instrument, ts_ns, kind,
    price...) when --sub-exact, else a subsequence without duplicates; bar messages likewise.
Prints a summary line; exits 1 with the first difference.
"""
import argparse
import calendar
import json
import re
import subprocess
import sys


def fail(msg):
    print("redis_check: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


KV = re.compile(r"([a-z_0-9]+)=(\S*)")
_secs = {}


def rfc3339_ns(s):
    """'2026-11-23T12:34:00.123456789Z' -> epoch ns (exact); seconds cached (ticks share them)."""
    base, frac = s[:19], s[20:-1]
    sec = _secs.get(base)
    if sec is None:
        sec = calendar.timegm((int(base[0:4]), int(base[5:7]), int(base[8:10]),
                               int(base[11:13]), int(base[14:16]), int(base[17:19])))
        _secs[base] = sec
    return sec * 10**9 + int(frac.ljust(9, "0"))


def dump(tickpipe, path):
    out = subprocess.run([tickpipe, "journal", "dump", path], check=True,
                         capture_output=True, text=True).stdout
    # "OFFSET event KIND INSTRUMENT k=v ..." or "OFFSET bar INSTRUMENT INTERVAL k=v ...":
    # the first four words, and the k=v pairs.
    return [(line.split(" ", 4)[:4], dict(KV.findall(line))) for line in out.splitlines()]


class Redis:
    def __init__(self, port):
        self.port = port

    def raw(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), "--raw"] + list(args),
                           check=True, capture_output=True, text=True)
        return r.stdout.split("\n")[:-1]

    def hgetall(self, key):
        v = self.raw("HGETALL", key)
        return dict(zip(v[0::2], v[1::2]))

    def xrange(self, key):
        """[(id, {field: value})]: redis-cli --raw prints id, then field/value lines."""
        v = self.raw("XRANGE", key, "-", "+")
        out = []
        i = 0
        while i < len(v):
            eid = v[i]
            fields = {}
            i += 1
            # every entry has 26 fields (52 lines) — the sink always writes all columns
            for k in range(26):
                fields[v[i + 2 * k]] = v[i + 2 * k + 1]
            i += 52
            out.append((eid, fields))
        return out


BAR_COLS = ["instrument", "interval", "ts", "open", "high", "low", "close", "volume",
            "notional", "vwap", "trades", "buy_volume", "sell_volume", "first_ts", "last_ts",
            "sma_20", "ema_20", "bb_upper", "bb_middle", "bb_lower", "rsi_14", "macd",
            "macd_signal", "macd_hist", "atr_14", "volatility_20"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickpipe", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--maxlen", type=int, required=True)
    ap.add_argument("--sub", action="append", default=[])
    ap.add_argument("--sub-exact", action="store_true")
    ap.add_argument("--skip-last", action="append", default=[])
    a = ap.parse_args()
    r = Redis(a.port)

    inp = dump(a.tickpipe, a.data + "/journal/input")
    outp = dump(a.tickpipe, a.data + "/journal/output")

    # Last trade / quote per instrument: largest ts, last in log order on ties.
    last_trade, last_quote, ticks = {}, {}, []
    for words, kv in inp:
        if len(words) < 4 or words[1] != "event" or words[2] == "status":
            continue
        kind, instr = words[2], words[3]
        ts = rfc3339_ns(kv["ts"])
        ticks.append((instr, ts, kind, kv))
        if kind in ("trade", "snapshot"):
            if instr not in last_trade or ts >= last_trade[instr][0]:
                last_trade[instr] = (ts, kv)
        elif kind == "quote":
            if instr not in last_quote or ts >= last_quote[instr][0]:
                last_quote[instr] = (ts, kv)
    instruments = sorted(set(last_trade) | set(last_quote))
    if not instruments:
        fail("no ticks in the input journal")
    for instr in instruments:
        if instr in a.skip_last:
            continue
        h = r.hgetall("tickpipe:last:" + instr)
        if instr in last_trade:
            ts, kv = last_trade[instr]
            want = {"price": kv["price"], "size": kv.get("size", ""), "ts": kv["ts"],
                    "ts_ns": str(ts)}
            for k, v in want.items():
                if h.get(k, "") != v:
                    fail(f"{instr}: last {k} is '{h.get(k)}', the journal's last trade has '{v}'")
        if instr in last_quote:
            ts, kv = last_quote[instr]
            want = {"bid": kv.get("bid", ""), "ask": kv.get("ask", ""),
                    "quote_ts_ns": str(ts)}
            for k, v in want.items():
                if h.get(k, "") != v:
                    fail(f"{instr}: last {k} is '{h.get(k)}', the journal's last quote has '{v}'")

    # Bars per stream, in journal order.
    bars = {}
    bar_seq = []
    for words, kv in outp:
        if len(words) < 4 or words[1] != "bar":
            continue
        instr, interval = words[2], words[3]
        row = {c: kv.get(c, "") for c in BAR_COLS}
        row["instrument"], row["interval"] = instr, interval
        bars.setdefault((instr, interval), []).append(row)
        bar_seq.append((instr, interval, row["ts"]))
    if not bars:
        fail("no bars in the output journal")
    streams = set(r.raw("KEYS", "tickpipe:bars:*"))
    want_streams = {f"tickpipe:bars:{i}:{iv}" for (i, iv) in bars}
    if streams != want_streams:
        fail(f"bar streams differ: extra {sorted(streams - want_streams)[:3]}, "
             f"missing {sorted(want_streams - streams)[:3]}")
    total = 0
    for (instr, interval), rows in sorted(bars.items()):
        key = f"tickpipe:bars:{instr}:{interval}"
        got = r.xrange(key)
        n = len(got)
        if n > len(rows) or n < min(a.maxlen, len(rows)):
            fail(f"{key}: {n} entries for {len(rows)} bars with maxlen {a.maxlen}")
        for (eid, fields), row in zip(got, rows[len(rows) - n:]):
            ts = rfc3339_ns(row["ts"])
            want_id = f"{ts // 10**6}-{ts % 10**6}"
            if eid != want_id:
                fail(f"{key}: entry id {eid}, the bar at {row['ts']} wants {want_id}")
            for c in BAR_COLS:
                if fields.get(c) != row[c]:
                    fail(f"{key} {eid}: {c} is '{fields.get(c)}', the journal has '{row[c]}'")
        total += n

    # Offsets.
    off = r.hgetall("tickpipe:offsets")
    in_end = int(inp[-1][0][0]) + 1
    out_end = int(outp[-1][0][0]) + 1
    if off.get("redis.input") != str(in_end) or off.get("redis.output") != str(out_end):
        fail(f"offsets {off}, journals end at {in_end} and {out_end}")

    msg = ""
    if a.sub:
        lines = []
        for path in a.sub:  # one file per subscriber, in time order
            with open(path) as f:
                lines += f.read().split("\n")[3:-1]  # after: psubscribe, pattern, count
        sub_ticks, sub_bars = [], []
        i = 0
        while i + 3 < len(lines):
            if lines[i] != "pmessage":
                fail(f"subscriber output line {i}: '{lines[i][:60]}'")
            chan, body = lines[i + 2], json.loads(lines[i + 3])
            if chan.startswith("tickpipe:ticks:"):
                if chan != "tickpipe:ticks:" + body["instrument"]:
                    fail(f"tick on {chan} is for {body['instrument']}")
                sub_ticks.append((body["instrument"], int(body["ts_ns"]), body["kind"], body))
            elif chan.startswith("tickpipe:bars:"):
                if chan != f"tickpipe:bars:{body['instrument']}:{body['interval']}":
                    fail(f"bar on {chan} is for {body['instrument']} {body['interval']}")
                if not body["final"]:
                    fail(f"a bar that is not final on {chan}")
                sub_bars.append((body["instrument"], body["interval"], body["ts"]))
            i += 4
        want_ticks = [(t[0], t[1], t[2]) for t in ticks]
        got_ticks = [(t[0], t[1], t[2]) for t in sub_ticks]
        if a.sub_exact and got_ticks == want_ticks:
            # Values: the JSON numbers equal the journal's.
            for (instr, ts, kind, body), (_, _, _, kv) in zip(sub_ticks, ticks):
                for c in ("price", "size", "bid", "ask"):
                    v, want = body.get(c), kv.get(c)
                    if (v is None) != (want is None) or (v is not None and float(want) != v):
                        fail(f"tick message {instr} {ts}: {c} {v}, the journal has {want}")
        if len(set(got_ticks)) != len(got_ticks) and len(set(want_ticks)) == len(want_ticks):
            fail("a tick was published twice")
        if len(set(sub_bars)) != len(sub_bars):
            fail("a bar was published twice")
        if a.sub_exact:
            if got_ticks != want_ticks:
                k = next((j for j, (x, y) in enumerate(zip(got_ticks, want_ticks)) if x != y),
                         min(len(got_ticks), len(want_ticks)))
                fail(f"{len(got_ticks)} tick messages for {len(want_ticks)} ticks; first "
                     f"difference at {k}")
            if sub_bars != bar_seq:
                fail(f"{len(sub_bars)} bar messages for {len(bar_seq)} bars")
        else:
            # At most once, in order: a subsequence of the journal's.
            it = iter(want_ticks)
            if not all(t in it for t in got_ticks):
                fail("tick messages are not a subsequence of the journal's ticks")
            it = iter(bar_seq)
            if not all(b in it for b in sub_bars):
                fail("bar messages are not a subsequence of the journal's bars")
        msg = f", {len(got_ticks)}/{len(want_ticks)} tick and {len(sub_bars)}/{len(bar_seq)} " \
              f"bar messages"
    print(f"redis_check: {len(instruments)} instruments' last state, {len(bars)} streams with "
          f"{total} entries, offsets {in_end}/{out_end}{msg}")


if __name__ == "__main__":
    main()
