#!/usr/bin/env bash
# Kafka Streams 4.3.1 against a running broker: an exactly_once_v2 application (src/kstreams/App.java)
# run as separate JVMs in the background, a driver (src/kstreams/Driver.java) producing its input
# and checking its output exactly. One application id for the whole run; the scenarios run in
# this order (any subset, same order):
#   eos-aggregate      400 orders; read_committed customer-totals: one update per order, exact totals
#   join               orders x payments within 10 s: exactly the expected pairs
#   internal-topics    repartition / changelog topics: names, partitions, configs; the group
#   repartition-purge  DeleteRecords by Streams: repartition log start = committed offsets > 0
#   kill-restore       SIGKILL mid-stream, state.dir deleted, restore from the changelog, exact totals
#   rebalance          a second instance joins (tasks split), the first leaves (LeaveGroup), exact totals
#   usage: kafka-streams/run.sh BOOTSTRAP [scenario ...]
#   env:   ODRADEK_CACHE  cache dir (default $HOME/.cache/odradek) holding kafka-4.3.1/libs (install.sh)
#          COMPAT_RESULTS append "PASS|FAIL kafka-streams/<scenario>" lines to this file
#          COMPAT_DEBUG=1 Streams INFO logs and NetworkClient DEBUG in the instances' and driver's logs
#          COMPAT_KEEP=1  keep the work dir (instance logs, status files, state dirs, ledger)
#          KSTREAMS_EXTRA k=v,k=v  extra Streams configs for the instances (experiments, e.g.
#                         statestore.cache.max.bytes=10485760 must make eos-aggregate fail)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
BOOTSTRAP="${1:?usage: $0 BOOTSTRAP [scenario ...]}"
shift
ALL=(eos-aggregate join internal-topics repartition-purge kill-restore rebalance)
SELECTED=("$@")
[ "${#SELECTED[@]}" -eq 0 ] && SELECTED=("${ALL[@]}")
for s in "${SELECTED[@]}"; do
  case " ${ALL[*]} " in *" $s "*) ;; *) echo "[kafka-streams] unknown scenario $s (known: ${ALL[*]})" >&2; exit 2 ;; esac
done
selected() { case " ${SELECTED[*]} " in *" $1 "*) return 0 ;; esac; return 1; }

# shellcheck source=../reference/kafka.sh
. "$HERE/../reference/kafka.sh"   # KAFKA_LIBS, KAFKA_CACHE
CP=""
for pat in 'kafka-streams-[0-9]*.jar' 'kafka-clients-*.jar' 'rocksdbjni-*.jar' 'slf4j-api-*.jar' 'log4j-api-*.jar' \
           'log4j-core-*.jar' 'log4j-slf4j2-impl-*.jar' 'lz4-java-*.jar' 'zstd-jni-*.jar' 'snappy-java-*.jar' \
           'jackson-annotations-*.jar' 'jackson-core-*.jar' 'jackson-databind-*.jar'; do
  for j in "$KAFKA_LIBS"/$pat; do [ -f "$j" ] && CP="$CP${CP:+:}$j"; done
done

pass=0
fail=0
record() { # PASS|FAIL scenario [detail]
  echo "$1 kafka-streams/$2${3:+ ($3)}"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "$1 kafka-streams/$2" >>"$COMPAT_RESULTS"
  if [ "$1" = PASS ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
  return 0
}

case "$CP" in *kafka-streams-*) ;; *)
  echo "[kafka-streams] no kafka-streams jar in $KAFKA_LIBS; run compat-tests/kafka-streams/install.sh" >&2
  record FAIL setup "jars missing"; exit 1 ;;
esac

# compiled classes per source hash (as java/lib.sh does): concurrent checkouts never clash
CLASSES_ROOT="$KAFKA_CACHE/kafka-streams-classes-by-hash"
hash=$(cat "$HERE"/src/kstreams/*.java | sha256sum | cut -c1-16)
CLASSES="$CLASSES_ROOT/$hash"
if [ ! -f "$CLASSES/.complete" ]; then
  echo "[kafka-streams] compiling into $CLASSES"
  mkdir -p "$CLASSES_ROOT"
  tmp=$(mktemp -d "$CLASSES_ROOT/.build.XXXXXX")
  if ! nice javac --release 17 -nowarn -XDsuppressNotes -cp "$CP" -d "$tmp" "$HERE"/src/kstreams/*.java; then
    rm -rf "$tmp"; record FAIL setup "javac failed"; exit 1
  fi
  touch "$tmp/.complete"
  mv -T "$tmp" "$CLASSES" 2>/dev/null || rm -rf "$tmp"
  find "$CLASSES_ROOT" -mindepth 1 -maxdepth 1 -type d -mtime +1 ! -path "$CLASSES" -exec rm -rf {} + 2>/dev/null || true
fi
touch "$CLASSES"

LOGCFG="$HERE/log4j2.properties"
[ "${COMPAT_DEBUG:-0}" = 1 ] && LOGCFG="$HERE/log4j2-debug.properties"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/odradek-compat-kafka-streams.XXXXXX")"
mkdir -p "$WORK/tmp"
JVM=(java -Xshare:auto -XX:TieredStopAtLevel=1 -Xss1m -XX:+UseSerialGC "-Djava.io.tmpdir=$WORK/tmp"
     "-Dlog4j2.configurationFile=$LOGCFG")
APPID="kstreams-compat-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
LEDGER="$WORK/ledger.txt"
: >"$LEDGER"
declare -A PID=()
BG=()   # background producer drivers (their `timeout` processes)

cleanup() {
  local n
  for n in "${BG[@]}"; do kill -TERM "$n" 2>/dev/null || true; done
  for n in "${!PID[@]}"; do
    if [ -n "${PID[$n]}" ] && kill -0 "${PID[$n]}" 2>/dev/null; then
      kill -KILL "${PID[$n]}" 2>/dev/null || true
      wait "${PID[$n]}" 2>/dev/null || true
    fi
  done
  if [ "${COMPAT_KEEP:-0}" = 1 ]; then echo "[kafka-streams] kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# driver SECONDS COMMAND ARGS...: one Driver subcommand in its own JVM, with a time limit
driver() {
  local secs="$1"
  shift
  timeout --kill-after=5 "$secs" "${JVM[@]}" -Xmx160m -cp "$CP:$CLASSES" kstreams.Driver "$@"
}

# driver_bg SECONDS COMMAND ARGS...: the same in the background; BG_PID is the `timeout` process
# itself (a simple command), so a TERM to it reaches the driver's JVM
driver_bg() {
  local secs="$1"
  shift
  timeout --kill-after=5 "$secs" "${JVM[@]}" -Xmx160m -cp "$CP:$CLASSES" kstreams.Driver "$@" &
  BG_PID=$!
  BG+=("$BG_PID")
}

# app_start NAME SESSION_MS: an instance in the background; $! is the JVM itself (a simple
# command), so SIGKILL and SIGTERM reach it. State dir $WORK/state-NAME, status $WORK/NAME.status.
app_start() {
  local name="$1" session="$2"
  rm -f "$WORK/$name.status"
  echo "[kafka-streams] starting instance $name (application.id $APPID, state dir $WORK/state-$name)"
  "${JVM[@]}" -Xmx256m -Dlog4j2.shutdownHookEnabled=false -cp "$CP:$CLASSES" kstreams.App "$BOOTSTRAP" "$APPID" "$name" "$WORK/state-$name" \
    "$WORK/$name.status" "$session" 300 >>"$WORK/$name.log" 2>&1 &
  PID[$name]=$!
}

status_get() { # NAME KEY
  sed -n "s/^$2=//p" "$WORK/$1.status" 2>/dev/null | head -n 1
}

# wait_running NAME SECONDS [TASKS]: until the instance is RUNNING (with TASKS active tasks)
wait_running() {
  local name="$1" secs="$2" tasks="${3:-}" _ act
  for _ in $(seq 1 $((secs * 5))); do
    if ! kill -0 "${PID[$name]}" 2>/dev/null; then
      echo "[kafka-streams] instance $name exited" >&2; return 1
    fi
    if [ "$(status_get "$name" state)" = RUNNING ]; then
      act="$(status_get "$name" active)"
      if [ -z "$tasks" ] || [ "$(echo "$act" | tr ',' '\n' | grep -c .)" = "$tasks" ]; then return 0; fi
    fi
    sleep 0.2
  done
  echo "[kafka-streams] instance $name not RUNNING${tasks:+ with $tasks tasks} within ${secs}s: $(tr '\n' ' ' <"$WORK/$name.status" 2>/dev/null)" >&2
  return 1
}

app_logs() {
  local n
  for n in "${!PID[@]}"; do
    echo "[kafka-streams] --- tail of instance $n's log ($WORK/$n.log)"
    tail -n 25 "$WORK/$n.log" 2>/dev/null | sed 's/^/    /'
  done
}

# run_scenario NAME COMMAND...: PASS/FAIL by the command's exit status
run_scenario() {
  local name="$1" start rc=0
  shift
  echo "[kafka-streams] === $name"
  start=$(date +%s)
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then record PASS "$name" "$(( $(date +%s) - start ))s"
  else record FAIL "$name" "exit $rc, $(( $(date +%s) - start ))s"; app_logs; fi
}

suite_start=$(date +%s)
echo "[kafka-streams] work dir $WORK, application.id $APPID"
if ! driver 60 setup "$BOOTSTRAP"; then record FAIL setup "topic creation"; exit 1; fi
app_start a1 6000
if ! wait_running a1 90 8; then record FAIL app-start "instance a1 never RUNNING with 8 tasks"; app_logs; exit 1; fi
echo "[kafka-streams] instance a1 RUNNING after $(( $(date +%s) - suite_start ))s; $(grep -m1 'group.protocol=' "$WORK/a1.log" | sed 's/.*\] //')"

kill_restore() {
  local base agg_at_kill mid=0 prod rc=0
  base="$(status_get a1 aggregated)"
  driver_bg 60 produce "$BOOTSTRAP" "$LEDGER" kill 600 6000
  prod=$BG_PID
  # the driver sends the SIGKILL once the broker shows a1's transaction open (ListTransactions),
  # about 2 s (its JVM's start) into the 6 s batch
  driver 40 kill-in-txn "$BOOTSTRAP" "$APPID" "${PID[a1]}" "$WORK/killed-txn" || rc=1
  kill -0 "$prod" 2>/dev/null && mid=1
  if kill -0 "${PID[a1]}" 2>/dev/null; then kill -KILL "${PID[a1]}"; rc=1; fi
  wait "${PID[a1]}" 2>/dev/null || true
  agg_at_kill="$(status_get a1 aggregated)"
  echo "[kafka-streams] instance a1 SIGKILLed after $((agg_at_kill - base)) (+-200 ms) of the batch's 600 orders were aggregated"
  [ "$rc" = 0 ] || { wait "$prod" || true; return 1; }
  wait "$prod" || { echo "[kafka-streams] the producer failed" >&2; return 1; }
  [ "$mid" = 1 ] || { echo "[kafka-streams] the producer had finished before the kill: not mid-stream" >&2; rc=1; }
  # (an open transaction is proof enough that a1 was processing the batch: its status file,
  # refreshed every 200 ms, can still show 0 aggregated when the kill comes early)
  [ "$agg_at_kill" -lt $((base + 600)) ] || {
    echo "[kafka-streams] a1 had aggregated the whole batch at the kill: not mid-stream" >&2; rc=1; }
  rm -rf "$WORK/state-a1"
  [ ! -e "$WORK/state-a1" ] || return 1
  # longer session timeout: in `rebalance` this instance must leave through LeaveGroup, not expire
  app_start a1 30000
  wait_running a1 90 8 || return 1
  driver 100 restore-check "$BOOTSTRAP" "$APPID" "$LEDGER" "$WORK/a1.status" "$WORK/killed-txn" || rc=1
  return "$rc"
}

rebalance() {
  local prod rc=0 t
  driver_bg 60 produce "$BOOTSTRAP" "$LEDGER" rb-during-join 200 3000
  prod=$BG_PID
  app_start a2 6000
  driver 90 wait-tasks "$BOOTSTRAP" "$APPID" 75 "$WORK/a1.status" "$WORK/a2.status" || rc=1
  wait "$prod" || { echo "[kafka-streams] the producer failed" >&2; rc=1; }
  [ "$rc" = 0 ] || return 1
  driver 80 progress "$BOOTSTRAP" "$APPID" "$LEDGER" rb-split 200 "$WORK/a1.status" "$WORK/a2.status" || return 1
  driver_bg 60 produce "$BOOTSTRAP" "$LEDGER" rb-during-leave 200 3000
  prod=$BG_PID
  sleep 1
  echo "[kafka-streams] SIGTERM instance a1 (close with LEAVE_GROUP; its session timeout is 30 s)"
  t=$(date +%s)
  kill -TERM "${PID[a1]}"
  for _ in $(seq 1 150); do kill -0 "${PID[a1]}" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "${PID[a1]}" 2>/dev/null; then echo "[kafka-streams] a1 still running 30 s after SIGTERM" >&2; rc=1; fi
  wait "${PID[a1]}" 2>/dev/null || true
  grep -q 'closed: true' "$WORK/a1.log" || { echo "[kafka-streams] a1 did not close cleanly: $(grep 'closed:' "$WORK/a1.log")" >&2; rc=1; }
  # within 20 s of the SIGTERM, i.e. well before a1's 30 s session could expire: the LeaveGroup did it
  driver 40 wait-tasks "$BOOTSTRAP" "$APPID" $((20 - ($(date +%s) - t))) "$WORK/a2.status" || rc=1
  echo "[kafka-streams] a2 owns all 8 tasks $(( $(date +%s) - t ))s after a1's SIGTERM"
  wait "$prod" || { echo "[kafka-streams] the producer failed" >&2; rc=1; }
  [ "$rc" = 0 ] || return 1
  driver 80 progress "$BOOTSTRAP" "$APPID" "$LEDGER" rb-alone 200 "$WORK/a2.status"
}

selected eos-aggregate && run_scenario eos-aggregate driver 80 eos-aggregate "$BOOTSTRAP" "$APPID" "$LEDGER"
selected join && run_scenario join driver 80 join "$BOOTSTRAP" "$APPID" "$LEDGER"
selected internal-topics && run_scenario internal-topics driver 60 internal-topics "$BOOTSTRAP" "$APPID"
selected repartition-purge && run_scenario repartition-purge driver 60 repartition-purge "$BOOTSTRAP" "$APPID" "$LEDGER"
selected kill-restore && run_scenario kill-restore kill_restore
selected rebalance && run_scenario rebalance rebalance

echo "[kafka-streams] $pass passed, $fail failed ($(( $(date +%s) - suite_start ))s; $(wc -l <"$LEDGER") orders in the ledger)"
[ "$fail" -eq 0 ]
