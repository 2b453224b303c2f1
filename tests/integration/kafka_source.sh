#!/usr/bin/env bash
# kafka_source.sh — `--source kafka:TOPIC --map ...` reading a topic written by another
# producer (kcat), on librdkafka's mock cluster. The records are forex quotes in the seed
# projects' FMP shape (ticker, bid, ask, open, low, high, changes, date; numbers as strings).
# Checks:
#   1. the embedded pipeline with --exit-at-eof puts every quote into the input journal once,
#      in order per ticker, as fmp:EUR-USD etc. (quote-only, exact decimals, the record's date
#      as ts), then one eof per instrument, and the engine makes quote-only bars (mid, volume 0);
#      a record that is not JSON is counted and skipped;
#   2. a second run in the same consumer group reads nothing again (offsets committed);
#      after 30 more quotes, a third run reads exactly those 30;
#   3. --role ingest with the same source normalizes the topic into tickpipe.ticks (keyed
#      fmp:EUR-USD, ...);
#   4. a bad --map and a kafka: source without --kafka are usage errors (exit 2).
set -uo pipefail
source "$(dirname "$0")/kafka_lib.inc"
kafka_setup kafka_source
mock_start fmp.quotes:2 tickpipe.ticks:2

gen() { # gen FIRST COUNT: quotes for three tickers, every 0.5 s of event time from index FIRST
    /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, random, sys
first, count = int(sys.argv[1]), int(sys.argv[2])
random.seed(first)
mids = {"EUR/USD": 1.08, "GBP/USD": 1.27, "USD/JPY": 150.0}
for i in range(first, first + count):
    for t, m in mids.items():
        m *= 1 + random.gauss(0, 0.0001)
        mids[t] = m
        s = i * 0.5
        date = "2026-11-23 %02d:%02d:%02d.%03d" % (12 + int(s // 3600), int(s // 60) % 60,
                                                   int(s % 60), int(s * 1000) % 1000)
        rec = {"ticker": t, "bid": str(round(m * 0.99995, 5)), "ask": str(round(m * 1.00005, 5)),
               "open": str(round(m, 4)), "low": str(round(m * 0.99, 4)),
               "high": str(round(m * 1.01, 4)), "changes": round(random.gauss(0, 0.001), 6),
               "date": date}
        print(t + "\t" + json.dumps(rec))
EOF
}
gen 0 1000 >"$tmp/q1.txt"
printf 'EUR/USD\tthis is not json\n' >>"$tmp/q1.txt"
kcat -b "$B" -P -t fmp.quotes -K '\t' <"$tmp/q1.txt" || fail "kcat could not produce"

map=ts=date,instrument=ticker,bid=bid,ask=ask,open=open,low=low,high=high,change=changes
map=$map,venue=fmp,quote_only
# Short session timeouts (DESIGN.md §9): the mock makes a rejoining group wait for members it
# still remembers from the previous run.
run=(--kafka "$B" --source kafka:fmp.quotes --map "$map" --exit-at-eof --http off
     --status-interval 0 --kafka-opt session.timeout.ms=3000 --kafka-opt heartbeat.interval.ms=300)
"$TICKPIPE" run --data "$tmp/d" "${run[@]}" 2>"$tmp/r1.log" ||
    { cat "$tmp/r1.log" >&2; fail "the first run failed"; }
grep -q '3003 events, 1 bad records' "$tmp/r1.log" || { cat "$tmp/r1.log" >&2; fail "not 3000 quotes + 3 eofs and 1 bad record"; }
"$TICKPIPE" journal dump "$tmp/d/journal/input" >"$tmp/in1.dump"
"$TICKPIPE" journal dump "$tmp/d/journal/output" >"$tmp/out1.dump"
/usr/bin/python3 - "$tmp/q1.txt" "$tmp/in1.dump" "$tmp/out1.dump" <<'EOF' || fail "the journal does not hold the quotes"
import json, sys
from decimal import Decimal
want = {}
for line in open(sys.argv[1]):
    t, v = line.rstrip("\n").split("\t", 1)
    try:
        r = json.loads(v)
    except ValueError:
        continue
    want.setdefault("fmp:" + t.replace("/", "-"), []).append(r)
got, eofs = {}, set()
for line in open(sys.argv[2]):
    tok = line.split()
    if tok[2] == "status" and tok[4] == "eof":
        eofs.add(tok[3])
        continue
    assert tok[2] == "quote" and tok[-1] == "quote_only", line
    d = dict(x.split("=", 1) for x in tok[4:] if "=" in x)
    got.setdefault(tok[3], []).append(d)
assert set(got) == set(want) == eofs, (set(got), set(want), eofs)
for instr, rs in want.items():
    gs = got[instr]
    assert len(gs) == len(rs), (instr, len(gs), len(rs))
    for r, g in zip(rs, gs):
        for k, gk in (("bid", "bid"), ("ask", "ask"), ("open", "open"), ("low", "low"),
                      ("high", "high"), ("changes", "change")):
            assert Decimal(str(r[k])) == Decimal(g[gk]), (instr, k, r, g)
        assert g["ts"] == r["date"].replace(" ", "T") + "000000Z", (r["date"], g["ts"])
        assert g["vsym"] == r["ticker"]
bars = [l for l in open(sys.argv[3]) if " bar fmp:" in l]
assert len(bars) > 100, len(bars)
assert all(" volume=0 " in b for b in bars), bars[0]
print("kafka_source: %d quotes of %d instruments in the journal, %d quote-only bars"
      % (sum(map(len, got.values())), len(got), len(bars)))
EOF

# 2. Offsets: nothing again, then exactly the new records.
n1=$(wc -l <"$tmp/in1.dump")
"$TICKPIPE" run --data "$tmp/d" "${run[@]}" 2>"$tmp/r2.log" ||
    { cat "$tmp/r2.log" >&2; fail "the second run failed"; }
n2=$("$TICKPIPE" journal dump "$tmp/d/journal/input" | wc -l)
[ "$n2" -eq "$n1" ] || fail "the second run added $((n2 - n1)) records (want 0)"
gen 1000 10 | kcat -b "$B" -P -t fmp.quotes -K '\t' || fail "kcat could not produce"
"$TICKPIPE" run --data "$tmp/d" "${run[@]}" 2>"$tmp/r3.log" ||
    { cat "$tmp/r3.log" >&2; fail "the third run failed"; }
grep -q '(33 events, 0 bad records)' "$tmp/r3.log" || { cat "$tmp/r3.log" >&2; fail "the third run did not read exactly the 30 new quotes"; }

# 3. Kafka to Kafka: the ingest role normalizes the topic.
"$TICKPIPE" run --role ingest "${run[@]}" --kafka-source-group to-ticks 2>"$tmp/ingest.log" ||
    { cat "$tmp/ingest.log" >&2; fail "ingest from the kafka source failed"; }
grep -q 'all delivered' "$tmp/ingest.log" || fail "ingest did not deliver everything"
kdump tickpipe.ticks '%k\t%s\n' "$tmp/ticks.txt"
[ "$(grep -c '^fmp:EUR-USD	{.*"kind":"quote"' "$tmp/ticks.txt")" -eq 1010 ] ||
    fail "tickpipe.ticks lacks the 1010 EUR-USD quotes"
[ "$(grep -c '"status":"eof"' "$tmp/ticks.txt")" -eq 3 ] || fail "tickpipe.ticks lacks the eofs"

# 4. Usage errors.
for bad in "--kafka $B --source kafka:fmp.quotes --map ts=date" \
           "--kafka $B --source kafka:fmp.quotes --map ts=date,instrument=t,colour=c" \
           "--source kafka:fmp.quotes"; do
    # shellcheck disable=SC2086
    "$TICKPIPE" run --http off $bad >/dev/null 2>"$tmp/usage.err"
    rc=$?
    [ $rc -eq 2 ] || { cat "$tmp/usage.err" >&2; fail "exit $rc (not 2) for: $bad"; }
done
echo "kafka_source: ok"
