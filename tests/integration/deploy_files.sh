#!/usr/bin/env bash
# deploy_files.sh — what can be checked of deploy/ without a container engine: the compose
# file parses as YAML and has the services and volumes it promises, the Dockerfile has its two
# stages and a non-root user, the systemd unit passes `systemd-analyze verify` (when present)
# with its ExecStart pointed at the binary under test, and every key of the example config is
# a setting `tickpipe help run` lists and parses when uncommented.
set -euo pipefail
TP=${TICKPIPE:?TICKPIPE must name the tickpipe binary}
SRC=${TP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
fail() { echo "deploy_files: FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

/usr/bin/python3 - "$SRC/deploy/docker-compose.yml" <<'PYEOF' || fail "docker-compose.yml (above)"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
svc = d["services"]
for s in ("tickpipe", "kafka", "postgres", "redis", "minio"):
    assert s in svc, f"no service {s}"
for name, s in svc.items():
    assert "image" in s or "build" in s, f"{name}: no image or build"
    img = s.get("image", "")
    assert not img or (":" in img and not img.endswith(":latest")), f"{name}: unpinned image {img}"
    for v in s.get("volumes", []):
        vol = v.split(":")[0]
        assert vol.startswith(("/", ".")) or vol in (d.get("volumes") or {}), f"{name}: undeclared volume {vol}"
    for dep in s.get("depends_on", []):
        assert dep in svc, f"{name}: depends on unknown {dep}"
t = svc["tickpipe"]
assert "TICKPIPE_TOKEN" in t["environment"], "tickpipe: no token for a non-loopback --http"
PYEOF

df=$SRC/deploy/Dockerfile
[ "$(grep -c '^FROM debian:12' "$df")" -eq 2 ] || fail "Dockerfile: not two Debian 12 stages"
grep -q '^USER tickpipe' "$df" || fail "Dockerfile: does not switch to a non-root user"
grep -q 'COPY --from=build' "$df" || fail "Dockerfile: the runtime stage does not copy the build"

if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/local/bin/tickpipe|$(readlink -f "$TP")|" "$SRC/deploy/tickpipe.service" >"$dir/tickpipe.service"
  systemd-analyze verify "$dir/tickpipe.service" >"$dir/verify" 2>&1 || fail "systemd-analyze: $(cat "$dir/verify")"
  ! grep -qi "unknown\|invalid\|ignoring" "$dir/verify" || fail "systemd-analyze: $(cat "$dir/verify")"
else
  echo "deploy_files: systemd-analyze not installed: unit file not verified"
fi

"$TP" help run >"$dir/help"
keys=$(sed -n 's/^# \([a-z0-9-]*\) =\( .*\)\{0,1\}$/\1/p' "$SRC/deploy/tickpipe.conf")
[ -n "$keys" ] || fail "tickpipe.conf has no settings"
for k in $keys; do
  grep -q -- "--$k" "$dir/help" || fail "tickpipe.conf: '$k' is not a setting of tickpipe run"
done
# and the other way round: every setting of `tickpipe help run` is in the example, commented
for k in $(sed -n 's/^  --\([a-z0-9-]*\).*/\1/p' "$dir/help"); do
  case " $(echo $keys) " in *" $k "*) ;; *) fail "tickpipe.conf lacks the setting '$k'" ;; esac
done
# uncommented (without s3, which needs credentials, the empty ones, and those that need a
# companion: etl-schedule needs etl-every, kafka-* need kafka), it parses
sed -n 's/^# \([a-z0-9-]* = [^ #]*\).*/\1/p' "$SRC/deploy/tickpipe.conf" |
  grep -v -e '^s3' -e ' = $' -e '^token' -e '^etl-schedule' -e '^kafka-' >"$dir/conf"
set +e
"$TP" run -c "$dir/conf" --data "$dir/data" --http off --sim-events 100 --sim-pace max \
  --exit-at-eof --status-interval 0 >"$dir/out" 2>&1; rc=$?
set -e
[ $rc -eq 0 ] || fail "run with the example config: exit $rc: $(tail -3 "$dir/out")"
echo "deploy_files: ok"
