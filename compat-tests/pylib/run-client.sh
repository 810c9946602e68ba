#!/usr/bin/env bash
# Runs one Python client's compat.py against a running broker, with the venv made by setup.sh.
#   usage: pylib/run-client.sh LABEL IMPORT DIR BOOTSTRAP [scenario ...]
#          (LABEL names the verdicts, IMPORT is the module that must be installed, DIR holds
#          compat.py; called by kafka-python/run.sh and confluent-kafka/run.sh)
#   env:   ODRADEK_CACHE, COMPAT_RESULTS, COMPAT_DEBUG=1 (kafka-python),
#          COMPAT_TIMEOUT (whole-run limit in seconds, default 150)
set -euo pipefail
LABEL="$1" IMPORT="$2" DIR="$3"
shift 3
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
PY="$CACHE/venv/bin/python"
BOOTSTRAP="${1:?usage: $LABEL/run.sh BOOTSTRAP [scenario ...]}"
shift
if [ ! -x "$PY" ] || ! "$PY" -c "import $IMPORT" 2>/dev/null; then
  echo "$LABEL/run.sh: no $LABEL in $CACHE/venv; run compat-tests/setup.sh first" >&2
  exit 2
fi
rc=0
timeout --kill-after=5 "${COMPAT_TIMEOUT:-150}" "$PY" -u "$DIR/compat.py" "$BOOTSTRAP" "$@" || rc=$?
if [ "$rc" -eq 124 ]; then
  echo "FAIL $LABEL (timed out after ${COMPAT_TIMEOUT:-150}s)"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "FAIL $LABEL/timeout" >>"$COMPAT_RESULTS"
fi
exit "$rc"
