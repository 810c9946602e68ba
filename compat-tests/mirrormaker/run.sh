#!/usr/bin/env bash
# MirrorMaker 2 (connect-mirror 4.3.1, org.apache.kafka.connect.mirror.MirrorMaker, dedicated mode)
# mirroring from one broker to another, with consumer-group offset sync. Starts its own two brokers
# with ../broker.sh (COMPAT_BROKER=kafka: two Apache Kafka brokers), seeds the source
# (compat.MirrorCheck seed), starts MM2 with mm2.properties (aliases src -> tgt, every interval a
# few seconds, replication factor 1 everywhere), then runs compat.MirrorCheck's scenarios in order.
#   usage: mirrormaker/run.sh [scenario ...]     (own-broker: no BOOTSTRAP)
#   env:   ODRADEK_BIN, ODRADEK_CACHE, COMPAT_BROKER, COMPAT_RESULTS, COMPAT_KEEP=1 (keep logs),
#          COMPAT_DEBUG=1 (MM2 at DEBUG)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export BIN="${ODRADEK_BIN:-$ROOT/../target/debug/odradek}"   # used by broker.sh
# shellcheck source=../broker.sh
. "$ROOT/broker.sh"

record_fail() {
  echo "FAIL mirrormaker/$1"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "FAIL mirrormaker/$1" >>"$COMPAT_RESULTS"
  return 0
}
if ! ls "$KAFKA_LIBS"/connect-mirror-*.jar >/dev/null 2>&1; then
  echo "mirrormaker: no connect-mirror jar in $KAFKA_LIBS; run compat-tests/mirrormaker/install.sh" >&2
  record_fail install
  exit 2
fi

# compat.MirrorCheck, compiled against Kafka's jars into a directory per source hash
hash=$( { cat "$HERE"/src/compat/*.java; ls "$KAFKA_LIBS"; } | sha256sum | cut -c1-16)
CLASSES="$KAFKA_CACHE/mirrormaker-classes/$hash"
if [ ! -f "$CLASSES/.complete" ]; then
  echo "[mirrormaker] compiling the checks into $CLASSES"
  mkdir -p "$KAFKA_CACHE/mirrormaker-classes"
  tmp=$(mktemp -d "$KAFKA_CACHE/mirrormaker-classes/.build.XXXXXX")
  nice javac --release 17 -nowarn -cp "$KAFKA_LIBS/*" -d "$tmp" "$HERE"/src/compat/*.java
  touch "$tmp/.complete"
  mv -T "$tmp" "$CLASSES" 2>/dev/null || rm -rf "$tmp"
  find "$KAFKA_CACHE/mirrormaker-classes" -mindepth 1 -maxdepth 1 -type d -mtime +1 \
    ! -path "$CLASSES" -exec rm -rf {} + 2>/dev/null || true
fi
touch "$CLASSES"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/odradek-compat-mirrormaker.XXXXXX")"
SRC_PID="" TGT_PID="" MM_PID=""
stop_mm() {
  [ -n "$MM_PID" ] || return 0
  kill -TERM "$MM_PID" 2>/dev/null || true
  local _
  for _ in $(seq 1 150); do kill -0 "$MM_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$MM_PID" 2>/dev/null || true
  wait "$MM_PID" 2>/dev/null || true
  MM_PID=""
}
stop_brokers() {
  local rc=0
  if [ -n "$SRC_PID" ]; then BROKER_PID="$SRC_PID"; broker_stop "${1:-TERM}" || rc=1; SRC_PID=""; fi
  if [ -n "$TGT_PID" ]; then BROKER_PID="$TGT_PID"; broker_stop "${1:-TERM}" || rc=1; TGT_PID=""; fi
  return "$rc"
}
cleanup() {
  stop_mm
  stop_brokers KILL >/dev/null 2>&1 || true
  if [ "${COMPAT_KEEP:-0}" = 1 ]; then echo "[mirrormaker] kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

ARGS=(--set group.initial.rebalance.delay.ms=0)
broker_start "$WORK/src/data" "$WORK/src.log" "${ARGS[@]}" || { record_fail source-broker-start; exit 1; }
SRC_PID="$BROKER_PID" SRC="127.0.0.1:$BROKER_PORT"
BROKER_PID=""
broker_start "$WORK/tgt/data" "$WORK/tgt.log" "${ARGS[@]}" || { record_fail target-broker-start; exit 1; }
TGT_PID="$BROKER_PID" TGT="127.0.0.1:$BROKER_PORT"
BROKER_PID=""
echo "[mirrormaker] source $SRC, target $TGT"

TOPIC="mm-data" GROUP="mm-group"
check_java() {
  KAFKA_HEAP_OPTS=-Xmx256M kafka_cmd
  KAFKA_CMD[${#KAFKA_CMD[@]}-1]+=":$CLASSES"
  timeout --kill-after=5 "${MM_CHECK_TIMEOUT:-360}" "${KAFKA_CMD[@]}" -XX:TieredStopAtLevel=1 \
    "-Dlog4j2.configurationFile=$HERE/log4j2-check.yaml" "$@"
}
if ! check_java compat.MirrorCheck seed "$SRC" "$TOPIC" "$GROUP"; then
  record_fail seed
  exit 1
fi

sed -e "s/@SRC@/$SRC/" -e "s/@TGT@/$TGT/" "$HERE/mm2.properties" >"$WORK/mm2.properties"
mm_start=$(date +%s%3N)
KAFKA_HEAP_OPTS="-Xmx512M" KAFKA_LOG_LEVEL="$([ "${COMPAT_DEBUG:-0}" = 1 ] && echo DEBUG || echo INFO)" kafka_cmd
"${KAFKA_CMD[@]}" org.apache.kafka.connect.mirror.MirrorMaker "$WORK/mm2.properties" >"$WORK/mm2.log" 2>&1 &
MM_PID=$!
echo "[mirrormaker] MirrorMaker 2 pid $MM_PID, log $WORK/mm2.log"

rc=0
check_java -Dmm.start="$mm_start" compat.MirrorCheck check "$SRC" "$TGT" "$TOPIC" "$GROUP" "$@" || rc=$?
if ! kill -0 "$MM_PID" 2>/dev/null; then
  echo "[mirrormaker] MirrorMaker 2 exited early"
  record_fail mm2-exited
  rc=1
fi
if [ "$rc" -ne 0 ]; then
  echo "[mirrormaker] MM2 log errors:"
  grep -E ' (ERROR|WARN) ' "$WORK/mm2.log" | grep -v 'is deprecated' | tail -n 25 | cut -c1-400 | sed 's/^/    /' || true
fi
stop_mm
if ! stop_brokers TERM; then
  record_fail broker-crashed
  rc=1
fi
exit "$rc"
