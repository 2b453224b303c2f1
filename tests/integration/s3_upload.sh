#!/usr/bin/env bash
# s3_upload.sh — tickpipe's S3 uploader (src/sink/s3.c, via tests/tools/s3_tool) against a
# loopback S3-compatible server (tests/s3/s3server.py) that verifies every SigV4 signature
# itself. No network beyond 127.0.0.1.
#
#  1. a small file is one PUT, stored byte-identical under prefix/key (a key with a space and
#     '='); uploading it again sends nothing; with the wrong secret the server refuses (403)
#     and the uploader says so; with a session token the token is sent and signed;
#  2. a large file goes multipart; the server exits in the middle of the upload (after 5 of 13
#     parts): the uploader fails after its retries, its state file lists the 5 parts; the
#     server restarts, a new uploader process resumes: every part is stored exactly once, the
#     upload completes once, the object is byte-identical, the state file is gone; a changed
#     file is uploaded again;
#  3. a lake (tests/tools/lake_tool) is synced: every *.parquet file is stored under the same
#     key, byte-identical, listed by the server; a second sync uploads nothing;
#  4. `tickpipe run --s3 URL --s3-endpoint URL` uploads the lake of its data directory before
#     it exits;
#  5. after `tickpipe compact` replaces a day's files, a sync uploads only the merged files and
#     deletes the objects they replaced; the server exiting at the first DELETE (a crash
#     between upload and delete) leaves the merged files stored and the old ones too (nothing
#     lost); the next sync deletes them without uploading anything again, after which the
#     store equals the lake byte for byte; a file removed from the lake by hand stays stored.
set -euo pipefail
TP=${TICKPIPE:?TICKPIPE must name the tickpipe binary}
SRC=${TP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${TP_BUILD:-$SRC/build-asan}
TOOL=$BUILD/s3_tool
PY=/usr/bin/python3
fail() { echo "s3_upload: FAIL: $*" >&2; exit 1; }
[ -x "$TOOL" ] && [ -x "$BUILD/lake_tool" ] || fail "no $TOOL or lake_tool (build first)"
dir=$(mktemp -d)
spid=
stop_server() { if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; spid=; fi; }
trap 'stop_server; rm -rf "$dir"' EXIT
t0=$(date +%s%N)
export AWS_ACCESS_KEY_ID=AKIDTICKPIPETEST AWS_SECRET_ACCESS_KEY='tickpipe/test+secret/KEY' AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_DEFAULT_REGION

start_server() { # extra server flags
  rm -f "$dir/port"
  $PY "$SRC/tests/s3/s3server.py" --dir "$dir/srv" --port-file "$dir/port" --log "$dir/log" "$@" &
  spid=$!
  for _ in $(seq 100); do [ -f "$dir/port" ] && break; sleep 0.05; done
  [ -f "$dir/port" ] || fail "the S3 server did not start"
  EP=http://127.0.0.1:$(cat "$dir/port")
}
obj() { echo "$dir/srv/objects/bkt/$1"; }

# ---- 1. single PUT ----
start_server
head -c 5000 /dev/urandom >"$dir/small.bin"
"$TOOL" upload s3://bkt/pfx "$EP" "$dir/state" "$dir/small.bin" "d/a b=c.bin" >"$dir/out" || fail "upload: $(cat "$dir/out")"
grep -q '"result": "uploaded"' "$dir/out" || fail "upload: $(cat "$dir/out")"
cmp -s "$dir/small.bin" "$(obj "pfx/d/a b=c.bin")" || fail "the object differs from the file"
"$TOOL" upload s3://bkt/pfx "$EP" "$dir/state" "$dir/small.bin" "d/a b=c.bin" >"$dir/out"
grep -q '"result": "skipped"' "$dir/out" || fail "second upload was not skipped: $(cat "$dir/out")"
[ "$(grep -c '^put ' "$dir/log")" -eq 1 ] || fail "the file was stored twice: $(cat "$dir/log")"
set +e
AWS_SECRET_ACCESS_KEY=wrong "$TOOL" upload s3://bkt/pfx "$EP" "$dir/state2" "$dir/small.bin" x.bin >"$dir/out" 2>"$dir/err"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "403 SignatureDoesNotMatch" "$dir/err" || fail "a wrong secret: exit $rc, $(cat "$dir/err")"
grep -q "^denied PUT" "$dir/log" || fail "the server did not deny the bad signature"
[ ! -e "$(obj pfx/x.bin)" ] || fail "an object was stored with a bad signature"
stop_server
start_server --token "tok/en+1"
AWS_SESSION_TOKEN="tok/en+1" "$TOOL" upload s3://bkt/tok "$EP" "$dir/state3" "$dir/small.bin" t.bin >"$dir/out" 2>"$dir/err" ||
  fail "upload with a session token: $(cat "$dir/err")"
set +e
"$TOOL" upload s3://bkt/tok "$EP" "$dir/state4" "$dir/small.bin" t2.bin >/dev/null 2>"$dir/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "the server accepted a request without its session token"
stop_server

# ---- 2. multipart, the server going away mid-upload ----
head -c 200000 /dev/urandom >"$dir/big.bin"
: >"$dir/log"
start_server --exit-after-parts 5
set +e
"$TOOL" upload s3://bkt/pfx "$EP" "$dir/state" "$dir/big.bin" big.bin 16384 65536 3 >"$dir/out" 2>"$dir/err"; rc=$?
set -e
wait "$spid" 2>/dev/null || true; spid=
[ $rc -eq 1 ] || fail "upload with the server gone: exit $rc ($(cat "$dir/out"))"
grep -q '"parts": 5' "$dir/out" || fail "parts before the server went away: $(cat "$dir/out")"
[ "$(ls "$dir/state/mpu" | wc -l)" -eq 1 ] || fail "no multipart state file"
[ "$(grep -c '^part ' "$dir/state/mpu/"*)" -eq 5 ] || fail "state file: $(cat "$dir/state/mpu/"*)"
start_server
"$TOOL" upload s3://bkt/pfx "$EP" "$dir/state" "$dir/big.bin" big.bin 16384 65536 3 >"$dir/out" 2>"$dir/err" ||
  fail "resume: $(cat "$dir/err")"
grep -q '"resumed": 1' "$dir/out" && grep -q '"parts": 8' "$dir/out" || fail "resume: $(cat "$dir/out")"
cmp -s "$dir/big.bin" "$(obj pfx/big.bin)" || fail "the multipart object differs from the file"
for n in $(seq 13); do
  [ "$(grep -c "^part pfx/big.bin $n " "$dir/log")" -eq 1 ] || fail "part $n stored $(grep -c "^part pfx/big.bin $n " "$dir/log") times"
done
[ "$(grep -c '^complete pfx/big.bin' "$dir/log")" -eq 1 ] || fail "completed more than once"
[ -z "$(ls "$dir/state/mpu")" ] || fail "the multipart state file is left"
"$TOOL" upload s3://bkt/pfx "$EP" "$dir/state" "$dir/big.bin" big.bin 16384 65536 3 | grep -q '"skipped": 1' ||
  fail "a completed multipart upload was not skipped"
head -c 1000 /dev/urandom >>"$dir/big.bin"
"$TOOL" upload s3://bkt/pfx "$EP" "$dir/state" "$dir/big.bin" big.bin 16384 65536 3 >/dev/null
cmp -s "$dir/big.bin" "$(obj pfx/big.bin)" || fail "a changed file was not uploaded again"

# ---- 3. a lake ----
"$BUILD/lake_tool" "$dir/data" --days 1 >/dev/null
: >"$dir/log"
"$TOOL" sync s3://bkt/lake "$EP" "$dir/data/s3" "$dir/data/lake" >"$dir/out" 2>"$dir/err" || fail "sync: $(cat "$dir/err")"
n=$(cd "$dir/data/lake" && find . -name '*.parquet' | wc -l)
[ "$n" -gt 10 ] || fail "lake_tool wrote only $n files"
grep -q "\"uploaded\": $n," "$dir/out" || fail "sync uploaded: $(cat "$dir/out"), lake has $n files"
(cd "$dir/data/lake" && find . -name '*.parquet') | while read -r f; do
  cmp -s "$dir/data/lake/$f" "$(obj "lake/${f#./}")" || fail "lake file $f differs or is missing in S3"
done
listed=$(cd "$dir/srv/objects/bkt/lake" && find . -name '*.parquet' | wc -l)
[ "$listed" -eq "$n" ] || fail "the server holds $listed lake objects, want $n"
"$TOOL" sync s3://bkt/lake "$EP" "$dir/data/s3" "$dir/data/lake" >"$dir/out"
grep -q '"uploaded": 0,' "$dir/out" && grep -q "\"skipped\": $n," "$dir/out" || fail "second sync: $(cat "$dir/out")"
[ "$(grep -c '^put ' "$dir/log")" -eq "$n" ] || fail "objects stored more than once"

# ---- 5. compaction: replaced objects deleted, never before their replacement is stored ----
"$TP" run --data "$dir/cmp" --sim-pace max --status-interval 0 --http off --sim-events 12000 \
  --lake-batch 1500 --exit-at-eof 2>"$dir/cmp.log" || fail "run for compaction: $(tail -3 "$dir/cmp.log")"
"$TOOL" sync s3://bkt/cmp "$EP" "$dir/cmp/s3" "$dir/cmp/lake" >"$dir/out" 2>"$dir/err" || fail "sync before compact: $(cat "$dir/err")"
before=$(cd "$dir/cmp/lake" && find . -name '*.parquet' | sort)
"$TP" compact --data "$dir/cmp" >"$dir/compact.out" 2>&1 || fail "compact: $(cat "$dir/compact.out")"
after=$(cd "$dir/cmp/lake" && find . -name '*.parquet' | sort)
gone=$(comm -23 <(echo "$before") <(echo "$after") | wc -l)
new=$(comm -13 <(echo "$before") <(echo "$after") | wc -l)
[ "$gone" -gt 5 ] && [ "$new" -gt 0 ] || fail "compaction replaced $gone files by $new"
stored() { (cd "$dir/srv/objects/bkt/cmp" && find . -name '*.parquet' | sort); }
stop_server
: >"$dir/log"
start_server --exit-on-delete
set +e
"$TOOL" sync s3://bkt/cmp "$EP" "$dir/cmp/s3" "$dir/cmp/lake" 1000000000 1000000000 2 >"$dir/out" 2>"$dir/err"; rc=$?
set -e
[ $rc -eq 1 ] || { stop_server; fail "sync with the server gone at the first delete: exit $rc ($(cat "$dir/out" "$dir/err"))"; }
wait "$spid" 2>/dev/null || true; spid=
grep -q "\"uploaded\": $new," "$dir/out" || fail "merged files uploaded: $(cat "$dir/out"), want $new"
[ "$(grep -c '^put ' "$dir/log")" -eq "$new" ] || fail "puts: $(grep '^put ' "$dir/log")"
# nothing lost: every file of the lake is stored, and the replaced ones still are
for f in $after; do cmp -s "$dir/cmp/lake/$f" "$(obj "cmp/${f#./}")" || fail "after the crash: $f not stored"; done
[ "$(stored | wc -l)" -eq $(( $(echo "$before" | wc -l) + new )) ] || fail "after the crash: $(stored | wc -l) objects"
start_server
: >"$dir/log"
"$TOOL" sync s3://bkt/cmp "$EP" "$dir/cmp/s3" "$dir/cmp/lake" >"$dir/out" 2>"$dir/err" || fail "sync after the crash: $(cat "$dir/err")"
grep -q '"uploaded": 0,' "$dir/out" && grep -q "\"deleted\": $gone}" "$dir/out" || fail "sync after the crash: $(cat "$dir/out"), want $gone deleted"
[ "$(grep -c '^put ' "$dir/log")" -eq 0 ] || fail "a file was uploaded again: $(cat "$dir/log")"
[ "$(stored)" = "$after" ] || fail "the store differs from the lake: $(diff <(stored) <(echo "$after") | head -5)"
for f in $after; do cmp -s "$dir/cmp/lake/$f" "$(obj "cmp/${f#./}")" || fail "$f differs in the store"; done
"$TOOL" sync s3://bkt/cmp "$EP" "$dir/cmp/s3" "$dir/cmp/lake" >"$dir/out"
grep -q '"uploaded": 0,' "$dir/out" && grep -q '"deleted": 0}' "$dir/out" || fail "third sync: $(cat "$dir/out")"
# a file removed by hand (not replaced by a merged file) stays in the store
victim=$(echo "$after" | head -1)
rm "$dir/cmp/lake/$victim"
"$TOOL" sync s3://bkt/cmp "$EP" "$dir/cmp/s3" "$dir/cmp/lake" >"$dir/out"
grep -q '"deleted": 0}' "$dir/out" && [ -f "$(obj "cmp/${victim#./}")" ] || fail "a file removed by hand was deleted from the store"
echo "compaction: $gone objects replaced by $new, deleted after a crash between upload and delete; store equals lake"

# ---- 4. tickpipe run --s3 ----
"$BUILD/lake_tool" "$dir/run" --days 1 >/dev/null
rm -rf "$dir/run/journal"
set +e
"$TP" run --data "$dir/run" --http off --sim-events 500 --sim-pace max --exit-at-eof \
  --s3 s3://bkt/run --s3-endpoint "$EP" >"$dir/run.out" 2>&1; rc=$?
set -e
[ $rc -eq 0 ] || fail "run --s3: exit $rc: $(tail -5 "$dir/run.out")"
grep -q "s3: [1-9][0-9]* files uploaded" "$dir/run.out" || fail "run --s3 does not report its uploads: $(tail -3 "$dir/run.out")"
n=$(cd "$dir/run/lake" && find . -name '*.parquet' | wc -l)
m=$(cd "$dir/srv/objects/bkt/run" 2>/dev/null && find . -name '*.parquet' | wc -l)
[ "$n" -gt 0 ] && [ "$n" -eq "$m" ] || fail "run --s3 uploaded $m of $n lake files: $(tail -5 "$dir/run.out")"
set +e
"$TP" run --data "$dir/run" --http off --s3 http://x >/dev/null 2>"$dir/err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "s3://" "$dir/err" || fail "run --s3 with a bad URL: exit $rc, $(cat "$dir/err")"
echo "s3_upload: ok ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
