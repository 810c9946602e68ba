#!/usr/bin/env bash
# The control API for tests (docs/testing.md), driven by stock clients through one broker
# started here with --control-listen: Java scenarios (compat.ControlClock, compat.ControlEndTxnRetry),
# `odradek ctl`, a pytest suite run in parallel (pytest-xdist) and a node:test suite run
# concurrently (KafkaJS), every test in a cluster of its own made through POST /v1/clusters.
#   usage: control/run.sh            (no BOOTSTRAP: the broker is its own)
#   env:   ODRADEK_BIN, ODRADEK_CACHE, COMPAT_RESULTS, COMPAT_KEEP
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export BIN="${ODRADEK_BIN:-$ROOT/../target/debug/odradek}"
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
# shellcheck source=../broker.sh
. "$ROOT/broker.sh"
# shellcheck source=../java/lib.sh
. "$ROOT/java/lib.sh"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/odradek-compat-control.XXXXXX")"
cleanup() {
  broker_stop KILL >/dev/null 2>&1 || true
  [ "${COMPAT_KEEP:-0}" = 1 ] && echo "[control] kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

failed=0
record() {
  echo "$1 $2"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "$1 $2" >>"$COMPAT_RESULTS"
  [ "$1" = PASS ] || failed=1
}

CPORT="$(free_port)"
if ! broker_start "$WORK/data" "$WORK/broker.log" --control-listen "127.0.0.1:$CPORT" \
    --set group.initial.rebalance.delay.ms=0; then
  record FAIL control/broker-start
  exit 1
fi
export ODRADEK_CONTROL="127.0.0.1:$CPORT"
for _ in $(seq 1 50); do port_open "$CPORT" && break; sleep 0.1; done

# --- odradek ctl ------------------------------------------------------------------
ctl_ok=1
out="$("$BIN" ctl clock)" && grep -q '"mode": "system"' <<<"$out" || { echo "[control] ctl clock: $out"; ctl_ok=0; }
out="$("$BIN" ctl cluster-create '{"id":"ctl-test","clock":"manual"}')" && grep -q '"clock": "manual"' <<<"$out" \
  || { echo "[control] ctl cluster-create: $out"; ctl_ok=0; }
out="$("$BIN" ctl --cluster ctl-test advance 45000)" && grep -q '"advanced_ms": 45000' <<<"$out" \
  || { echo "[control] ctl advance: $out"; ctl_ok=0; }
# the default cluster runs on the system clock: advance is refused (HTTP 409, exit 1)
if "$BIN" ctl advance 1 >/dev/null 2>&1; then echo "[control] ctl advance on the system clock succeeded"; ctl_ok=0; fi
out="$("$BIN" ctl cluster-delete ctl-test)" || { echo "[control] ctl cluster-delete: $out"; ctl_ok=0; }
[ "$ctl_ok" = 1 ] && record PASS control/ctl || record FAIL control/ctl

# --- Java -------------------------------------------------------------------------
java_compile
for s in ControlClock ControlEndTxnRetry; do
  echo "[control] === java/$s"
  if java_scenario "$s"; then record PASS "control/java/$s"; else record FAIL "control/java/$s"; fi
done

# --- Java: JUnit (console launcher), test methods concurrent, a cluster each --------------
JUNIT_JAR="$(ls "$CACHE"/junit/junit-platform-console-standalone-*.jar 2>/dev/null | tail -1 || true)"
if [ -n "$JUNIT_JAR" ]; then
  JC="$WORK/junit-classes"
  mkdir -p "$JC"
  set +e
  javac --release 17 -nowarn -XDsuppressNotes -cp "$CP:$CLASSES:$JUNIT_JAR" -d "$JC" "$HERE"/junit/*.java \
    && timeout --kill-after=5 120 java -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$LOGCFG" -jar "$JUNIT_JAR" execute \
      --disable-banner --disable-ansi-colors --details=tree --class-path "$CP:$CLASSES:$JC" \
      --select-class compat.ClusterPerTestTest --config junit.jupiter.execution.parallel.enabled=true \
      --config junit.jupiter.execution.parallel.config.executor-service=FORK_JOIN_POOL \
      >"$WORK/junit.txt" 2>&1
  rc=$?
  set -e
  cat "$WORK/junit.txt" 2>/dev/null || true
  n=0
  while read -r name mark; do
    n=$((n + 1))
    record "$([ "$mark" = "✔" ] && echo PASS || echo FAIL)" "control/junit/${name%()}"
  done < <(grep -oE '[A-Za-z0-9_]+\(\) (✔|✘)' "$WORK/junit.txt" 2>/dev/null || true)
  [ "$n" -gt 0 ] || record FAIL "control/junit/run (exit $rc, no verdicts)"
  [ "$rc" -eq 0 ] || [ "$n" -eq 0 ] || grep -q '✘' "$WORK/junit.txt" || record FAIL "control/junit/run (exit $rc)"
else
  record FAIL "control/junit/setup (no JUnit console launcher in $CACHE/junit; run compat-tests/setup.sh)"
fi

# --- Python: pytest, 3 workers ----------------------------------------------------
PY="$CACHE/venv/bin/python"
if "$PY" -c 'import pytest, xdist, kafka' 2>/dev/null; then
  started=$(date +%s)
  set +e
  (cd "$HERE" && timeout --kill-after=5 150 "$PY" -m pytest -n 3 -p no:cacheprovider -rA -q test_clusters.py) >"$WORK/pytest.txt" 2>&1
  rc=$?
  set -e
  cat "$WORK/pytest.txt"
  n=0
  while read -r verdict name; do
    n=$((n + 1))
    record "$([ "$verdict" = PASSED ] && echo PASS || echo FAIL)" "control/python/${name#test_clusters.py::}"
  done < <(grep -E '^(PASSED|FAILED|ERROR) test_clusters.py::' "$WORK/pytest.txt" | awk '{print $1, $2}')
  [ "$n" -gt 0 ] || record FAIL "control/python/run (exit $rc, no verdicts)"
  echo "[control] pytest -n 3: $(( $(date +%s) - started )) s"
else
  record FAIL "control/python/setup (pytest, pytest-xdist or kafka-python missing in $CACHE/venv)"
fi

# --- JavaScript: node:test, concurrency 4 -----------------------------------------
export NODE_PATH="$CACHE/node/node_modules"
export KAFKAJS_NO_PARTITIONER_WARNING=1
if command -v node >/dev/null 2>&1 && node -e 'require("kafkajs")' 2>/dev/null; then
  set +e
  (cd "$HERE" && timeout --kill-after=5 150 node --test --test-reporter=tap clusters.test.js) >"$WORK/node.txt" 2>&1
  rc=$?
  set -e
  cat "$WORK/node.txt"
  n=0
  # the suite's tests are indented one level under "odradek clusters"
  while IFS= read -r line; do
    n=$((n + 1))
    name="$(sed -E 's/^ *(not )?ok [0-9]+ - //' <<<"$line" | tr ' ' '-')"
    if [[ "$line" =~ ^\ +ok ]]; then record PASS "control/js/$name"; else record FAIL "control/js/$name"; fi
  done < <(grep -E '^    (not )?ok [0-9]+ - ' "$WORK/node.txt")
  [ "$n" -gt 0 ] || record FAIL "control/js/run (exit $rc, no verdicts)"
else
  record FAIL "control/js/setup (node or kafkajs missing)"
fi

# --- Go: the standard-library recipe, tests in parallel ------------------------------
if command -v go >/dev/null 2>&1; then
  export GOCACHE="${GOCACHE:-$CACHE/go-build}" GOFLAGS="${GOFLAGS:--mod=mod}" GOTOOLCHAIN=local
  set +e
  (cd "$HERE/go" && timeout --kill-after=5 120 go test -count=1 -v ./...) >"$WORK/go.txt" 2>&1
  rc=$?
  set -e
  cat "$WORK/go.txt"
  n=0
  while read -r verdict name; do
    n=$((n + 1))
    record "$([ "$verdict" = "PASS:" ] && echo PASS || echo FAIL)" "control/go/$name"
  done < <(grep -E '^--- (PASS|FAIL): ' "$WORK/go.txt" | awk '{print $2, $3}')
  [ "$n" -gt 0 ] || record FAIL "control/go/run (exit $rc, no verdicts)"
else
  record FAIL "control/go/setup (go not installed)"
fi

if ! broker_stop TERM; then
  record FAIL control/broker-crashed
  tail -n 30 "$WORK/broker.log" | sed 's/^/    /'
fi
[ "$failed" = 0 ]
