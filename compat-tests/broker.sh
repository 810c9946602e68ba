# shellcheck shell=bash
# Broker lifecycle helpers, sourced by run.sh and restart/run.sh.
#   broker_start DATA_DIR LOG [EXTRA_ARGS...]  start $BIN on a free port (or on
#                                               $BROKER_FIXED_PORT when set); sets BROKER_PID,
#                                               BROKER_PORT; returns 1 if it never listened
#   broker_stop [TERM|KILL]                     stop it (TERM waits up to 5 s, then KILL);
#                                               returns 1 if it had already exited
# Needs BIN (the broker binary).
# With COMPAT_BROKER=kafka both start and stop Apache Kafka instead (reference/kafka.sh: the same
# variables, the same --set flags as server properties), so any client's run.sh runs against either.

BROKER_PID=""
BROKER_PORT=""
# free_port, stop_pid (and Kafka's own start and stop)
# shellcheck source=reference/kafka.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/reference/kafka.sh"

port_open() {
  python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}

broker_start() {
  if [ "${COMPAT_BROKER:-odradek}" = kafka ]; then kafka_start "$@"; return; fi
  local data="$1" log="$2"
  shift 2
  BROKER_PORT="${BROKER_FIXED_PORT:-$(free_port)}"
  RUST_LOG="${RUST_LOG:-$([ "${COMPAT_DEBUG:-0}" = 1 ] && echo debug || echo info)}" \
    "$BIN" --data-dir "$data" --listen "127.0.0.1:$BROKER_PORT" "$@" >>"$log" 2>&1 &
  BROKER_PID=$!
  echo "[compat] broker pid $BROKER_PID on 127.0.0.1:$BROKER_PORT, data $data, log $log"
  local _
  for _ in $(seq 1 150); do   # bounded: ~15-30 s
    kill -0 "$BROKER_PID" 2>/dev/null || break
    if port_open "$BROKER_PORT"; then return 0; fi
    sleep 0.1
  done
  echo "[compat] broker did not accept connections on port $BROKER_PORT; last log lines:"
  tail -n 30 "$log" | sed 's/^/    /'
  broker_stop KILL || true
  return 1
}

broker_stop() {
  if [ "${COMPAT_BROKER:-odradek}" = kafka ]; then kafka_stop "$@"; return; fi
  stop_pid compat 5 "$@"
}
