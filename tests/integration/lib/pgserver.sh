# pgserver.sh — sourced by the pg_*.sh integration tests: a throwaway PostgreSQL server from
# Debian's packages (/usr/lib/postgresql/<version>/bin), on 127.0.0.1 and a Unix socket in a
# temporary directory, run as an unprivileged user (the server refuses to run as root: under
# root, CI's case, it runs as `nobody` through runuser).
#
#   pg_setup NAME      finds the binaries (skips the test, exit 0, when they are missing and
#                      $CI is unset; fails under CI), makes $PGTMP, initdb there; sets PGBIN,
#                      PGPORT, PGDATA_DIR, PGURL (a conninfo URL for the database "tickpipe")
#   pg_start / pg_stop_immediate / pg_stop   start (waits until it accepts connections) / stop
#   pg_sql SQL         runs SQL with psql on the tickpipe database, unaligned, tuples only
#   pg_cleanup         stops the server and removes $PGTMP (call from the test's EXIT trap)
#
# No network beyond loopback: listen_addresses is 127.0.0.1, authentication is trust for the
# local user (the directory is private to the test).

pg_as() { # runs a command as the server's user, from a directory that user may enter
    if [ "$(id -u)" -eq 0 ]; then (cd "$PGTMP" && runuser -u nobody -- "$@"); else "$@"; fi
}

pg_setup() {
    local name=$1 v
    PGBIN=
    for v in /usr/lib/postgresql/*/bin; do [ -x "$v/initdb" ] && PGBIN=$v; done
    if [ -z "$PGBIN" ] || ! command -v psql >/dev/null; then
        if [ -n "${CI:-}" ]; then
            echo "$name: FAIL: PostgreSQL server binaries or psql missing (apt-get install postgresql postgresql-client)" >&2
            exit 1
        fi
        echo "$name: SKIP: PostgreSQL server binaries (/usr/lib/postgresql/*/bin) or psql not installed"
        exit 0
    fi
    PGTMP=$(mktemp -d "${TMPDIR:-/tmp}/tp_${name}.XXXXXX")
    chmod 755 "$PGTMP"
    PGDATA_DIR=$PGTMP/pgdata
    mkdir -p "$PGDATA_DIR" "$PGTMP/sock" "$PGTMP/run"
    [ "$(id -u)" -eq 0 ] && chown nobody "$PGDATA_DIR" "$PGTMP/sock" "$PGTMP/run"
    PGPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    pg_as "$PGBIN/initdb" -D "$PGDATA_DIR" -U tickpipe -A trust -E UTF8 --no-sync \
        >"$PGTMP/initdb.log" 2>&1 || { cat "$PGTMP/initdb.log" >&2; echo "$name: FAIL: initdb" >&2; exit 1; }
    # small and fast: a test server, durability per commit kept (the tests kill it)
    cat >>"$PGDATA_DIR/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGTMP/sock'
shared_buffers = 64MB
max_connections = 20
fsync = on
synchronous_commit = on
logging_collector = off
CONF
    PGURL="postgresql://tickpipe@127.0.0.1:$PGPORT/tickpipe"
    export PGCONNECT_TIMEOUT=5
}

pg_start() {
    pg_as "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGTMP/run/server.log" -w -t 60 start >/dev/null ||
        { tail -20 "$PGTMP/run/server.log" >&2; echo "pg: FAIL: the server did not start" >&2; exit 1; }
    psql -X -q -h 127.0.0.1 -p "$PGPORT" -U tickpipe -d postgres \
        -c "SELECT 1 FROM pg_database WHERE datname = 'tickpipe'" -tA | grep -q 1 ||
        psql -X -q -h 127.0.0.1 -p "$PGPORT" -U tickpipe -d postgres -c 'CREATE DATABASE tickpipe' ||
        { echo "pg: FAIL: cannot create the database" >&2; exit 1; }
}

pg_stop_immediate() { pg_as "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1; }
pg_stop() { pg_as "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1; }

pg_sql() { psql -X -q -v ON_ERROR_STOP=1 -tA "$PGURL" -c "$1"; }

pg_cleanup() {
    if [ -n "${PGDATA_DIR:-}" ] && [ -f "$PGDATA_DIR/postmaster.pid" ]; then pg_stop_immediate; fi
    [ -n "${PGTMP:-}" ] && rm -rf "$PGTMP"
}

# The next offset of a journal (its last offset + 1).
pg_journal_next() {
    local last
    last=$("$TICKPIPE" journal verify "$1" | grep -o 'offsets [0-9]*\.\.[0-9]*' | sed 's/.*\.\.//')
    echo $((last + 1))
}

# pg_check_exact DATA TAG: the tables equal what the journals under DATA say, row for row and
# bit for bit (pg_expect prints the journals' side; doubles compared as their bits), each
# journal record exactly once; `quality` equals counts of the rows; tickpipe_offsets points
# at the journals' ends. Prints a FAIL line and returns 1 on the first difference.
pg_check_exact() {
    local data=$1 tag=$2 t q
    local x="$PGTMP/run/cmp.$tag"
    pg_sql "CREATE SCHEMA IF NOT EXISTS t;
        CREATE OR REPLACE FUNCTION t.h(float8) RETURNS text LANGUAGE sql IMMUTABLE AS
          \$\$ SELECT encode(float8send(\$1), 'hex') \$\$;
        CREATE OR REPLACE FUNCTION t.us(timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS
          \$\$ SELECT floor(extract(epoch FROM \$1) * 1000000)::bigint \$\$" >/dev/null || return 1
    local tickcols="t.us(ts), ts_ns, t.us(ts_recv), instrument, venue_symbol, kind, t.h(price),
        t.h(size), side, trade_id, t.h(bid), t.h(ask), t.h(bid_size), t.h(ask_size), t.h(open),
        t.h(high), t.h(low), t.h(change), t.h(value)"
    declare -A query=(
        [ticks]="SELECT log_offset, $tickcols FROM ticks ORDER BY log_offset"
        [bars]="SELECT instrument, interval, t.us(ts), t.h(open), t.h(high), t.h(low), t.h(close),
            t.h(volume), t.h(notional), t.h(vwap), trades, t.h(buy_volume), t.h(sell_volume),
            t.us(first_ts), t.us(last_ts), t.h(sma_20), t.h(ema_20), t.h(bb_upper),
            t.h(bb_middle), t.h(bb_lower), t.h(rsi_14), t.h(macd), t.h(macd_signal),
            t.h(macd_hist), t.h(atr_14), t.h(volatility_20) FROM bars"
        [anomalies]="SELECT instrument, t.us(ts), kind, t.h(observed), t.h(expected), t.h(score),
            interval, ts_ns FROM anomalies"
        [late]="SELECT log_offset, $tickcols, interval FROM late ORDER BY log_offset"
        [gaps]="SELECT instrument, t.us(ts), first_missing, last_missing, backfilled, by_time, ts_ns
            FROM gaps")
    for t in ticks bars anomalies late gaps; do
        "$TP_BUILD/pg_expect" "$t" "$data" | LC_ALL=C sort >"$x.$t.want" || return 1
        pg_sql "${query[$t]}" | LC_ALL=C sort >"$x.$t.got" || return 1
        if ! cmp -s "$x.$t.want" "$x.$t.got"; then
            echo "FAIL: $tag: table $t differs from the journal ($(wc -l <"$x.$t.want") rows expected, $(wc -l <"$x.$t.got") in the database)" >&2
            diff "$x.$t.want" "$x.$t.got" | head -6 >&2
            return 1
        fi
        echo "$tag: $t: $(wc -l <"$x.$t.got") rows, equal to the journal"
    done
    pg_check_counts "$data" "$tag"
}

# pg_check_counts DATA TAG: `quality` equals counts of the rows of the tables, and
# tickpipe_offsets points at the ends of the journals under DATA (the part of pg_check_exact
# that does not read the rows back).
pg_check_counts() {
    local data=$1 tag=$2 q
    q=$(pg_sql "SELECT count(*) FROM quality q FULL JOIN (
            SELECT instrument, date_trunc('day', ts, 'UTC') AS ts, count(*) AS ticks,
              count(*) FILTER (WHERE kind = 'trade') AS trades,
              count(*) FILTER (WHERE kind = 'quote') AS quotes FROM ticks GROUP BY 1, 2) c
            USING (instrument, ts)
          FULL JOIN (SELECT instrument, date_trunc('day', ts, 'UTC') AS ts, count(*) AS late
            FROM late GROUP BY 1, 2) l USING (instrument, ts)
          FULL JOIN (SELECT instrument, date_trunc('day', ts, 'UTC') AS ts, count(*) AS anomalies
            FROM anomalies GROUP BY 1, 2) a USING (instrument, ts)
          WHERE q.ticks IS DISTINCT FROM coalesce(c.ticks, 0)
             OR q.trades IS DISTINCT FROM coalesce(c.trades, 0)
             OR q.quotes IS DISTINCT FROM coalesce(c.quotes, 0)
             OR q.late IS DISTINCT FROM coalesce(l.late, 0)
             OR q.anomalies IS DISTINCT FROM coalesce(a.anomalies, 0)") || return 1
    [ "$q" = 0 ] || { echo "FAIL: $tag: $q quality rows differ from counts of the tables" >&2; return 1; }
    local in_next out_next
    in_next=$(pg_journal_next "$data/journal/input")
    out_next=$(pg_journal_next "$data/journal/output")
    q=$(pg_sql "SELECT string_agg(log || '=' || next_offset, ' ' ORDER BY log) FROM tickpipe_offsets WHERE sink = 'postgres'")
    [ "$q" = "input=$in_next output=$out_next" ] ||
        { echo "FAIL: $tag: tickpipe_offsets says '$q', the journals end at input=$in_next output=$out_next" >&2; return 1; }
    echo "$tag: quality matches; offsets at the journals' ends ($q)"
}

# pg_snapshot: every table's rows (sorted; offsets without their update time), to compare
# two states of the database with cmp.
pg_snapshot() {
    local t
    for t in ticks bars anomalies late gaps quality summary; do
        echo "== $t"
        pg_sql "SELECT * FROM $t" | LC_ALL=C sort
    done
    echo "== offsets"
    pg_sql "SELECT sink, log, next_offset FROM tickpipe_offsets" | LC_ALL=C sort
    echo "== schema"
    pg_sql "SELECT version, description FROM tickpipe_schema_version ORDER BY 1"
}
