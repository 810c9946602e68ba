#!/usr/bin/env bash
# Three Odradek brokers (the `cluster` build) over etcd and an S3 server (moto) on loopback:
#   1. tests/cluster.rs (librdkafka; its binary built by `make test-cluster`): kill under load
#      for 120 s, an owner paused past its lease, etcd and S3 paused for 10 s;
#   2. the Java client (compat.ClusterAcrossKills), against brokers started here: the producer
#      with its defaults keeps sending to 12 partitions while each broker in turn is SIGKILLed
#      and restarted; every record is read back, exactly once, at its acked offset, in order.
# See docs/cluster.md and SCENARIOS.md.
#   env: ODRADEK_CLUSTER_BIN (default <repo>/target/debug/odradek-cluster), ODRADEK_CLUSTER_TEST
#        (default <repo>/target/debug/odradek-cluster-test), ODRADEK_CACHE, COMPAT_RESULTS,
#        COMPAT_KEEP
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
REPO="$(cd "$ROOT/.." && pwd)"
BIN="${ODRADEK_CLUSTER_BIN:-$REPO/target/debug/odradek-cluster}"
# shellcheck source=../java/lib.sh
. "$ROOT/java/lib.sh"

record() { # PASS|FAIL name
  echo "$1 cluster/$2"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "$1 cluster/$2" >>"$COMPAT_RESULTS"
  return 0
}
if [ ! -x "$BIN" ]; then
  echo "[cluster] $BIN not found: make test-cluster builds it (cargo build --features cluster)"
  record FAIL setup
  exit 1
fi
MOTO="$("$REPO/tests/cluster/setup.sh")"
TEST_BIN="${ODRADEK_CLUSTER_TEST:-$REPO/target/debug/odradek-cluster-test}"
failed=0
if [ ! -x "$TEST_BIN" ]; then
  echo "[cluster] $TEST_BIN not found: make test-cluster builds it"
  record FAIL rust-tests
  failed=1
else
  OUT="$(mktemp)"
  ODRADEK_CLUSTER_BIN="$BIN" ODRADEK_MOTO_SERVER="$MOTO" "$TEST_BIN" --test-threads=1 >"$OUT" 2>&1 || true
  grep -E '^test .* \.\.\. ' "$OUT" | sed 's/^/    /'
  while read -r name verdict; do
    if [ "$verdict" = ok ]; then record PASS "$name"; else record FAIL "$name"; failed=1; fi
  done < <(sed -n 's/^test \([a-z_]*\) \.\.\. \([a-zA-Z]*\).*/\1 \2/p' "$OUT")
  if ! grep -q '^test result: ok' "$OUT"; then
    echo "[cluster] tests/cluster.rs failed:"; grep -v '^\s*[0-9]*: \|^\s*at ' "$OUT" | tail -n 60 | sed 's/^/    /'
    grep -q '^test ' "$OUT" || record FAIL rust-tests
    failed=1
  fi
  rm -f "$OUT"
fi
java_compile

WORK="$(mktemp -d "${TMPDIR:-/tmp}/odradek-compat-cluster.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -KILL "$p" 2>/dev/null || true; done
  if [ "${COMPAT_KEEP:-0}" = 1 ]; then echo "[cluster] kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port what
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "[cluster] $2 did not listen on $1"; return 1
}

EC=$(free_port); EP=$(free_port); EM=$(free_port); S3=$(free_port)
etcd --name t --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$EC" \
  --advertise-client-urls "http://127.0.0.1:$EC" --listen-peer-urls "http://127.0.0.1:$EP" \
  --initial-advertise-peer-urls "http://127.0.0.1:$EP" --initial-cluster "t=http://127.0.0.1:$EP" \
  --listen-metrics-urls "http://127.0.0.1:$EM" --logger zap --log-level warn \
  --auto-compaction-retention 1m >/dev/null 2>"$WORK/etcd.log" &
PIDS+=($!)
"$MOTO" -H 127.0.0.1 -p "$S3" >/dev/null 2>"$WORK/moto.log" &
PIDS+=($!)
wait_port "$EC" etcd
wait_port "$S3" moto
for _ in $(seq 1 50); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "http://127.0.0.1:$S3/odradek-test")" = 200 ] && break
  sleep 0.1
done

PORTS=("$(free_port)" "$(free_port)" "$(free_port)")
BPIDS=(0 0 0)
start_broker() { # index
  local i="$1" n=$(($1 + 1))
  "$BIN" --data-dir "$WORK/b$n" --listen "127.0.0.1:${PORTS[$i]}" --set "node.id=$n" \
    --set "cluster.metadata.endpoints=http://127.0.0.1:$EC" \
    --set cluster.storage.url=s3://odradek-test/java --set "cluster.storage.endpoint=http://127.0.0.1:$S3" \
    --set cluster.storage.allow.http=true --set cluster.storage.access.key.id=test \
    --set cluster.storage.secret.access.key=test --set cluster.lease.ms=3000 >>"$WORK/b$n.log" 2>&1 &
  BPIDS[$i]=$!
  PIDS+=($!)
  wait_port "${PORTS[$i]}" "broker $n"
}
for i in 0 1 2; do start_broker "$i"; done
BOOT="127.0.0.1:${PORTS[0]},127.0.0.1:${PORTS[1]},127.0.0.1:${PORTS[2]}"

MARK="$WORK/marker"
COMPAT_TIMEOUT=240 java_scenario ClusterAcrossKills "$BOOT" "$MARK" &
JAVA=$!
for _ in $(seq 1 600); do [ -f "$MARK" ] && break; sleep 0.1; done
kills=0
for i in 0 1 2; do
  if ! kill -0 "$JAVA" 2>/dev/null; then break; fi
  kill -KILL "${BPIDS[$i]}" 2>/dev/null || true
  wait "${BPIDS[$i]}" 2>/dev/null || true
  kills=$((kills + 1))
  echo "[cluster] SIGKILLed broker $((i + 1))"
  sleep 1
  start_broker "$i"
  sleep 6
done
if wait "$JAVA"; then
  if [ "$kills" -ge 3 ]; then record PASS java-produce-across-kills; else
    echo "[cluster] the producer finished before the kills ($kills)"; record FAIL java-produce-across-kills; failed=1; fi
else
  record FAIL java-produce-across-kills
  for n in 1 2 3; do echo "[cluster] broker $n log tail:"; grep -v ' INFO ' "$WORK/b$n.log" | tail -n 10 | sed 's/^/    /'; done
  failed=1
fi
exit "$failed"
