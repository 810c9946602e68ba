#!/usr/bin/env bash
# The observability HTTP surface (--metrics-listen: Prometheus /metrics, /healthz, /readyz, the
# JSON API under /api/) checked with stock clients: check.py starts its own brokers from
# $ODRADEK_BIN (`--dev --metrics-listen`, and a --data-dir one for the recovery part of `health`),
# makes traffic with confluent-kafka and kafka-python, parses /metrics with prometheus_client and
# asks the HTTP routes with the standard library's http.client.
#   usage: metrics/run.sh [scenario ...]        (own-broker: no BOOTSTRAP)
#   env:   ODRADEK_BIN, ODRADEK_CACHE, COMPAT_RESULTS, COMPAT_KEEP=1 (keep data dirs and broker logs),
#          COMPAT_TIMEOUT (whole-run limit in seconds, default 270)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export ODRADEK_BIN="${ODRADEK_BIN:-$ROOT/../target/debug/odradek}"
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
PY="$CACHE/venv/bin/python"

record_fail() {
  echo "FAIL metrics/$1"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "FAIL metrics/$1" >>"$COMPAT_RESULTS"
  return 0
}
if [ ! -x "$PY" ] || ! "$PY" -c 'import confluent_kafka, kafka, prometheus_client' 2>/dev/null; then
  echo "metrics/run.sh: confluent-kafka, kafka-python or prometheus_client missing in $CACHE/venv;" \
    "run compat-tests/setup.sh (it runs metrics/install.sh)" >&2
  record_fail install
  exit 2
fi
if [ ! -x "$ODRADEK_BIN" ]; then
  echo "metrics/run.sh: broker binary $ODRADEK_BIN not found (build it, or set ODRADEK_BIN)" >&2
  record_fail broker-start
  exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/odradek-compat-metrics.XXXXXX")"
cleanup() {
  if [ "${COMPAT_KEEP:-0}" = 1 ]; then echo "[metrics] kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

rc=0
METRICS_WORK="$WORK" timeout --kill-after=5 "${COMPAT_TIMEOUT:-270}" "$PY" -u "$HERE/check.py" "$@" || rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "[metrics] check.py timed out after ${COMPAT_TIMEOUT:-270}s"
  record_fail timeout
fi
if [ "$rc" -ne 0 ]; then
  for f in "$WORK"/*.log; do
    [ -f "$f" ] || continue
    echo "[metrics] $(basename "$f") tail:"; tail -n 15 "$f" | sed 's/^/    /'
  done
fi
exit "$rc"
