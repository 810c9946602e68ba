#!/usr/bin/env bash
# The web console (/console/, served by --metrics-listen) in headless Chromium, against a broker
# started here with stock-client data in it: KafkaJS makes a 3-partition topic, 30 keyed JSON
# records with headers, a committed transaction and a consumer group with lag; console.js then
# checks each page against what the client got back and against the broker's own /api/ answers.
#   usage: console/run.sh [scenario ...]       (no BOOTSTRAP: the broker is its own)
#   env:   ODRADEK_BIN, ODRADEK_CACHE (KafkaJS in $ODRADEK_CACHE/node from setup.sh, playwright-core
#          in $ODRADEK_CACHE/console-playwright from ./install.sh), COMPAT_RESULTS, COMPAT_KEEP,
#          COMPAT_DEBUG=1 (KafkaJS debug logs, the page's console), COMPAT_ARTIFACTS (screenshots go
#          to $COMPAT_ARTIFACTS/console/, default $ODRADEK_CACHE/artifacts/console/)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export BIN="${ODRADEK_BIN:-$ROOT/../target/debug/odradek}"
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
# shellcheck source=../broker.sh
. "$ROOT/broker.sh"

record() {
  echo "$1 $2"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "$1 $2" >>"$COMPAT_RESULTS"
  return 0
}
export NODE_PATH="$CACHE/node/node_modules:$CACHE/console-playwright/node_modules"
export KAFKAJS_NO_PARTITIONER_WARNING=1
if ! command -v node >/dev/null 2>&1; then record FAIL console/setup; echo "[console] node is not installed"; exit 1; fi
if ! node -e 'require("kafkajs")' 2>/dev/null; then
  record FAIL console/setup; echo "[console] no kafkajs in $CACHE/node; run compat-tests/setup.sh first"; exit 1
fi
if ! node -e 'require("playwright-core")' 2>/dev/null || [ ! -x /usr/bin/chromium ]; then
  record FAIL console/setup; echo "[console] playwright-core or /usr/bin/chromium missing; run compat-tests/console/install.sh"; exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/odradek-compat-console.XXXXXX")"
cleanup() {
  broker_stop KILL >/dev/null 2>&1 || true
  [ "${COMPAT_KEEP:-0}" = 1 ] && echo "[console] kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

HPORT="$(free_port)"
if ! broker_start "$WORK/data" "$WORK/broker.log" --dev --metrics-listen "127.0.0.1:$HPORT" \
    --set group.initial.rebalance.delay.ms=0; then
  record FAIL console/broker-start
  exit 1
fi
export ARTIFACTS="${COMPAT_ARTIFACTS:-$CACHE/artifacts}/console"
mkdir -p "$ARTIFACTS"
rm -f "$ARTIFACTS"/*.png   # this run's screenshots only
rc=0
node "$HERE/console.js" "127.0.0.1:$BROKER_PORT" "http://127.0.0.1:$HPORT" "$@" || rc=$?
if ! kill -0 "$BROKER_PID" 2>/dev/null; then
  record FAIL console/broker-crashed
  tail -n 30 "$WORK/broker.log" | sed 's/^/    /'
  rc=1
elif [ "$rc" -ne 0 ]; then
  echo "[console] broker log tail ($WORK/broker.log):"; tail -n 15 "$WORK/broker.log" | sed 's/^/    /'
fi
exit "$rc"
