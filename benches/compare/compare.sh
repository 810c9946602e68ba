#!/usr/bin/env bash
# make bench-compare: the same load against Odradek and Apache Kafka 4.3 in one run, alternating.
#
# Brokers (BROKERS, default all three):
#   odradek       the release build, defaults (acks=all is answered after the group-committed fsync)
#   kafka         Apache Kafka 4.3 single-node KRaft (compat-tests/reference/kafka.sh), Kafka's defaults:
#                 no fsync per append, an acks=all answer does not wait for the disk
#   kafka-flush1  the same with log.flush.interval.messages=1: Kafka fsyncs every append, as Odradek
#                 does for acks=all
# Each round starts every broker in turn on an empty data dir (startup is timed from exec to the
# first Metadata answer listing a broker, by probe.py), waits 3 s and reads its idle RSS, runs:
#   - librdkafka's rdkafka_performance matrix (benches/matrix/bench-broker.sh, one repetition):
#     produce (acks=1 and acks=all) and consume, SIZES x PARTS, and fixed-rate ack and end-to-end
#     latency (100 B at LAT_RATE msg/s, 1 partition)
#   - Kafka's own kafka-producer-perf-test (acks=all, the Java client's defaults otherwise:
#     linger.ms=5, batch.size=16384, idempotence on) and kafka-consumer-perf-test, SIZES x PARTS,
#     and producer-perf-test at LAT_RATE msg/s for its ack-latency percentiles
# then reads its peak RSS (VmHWM) and stops it. The broker's CPU time (user + system) over the
# rdkafka matrix is a figure too. Rounds alternate the brokers, so a slow minute of
# the machine hits each of them. summarize.py prints every figure per broker (mean over rounds),
# with ratios.
#
# env: ROUNDS=2  MSGS=500000 (per rdkafka run)  PERF_MSGS=$MSGS (per Java perf-test run)
#      SIZES="100 1000"  PARTS="1 16"  ACKS="1 -1"  LAT_RATE=10000  LAT_MSGS=100000
#      BROKERS="odradek kafka kafka-flush1"  OUT=/tmp/bench-compare-<epoch>  DO_JAVA=1 (Kafka's perf tests)
#      (odradek runs with metrics on and scraped every 5 s; odradek-nometrics with --no-metrics:
#      `make bench-metrics` compares the two)
#      ODRADEK_BIN (default: cargo build --release, target/release/odradek)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
ROUNDS="${ROUNDS:-2}"
export MSGS="${MSGS:-500000}"
PERF_MSGS="${PERF_MSGS:-$MSGS}"
export SIZES="${SIZES:-100 1000}"
export PARTS="${PARTS:-1 16}"
export ACKS="${ACKS:-1 -1}"
export LAT_RATE="${LAT_RATE:-10000}"
export LAT_MSGS="${LAT_MSGS:-100000}"
BROKERS="${BROKERS:-odradek kafka kafka-flush1}"
OUT="${OUT:-/tmp/bench-compare-$(date +%s)}"
mkdir -p "$OUT"

if [ -z "${ODRADEK_BIN:-}" ]; then
  (cd "$REPO" && cargo build --release --bin odradek)
  ODRADEK_BIN="$REPO/target/release/odradek"
fi
# shellcheck source=../../compat-tests/reference/kafka.sh
. "$REPO/compat-tests/reference/kafka.sh"
# Kafka's jars: for the Kafka brokers and for the Java perf tests (DO_JAVA=0 skips those).
DO_JAVA="${DO_JAVA:-1}"
if [ "$DO_JAVA" = 1 ] || [[ " $BROKERS " == *" kafka"* ]]; then
  kafka_install
fi
BENCH_BIN="$("$REPO/benches/matrix/build-tools.sh" | tail -n1)"
ADMIN="$BENCH_BIN/rdkafka_topic_admin"
CSV="$OUT/figures.csv"
echo "broker,round,metric,value" >"$CSV"

log() { echo "[compare $(date +%H:%M:%S)] $*" | tee -a "$OUT/compare.log" >&2; }
fig() { echo "$1,$2,$3,$4" >>"$CSV"; }
rss_kb() { awk -v k="$2" '$1==k":"{print $2}' "/proc/$1/status"; }
# cpu_ticks PID: user + system CPU time of a process, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the ")" that ends the command name, which may hold spaces)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

PID=""
SCRAPER=""
stop_broker() {
  [ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null
  SCRAPER=""
  BROKER_PID="$PID"
  stop_pid compare 30 TERM || true
  PID=""
}
trap stop_broker EXIT

# start_broker NAME DIR PORT: sets PID, records startup_ms
start_broker() {
  local name="$1" dir="$2" port="$3" out
  case "$name" in
    odradek)
      # Metrics on (the default) and scraped every 5 s, as a Prometheus would.
      local mport
      mport="$(free_port)"
      out="$("$HERE/probe.py" "127.0.0.1:$port" 60 "$dir/broker.log" -- \
        "$ODRADEK_BIN" --data-dir "$dir/data" --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$mport")"
      (while sleep 5; do curl -sf "http://127.0.0.1:$mport/metrics" >/dev/null || exit 0; done) &
      SCRAPER=$! ;;
    odradek-nometrics)
      out="$("$HERE/probe.py" "127.0.0.1:$port" 60 "$dir/broker.log" -- \
        "$ODRADEK_BIN" --data-dir "$dir/data" --listen "127.0.0.1:$port" --no-metrics)" ;;
    kafka | kafka-flush1)
      local extra=()
      [ "$name" = kafka-flush1 ] && extra=(--set log.flush.interval.messages=1)
      BROKER_FIXED_PORT="$port" kafka_format "$dir/data" "$dir/broker.log" "${extra[@]}" >/dev/null
      # the command kafka_launch runs, started by the probe so that the clock starts at the exec
      kafka_cmd
      out="$("$HERE/probe.py" "127.0.0.1:$port" 90 "$dir/broker.log" -- \
        "${KAFKA_CMD[@]}" kafka.Kafka "$dir/data/server.properties")" ;;
  esac
  PID="${out%% *}"
  fig "$name" "$round" startup_ms "${out##* }"
  log "$name started in ${out##* } ms (pid $PID, port $port)"
}

# java_perf NAME BOOT: Kafka's producer and consumer perf tests, SIZES x PARTS, then the fixed-rate latency run
java_perf() {
  local name="$1" boot="$2" size parts topic line
  for size in $SIZES; do
    for parts in $PARTS; do
      topic="jperf-$round-s$size-p$parts"
      "$ADMIN" -b "$boot" create "$topic" "$parts" >>"$dir/admin.log" 2>&1
      sleep 1
      line="$(kafka_tool producer-perf-test --topic "$topic" --num-records "$PERF_MSGS" --record-size "$size" \
        --throughput -1 --producer-props "bootstrap.servers=$boot" acks=all 2>>"$dir/perf.err" | tee -a "$dir/perf.log" | tail -n1)"
      # "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, ..."
      if [[ "$line" =~ ^([0-9]+)\ records\ sent,\ ([0-9.]+)\ records/sec\ \(([0-9.]+)\ MB/sec\) ]]; then
        [ "${BASH_REMATCH[1]}" = "$PERF_MSGS" ] || log "WARN $name java produce s$size p$parts: ${BASH_REMATCH[1]} of $PERF_MSGS"
        fig "$name" "$round" "java_produce_s${size}_p${parts}_aall_msgs" "${BASH_REMATCH[2]}"
        fig "$name" "$round" "java_produce_s${size}_p${parts}_aall_mbs" "${BASH_REMATCH[3]}"
      else
        log "WARN $name java produce s$size p$parts: no summary ($line)"
      fi
      # CSV: start, end, MB, MB.sec, nMsg, nMsg.sec, rebalance.ms, fetch.ms, fetch.MB.sec, fetch.nMsg.sec
      line="$(kafka_tool consumer-perf-test --bootstrap-server "$boot" --topic "$topic" --messages "$PERF_MSGS" \
        --timeout 60000 2>>"$dir/perf.err" | tee -a "$dir/perf.log" | tail -n1)"
      IFS=, read -r -a f <<<"$(echo "$line" | tr -d ' ')"
      if [ "${#f[@]}" -ge 10 ] && [ "${f[4]%.*}" -ge "$PERF_MSGS" ] 2>/dev/null; then
        fig "$name" "$round" "java_consume_s${size}_p${parts}_msgs" "${f[9]}"
        fig "$name" "$round" "java_consume_s${size}_p${parts}_mbs" "${f[8]}"
      else
        log "WARN $name java consume s$size p$parts: no full summary ($line)"
      fi
      "$ADMIN" -b "$boot" delete "$topic" >>"$dir/admin.log" 2>&1 || true
    done
  done
  topic="jperf-$round-lat"
  "$ADMIN" -b "$boot" create "$topic" 1 >>"$dir/admin.log" 2>&1
  sleep 1
  line="$(kafka_tool producer-perf-test --topic "$topic" --num-records "$LAT_MSGS" --record-size 100 \
    --throughput "$LAT_RATE" --producer-props "bootstrap.servers=$boot" acks=all 2>>"$dir/perf.err" | tee -a "$dir/perf.log" | tail -n1)"
  # "... N ms 50th, N ms 95th, N ms 99th, N ms 99.9th."
  if [[ "$line" =~ ([0-9.]+)\ ms\ avg\ latency.*\ ([0-9.]+)\ ms\ 50th,\ ([0-9.]+)\ ms\ 95th,\ ([0-9.]+)\ ms\ 99th,\ ([0-9.]+)\ ms\ 99.9th ]]; then
    fig "$name" "$round" java_ack_latency_aall_avg_ms "${BASH_REMATCH[1]}"
    fig "$name" "$round" java_ack_latency_aall_p50_ms "${BASH_REMATCH[2]}"
    fig "$name" "$round" java_ack_latency_aall_p99_ms "${BASH_REMATCH[4]}"
    fig "$name" "$round" java_ack_latency_aall_p999_ms "${BASH_REMATCH[5]}"
  else
    log "WARN $name java latency: no summary ($line)"
  fi
  "$ADMIN" -b "$boot" delete "$topic" >>"$dir/admin.log" 2>&1 || true
}

# rdk_figures NAME DIR: rdkafka_performance's results.csv / latency.csv into figures
rdk_figures() {
  local name="$1" m="$2/matrix"
  tail -n +2 "$m/results.csv" | while IFS=, read -r kind size parts acks _ ok mps mbs _ complete _; do
    a="${acks/-1/all}"
    [ "$complete" = yes ] || { log "WARN $name rdkafka $kind s$size p$parts a$a incomplete ($ok msgs)"; continue; }
    if [ "$kind" = produce ]; then
      fig "$name" "$round" "rdk_produce_s${size}_p${parts}_a${a}_msgs" "$mps"
      fig "$name" "$round" "rdk_produce_s${size}_p${parts}_a${a}_mbs" "$mbs"
    else
      fig "$name" "$round" "rdk_consume_s${size}_p${parts}_a${a}_mbs" "$mbs"
    fi
  done
  tail -n +2 "$m/latency.csv" | while IFS=, read -r kind _ _ acks _ n _ p50 p99 p999 _; do
    a="${acks/-1/all}"
    [ "$n" -gt 0 ] || continue
    fig "$name" "$round" "rdk_${kind}_latency_a${a}_p50_ms" "$p50"
    fig "$name" "$round" "rdk_${kind}_latency_a${a}_p99_ms" "$p99"
    fig "$name" "$round" "rdk_${kind}_latency_a${a}_p999_ms" "$p999"
  done
}

log "out $OUT: ROUNDS=$ROUNDS MSGS=$MSGS PERF_MSGS=$PERF_MSGS SIZES='$SIZES' PARTS='$PARTS' ACKS='$ACKS' BROKERS='$BROKERS'"
log "odradek $("$ODRADEK_BIN" --version 2>/dev/null || echo "$ODRADEK_BIN"), Apache Kafka ${KAFKA_VERSION:-}, $(java -version 2>&1 | head -n1)"
for round in $(seq 1 "$ROUNDS"); do
  for name in $BROKERS; do
    dir="$OUT/$name-r$round"
    mkdir -p "$dir"
    port="$(free_port)"
    start_broker "$name" "$dir" "$port"
    sleep 3
    fig "$name" "$round" idle_rss_mb "$(( $(rss_kb "$PID" VmRSS) / 1024 ))"
    cpu0="$(cpu_ticks "$PID")"
    BROKER_PID="$PID" REPS=1 LAT_REPS=1 LAT_PARTS=1 OUTDIR="$dir/matrix" TOPIC_PREFIX="rdk-$round" RDKPERF="$BENCH_BIN/rdkafka_performance" \
      ADMIN="$ADMIN" "$REPO/benches/matrix/bench-broker.sh" "127.0.0.1:$port" "$name" >"$dir/matrix.txt" 2>&1
    # the broker's CPU time over the matrix: the same work for every broker, and steadier than
    # throughput on a small machine where client and broker share the cores
    fig "$name" "$round" cpu_matrix_s "$(awk -v a="$cpu0" -v b="$(cpu_ticks "$PID")" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (b-a)/hz}')"
    rdk_figures "$name" "$dir"
    [ "$DO_JAVA" = 1 ] && java_perf "$name" "127.0.0.1:$port"
    fig "$name" "$round" peak_rss_mb "$(( $(rss_kb "$PID" VmHWM) / 1024 ))"
    fig "$name" "$round" loaded_rss_mb "$(( $(rss_kb "$PID" VmRSS) / 1024 ))"
    stop_broker
    log "$name round $round done"
  done
done
python3 "$HERE/summarize.py" "$CSV" | tee "$OUT/summary.txt"
echo "raw figures: $CSV; logs under $OUT"
