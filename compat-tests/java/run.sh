#!/usr/bin/env bash
# Runs the Java (kafka-clients 4.3.0) compat scenarios against a running broker.
#   usage: java/run.sh BOOTSTRAP [Scenario ...]
#   env:   ODRADEK_CACHE  cache dir made by setup.sh (default $HOME/.cache/odradek)
#          COMPAT_RESULTS append "PASS|FAIL <name>" lines to this file
#          COMPAT_DEBUG=1 log every request/response (NetworkClient DEBUG) to stderr
#          COMPAT_TIMEOUT per-scenario time limit in seconds (default 60)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
BOOTSTRAP="${1:?usage: $0 BOOTSTRAP [Scenario ...]}"
shift
SCENARIOS=("$@")
if [ "${#SCENARIOS[@]}" -eq 0 ]; then
  SCENARIOS=(ProduceConsume AdminOps AdminErrors OffsetsForTimes Compression AutoCreate FetchEdgeCases AcksVariants Concurrency
             GroupSplit GroupCommitResume GroupAdmin GroupConsumerProtocol GroupConsumerRegex ConfigsRoundTrip
             Compaction Retention TxnCommitAbort TxnFencing TxnConsumeTransformProduce TxnTimeout TxnAdmin)
fi

# shellcheck source=lib.sh
. "$HERE/lib.sh"
java_compile

pass=0
fail=0
for s in "${SCENARIOS[@]}"; do
  name="${JAVA_LABEL:-java}/$s"
  echo "[java] === $name"
  start=$(date +%s)
  rc=0
  java_scenario "$s" "$BOOTSTRAP" || rc=$?
  secs=$(( $(date +%s) - start ))
  if [ "$rc" -eq 0 ]; then
    echo "PASS $name (${secs}s)"
    pass=$((pass + 1))
    [ -n "${COMPAT_RESULTS:-}" ] && echo "PASS $name" >>"$COMPAT_RESULTS"
  else
    [ "$rc" -eq 124 ] && echo "[java] $name timed out after ${COMPAT_TIMEOUT:-60}s" >&2
    echo "FAIL $name (exit $rc, ${secs}s)"
    fail=$((fail + 1))
    [ -n "${COMPAT_RESULTS:-}" ] && echo "FAIL $name" >>"$COMPAT_RESULTS"
  fi
done
echo "[java] $pass passed, $fail failed"
[ "$fail" -eq 0 ]
