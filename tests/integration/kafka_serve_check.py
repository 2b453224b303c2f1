#!/usr/bin/python3
"""Checks what `tickpipe run --role serve` shows against the topics it reads (kcat dumps).

  kafka_serve_check.py api PORT TICKS_DUMP BARS_DUMP ANOM_DUMP
      TICKS_DUMP: kcat -f '%p\t%o\t%k\t%s\n' of tickpipe.ticks; BARS_DUMP / ANOM_DUMP:
      kcat -f '%k\t%s\n'. Checks /api/instruments (every instrument of the ticks topic, its
      last trade price, its record count), /api/bars (for every instrument and interval in
      the topic, the newest bars, up to the 500 the live view keeps, object for object equal
      to the topic's values) and /api/anomalies (every anomaly of the topic, when at most
      1024). Prints the response bodies' digest so two instances can be compared.
  kafka_serve_check.py stream STREAM_FILE TICKS_DUMP BARS_DUMP INSTR[,INSTR...]
      STREAM_FILE: the SSE body of /api/stream (kinds final_bars,ticks). Every bar and tick
      of those instruments in the topics arrived on the stream, each once, equal.
Exits 1 with the first problems found.
"""
import hashlib
import json
import sys
import urllib.parse
import urllib.error
import urllib.request

problems = []


def problem(msg):
    problems.append(msg)
    if len(problems) <= 20:
        print("PROBLEM:", msg, file=sys.stderr)


def raw(s):
    return json.loads(s, parse_float=str, parse_int=str)


def dump(path, n):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                rows.append(line.split("\t", n - 1))
    return rows


def get(port, path, **params):
    url = f"http://127.0.0.1:{port}{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        problem(f"{url}: {e.code} {e.read()[:200]!r}")
        return b"", []
    return body, raw(body)


def series(bars_dump):
    out = {}  # (instrument, interval) -> [bar dicts] in topic order
    for key, value in bars_dump:
        v = raw(value)
        out.setdefault((v["instrument"], v["interval"]), []).append(v)
    return out


def check_api(port, ticks_path, bars_path, anom_path):
    digest = hashlib.sha256()
    last_price, records = {}, {}
    for p, o, key, value in dump(ticks_path, 4):
        v = raw(value)
        i = v["instrument"]
        if v["kind"] != "status":
            records[i] = records.get(i, 0) + 1
        if v["kind"] == "trade":
            last_price[i] = v["price"]
    body, inst = get(port, "/api/instruments")
    digest.update(body)
    shown = {x["instrument"]: x for x in inst}
    if set(shown) != set(records):
        problem(f"/api/instruments shows {sorted(shown)}, the topic has {sorted(records)}")
    for i, x in shown.items():
        if i in last_price and x["price"] != last_price[i]:
            problem(f"{i}: price {x['price']}, last trade in the topic {last_price[i]}")
        if i in records and int(x["records"]) != records[i]:
            problem(f"{i}: {x['records']} records shown, {records[i]} in the topic")
    s = series(dump(bars_path, 2))
    nbars = 0
    for (i, iv), bars in sorted(s.items()):
        body, got = get(port, "/api/bars", instrument=i, interval=iv, limit=10000)
        digest.update(body)
        want = bars[-500:]
        nbars += len(got)
        if got != want:
            problem(f"/api/bars {i} {iv}: {len(got)} bars, the topic's newest {len(want)} differ"
                    + (f" (first: {got[0]} vs {want[0]})" if got and want else ""))
    anoms = [raw(v) for k, v in dump(anom_path, 2)]
    body, got = get(port, "/api/anomalies", since="1970-01-01T00:00:00Z", limit=10000)
    digest.update(body)
    if len(anoms) <= 1024:
        key = lambda a: (a["instrument"], a["ts"], a["kind"], a["interval"] or "")
        if sorted(map(key, got)) != sorted(map(key, anoms)):
            problem(f"/api/anomalies: {len(got)} shown, {len(anoms)} in the topic, not the same")
        for a in got:
            if a not in anoms:
                problem(f"/api/anomalies: {a} is not in the topic")
                break
    print(f"api: {len(shown)} instruments, {len(s)} bar series ({nbars} bars shown), "
          f"{len(got)} anomalies; digest {digest.hexdigest()[:16]}")


def check_stream(stream_path, ticks_path, bars_path, instruments):
    want_i = set(instruments.split(","))
    bars, ticks = {}, {}
    with open(stream_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.startswith("data: "):
                continue
            m = raw(line[6:])
            d = m.get("data") or {}
            if m.get("type") == "final_bar":
                k = (d["instrument"], d["interval"], d["ts"])
                if k in bars:
                    problem(f"stream: bar {k} twice")
                bars[k] = d
            elif m.get("type") == "tick":
                ticks.setdefault(d["instrument"], []).append(d)
    nb = 0
    for key, value in dump(bars_path, 2):
        v = raw(value)
        if v["instrument"] not in want_i:
            continue
        nb += 1
        k = (v["instrument"], v["interval"], v["ts"])
        if k not in bars:
            problem(f"stream: bar {k} of the topic never arrived")
        elif bars[k] != v:
            problem(f"stream: bar {k} differs: {bars[k]} vs {v}")
    nt = 0
    for p, o, key, value in dump(ticks_path, 4):
        v = raw(value)
        if v["instrument"] not in want_i or v["kind"] == "status":
            continue
        nt += 1
    got_t = sum(len(t) for i, t in ticks.items() if i in want_i)
    if got_t != nt:
        problem(f"stream: {got_t} ticks of {sorted(want_i)}, {nt} in the topic")
    if nb == 0:
        problem("the topic has no bar of " + instruments)
    print(f"stream: {nb} new bars and {nt} new ticks of {sorted(want_i)} all arrived")


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "api":
        check_api(*sys.argv[2:])
    elif len(sys.argv) == 6 and sys.argv[1] == "stream":
        check_stream(*sys.argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
