#!/usr/bin/env bash
# Entry point of the client-compatibility suite (`make test` calls this).
#
# A client is any folder here with an executable run.sh. Installs the clients (setup.sh), then
# for each client starts a fresh broker on a free port with an empty data dir, runs that
# client's run.sh against it and stops the broker. A folder may hold `broker-args` (extra broker
# flags), `own-broker` (the client starts its own brokers) and `timeout` (seconds, default 240).
# Ends with one line "N passed, N failed" (scenarios) and exits non-zero if any failed.
#
# env: ODRADEK_BIN     broker binary (default: <repo>/target/debug/odradek)
#      ODRADEK_CACHE   where setup.sh installs things (default: $HOME/.cache/odradek)
#      COMPAT_CLIENTS  space-separated subset of the client folders (default: all of them)
#      COMPAT_DEBUG=1  verbose client protocol logs; also RUST_LOG=debug for the broker
#      COMPAT_KEEP=1   keep broker data dirs and logs (paths are printed)
#      COMPAT_CLIENT_TIMEOUT  seconds one client's run.sh may take (default: its `timeout` file, or 240)
#      COMPAT_LANES=2  clients with a `lane2` file run in a second lane beside the rest (make test)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BIN="${ODRADEK_BIN:-$REPO/target/debug/odradek}"
export ODRADEK_BIN="$BIN"
discovered=()
for d in "$HERE"/*/; do
  [ -x "$d/run.sh" ] && discovered+=("$(basename "$d")")
done
read -r -a CLIENTS <<<"${COMPAT_CLIENTS:-${discovered[*]}}"
export ODRADEK_CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"

if ! "$HERE/setup.sh"; then
  echo "[compat] setup.sh failed; no client could be run"
  echo "0 passed, 1 failed"
  exit 1
fi

# shellcheck source=broker.sh
. "$HERE/broker.sh"

# Every broker gets group.initial.rebalance.delay.ms=0 (Kafka's default 3000 ms would delay the
# first rebalance of each new group), then the client's own `broker-args` (comments skipped).
broker_args_for() {
  echo "--set group.initial.rebalance.delay.ms=0"
  [ -f "$HERE/$1/broker-args" ] && grep -v '^#' "$HERE/$1/broker-args" | tr '\n' ' '
  return 0
}

RESULTS="$(mktemp)"
TIMES="$(mktemp)"
TMPDIRS=()
cleanup() {
  broker_stop KILL >/dev/null 2>&1 || true
  [ -n "${LANE_PID:-}" ] && kill -- "$LANE_PID" 2>/dev/null
  if [ "${COMPAT_KEEP:-0}" != 1 ]; then
    for d in "${TMPDIRS[@]}"; do rm -rf "$d"; done
  fi
  rm -f "$RESULTS" "$TIMES" "${LANE_LOG:-}"
}
trap cleanup EXIT

# Runs one client against a fresh broker (or its own) and appends its verdicts to $RESULTS and
# "client seconds" to $TIMES.
run_client() {
  local client="$1" out rc=0 own_limit=240 limit log="" work client_start
  echo
  echo "================ $client"
  if [ ! -x "$HERE/$client/run.sh" ]; then
    echo "FAIL $client/harness (no $HERE/$client/run.sh)" | tee -a "$RESULTS"
    return
  fi
  if [ ! -x "$BIN" ]; then
    echo "[compat] broker binary $BIN not found (build it, or set ODRADEK_BIN)"
    echo "FAIL $client/broker-start" >>"$RESULTS"
    return
  fi
  out="$(mktemp)"   # this client's verdicts (another lane appends to $RESULTS meanwhile)
  client_start=$(date +%s)
  [ -f "$HERE/$client/timeout" ] && own_limit=$(grep -v '^#' "$HERE/$client/timeout" | tr -d ' \n')
  limit="${COMPAT_CLIENT_TIMEOUT:-$own_limit}"
  if [ -f "$HERE/$client/own-broker" ]; then
    COMPAT_RESULTS="$out" timeout --kill-after=5 "$limit" "$HERE/$client/run.sh" || rc=$?
  else
    work="$(mktemp -d "${TMPDIR:-/tmp}/odradek-compat-$client.XXXXXX")"
    TMPDIRS+=("$work")
    log="$work/broker.log"
    # shellcheck disable=SC2046
    if ! broker_start "$work/data" "$log" $(broker_args_for "$client"); then
      echo "FAIL $client/broker-start" >>"$RESULTS"
      rm -f "$out"
      return
    fi
    COMPAT_RESULTS="$out" timeout --kill-after=5 "$limit" \
      "$HERE/$client/run.sh" "127.0.0.1:$BROKER_PORT" || rc=$?
  fi
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "[compat] $client/run.sh did not finish within ${limit}s"
    echo "FAIL $client/timeout" >>"$out"
  fi
  if [ "$rc" -ne 0 ] && [ ! -s "$out" ]; then
    echo "FAIL $client/run (exit $rc, no scenario verdicts)" >>"$out"
  elif [ "$rc" -ne 0 ] && ! grep -q '^FAIL' "$out"; then
    echo "FAIL $client/run (exit $rc although every scenario passed)" >>"$out"
  fi
  echo "[compat] $client took $(( $(date +%s) - client_start ))s"
  echo "$client $(( $(date +%s) - client_start ))s" >>"$TIMES"
  if [ -n "$log" ]; then
    if ! broker_stop TERM; then
      echo "FAIL $client/broker-crashed" >>"$out"
      echo "[compat] broker log tail:"; tail -n 30 "$log" | sed 's/^/    /'
    elif [ "$rc" -ne 0 ]; then
      echo "[compat] broker log tail ($log):"; tail -n 15 "$log" | sed 's/^/    /'
    fi
  fi
  cat "$out" >>"$RESULTS"
  rm -f "$out"
}

# COMPAT_LANES=2: the clients whose folder holds a `lane2` file (long runs that mostly wait:
# Connect + Debezium) run one after another in a second lane, beside the others; that lane's
# output is printed when it ends. Default: one lane, every client in turn.
lane1=() lane2=()
for client in "${CLIENTS[@]}"; do
  if [ "${COMPAT_LANES:-1}" = 2 ] && [ -f "$HERE/$client/lane2" ]; then lane2+=("$client"); else lane1+=("$client"); fi
done

suite_start=$(date +%s)
if [ "${#lane2[@]}" -gt 0 ]; then
  LANE_LOG="$(mktemp)"
  echo "[compat] second lane: ${lane2[*]} (output at the end)"
  (
    trap 'broker_stop KILL >/dev/null 2>&1 || true' EXIT
    for client in "${lane2[@]}"; do run_client "$client"; done
  ) >"$LANE_LOG" 2>&1 &
  LANE_PID=$!
fi
for client in "${lane1[@]}"; do run_client "$client"; done
if [ -n "${LANE_PID:-}" ]; then
  wait "$LANE_PID" || true
  LANE_PID=""
  cat "$LANE_LOG"
fi
echo
echo "================ summary ($(( $(date +%s) - suite_start ))s: $(tr '\n' ' ' <"$TIMES"))"
grep '^FAIL' "$RESULTS" | sed 's/^/  /' || true
passed=$(grep -c '^PASS' "$RESULTS" || true)
failed=$(grep -c '^FAIL' "$RESULTS" || true)
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
