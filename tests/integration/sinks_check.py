#!/usr/bin/python3
"""sinks_check.py — used by sinks_million.sh: normalizes the rows of one table, from the
reference side (the trades CSV given to `run --source replay:FILE`, or the CSV outputs of
`tickpipe replay` over the same file) or from PostgreSQL (psql COPY ... TO STDOUT (FORMAT csv)
of the query named in sinks_million.sh), into one line per row so that the two sides can be
sorted and compared with cmp. Numbers become Python's shortest round-trip repr of the double
(so "2.30" and "2.3" agree, and any difference of a bit does not), nulls the empty string,
times RFC 3339 cut to microseconds where PostgreSQL keeps microseconds.

  sinks_check.py norm TABLE SIDE < CSV > LINES      TABLE ticks|bars|anomalies|late, SIDE ref|pg
  sinks_check.py last TRADES.csv PORT               latest trade per instrument vs redis-cli
  sinks_check.py streams BARS.csv PORT MAXLEN       each bar stream's length and newest entry

The Redis checks run redis-cli (a pipe of commands, one per line) and exit 1 on the first
difference, printing it.
"""
import csv
import subprocess
import sys

BAR_NUM = ['open', 'high', 'low', 'close', 'volume', 'notional', 'vwap', 'buy_volume',
           'sell_volume', 'sma_20', 'ema_20', 'bb_upper', 'bb_middle', 'bb_lower', 'rsi_14',
           'macd', 'macd_signal', 'macd_hist', 'atr_14', 'volatility_20']
BAR_COLS = ['instrument', 'interval', 'ts', 'open', 'high', 'low', 'close', 'volume', 'notional',
            'vwap', 'trades', 'buy_volume', 'sell_volume', 'first_ts', 'last_ts', 'sma_20',
            'ema_20', 'bb_upper', 'bb_middle', 'bb_lower', 'rsi_14', 'macd', 'macd_signal',
            'macd_hist', 'atr_14', 'volatility_20']


def num(s):
    return '' if s == '' else repr(float(s))


def us(t):
    """RFC 3339 with 9 digits (ref) or 6 (pg's to_char) -> the first 26 characters."""
    return t[:26]


def norm(table, side):
    r = csv.reader(sys.stdin)
    out = sys.stdout
    if side == 'ref':
        header = next(r)
        ix = {c: i for i, c in enumerate(header)}
    n = 0
    for row in r:
        n += 1
        if table == 'ticks':
            # ref: the trades CSV (ts in epoch ms); pg: ts_ns, instrument, kind, price, size,
            # side, trade_id
            if side == 'ref':
                ts, ins, price, size, sd, tid = row[:6]
                line = (str(int(ts) * 1000000), ins, 'trade', num(price), num(size), sd, tid)
            else:
                line = (row[0], row[1], row[2], num(row[3]), num(row[4]), row[5], row[6])
        elif table == 'bars':
            # both: the bar columns in order; times cut to µs
            if side == 'ref':
                row = [row[ix[c]] for c in BAR_COLS]
            line = [row[0], row[1], us(row[2])] + [num(x) for x in row[3:10]] + \
                [str(int(row[10])), num(row[11]), num(row[12]), us(row[13]), us(row[14])] + \
                [num(x) for x in row[15:]]
        elif table == 'anomalies':
            # instrument, ts (9 digits: pg rebuilds them from ts_ns), kind, observed, expected,
            # score, interval
            if side == 'ref':
                row = [row[ix[c]] for c in
                       ['instrument', 'ts', 'kind', 'observed', 'expected', 'score', 'interval']]
            line = [row[0], row[1], row[2], num(row[3]), num(row[4]), num(row[5]), row[6]]
        elif table == 'late':
            # ts_ns, instrument, kind, price, size, side, trade_id, interval
            if side == 'ref':
                row = [row[ix[c]] for c in
                       ['ts_ns', 'instrument', 'kind', 'price', 'size', 'side', 'trade_id',
                        'interval']]
            line = [row[0], row[1], row[2], num(row[3]), num(row[4]), row[5], row[6], row[7]]
        else:
            sys.exit(f'unknown table {table}')
        out.write('\x1f'.join(line))
        out.write('\n')
    print(f'{table} {side}: {n} rows', file=sys.stderr)


def redis(port, commands):
    """Runs the commands through redis-cli (stdin, not a tty: one reply element a line)."""
    p = subprocess.run(['redis-cli', '-p', str(port)], input='\n'.join(commands) + '\n',
                       capture_output=True, text=True, check=True)
    return p.stdout.split('\n')


def quote(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def last(trades, port):
    latest = {}
    with open(trades, newline='') as f:
        r = csv.reader(f)
        next(r)
        for ts, ins, price, size, _side, _tid in r:
            t = int(ts) * 1000000
            cur = latest.get(ins)
            if cur is None or t >= cur[0]:  # equal times: the later row wins, as the sink's guard
                latest[ins] = (t, price, size)
    names = sorted(latest)
    out = redis(port, [f'HMGET {quote("tickpipe:last:" + i)} price size ts_ns' for i in names])
    bad = 0
    for k, ins in enumerate(names):
        got = out[3 * k:3 * k + 3]
        t, price, size = latest[ins]
        want = [num(price), num(size), str(t)]
        have = [num(got[0]) if got[0] else '', num(got[1]) if got[1] else '', got[2]]
        if have != want:
            bad += 1
            print(f'last {ins}: redis {have}, the last trade of the file {want}', file=sys.stderr)
    if bad:
        sys.exit(1)
    print(f'redis: the last price, size and ts_ns of {len(names)} instruments equal the last trades')


def streams(bars, port, maxlen):
    newest, count = {}, {}
    with open(bars, newline='') as f:
        r = csv.DictReader(f)
        for row in r:
            key = (row['instrument'], row['interval'])
            count[key] = count.get(key, 0) + 1
            if key not in newest or row['ts'] > newest[key]['ts']:
                newest[key] = row
    keys = sorted(newest)
    cmds = []
    for i, iv in keys:
        k = quote(f'tickpipe:bars:{i}:{iv}')
        cmds += [f'XLEN {k}', f'XREVRANGE {k} + - COUNT 1']
    out = redis(port, cmds)
    pos, bad = 0, 0
    per = 1 + 2 * len(BAR_COLS)
    for key in keys:
        xlen = int(out[pos])
        entry = out[pos + 1:pos + 1 + per]
        pos += 1 + per
        n = count[key]
        if not (xlen == n if n <= maxlen else maxlen <= xlen <= min(n, maxlen + 200)):
            bad += 1
            print(f'stream {key}: XLEN {xlen} for {n} bars (maxlen {maxlen})', file=sys.stderr)
        row = newest[key]
        ts = row['ts']
        fields = dict(zip(entry[1::2], entry[2::2]))
        # the id is the bar time in ms, then the ns below it
        from datetime import datetime, timezone
        sec = int(datetime.strptime(ts[:19], '%Y-%m-%dT%H:%M:%S').replace(
            tzinfo=timezone.utc).timestamp())
        ns = sec * 1000000000 + int(ts[20:29])
        want_id = f'{ns // 1000000}-{ns % 1000000}'
        diff = [c for c in BAR_COLS if
                (num(fields.get(c, '')) if c in BAR_NUM else fields.get(c)) !=
                (num(row[c]) if c in BAR_NUM else row[c])]
        if entry[0] != want_id or diff:
            bad += 1
            print(f'stream {key}: newest entry {entry[0]} (want {want_id}); columns differing: '
                  f'{[(c, fields.get(c), row[c]) for c in diff][:4]}', file=sys.stderr)
        if bad > 5:
            break
    if bad:
        sys.exit(1)
    print(f'redis: {len(keys)} bar streams, lengths right and the newest entry of each equal to '
          f'the last bar of replay (every column)')


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'norm':
        norm(sys.argv[2], sys.argv[3])
    elif cmd == 'last':
        last(sys.argv[2], int(sys.argv[3]))
    elif cmd == 'streams':
        streams(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
