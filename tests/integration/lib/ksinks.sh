# ksinks.sh — sourced by the kafka_sinks*.sh tests (after kafka_lib.inc and pgserver.sh): the
# Kafka process role's PostgreSQL and lake sinks compared with a single-process reference.
#
#   ks_reference DATA URL SIM...   the embedded pipeline (`tickpipe run --data DATA --postgres
#                                  URL SIM... --exit-at-eof`): the reference lake and tables
#   ks_pg_same REFURL URL          every row of ticks, bars, anomalies, late, gaps and quality
#                                  (log_offset aside: its encoding differs) in URL as in
#                                  REFURL, as multisets: none missing, none twice
#   ks_lake_same REFLAKE LAKE      the same for the lakes, through DuckDB (lake_same.mjs)
#   ks_wait_rows REFURL URL SECS   waits until ticks and bars in URL have REFURL's counts

ks_reference() {
    local data=$1 url=$2
    shift 2
    "$TICKPIPE" run --data "$data" --postgres "$url" "$@" --exit-at-eof 2>"$tmp/ref.log" ||
        { cat "$tmp/ref.log" >&2; fail "the embedded reference run failed"; }
}

ks_pg_same() {
    local ref=$1 url=$2 t bad=0
    for t in ticks bars anomalies late gaps quality; do
        psql -X -tA "$ref" -c "SELECT (to_jsonb(x) - 'log_offset')::text FROM $t x" |
            LC_ALL=C sort >"$tmp/pg.$t.want" || return 1
        psql -X -tA "$url" -c "SELECT (to_jsonb(x) - 'log_offset')::text FROM $t x" |
            LC_ALL=C sort >"$tmp/pg.$t.got" || return 1
        if cmp -s "$tmp/pg.$t.want" "$tmp/pg.$t.got"; then
            echo "postgres $t: $(wc -l <"$tmp/pg.$t.got") rows, each once, equal to the reference"
        else
            echo "FAIL: postgres $t: $(wc -l <"$tmp/pg.$t.want") rows in the reference, $(wc -l <"$tmp/pg.$t.got") here" >&2
            diff "$tmp/pg.$t.want" "$tmp/pg.$t.got" | head -4 >&2
            bad=1
        fi
    done
    # each tick once also by its own offset: no log_offset twice
    local dup
    dup=$(psql -X -tA "$url" -c "SELECT count(*) FROM (SELECT log_offset FROM ticks
          GROUP BY 1 HAVING count(*) > 1) d")
    [ "$dup" = 0 ] || { echo "FAIL: postgres ticks: $dup log_offset values twice" >&2; bad=1; }
    return $bad
}

ks_lake_same() {
    (cd "$TP_SRC/tests" && node duckdb/lake_same.mjs --ref "$1" --lake "$2")
}

ks_count() { psql -X -tA "$1" -c "SELECT (SELECT count(*) FROM ticks) || ' ' || (SELECT count(*) FROM bars)" 2>/dev/null; }

ks_wait_rows() {
    local want got i
    want=$(ks_count "$1")
    for i in $(seq $(($3 * 10))); do
        got=$(ks_count "$2")
        [ "$got" = "$want" ] && return 0
        sleep 0.1
    done
    echo "ks_wait_rows: ticks and bars: $got, want $want" >&2
    return 1
}

#   ks_redis_start             a redis-server on a free loopback port ($RPORT), files in $tmp
#   ks_redis_dump DB FILE      the bar streams (every entry) and last-state hashes of DB, sorted
ks_redis_start() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
        fail "redis-server and redis-cli are needed (scripts/install-deps.sh test)"
    RPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$tmp/redis"
    redis-server --port "$RPORT" --bind 127.0.0.1 --protected-mode yes --dir "$tmp/redis" \
        --logfile "$tmp/redis/redis.log" --daemonize no --save '' --appendonly no &
    track $!
    for _ in $(seq 100); do
        [ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.05
    done
    fail "redis-server did not start on port $RPORT"
}

ks_redis_dump() {
    local db=$1 out=$2 k
    : >"$out"
    for k in $(redis-cli -p "$RPORT" -n "$db" --scan --pattern 'tickpipe:bars:*' | LC_ALL=C sort); do
        redis-cli -p "$RPORT" -n "$db" XRANGE "$k" - + | tr '\n' ' ' | sed "s|^|$k |" >>"$out"
        echo >>"$out"
    done
    for k in $(redis-cli -p "$RPORT" -n "$db" --scan --pattern 'tickpipe:last:*' | LC_ALL=C sort); do
        redis-cli -p "$RPORT" -n "$db" HGETALL "$k" | paste - - | LC_ALL=C sort | tr '\n' ' ' |
            sed "s|^|$k |" >>"$out"
        echo >>"$out"
    done
}
