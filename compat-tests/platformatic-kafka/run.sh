#!/usr/bin/env bash
# Runs the @platformatic/kafka compat scenarios (compat.mjs) against a running broker.
#   usage: platformatic-kafka/run.sh BOOTSTRAP [scenario ...]
#   env:   ODRADEK_CACHE (the package is installed by ./install.sh under $ODRADEK_CACHE/node-platformatic),
#          COMPAT_RESULTS, COMPAT_DEBUG=1 (the client's debug logs, DEBUG=plt:kafka:*),
#          COMPAT_TIMEOUT (whole-run limit in seconds, default 200)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
BOOTSTRAP="${1:?usage: $0 BOOTSTRAP [scenario ...]}"
shift
# an ES module package: compat.mjs imports it by path (NODE_PATH does not apply to import)
export PLATFORMATIC_KAFKA="$CACHE/node-platformatic/node_modules/@platformatic/kafka/dist/index.js"
if ! command -v node >/dev/null 2>&1; then
  echo "platformatic-kafka/run.sh: node is not installed" >&2
  exit 2
fi
if [ ! -f "$PLATFORMATIC_KAFKA" ]; then
  echo "platformatic-kafka/run.sh: no @platformatic/kafka in $CACHE/node-platformatic; run compat-tests/setup.sh first" >&2
  exit 2
fi
rc=0
timeout --kill-after=5 "${COMPAT_TIMEOUT:-200}" node "$HERE/compat.mjs" "$BOOTSTRAP" "$@" || rc=$?
if [ "$rc" -eq 124 ]; then
  echo "FAIL platformatic-kafka (timed out after ${COMPAT_TIMEOUT:-200}s)"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "FAIL platformatic-kafka/timeout" >>"$COMPAT_RESULTS"
fi
exit "$rc"
