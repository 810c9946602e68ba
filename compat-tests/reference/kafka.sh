#!/usr/bin/env bash
# Apache Kafka 4.3 as the reference broker: installed from Maven Central into the cache and run as
# a single-node KRaft broker (broker and controller in one JVM) on a free loopback port with its own
# data dir, configured as Odradek's defaults are.
#
# Sourced (by compat-tests/broker.sh, bench and differential scripts):
#   kafka_install                     resolve pom.xml's jars into $KAFKA_LIBS (idempotent; marker file)
#   kafka_start DATA_DIR LOG [--set k=v ...]
#                                     format and start; sets BROKER_PID and BROKER_PORT, as broker.sh's
#                                     broker_start does; returns 1 if it never started
#                                     (kafka_format, kafka_launch, kafka_wait are its three steps)
#   kafka_stop [TERM|KILL]            stop it (TERM waits up to 20 s for a controlled shutdown)
#   kafka_tool CLASS ARGS...          run one of Kafka's tools (TopicCommand, ConsumerGroupCommand, ...)
#   kafka_tool_class NAME             the main class of kafka-NAME.sh (topics, consumer-groups, ...)
# Run directly:
#   compat-tests/reference/kafka.sh install
#   compat-tests/reference/kafka.sh run [--set k=v ...]   (foreground, 127.0.0.1:9092 unless PORT=)
#   compat-tests/reference/kafka.sh tool NAME ARGS...      (kafka-NAME.sh, e.g. tool topics --list ...)
#
# The broker is Kafka's defaults, with what one node needs: replication factor 1 for the internal
# topics, min ISR 1, group.initial.rebalance.delay.ms from the caller (run.sh passes 0 to both
# brokers). Flushing is Kafka's default (log.flush.interval.messages and .ms unset: the OS decides
# when to write back; an acks=all answer does not wait for an fsync). Odradek's acks=all answer
# does wait for one; pass --set log.flush.interval.messages=1 for a Kafka that fsyncs every append.
# JVM: Kafka's own launcher settings (G1, MaxGCPauseMillis=20, 1 GiB heap).
#
# env: ODRADEK_CACHE (default $HOME/.cache/odradek), KAFKA_HEAP_OPTS (default -Xmx1G -Xms1G)

KAFKA_REF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_REF_DIR/pom.xml")"
KAFKA_CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
KAFKA_LIBS="$KAFKA_CACHE/kafka-$KAFKA_VERSION/libs"
KAFKA_JVM_OPTS=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
                -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true)
BROKER_PID="${BROKER_PID:-}"
BROKER_PORT="${BROKER_PORT:-}"

kafka_install() {
  local marker="$KAFKA_LIBS/.complete-$(sha256sum "$KAFKA_REF_DIR/pom.xml" | cut -c1-16)"
  if [ -f "$marker" ]; then
    echo "[kafka] Apache Kafka $KAFKA_VERSION already in $KAFKA_LIBS"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || { echo "[kafka] mvn not found: cannot install Apache Kafka" >&2; return 1; }
  echo "[kafka] resolving Apache Kafka $KAFKA_VERSION (broker, tools, streams, mirror) from Maven Central"
  local tmp="$KAFKA_LIBS.tmp.$$"
  rm -rf "$tmp"
  if ! mvn -q -B -f "$KAFKA_REF_DIR/pom.xml" dependency:copy-dependencies "-DoutputDirectory=$tmp" >&2; then
    rm -rf "$tmp"
    echo "[kafka] mvn could not resolve Apache Kafka $KAFKA_VERSION" >&2
    return 1
  fi
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$(dirname "$KAFKA_LIBS")"
  mv "$tmp" "$KAFKA_LIBS"
  touch "$marker"
  echo "[kafka] $(ls "$KAFKA_LIBS"/*.jar | wc -l) jars in $KAFKA_LIBS"
}

# Shared with compat-tests/broker.sh (which sources this file) and benches/compare/compare.sh.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# stop_pid LABEL SECONDS [SIG]: stop $BROKER_PID with SIG (TERM), KILL after SECONDS; returns 1 if it
# had already exited. Clears BROKER_PID.
stop_pid() {
  local label="$1" secs="$2" sig="${3:-TERM}" _
  [ -n "$BROKER_PID" ] || return 0
  if ! kill -0 "$BROKER_PID" 2>/dev/null; then
    { wait "$BROKER_PID"; } 2>/dev/null || true
    echo "[$label] NOTE: broker $BROKER_PID had already exited"
    BROKER_PID=""
    return 1
  fi
  # bash reports "Killed" for a SIGKILLed background job on its own stderr when it reaps
  # it (during the loop below or the wait): silence stderr until the job is gone
  exec 3>&2 2>/dev/null
  kill -"$sig" "$BROKER_PID" || true
  for _ in $(seq 1 $((secs * 10))); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$BROKER_PID" 2>/dev/null; then
    echo "[$label] broker $BROKER_PID did not exit on SIG$sig within $secs s; killing it"
    kill -KILL "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  wait "$BROKER_PID" 2>/dev/null || true
  exec 2>&3 3>&-
  BROKER_PID=""
  return 0
}

# kafka_cmd: KAFKA_CMD=(the JVM with Kafka's classpath and a log4j2 config writing to stderr);
# kafka_java MAIN ARGS...: run it
kafka_cmd() {
  local heap
  read -r -a heap <<<"${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
  KAFKA_CMD=(java "${heap[@]}" "${KAFKA_JVM_OPTS[@]}" "-Dlog4j2.configurationFile=$KAFKA_REF_DIR/log4j2.yaml"
             "-Dkafka.log.level=${KAFKA_LOG_LEVEL:-INFO}" -cp "$KAFKA_LIBS/*")
}
kafka_java() {
  kafka_cmd
  "${KAFKA_CMD[@]}" "$@"
}

# kafka_format DATA_DIR LOG [--set k=v ...]: write DATA_DIR/server.properties and format the log dir
# (a new cluster id); sets BROKER_PORT. kafka_launch DATA_DIR LOG: start the formatted broker in the
# background; sets BROKER_PID. kafka_wait LOG: until it has started (returns 1 if it never did).
kafka_format() {
  local data="$1" log="$2"
  shift 2
  kafka_install >/dev/null || return 1
  BROKER_PORT="${BROKER_FIXED_PORT:-$(free_port)}"
  local cport props id
  cport="$(free_port)"
  mkdir -p "$data"
  props="$data/server.properties"
  cat >"$props" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$BROKER_PORT,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$BROKER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data/log
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
  # Odradek-style "--set key=value" flags become properties (a later one wins, as in Kafka);
  # transaction.version, a feature in Kafka, is given to the format instead
  local features=()
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --set=*) set -- --set "${1#--set=}" "${@:2}"; continue ;;
      --set)
        case "$2" in
          transaction.version=*) features+=(--feature "$2") ;;
          *) echo "$2" >>"$props" ;;
        esac
        shift 2 ;;
      *) echo "[kafka] ignoring Odradek flag $1 (no Kafka equivalent)" >&2; shift ;;
    esac
  done
  # (an id may start with "-": passed as --cluster-id=ID so the tool never reads it as a flag)
  id="$(python3 -c 'import base64,uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')"
  if ! kafka_java kafka.tools.StorageTool format --standalone "--cluster-id=$id" -c "$props" "${features[@]}" >>"$log" 2>&1; then
    echo "[kafka] format failed; log $log" >&2
    tail -n 20 "$log" >&2
    return 1
  fi
}

kafka_launch() {
  local data="$1" log="$2"
  kafka_cmd
  # a simple command in the background: $! is the JVM itself, so a signal reaches it
  "${KAFKA_CMD[@]}" kafka.Kafka "$data/server.properties" >>"$log" 2>&1 &
  BROKER_PID=$!
  echo "[kafka] Apache Kafka $KAFKA_VERSION pid $BROKER_PID on 127.0.0.1:$BROKER_PORT, data $data, log $log"
}

kafka_wait() {
  local log="$1" _
  for _ in $(seq 1 600); do   # bounded: 60 s (a cold JVM on two busy cores)
    kill -0 "$BROKER_PID" 2>/dev/null || break
    # KafkaRaftServer logs this once the broker is unfenced and serving
    if grep -q "Kafka Server started" "$log" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "[kafka] broker did not start on port $BROKER_PORT; last log lines:" >&2
  tail -n 30 "$log" | sed 's/^/    /' >&2
  kafka_stop KILL || true
  return 1
}

kafka_start() {
  local data="$1" log="$2"
  kafka_format "$@" || return 1
  kafka_launch "$data" "$log"
  kafka_wait "$log"
}

kafka_stop() {
  stop_pid kafka 20 "$@"
}

# The main class behind each of Kafka's bin/kafka-NAME.sh scripts (4.3).
kafka_tool_class() {
  case "$1" in
    topics) echo org.apache.kafka.tools.TopicCommand ;;
    consumer-groups) echo org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    configs) echo kafka.admin.ConfigCommand ;;
    transactions) echo org.apache.kafka.tools.TransactionsCommand ;;
    acls) echo org.apache.kafka.tools.AclCommand ;;
    get-offsets) echo org.apache.kafka.tools.GetOffsetShell ;;
    delete-records) echo org.apache.kafka.tools.DeleteRecordsCommand ;;
    producer-perf-test) echo org.apache.kafka.tools.ProducerPerformance ;;
    consumer-perf-test) echo org.apache.kafka.tools.ConsumerPerformance ;;
    console-producer) echo org.apache.kafka.tools.ConsoleProducer ;;
    console-consumer) echo org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    broker-api-versions) echo org.apache.kafka.tools.BrokerApiVersionsCommand ;;
    log-dirs) echo org.apache.kafka.tools.LogDirsCommand ;;
    features) echo org.apache.kafka.tools.FeatureCommand ;;
    cluster) echo org.apache.kafka.tools.ClusterTool ;;
    e2e-latency) echo org.apache.kafka.tools.EndToEndLatency ;;
    mirror-maker) echo org.apache.kafka.connect.mirror.MirrorMaker ;;
    *) echo "[kafka] no tool kafka-$1" >&2; return 1 ;;
  esac
}

# kafka_tool NAME|CLASS ARGS...: a tool with a small heap, logging to stderr at WARN
kafka_tool() {
  local cls="$1"
  shift
  case "$cls" in *.*) ;; *) cls="$(kafka_tool_class "$cls")" || return 2 ;; esac
  KAFKA_HEAP_OPTS="${KAFKA_TOOL_HEAP_OPTS:--Xmx512M}" KAFKA_LOG_LEVEL="${KAFKA_LOG_LEVEL:-WARN}" kafka_java "$cls" "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    install) kafka_install ;;
    run)
      shift
      kafka_install
      d="$(mktemp -d "${TMPDIR:-/tmp}/kafka-ref.XXXXXX")"
      BROKER_FIXED_PORT="${PORT:-9092}"
      trap 'kafka_stop TERM; rm -rf "$d"' EXIT INT TERM
      kafka_start "$d/data" "$d/kafka.log" "$@"
      echo "[kafka] serving on 127.0.0.1:$BROKER_PORT (log $d/kafka.log); Ctrl-C stops it"
      wait "$BROKER_PID" || true
      ;;
    tool) shift; kafka_install >/dev/null; kafka_tool "$@" ;;
    *) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
fi
