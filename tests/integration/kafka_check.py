#!/usr/bin/python3
"""Checks Kafka topic contents dumped by kcat against tickpipe's embedded results.

  kafka_check.py ticks JOURNAL_DUMP KCAT_DUMP    kcat -f '%p\t%o\t%k\t%h\t%s\n' of tickpipe.ticks
  kafka_check.py ticks-resent JOURNAL_DUMP KCAT_DUMP   the same, but a message that repeats an
                                                 earlier one of its instrument byte for byte
                                                 (a re-sent batch) is counted and skipped
  kafka_check.py bars BARS_CSV KCAT_DUMP         kcat -f '%k\t%s\n' of tickpipe.bars
  kafka_check.py anomalies ANOM_CSV KCAT_DUMP    kcat -f '%k\t%s\n' of tickpipe.anomalies
  kafka_check.py late LATE_CSV KCAT_DUMP TICKS_DUMP   kcat -f '%k\t%s\n' of tickpipe.late, and
                                                 the ticks dump as for `ticks`

ticks: every event of the reference journal (`tickpipe journal dump`) arrives exactly once, keyed
by its instrument, with the schema header, each instrument in one partition, in the journal's
order per instrument (offsets increasing), with the same fields.

bars / anomalies: the set of keys equals the reference's (`tickpipe replay` CSV output); every
value has the reference row's fields (numbers compared as text: both sides print the shortest
round-trip form); a key repeated in the topic (a re-send after a failover) has byte-identical
values. Prints a summary; exits 1 with the first problems found.
"""
import csv
import json
import sys

problems = []


def problem(msg):
    problems.append(msg)
    if len(problems) <= 20:
        print("PROBLEM:", msg, file=sys.stderr)


def raw_json(s):
    # Keep numbers as their text so that they compare with the CSV's text.
    return json.loads(s, parse_float=str, parse_int=str)


def read_dump(path, nfields):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split("\t", nfields - 1)
            if len(parts) != nfields:
                problem(f"malformed kcat line: {line[:120]}")
                continue
            rows.append(parts)
    return rows


def text(v):
    """A JSON value as the CSV writes it: null -> empty."""
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def check_ticks(journal_dump, kcat_dump, resent_ok=False):
    ref = {}  # instrument -> list of field dicts, in journal order
    total = 0
    with open(journal_dump, encoding="utf-8") as f:
        for line in f:
            t = line.split()
            if len(t) < 4 or t[1] != "event":
                continue
            kind, instr = t[2], t[3]
            d = {"kind": kind}
            rest = t[4:]
            if kind == "status":
                d["status"] = rest[0]
                rest = rest[1:]
            for tok in rest:
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    d[k] = v
                else:
                    d[tok] = True
            ref.setdefault(instr, []).append(d)
            total += 1
    got = {}
    part_of = {}
    last_off = {}
    seen = set()
    n = resent = 0
    for p, o, key, hdrs, value in read_dump(kcat_dump, 5):
        n += 1
        if resent_ok:
            if (key, value) in seen:
                resent += 1
                continue
            seen.add((key, value))
        v = raw_json(value)
        if "tickpipe-schema=1" not in hdrs:
            problem(f"message {p}/{o} lacks the schema header: {hdrs}")
        instr = v.get("instrument")
        if key != instr:
            problem(f"message {p}/{o}: key {key} but instrument {instr}")
        if part_of.setdefault(instr, p) != p:
            problem(f"{instr} is in partitions {part_of[instr]} and {p}")
        if int(o) <= last_off.get(p, -1):
            problem(f"partition {p}: offsets not increasing at {o}")
        last_off[p] = int(o)
        got.setdefault(instr, []).append(v)
    fields = [("ts", "ts"), ("recv", "ts_recv"), ("price", "price"), ("size", "size"),
              ("side", "side"), ("id", "trade_id"), ("bid", "bid"), ("ask", "ask"),
              ("bid_size", "bid_size"), ("ask_size", "ask_size"), ("vsym", "venue_symbol")]
    for instr in sorted(set(ref) | set(got)):
        r, g = ref.get(instr, []), got.get(instr, [])
        if len(r) != len(g):
            problem(f"{instr}: {len(r)} events in the journal, {len(g)} in the topic")
        for i, (a, b) in enumerate(zip(r, g)):
            if a["kind"] != b["kind"] or a.get("status") != b.get("status"):
                problem(f"{instr} #{i}: kind {a['kind']}/{a.get('status')} vs "
                        f"{b['kind']}/{b.get('status')}")
                break
            bad = [jk for dk, jk in fields if a.get(dk, "") != text(b.get(jk))]
            if bool(a.get("venue_ts")) != b.get("ts_venue") or \
               bool(a.get("quote_only")) != b.get("quote_only"):
                bad.append("flags")
            if bad:
                problem(f"{instr} #{i}: fields {bad} differ: {a} vs {b}")
                break
    print(f"ticks: {n} messages, {total} journal events, {len(got)} instruments, "
          f"{len(set(part_of.values()))} partitions used"
          + (f", {resent} re-sent copies skipped" if resent_ok else ""))


def check_results(csv_path, kcat_dump, key_cols):
    ref = {}
    with open(csv_path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            key = "|".join(row[c] for c in key_cols)
            if key in ref:
                problem(f"reference has key {key} twice")
            ref[key] = row
    first = {}
    copies = 0
    for key, value in read_dump(kcat_dump, 2):
        if key in first:
            copies += 1
            if value != first[key]:
                problem(f"key {key} re-sent with different bytes:\n  {first[key]}\n  {value}")
            continue
        first[key] = value
    for key in sorted(set(ref) - set(first))[:5]:
        problem(f"missing from the topic: {key}")
    for key in sorted(set(first) - set(ref))[:5]:
        problem(f"not in the reference: {key}")
    if set(ref) != set(first):
        problem(f"{len(ref)} reference keys, {len(first)} topic keys")
    for key in sorted(set(ref) & set(first)):
        v = raw_json(first[key])
        row = ref[key]
        diff = [c for c in row if text(v.get(c)) != row[c]]
        if "final" in v and v["final"] is not True:
            diff.append("final")
        if diff:
            problem(f"{key}: {diff} differ: topic {[text(v.get(c)) for c in diff]} "
                    f"reference {[row.get(c) for c in diff]}")
    print(f"{len(first)} keys ({len(ref)} in the reference), {copies} repeated copies "
          f"(byte-identical: {'yes' if not problems else 'see above'})")


def check_late(csv_path, kcat_dump, ticks_dump):
    """Late events: the reference's rows (`tickpipe replay` late.csv), each once by key
    instrument|interval|ts|OFFSET, where OFFSET is the late tick's offset in the ticks topic
    and the value is that tick's value plus `interval`."""
    ticks = {}
    for p, o, key, hdrs, value in read_dump(ticks_dump, 5):
        ticks[(key, o)] = raw_json(value)
    ref = []
    with open(csv_path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            ref.append(row)
    first = {}
    copies = 0
    for key, value in read_dump(kcat_dump, 2):
        if key in first:
            copies += 1
            if value != first[key]:
                problem(f"late key {key} re-sent with different bytes")
            continue
        first[key] = value
    got = []
    for key, value in first.items():
        v = raw_json(value)
        off = key.rsplit("|", 1)[-1]
        want_key = f"{v.get('instrument')}|{v.get('interval')}|{v.get('ts')}|{off}"
        if key != want_key or not off.isdigit():
            problem(f"late key {key}, expected {want_key}")
        t = ticks.get((v.get("instrument"), off))
        if t is None:
            problem(f"late key {key}: no tick of {v.get('instrument')} at offset {off}")
        else:
            rest = dict(v)
            rest.pop("interval", None)
            if rest != t:
                problem(f"late key {key}: value {rest} is not the tick at that offset {t}")
        got.append(v)
    cols = ["instrument", "interval", "ts", "price", "size", "side", "trade_id"]
    want_rows = sorted(tuple(r[c] for c in cols) for r in ref)
    got_rows = sorted(tuple(text(v.get(c)) for c in cols) for v in got)
    if want_rows != got_rows:
        problem(f"late: {len(got_rows)} in the topic, {len(want_rows)} in the reference; first "
                f"differences: {sorted(set(want_rows) ^ set(got_rows))[:3]}")
    print(f"late: {len(got)} keys ({len(ref)} in the reference), {copies} repeated copies")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "late":
        check_late(*sys.argv[2:])
        if problems:
            print(f"{len(problems)} problem(s)", file=sys.stderr)
            return 1
        return 0
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    what, a, b = sys.argv[1:]
    if what == "ticks":
        check_ticks(a, b)
    elif what == "ticks-resent":
        check_ticks(a, b, resent_ok=True)
    elif what == "bars":
        check_results(a, b, ["instrument", "interval", "ts"])
    elif what == "anomalies":
        check_results(a, b, ["instrument", "interval", "ts", "kind"])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
