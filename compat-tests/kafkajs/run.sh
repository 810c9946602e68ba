#!/usr/bin/env bash
# Runs the KafkaJS compat scenarios (compat.js) against a running broker.
#   usage: kafkajs/run.sh BOOTSTRAP [scenario ...]     (admin group-consume group-split commit-resume)
#   env:   ODRADEK_CACHE (kafkajs installed by setup.sh under $ODRADEK_CACHE/node),
#          COMPAT_RESULTS, COMPAT_DEBUG=1 (KafkaJS logLevel DEBUG: every request/response),
#          COMPAT_TIMEOUT (whole-run limit in seconds, default 150)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
BOOTSTRAP="${1:?usage: $0 BOOTSTRAP [scenario ...]}"
shift
export NODE_PATH="$CACHE/node/node_modules"
if ! command -v node >/dev/null 2>&1; then
  echo "kafkajs/run.sh: node is not installed" >&2
  exit 2
fi
if ! node -e 'require("kafkajs")' 2>/dev/null; then
  echo "kafkajs/run.sh: no kafkajs in $NODE_PATH; run compat-tests/setup.sh first" >&2
  exit 2
fi
# KafkaJS 2.x prints a notice about its default partitioner on every producer
export KAFKAJS_NO_PARTITIONER_WARNING=1
rc=0
timeout --kill-after=5 "${COMPAT_TIMEOUT:-150}" node "$HERE/compat.js" "$BOOTSTRAP" "$@" || rc=$?
if [ "$rc" -eq 124 ]; then
  echo "FAIL kafkajs (timed out after ${COMPAT_TIMEOUT:-150}s)"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "FAIL kafkajs/timeout" >>"$COMPAT_RESULTS"
fi
exit "$rc"
