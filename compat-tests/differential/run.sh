#!/usr/bin/env bash
# Differential conformance against Apache Kafka 4.3 (compat-tests/reference/kafka.sh):
#   1. raw protocol: tests/differential.rs sends the same requests (edge cases and bad ones among
#      them) to a fresh Apache Kafka and to an in-process Odradek and compares the answers' error
#      codes, offsets, counts and config values (differences allowed only with a reason in
#      tests/differential-known.txt);
#   2. clients: each client folder's scenarios, which `make test` runs against Odradek and which
#      check the data (records read back, offsets, errors seen, assignments, configs described), are
#      run against Apache Kafka, each client on a fresh broker with the same broker settings. A
#      scenario that fails there must be listed in known-differences.txt (`client/scenario: reason`);
#      a listed one that passes fails the run, so the list stays true (unless its reason starts with
#      "(either)": a timing difference that Kafka shows on some runs only).
# `make test` runs a short subset (the raw protocol, kcat and kafka-python); `make test-differential`
# runs every client (DIFF_CLIENTS=all).
#   usage: differential/run.sh          (own-broker: starts its brokers)
#   env:   DIFF_CLIENTS  "kcat kafka-python" (default), "all", or any list of client folders
#          ODRADEK_CACHE, COMPAT_RESULTS, COMPAT_KEEP
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
REPO="$(cd "$ROOT/.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
BIN="${ODRADEK_BIN:-$REPO/target/debug/odradek}"
COMPAT_BROKER=kafka
# shellcheck source=../broker.sh
. "$ROOT/broker.sh"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/odradek-differential.XXXXXX")"
cleanup() {
  broker_stop KILL >/dev/null 2>&1 || true
  [ "${COMPAT_KEEP:-0}" = 1 ] && echo "[differential] kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

failed=0
record() {
  echo "$1 $2"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "$1 $2" >>"$COMPAT_RESULTS"
  [ "$1" = PASS ] || failed=1
}

if ! kafka_install; then
  record FAIL differential/kafka-install
  exit 1
fi

# --- 1. raw protocol ------------------------------------------------------------------------
if broker_start "$WORK/raw/data" "$WORK/raw/kafka.log" --set group.initial.rebalance.delay.ms=0; then
  if (cd "$REPO" && ODRADEK_DIFF_KAFKA="127.0.0.1:$BROKER_PORT" timeout --kill-after=5 300 \
       cargo test -q --test differential -- --ignored --nocapture) >"$WORK/raw.txt" 2>&1; then
    record PASS differential/raw-protocol
  else
    grep -A2 '^DIFFERENT\|^LISTED' "$WORK/raw.txt" | sed 's/^/    /' || tail -n 30 "$WORK/raw.txt" | sed 's/^/    /'
    record FAIL differential/raw-protocol
  fi
  grep 'cases,' "$WORK/raw.txt" | sed 's/^/[differential] raw protocol: /' || true
  broker_stop TERM || true
else
  record FAIL differential/raw-protocol-kafka-start
fi

# --- 2. clients --------------------------------------------------------------------------------
clients="${DIFF_CLIENTS:-kcat kafka-python}"
if [ "$clients" = all ]; then
  clients=""
  for d in "$ROOT"/*/; do
    c="$(basename "$d")"
    # a client that runs against the broker it is given, or an own-broker one whose brokers come
    # from broker.sh (a `kafka-too` file: COMPAT_BROKER=kafka makes them Apache Kafka); the other
    # own-broker folders start Odradek themselves
    [ -x "$d/run.sh" ] && { [ ! -f "$d/own-broker" ] || [ -f "$d/kafka-too" ]; } && clients="$clients $c"
  done
fi
known_reason() { { grep -v '^#' "$HERE/known-differences.txt" | grep -F "$1:" | head -n1 | cut -d: -f2- | sed 's/^ *//'; } || true; }
for client in $clients; do
  args=(--set group.initial.rebalance.delay.ms=0)
  [ -f "$ROOT/$client/broker-args" ] && read -r -a more <<<"$(grep -v '^#' "$ROOT/$client/broker-args" | tr '\n' ' ')" && args+=("${more[@]}")
  # settings Kafka needs beside the client's own (e.g. a lower bound for a value the client lowers)
  [ -f "$HERE/kafka-args/$client" ] && read -r -a more <<<"$(grep -v '^#' "$HERE/kafka-args/$client" | tr '\n' ' ')" && args+=("${more[@]}")
  verdicts="$WORK/$client.verdicts"
  : >"$verdicts"
  limit=240
  [ -f "$ROOT/$client/timeout" ] && limit=$(grep -v '^#' "$ROOT/$client/timeout" | tr -d ' \n')
  if [ -f "$ROOT/$client/own-broker" ]; then
    COMPAT_BROKER=kafka COMPAT_RESULTS="$verdicts" timeout --kill-after=5 "$limit" "$ROOT/$client/run.sh" \
      >"$WORK/$client.out" 2>&1 || true
  else
    if ! broker_start "$WORK/$client/data" "$WORK/$client/kafka.log" "${args[@]}"; then
      record FAIL "differential/kafka:$client/broker-start"
      continue
    fi
    COMPAT_RESULTS="$verdicts" timeout --kill-after=5 "$limit" "$ROOT/$client/run.sh" "127.0.0.1:$BROKER_PORT" \
      >"$WORK/$client.out" 2>&1 || true
    broker_stop TERM || true
  fi
  if [ ! -s "$verdicts" ]; then
    tail -n 20 "$WORK/$client.out" | sed 's/^/    /'
    record FAIL "differential/kafka:$client/no-verdicts"
    continue
  fi
  while read -r verdict scenario; do
    reason="$(known_reason "$scenario")"
    if [ "$verdict" = PASS ] && [ -z "$reason" ]; then
      record PASS "differential/kafka:$scenario"
    elif [ -n "$reason" ] && [[ "$reason" == "(either)"* ]]; then
      # a timing difference: Kafka may or may not show it on a given run
      record PASS "differential/kafka:$scenario(known, either)"
    elif [ "$verdict" = FAIL ] && [ -n "$reason" ]; then
      echo "[differential] $scenario fails on Apache Kafka, as known-differences.txt says: $reason"
      record PASS "differential/kafka:$scenario(known)"
    elif [ "$verdict" = FAIL ]; then
      grep -n "$scenario\|FAIL\|Error\|error" "$WORK/$client.out" | tail -n 15 | sed 's/^/    /'
      record FAIL "differential/kafka:$scenario (passes on Odradek, fails on Apache Kafka; not in known-differences.txt)"
    else
      record FAIL "differential/kafka:$scenario (listed in known-differences.txt but passes on Apache Kafka)"
    fi
  done <"$verdicts"
done
exit "$failed"
