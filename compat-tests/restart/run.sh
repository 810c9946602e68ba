#!/usr/bin/env bash
# shellcheck disable=SC2086  # $GROUP_ARGS is word-split on purpose
# Durability across broker restarts, driven by the Java client (compat.Durability).
# Unlike the other clients this one starts its own brokers, all on one data dir:
#   1. broker A: create a 3-partition topic (retention.ms set), produce 300 records
#      (idempotent, acks=all), deleteRecords(partition 0, before 10)
#   2. SIGTERM A; broker B on the same data dir: topic id/partitions/config, log start
#      offset and every acked record intact; append 50 records (offsets continue)
#   3. SIGKILL B (no shutdown hook); broker C: everything acked so far still there,
#      append 50 more
#   3b. on broker C a group commits offsets (compat.GroupDurability), C gets SIGKILLed
#      right after; broker D: committed offsets + metadata unchanged, a deleted group
#      stays deleted, a group consumer resumes at the committed offsets
#   3c. on broker D a topic gets config overrides and the broker dynamic log defaults (per
#      broker and cluster-wide) via IncrementalAlterConfigs (compat.ConfigsRoundTrip set);
#      SIGTERM; broker E: all of them read back exactly, then a second set of changes
#      (DELETE/SET/SUBTRACT, broker layers deleted); SIGKILL; broker F: the second state
#   4. an idempotent producer keeps sending while the broker is restarted underneath it on
#      the same port, once with SIGTERM and once with SIGKILL (compat.ProduceAcrossRestart):
#      every record acked once, stored once, in order
#   usage: restart/run.sh            (no BOOTSTRAP: brokers are its own)
#   env:   ODRADEK_BIN, ODRADEK_CACHE, COMPAT_RESULTS, COMPAT_DEBUG, COMPAT_KEEP
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export BIN="${ODRADEK_BIN:-$ROOT/../target/debug/odradek}"  # used by broker.sh
# shellcheck source=../broker.sh
. "$ROOT/broker.sh"
# shellcheck source=../java/lib.sh
. "$ROOT/java/lib.sh"
java_compile

WORK="$(mktemp -d "${TMPDIR:-/tmp}/odradek-compat-restart.XXXXXX")"
LOG="$WORK/broker.log"
STATE="$WORK/state.txt"
cleanup() {
  broker_stop KILL >/dev/null 2>&1 || true
  if [ "${COMPAT_KEEP:-0}" = 1 ]; then echo "[restart] kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
# no 3 s wait before the first rebalance of a group (Kafka's default delay)
GROUP_ARGS="--set group.initial.rebalance.delay.ms=0"

record() { # PASS|FAIL name
  echo "$1 restart/$2"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "$1 restart/$2" >>"$COMPAT_RESULTS"
  return 0
}
failed=0

step() { # name java-args...  (runs compat.Durability against the current broker)
  local name="$1"
  shift
  if java_scenario Durability "127.0.0.1:$BROKER_PORT" "$@"; then
    record PASS "$name"
  else
    record FAIL "$name"
    failed=$((failed + 1))
    echo "[restart] broker log tail:"; tail -n 20 "$LOG" | sed 's/^/    /'
  fi
}

echo "[restart] === broker A"
broker_start "$WORK/data" "$LOG" $GROUP_ARGS || { record FAIL broker-start; exit 1; }
step produce produce "$STATE"
if [ ! -s "$STATE" ]; then echo "[restart] no state written; stopping"; exit 1; fi
broker_stop TERM || { record FAIL broker-A-crashed; failed=$((failed + 1)); }

echo "[restart] === broker B (after SIGTERM)"
broker_start "$WORK/data" "$LOG" $GROUP_ARGS || { record FAIL restart-after-sigterm; exit 1; }
step after-sigterm verify "$STATE" 50
echo "[restart] SIGKILL broker B"
broker_stop KILL || { record FAIL broker-B-crashed; failed=$((failed + 1)); }

echo "[restart] === broker C (after SIGKILL)"
broker_start "$WORK/data" "$LOG" $GROUP_ARGS || { record FAIL restart-after-sigkill; exit 1; }
step after-sigkill verify "$STATE" 50

# group_step name mode: compat.GroupDurability against the current broker
group_step() {
  if java_scenario GroupDurability "127.0.0.1:$BROKER_PORT" "$2" "$GSTATE"; then
    record PASS "$1"
  else
    record FAIL "$1"
    failed=$((failed + 1))
    echo "[restart] broker log tail:"; tail -n 20 "$LOG" | sed 's/^/    /'
  fi
}
GSTATE="$WORK/group-state.txt"
group_step group-offsets-commit commit
echo "[restart] SIGKILL broker C right after the commits"
broker_stop KILL || { record FAIL broker-C-crashed; failed=$((failed + 1)); }

echo "[restart] === broker D (after SIGKILL, committed group offsets)"
broker_start "$WORK/data" "$LOG" $GROUP_ARGS || { record FAIL restart-after-group-commit; exit 1; }
if [ -s "$GSTATE" ]; then
  group_step group-offsets-after-sigkill verify
else
  record FAIL group-offsets-after-sigkill
  failed=$((failed + 1))
  echo "[restart] no group state written by group-offsets-commit; nothing to verify"
fi

# config_step name args...: compat.ConfigsRoundTrip against the current broker
config_step() {
  local name="$1"
  shift
  if java_scenario ConfigsRoundTrip "127.0.0.1:$BROKER_PORT" "$@"; then
    record PASS "$name"
  else
    record FAIL "$name"
    failed=$((failed + 1))
    echo "[restart] broker log tail:"; tail -n 20 "$LOG" | sed 's/^/    /'
  fi
}
CSTATE="$WORK/config-state.txt"
config_step configs-set set "$CSTATE"
broker_stop TERM || { record FAIL broker-D-crashed; failed=$((failed + 1)); }

echo "[restart] === broker E (after SIGTERM, topic and dynamic broker configs)"
broker_start "$WORK/data" "$LOG" $GROUP_ARGS || { record FAIL restart-after-configs; exit 1; }
if [ -s "$CSTATE" ]; then
  config_step configs-after-sigterm verify "$CSTATE" next
else
  record FAIL configs-after-sigterm
  failed=$((failed + 1))
  echo "[restart] no config state written by configs-set; nothing to verify"
fi
echo "[restart] SIGKILL broker E right after the second config change"
broker_stop KILL || { record FAIL broker-E-crashed; failed=$((failed + 1)); }

echo "[restart] === broker F (after SIGKILL, config changes)"
broker_start "$WORK/data" "$LOG" $GROUP_ARGS || { record FAIL restart-after-config-change; exit 1; }
if [ -s "$CSTATE" ]; then
  config_step configs-after-sigkill verify "$CSTATE"
else
  record FAIL configs-after-sigkill
  failed=$((failed + 1))
fi
broker_stop TERM || { record FAIL broker-F-crashed; failed=$((failed + 1)); }

# produce_across SIGNAL: restart the broker (same data dir, same port) under a live producer
produce_across() {
  local sig="$1" name marker="$WORK/marker" jpid rc=0 port _
  name="produce-across-sig$(echo "$1" | tr 'A-Z' 'a-z')"
  echo "[restart] === $name"
  rm -f "$marker"
  broker_start "$WORK/data" "$LOG" $GROUP_ARGS || { record FAIL "$name"; failed=$((failed + 1)); return 0; }
  port="$BROKER_PORT"
  java_scenario ProduceAcrossRestart "127.0.0.1:$port" "$marker" &
  jpid=$!
  for _ in $(seq 1 300); do [ -f "$marker" ] && break; kill -0 "$jpid" 2>/dev/null || break; sleep 0.1; done
  if [ -f "$marker" ]; then
    echo "[restart] SIG$sig broker under the producer, restarting on port $port"
    broker_stop "$sig" || { record FAIL "$name-broker-crashed"; failed=$((failed + 1)); }
    BROKER_FIXED_PORT="$port" broker_start "$WORK/data" "$LOG" $GROUP_ARGS \
      || echo "[restart] broker did not come back on port $port"
  else
    echo "[restart] producer never signalled; no restart happened"
  fi
  wait "$jpid" || rc=$?
  if [ "$rc" -eq 0 ] && [ -f "$marker" ]; then
    record PASS "$name"
  else
    record FAIL "$name"
    failed=$((failed + 1))
    echo "[restart] broker log tail:"; tail -n 20 "$LOG" | sed 's/^/    /'
  fi
  broker_stop TERM || true
}
produce_across TERM
produce_across KILL

echo "[restart] $([ "$failed" -eq 0 ] && echo ok || echo "$failed failed")"
[ "$failed" -eq 0 ]
