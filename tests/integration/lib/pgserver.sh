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

pg_as() { # runs a command as the server's user
    if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
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
