#!/usr/bin/env bash
# Runs the Go stock-client scenarios (franz-go kgo + kadm, IBM sarama, segmentio kafka-go; one Go
# module, one binary built by install.sh into $ODRADEK_CACHE) against a running broker.
#   usage: go-clients/run.sh BOOTSTRAP [scenario ...]     (names: go-clients/run.sh -list)
#   env:   ODRADEK_CACHE, COMPAT_RESULTS, COMPAT_DEBUG=1 (client protocol logs on stderr),
#          COMPAT_SCENARIO_TIMEOUT (seconds one scenario may take, default 60),
#          COMPAT_TIMEOUT (whole-run limit in seconds, default 220)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BOOTSTRAP="${1:?usage: $0 BOOTSTRAP [scenario ...]}"
shift
record() {
  echo "$1 $2"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "$1 $2" >>"$COMPAT_RESULTS"
  return 0
}
if ! BIN="$("$HERE/install.sh")"; then
  record FAIL go-clients/build
  exit 2
fi
if [ "$BOOTSTRAP" = -list ]; then exec "$BIN" -list; fi
rc=0
timeout --kill-after=5 "${COMPAT_TIMEOUT:-220}" "$BIN" "$BOOTSTRAP" "$@" || rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "FAIL go-clients (timed out after ${COMPAT_TIMEOUT:-220}s)"
  record FAIL go-clients/timeout
fi
exit "$rc"
