#!/usr/bin/env bash
# Kafka Connect 4.3 (distributed worker) with the Debezium 3.6 PostgreSQL connector against
# Odradek, end to end. Starts its own PostgreSQL 15 (own data dir and port,
# wal_level=logical), its own broker and Connect workers; see SCENARIOS.md for the steps.
# Runs everything twice: at-least-once ("alo") and with exactly.once.source.support=enabled
# ("eos"; the source task writes in transactions, read back with read_committed).
#   usage: connect-debezium/run.sh        (no BOOTSTRAP: the broker is its own)
#   env:   ODRADEK_BIN, ODRADEK_CACHE, COMPAT_RESULTS, COMPAT_KEEP, COMPAT_DEBUG
#          CDC_MODES   "alo eos" (default) or one of them
#          CDC_SECURE=1  everything over SASL_SSL (SCRAM-SHA-512) with ACLs on (--dev --secure)
#          CDC_BROKER_ARGS  more broker flags, e.g. "--set transaction.version=1"
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export BIN="${ODRADEK_BIN:-$ROOT/../target/debug/odradek}"  # used by broker.sh
# shellcheck source=../broker.sh
. "$ROOT/broker.sh"
# shellcheck source=../java/lib.sh
. "$ROOT/java/lib.sh"
java_compile
CONNECT_LIB="$CACHE/connect-lib"
PG_BIN=/usr/lib/postgresql/15/bin
read -r -a MODES <<<"${CDC_MODES:-alo eos}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/odradek-compat-cdc.XXXXXX")"
chmod 755 "$WORK"   # the PostgreSQL server runs as user postgres when we are root
LOG="$WORK/broker.log"
CONNECT_PID=""
cleanup() {
  connect_stop >/dev/null 2>&1 || true
  broker_stop KILL >/dev/null 2>&1 || true
  pg_stop >/dev/null 2>&1 || true
  if [ "${COMPAT_KEEP:-0}" = 1 ]; then echo "[cdc] kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT   # so that a timeout still stops PostgreSQL and the Connect worker

say() { echo "[cdc] $*"; }
failed=0
record() { # PASS|FAIL name [detail]
  echo "$1 ${CDC_LABEL:-connect-debezium}/$2${3:+ ($3)}"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "$1 ${CDC_LABEL:-connect-debezium}/$2" >>"$COMPAT_RESULTS"
  [ "$1" = PASS ] || failed=$((failed + 1))
  return 0
}
# wait_for SECONDS CMD...: run CMD every 0.5 s until it succeeds; 1 on timeout
wait_for() {
  local secs="$1" i
  shift
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  return 1
}

# --- PostgreSQL --------------------------------------------------------------------
PG_DIR="$WORK/pg"
PG_PORT="$(free_port)"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() {
  mkdir -p "$PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust >"$WORK/initdb.log" 2>&1
  cat >>"$PG_DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
wal_level = logical
max_wal_senders = 8
max_replication_slots = 8
fsync = off
EOF
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/pg.log" -w -t 60 start >/dev/null
  say "PostgreSQL 15 on 127.0.0.1:$PG_PORT, data $PG_DIR/data"
}
pg_stop() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop; }
sql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "$1" >/dev/null; }

# --- Kafka Connect -------------------------------------------------------------------
CONNECT_PORT="$(free_port)"
REST="http://127.0.0.1:$CONNECT_PORT"
CONNECT2_PID=""
# connect_start MODE [PORT]: a worker of cluster cdc-MODE with its REST API on PORT (default
# $CONNECT_PORT, whose pid is CONNECT_PID; another port's goes to CONNECT2_PID)
connect_start() {
  local mode="$1" port="${2:-$CONNECT_PORT}"
  local props="$WORK/worker-$mode-$port.properties" logname="connect-$mode"
  [ "$port" = "$CONNECT_PORT" ] || logname="connect-$mode-$port"
  cat >"$props" <<EOF
bootstrap.servers=127.0.0.1:$BROKER_PORT
group.id=cdc-$mode
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
config.storage.topic=connect-$mode-configs
offset.storage.topic=connect-$mode-offsets
status.storage.topic=connect-$mode-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.flush.interval.ms=500
listeners=http://127.0.0.1:$port
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$port
plugin.discovery=only_scan
scheduled.rebalance.max.delay.ms=0
session.timeout.ms=6000
heartbeat.interval.ms=1000
config.storage.segment.bytes=4096
offset.storage.segment.bytes=4096
status.storage.segment.bytes=4096
config.storage.delete.retention.ms=2000
offset.storage.delete.retention.ms=2000
status.storage.delete.retention.ms=2000
EOF
  [ "$mode" = eos ] && echo "exactly.once.source.support=enabled" >>"$props"
  if [ -n "${COMPAT_CLIENT_PROPS:-}" ]; then
    # CDC_SECURE: the worker and every client it makes for connectors speak SASL_SSL.
    local kv prefix
    while IFS= read -r kv; do
      case "$kv" in ''|'#'*|bootstrap.servers=*) continue ;; esac
      for prefix in "" producer. consumer. admin.; do echo "$prefix$kv" >>"$props"; done
    done <"$COMPAT_CLIENT_PROPS"
  fi
  cat >"$WORK/$logname-log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $WORK/$logname.log
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
EOF
  java -Xmx768m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$WORK/$logname-log4j2.properties" \
    -cp "$CONNECT_LIB/*" org.apache.kafka.connect.cli.ConnectDistributed "$props" \
    >>"$WORK/$logname.out" 2>&1 &
  if [ "$port" = "$CONNECT_PORT" ]; then CONNECT_PID=$!; else CONNECT2_PID=$!; fi
  if ! wait_for 120 curl -sf "http://127.0.0.1:$port/connectors"; then
    say "Connect worker did not serve port $port within 120 s; log tail:"
    tail -n 30 "$WORK/$logname.log" "$WORK/$logname.out" 2>/dev/null | sed 's/^/    /'
    return 1
  fi
  say "Connect worker ($mode) pid $! on 127.0.0.1:$port"
}
connect_stop() {
  local _
  if [ -n "$CONNECT2_PID" ]; then kill -KILL "$CONNECT2_PID" 2>/dev/null || true; wait "$CONNECT2_PID" 2>/dev/null || true; CONNECT2_PID=""; fi
  [ -n "$CONNECT_PID" ] || return 0
  kill -TERM "$CONNECT_PID" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$CONNECT_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$CONNECT_PID" 2>/dev/null || true
  wait "$CONNECT_PID" 2>/dev/null || true
  CONNECT_PID=""
}
put_connector() { # NAME JSON
  curl -sf -X PUT -H 'Content-Type: application/json' "$REST/connectors/$1/config" -d "$2" >/dev/null
}
running() { curl -sf "$REST/connectors/$1/status" | python3 "$HERE/check.py" status; }
# running_on NAME REST_URL WORKER_ID: RUNNING, connector and every task on that worker
running_on() { curl -sf "$2/connectors/$1/status" | python3 "$HERE/check.py" status - "$3"; }
state_is() { # NAME STATE: the connector itself is in STATE
  curl -sf "$REST/connectors/$1/status" | grep -q "\"connector\":{\"state\":\"$2\""
}
wait_running() { # NAME
  if wait_for 90 running "$1"; then return 0; fi
  say "connector $1 not RUNNING: $(curl -s "$REST/connectors/$1/status" | cut -c1-600)"
  return 1
}

# --- the Java consumer -----------------------------------------------------------------
dump() { # TOPIC OUT
  java_scenario CdcTool dump "127.0.0.1:$BROKER_PORT" "$1" read_committed >"$2" 2>"$2.err"
}
count() { python3 "$HERE/check.py" count "$1"; }
# wait_events TOPIC N OUT: dump TOPIC until it holds at least N records (60 s)
wait_events() {
  local i n=0
  for i in $(seq 1 40); do
    if dump "$1" "$3"; then n=$(count "$3"); [ "$n" -ge "$2" ] && return 0; fi
    sleep 1
  done
  say "$1 holds $n records, expected $2 (after 40 tries)"
  return 1
}

# --- the table and what Debezium must report about it -----------------------------------
# Every statement appends the change events it must produce to $EXPECTED: "OP ID BEFORE
# AFTER" with the row's name column (- for none); a delete also produces a tombstone (t).
declare -A NAME
EXPECTED=""
TABLE=""
VERSION=0
ins() { local n="n$1v$((VERSION += 1))"; NAME[$1]=$n; SQL+="insert into $TABLE values ($1, '$n');"; EXP+="c $1 - $n"$'\n'; }
upd() { local n="n$1v$((VERSION += 1))"; SQL+="update $TABLE set name = '$n' where id = $1;"; EXP+="u $1 ${NAME[$1]} $n"$'\n'; NAME[$1]=$n; }
del() { SQL+="delete from $TABLE where id = $1;"; EXP+="d $1 ${NAME[$1]} -"$'\n'"t $1 - -"$'\n'; unset "NAME[$1]"; }
# begin / commit: statements between them run as one PostgreSQL transaction
begin() { SQL=""; EXP=""; }
commit() { sql "begin; $SQL commit;"; printf '%s' "$EXP" >>"$EXPECTED"; }

check_events() { # STEP TOPIC
  local step="$1" topic="$2" out="$WORK/$MODE-$1.dump" detail
  local want; want=$(grep -c . "$EXPECTED")
  if ! wait_events "$topic" "$want" "$out"; then
    record FAIL "$MODE/$step" "$(tail -n 3 "$out.err" 2>/dev/null | tr '\n' ' ')"
    return 1
  fi
  sleep 1   # anything beyond the expected events would be a duplicate: give it time to show
  dump "$topic" "$out" || true
  if detail=$(python3 "$HERE/check.py" events "$out" "$EXPECTED" "$DEDUPE" 2>&1); then
    record PASS "$MODE/$step" "$detail"
  else
    record FAIL "$MODE/$step" "$detail"
    return 1
  fi
}

run_mode() {
  MODE="$1"
  local server="$MODE" cdc="pg-$MODE" topic="$MODE.public.customers_$MODE" detail
  TABLE="customers_$MODE"
  EXPECTED="$WORK/$MODE.expected"
  : >"$EXPECTED"
  NAME=()
  # alo: a restart may re-send events (at-least-once); eos must be exact
  DEDUPE=$([ "$MODE" = alo ] && echo dedupe || echo exact)
  say "================ mode $MODE"

  # 1. snapshot + streaming: c/u/d with before/after, in order; the heartbeat topic
  sql "create table $TABLE (id int primary key, name text not null); alter table $TABLE replica identity full;"
  begin; ins 1; ins 2; commit
  sed -i 's/^c /r /' "$EXPECTED"   # rows present before the connector starts are snapshotted
  connect_start "$MODE" || { record FAIL "$MODE/connect-start"; return 1; }
  local eos_conf=""
  [ "$MODE" = eos ] && eos_conf='"exactly.once.support": "required", "transaction.boundary": "poll",'
  put_connector "$cdc" "{
    \"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\", $eos_conf
    \"plugin.name\": \"pgoutput\", \"slot.name\": \"odradek_$MODE\",
    \"publication.name\": \"odradek_$MODE\", \"publication.autocreate.mode\": \"filtered\",
    \"database.hostname\": \"127.0.0.1\", \"database.port\": \"$PG_PORT\",
    \"database.user\": \"postgres\", \"database.password\": \"unused\", \"database.dbname\": \"postgres\",
    \"topic.prefix\": \"$server\", \"table.include.list\": \"public.$TABLE\",
    \"heartbeat.interval.ms\": \"500\", \"tasks.max\": \"1\" }" \
    && wait_running "$cdc" || { record FAIL "$MODE/connector-start"; return 1; }
  if [ "$MODE" = alo ]; then
    # a sink too: FileStreamSink (group connect-file-sink) copies the table topic to a file
    put_connector file-sink "{
      \"connector.class\": \"org.apache.kafka.connect.file.FileStreamSinkConnector\",
      \"topics\": \"$topic\", \"file\": \"$WORK/sink.txt\", \"tasks.max\": \"1\",
      \"key.converter\": \"org.apache.kafka.connect.storage.StringConverter\",
      \"value.converter\": \"org.apache.kafka.connect.storage.StringConverter\" }" \
      && wait_running file-sink || record FAIL "$MODE/sink-start"
  fi
  begin; ins 3; commit
  begin; upd 1; commit
  begin; del 2; commit
  begin; ins 4; upd 4; upd 3; del 4; ins 5; commit   # one transaction, several events
  begin; upd 5; commit
  check_events change-events "$topic" || return 1
  if dump "__debezium-heartbeat.$server" "$WORK/$MODE-heartbeat.dump" \
     && [ "$(count "$WORK/$MODE-heartbeat.dump")" -ge 1 ]; then
    record PASS "$MODE/heartbeat" "$(count "$WORK/$MODE-heartbeat.dump") heartbeats"
  else
    record FAIL "$MODE/heartbeat"
  fi

  # 2. restart the Connect worker; rows change while it is down: it resumes from its
  # stored offsets, without a new snapshot (no more r events)
  connect_stop
  begin; ins 10; ins 11; commit
  begin; upd 10; del 11; commit
  connect_start "$MODE" && wait_running "$cdc" || { record FAIL "$MODE/connect-restart"; return 1; }
  begin; ins 12; commit
  check_events connect-restart "$topic" || return 1

  # 3. SIGKILL the broker while rows keep changing, restart it on the same port and data
  (
    for i in $(seq 100 159); do
      psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
        -c "insert into $TABLE values ($i, 'n${i}k'); update $TABLE set name = 'n${i}k2' where id = $i;" >/dev/null
      sleep 0.05
    done
  ) &
  local writer=$!
  sleep 1.5
  kill -0 "$writer" 2>/dev/null || { record FAIL "$MODE/broker-sigkill" "the writer ended before the kill"; return 1; }
  say "SIGKILL broker $BROKER_PID; restarting it in ${CDC_DOWN_SECS:-3} s"
  broker_stop KILL
  sleep "${CDC_DOWN_SECS:-3}"   # long enough for every client to notice and retry
  BROKER_FIXED_PORT="$BROKER_PORT" broker_start "$WORK/data" "$LOG" $BROKER_ARGS \
    || { record FAIL "$MODE/broker-restart"; wait "$writer"; return 1; }
  wait "$writer"
  for i in $(seq 100 159); do
    printf 'c %s - n%sk\nu %s n%sk n%sk2\n' "$i" "$i" "$i" "$i" "$i" >>"$EXPECTED"
    NAME[$i]="n${i}k2"
  done
  check_events broker-sigkill "$topic" || return 1

  # Connect's own topics came through the kill: config, offsets, status
  dump "connect-$MODE-configs" "$WORK/$MODE-configs.dump" || true
  dump "connect-$MODE-offsets" "$WORK/$MODE-offsets.dump" || true
  dump "connect-$MODE-status" "$WORK/$MODE-status.dump" || true
  if detail=$(python3 "$HERE/check.py" internal "$WORK/$MODE-configs.dump" "$WORK/$MODE-offsets.dump" \
                "$WORK/$MODE-status.dump" "$cdc" "$server" 2>&1); then
    record PASS "$MODE/internal-topics" "$detail"
  else
    record FAIL "$MODE/internal-topics" "$detail"
  fi
  # ... and a new worker resumes from them after the broker kill
  connect_stop
  begin; upd 12; ins 13; commit
  connect_start "$MODE" && wait_running "$cdc" || { record FAIL "$MODE/resume-after-kill"; return 1; }
  begin; del 13; commit
  check_events resume-after-kill "$topic" || return 1

  if [ "$MODE" = alo ]; then
    # the sink wrote every record of the topic, in order, and committed its offsets
    local sink_ok=0 ends
    for _ in $(seq 1 60); do
      dump "$topic" "$WORK/sink-topic.dump" || true
      if python3 "$HERE/check.py" sink "$WORK/sink.txt" "$WORK/sink-topic.dump" >/dev/null 2>&1; then sink_ok=1; break; fi
      sleep 1
    done
    detail=$(python3 "$HERE/check.py" sink "$WORK/sink.txt" "$WORK/sink-topic.dump" 2>&1 || true)
    ends=$(java_scenario CdcTool committed "127.0.0.1:$BROKER_PORT" connect-file-sink "$topic" 2>/dev/null | grep -v '^\[' || true)
    # committed offsets trail the file by up to offset.flush.interval.ms
    for _ in $(seq 1 20); do
      echo "$ends" | awk -F'\t' 'NF==3 && $2!=$3 {bad=1} END {exit bad || NR==0}' && break
      sleep 1
      ends=$(java_scenario CdcTool committed "127.0.0.1:$BROKER_PORT" connect-file-sink "$topic" 2>/dev/null | grep -v '^\[' || true)
    done
    if [ "$sink_ok" = 1 ] && echo "$ends" | awk -F'\t' 'NF==3 && $2!=$3 {bad=1} END {exit bad || NR==0}'; then
      record PASS "$MODE/file-sink" "$detail; group connect-file-sink committed $(echo "$ends" | tr '\t\n' ': ')"
    else
      record FAIL "$MODE/file-sink" "$detail; committed (partition, offset, end): $(echo "$ends" | tr '\t\n' ', ')"
    fi
    sink_rewind "$topic"
    worker_failover "$cdc" "$topic"
  else
    source_offsets_reset "$cdc" "$topic"
  fi
  connect_stop
}

# A second worker joins the cluster, then the first is SIGKILLed: after the group's session
# timeout (6 s) the survivor runs both connectors and their tasks, and change events keep
# coming (at least once: events after the last offset flush of the dead task may come twice).
worker_failover() { # CONNECTOR TOPIC
  local cdc="$1" topic="$2" port2 rest2
  port2=$(free_port)
  rest2="http://127.0.0.1:$port2"
  if ! connect_start "$MODE" "$port2" || ! wait_for 60 running_on "$cdc" "$rest2" "" ; then
    record FAIL "$MODE/worker-failover" "second worker did not join"
    return 0
  fi
  # the cluster spreads its 2 connectors and 2 tasks over both workers; note what the first
  # one ran (the failover must move something); a rebalance may still be settling, so wait
  # until the two workers share the work
  local on_first=""
  for _ in $(seq 1 30); do
    on_first=$( (curl -sf "$rest2/connectors/$cdc/status"; echo; curl -sf "$rest2/connectors/file-sink/status") \
      | grep -oE '"(id|worker_id)":[^,}]*' | paste -sd' ' | grep -oE "worker_id\":\"127.0.0.1:$CONNECT_PORT\"" | wc -l || true)
    [ "${on_first:-0}" -gt 0 ] && break
    sleep 1
  done
  if [ "${on_first:-0}" -eq 0 ]; then
    record FAIL "$MODE/worker-failover" "the second worker took all the work before the kill; nothing to fail over"
    return 0
  fi
  say "SIGKILL Connect worker $CONNECT_PID (running $on_first of the connectors and tasks); the one on port $port2 must take over"
  kill -KILL "$CONNECT_PID" 2>/dev/null || true
  wait "$CONNECT_PID" 2>/dev/null || true
  CONNECT_PID=$CONNECT2_PID
  CONNECT2_PID=""
  if ! wait_for 90 running_on "$cdc" "$rest2" "127.0.0.1:$port2" || ! wait_for 30 running_on file-sink "$rest2" "127.0.0.1:$port2"; then
    record FAIL "$MODE/worker-failover" "status: $(curl -s "$rest2/connectors/$cdc/status" | cut -c1-300)"
    return 0
  fi
  begin; ins 20; upd 20; commit
  begin; del 20; ins 21; commit
  check_events worker-failover "$topic" || true
}

# Connect's offsets REST API (KIP-875) on the sink: stop it, move its consumer group back 10
# records (Admin alterConsumerGroupOffsets), resume: the file gets those 10 records again.
sink_rewind() { # TOPIC
  local topic="$1" end back got detail
  end=$(count "$WORK/sink-topic.dump")
  back=$((end - 10))
  got=$(curl -sf "$REST/connectors/file-sink/offsets" || true)
  if ! echo "$got" | grep -q "\"kafka_offset\":$end"; then
    record FAIL "$MODE/sink-offsets-api" "GET offsets: $got (expected kafka_offset $end)"
    return 0
  fi
  curl -sf -X PUT "$REST/connectors/file-sink/stop" >/dev/null \
    && wait_for 60 state_is file-sink STOPPED \
    && curl -sf -X PATCH -H 'Content-Type: application/json' "$REST/connectors/file-sink/offsets" -d "{\"offsets\": [
         {\"partition\": {\"kafka_topic\": \"$topic\", \"kafka_partition\": 0}, \"offset\": {\"kafka_offset\": $back}}]}" >/dev/null \
    && curl -sf "$REST/connectors/file-sink/offsets" | grep -q "\"kafka_offset\":$back" \
    && curl -sf -X PUT "$REST/connectors/file-sink/resume" >/dev/null \
    && wait_running file-sink \
    && wait_for 60 python3 "$HERE/check.py" sink "$WORK/sink.txt" "$WORK/sink-topic.dump" "$back"
  if detail=$(python3 "$HERE/check.py" sink "$WORK/sink.txt" "$WORK/sink-topic.dump" "$back" 2>&1); then
    record PASS "$MODE/sink-offsets-api" "rewound to $back of $end: $detail"
  else
    record FAIL "$MODE/sink-offsets-api" "$detail; status $(curl -s "$REST/connectors/file-sink/status" | cut -c1-300)"
  fi
}

# Connect's offsets REST API on the exactly-once source: stop, DELETE its offsets (Connect
# fences the task's transactional producer and deletes in a transaction), resume: with no
# offset Debezium snapshots the table again, so the topic gets one r event per live row.
source_offsets_reset() { # CONNECTOR TOPIC
  local cdc="$1" topic="$2" before detail
  before=$(count "$WORK/$MODE-resume-after-kill.dump")
  for id in "${!NAME[@]}"; do echo "r $id - ${NAME[$id]}"; done | sort >"$WORK/$MODE.snapshot"
  if curl -sf -X PUT "$REST/connectors/$cdc/stop" >/dev/null \
     && wait_for 60 state_is "$cdc" STOPPED \
     && curl -sf "$REST/connectors/$cdc/offsets" | grep -q '"lsn"' \
     && curl -sf -X DELETE "$REST/connectors/$cdc/offsets" >/dev/null \
     && curl -sf "$REST/connectors/$cdc/offsets" | grep -q '"offsets":\[\]' \
     && curl -sf -X PUT "$REST/connectors/$cdc/resume" >/dev/null \
     && wait_running "$cdc" \
     && wait_events "$topic" $((before + $(grep -c . "$WORK/$MODE.snapshot"))) "$WORK/$MODE-resnapshot.dump" \
     && detail=$(python3 "$HERE/check.py" snapshot "$WORK/$MODE-resnapshot.dump" "$before" "$WORK/$MODE.snapshot" 2>&1); then
    record PASS "$MODE/source-offsets-reset" "$detail"
  else
    record FAIL "$MODE/source-offsets-reset" "${detail:-REST step failed}; offsets $(curl -s "$REST/connectors/$cdc/offsets" | cut -c1-200)"
  fi
}

# the checks must be able to fail: a lost, reordered or duplicated event is caught
python3 "$HERE/check.py" selftest >/dev/null || { record FAIL check-selftest; exit 1; }
pg_start
# A busy cleaner: with the small segments the workers give their internal topics, Connect's
# compacted topics (configs, offsets, status; in eos mode written in transactions) get
# compacted while in use, and the restarts read them back compacted.
BROKER_ARGS="--set group.initial.rebalance.delay.ms=0 --set log.cleaner.backoff.ms=500 ${CDC_BROKER_ARGS:-}"
if [ "${CDC_SECURE:-0}" = 1 ]; then
  # The whole run over SASL_SSL with SCRAM-SHA-512 and ACLs on (odradek --dev --secure; the
  # workers, Debezium's producers and the checking consumer log in as the admin user).
  BROKER_ARGS="$BROKER_ARGS --dev --secure"
  export COMPAT_CLIENT_PROPS="$WORK/data/secure/client-scram.properties"
fi
# shellcheck disable=SC2086
broker_start "$WORK/data" "$LOG" $BROKER_ARGS || { record FAIL broker-start; exit 1; }
for m in "${MODES[@]}"; do
  run_mode "$m" || say "mode $m stopped early; Connect log: $WORK/connect-$m.log"
  connect_stop
done
compacted=$(grep ' compacted' "$LOG" | grep -oE 'topic=connect-[a-z]+-[a-z]+' | sort -u | tr '\n' ' ' || true)
# transaction markers of the exactly-once worker's topics go once their data is compacted away
# and delete.retention.ms (2 s on those topics) has passed
markers=$( (grep ' compacted' "$LOG" || true) | (grep 'topic=connect-eos-' || true) | (grep -oE 'markers_removed=[0-9]+' || true) | awk -F= '{n += $2} END {print n + 0}')
if [ -z "$compacted" ]; then
  record FAIL compaction "the cleaner never compacted a Connect topic"
elif [[ " ${MODES[*]} " == *" eos "* ]] && [ "${markers:-0}" -eq 0 ]; then
  record FAIL compaction "compacted $compacted but removed no transaction marker from connect-eos-*"
else
  record PASS compaction "the cleaner compacted: $compacted; transaction markers removed from connect-eos-*: ${markers:-0}"
fi
if ! broker_stop TERM; then record FAIL broker-crashed; fi
[ "$failed" -eq 0 ]
