#!/usr/bin/env bash
# Entry point of the client-compatibility suite (`make test` calls this).
#
# Installs the clients (setup.sh), then for each client starts a fresh broker on a free
# port with an empty data dir, runs that client's run.sh against it and stops the broker.
# Ends with one line "N passed, N failed" (scenarios) and exits non-zero if any failed.
#
# env: ODRADEK_BIN     broker binary (default: <repo>/target/debug/odradek)
#      ODRADEK_CACHE   where setup.sh installs things (default: $HOME/.cache/odradek)
#      COMPAT_CLIENTS  space-separated subset of: java kcat kafka-python (default: all)
#      COMPAT_DEBUG=1  verbose client protocol logs; also RUST_LOG=debug for the broker
#      COMPAT_KEEP=1   keep broker data dirs and logs (paths are printed)
#      COMPAT_CLIENT_TIMEOUT  seconds one client's run.sh may take (default 240)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BIN="${ODRADEK_BIN:-$REPO/target/debug/odradek}"
CLIENTS=(${COMPAT_CLIENTS:-java kcat kafka-python})
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"

"$HERE/setup.sh"

# Extra broker flags per client (kcat cannot create topics: it relies on auto-creation,
# so its broker makes auto-created topics with 3 partitions).
broker_args_for() {
  case "$1" in
    kcat) echo "--set num.partitions=3" ;;
    *) echo "" ;;
  esac
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_open() {
  python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}

RESULTS="$(mktemp)"
TMPDIRS=()
BROKER_PID=""
cleanup() {
  if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
    kill "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
  if [ "${COMPAT_KEEP:-0}" != 1 ]; then
    for d in "${TMPDIRS[@]}"; do rm -rf "$d"; done
  fi
  rm -f "$RESULTS"
}
trap cleanup EXIT

stop_broker() {
  [ -n "$BROKER_PID" ] || return 0
  if kill -0 "$BROKER_PID" 2>/dev/null; then
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$BROKER_PID" 2>/dev/null; then
      echo "[compat] broker $BROKER_PID did not exit on SIGTERM within 5 s; killing it"
      kill -KILL "$BROKER_PID" 2>/dev/null || true
    fi
    wait "$BROKER_PID" 2>/dev/null || true
  else
    wait "$BROKER_PID" 2>/dev/null || true
    echo "[compat] NOTE: broker $BROKER_PID had already exited before the client finished"
    return 1
  fi
  BROKER_PID=""
}

suite_start=$(date +%s)
for client in "${CLIENTS[@]}"; do
  echo
  echo "================ $client"
  if [ ! -x "$HERE/$client/run.sh" ]; then
    echo "FAIL $client/harness (no $HERE/$client/run.sh)" | tee -a "$RESULTS"
    continue
  fi
  if [ ! -x "$BIN" ]; then
    echo "[compat] broker binary $BIN not found (build it, or set ODRADEK_BIN)"
    echo "FAIL $client/broker-start" >>"$RESULTS"
    continue
  fi
  work="$(mktemp -d "${TMPDIR:-/tmp}/odradek-compat-$client.XXXXXX")"
  TMPDIRS+=("$work")
  port="$(free_port)"
  log="$work/broker.log"
  # shellcheck disable=SC2046
  RUST_LOG="${RUST_LOG:-$([ "${COMPAT_DEBUG:-0}" = 1 ] && echo debug || echo info)}" \
    "$BIN" --data-dir "$work/data" --listen "127.0.0.1:$port" $(broker_args_for "$client") >"$log" 2>&1 &
  BROKER_PID=$!
  echo "[compat] broker pid $BROKER_PID on 127.0.0.1:$port, data $work/data, log $log"
  ready=0
  for _ in $(seq 1 150); do   # up to ~15-30 s
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then break; fi
    if port_open "$port"; then ready=1; break; fi
    sleep 0.1
  done
  if [ "$ready" -ne 1 ]; then
    echo "[compat] broker did not accept connections on port $port; last log lines:"
    tail -n 30 "$log" | sed 's/^/    /'
    stop_broker || true
    echo "FAIL $client/broker-start" >>"$RESULTS"
    continue
  fi

  before=$(wc -l <"$RESULTS")
  rc=0
  COMPAT_RESULTS="$RESULTS" timeout --kill-after=5 "${COMPAT_CLIENT_TIMEOUT:-240}" \
    "$HERE/$client/run.sh" "127.0.0.1:$port" || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "[compat] $client/run.sh did not finish within ${COMPAT_CLIENT_TIMEOUT:-240}s"
    echo "FAIL $client/timeout" >>"$RESULTS"
  fi
  after=$(wc -l <"$RESULTS")
  if [ "$rc" -ne 0 ] && [ "$after" -eq "$before" ]; then
    echo "FAIL $client/run (exit $rc, no scenario verdicts)" >>"$RESULTS"
  elif [ "$rc" -ne 0 ] && ! tail -n $((after - before)) "$RESULTS" | grep -q '^FAIL'; then
    echo "FAIL $client/run (exit $rc although every scenario passed)" >>"$RESULTS"
  fi
  if ! stop_broker; then
    echo "FAIL $client/broker-crashed" >>"$RESULTS"
    echo "[compat] broker log tail:"; tail -n 30 "$log" | sed 's/^/    /'
  elif [ "$rc" -ne 0 ]; then
    echo "[compat] broker log tail ($log):"; tail -n 15 "$log" | sed 's/^/    /'
  fi
  BROKER_PID=""
done

echo
echo "================ summary ($(( $(date +%s) - suite_start ))s)"
grep '^FAIL' "$RESULTS" | sed 's/^/  /' || true
passed=$(grep -c '^PASS' "$RESULTS" || true)
failed=$(grep -c '^FAIL' "$RESULTS" || true)
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
