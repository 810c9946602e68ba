#!/usr/bin/env bash
# Runs the confluent-kafka (Python, librdkafka bundled in its wheel) compat scenarios.
#   usage: confluent-kafka/run.sh BOOTSTRAP [scenario ...]
#   env:   ODRADEK_CACHE (venv made by setup.sh), COMPAT_RESULTS,
#          COMPAT_TIMEOUT (whole-run limit in seconds, default 150)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
PY="$CACHE/venv/bin/python"
BOOTSTRAP="${1:?usage: $0 BOOTSTRAP [scenario ...]}"
shift
if [ ! -x "$PY" ] || ! "$PY" -c 'import confluent_kafka' 2>/dev/null; then
  echo "confluent-kafka/run.sh: no confluent-kafka in $CACHE/venv; run compat-tests/setup.sh first" >&2
  exit 2
fi
rc=0
timeout --kill-after=5 "${COMPAT_TIMEOUT:-150}" "$PY" -u "$HERE/compat.py" "$BOOTSTRAP" "$@" || rc=$?
if [ "$rc" -eq 124 ]; then
  echo "FAIL confluent-kafka (timed out after ${COMPAT_TIMEOUT:-150}s)"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "FAIL confluent-kafka/timeout" >>"$COMPAT_RESULTS"
fi
exit "$rc"
