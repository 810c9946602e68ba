#!/usr/bin/env bash
# Apache Kafka 4.3.1's own command-line tools (kafka-topics, kafka-configs, kafka-consumer-groups,
# kafka-transactions, kafka-get-offsets, kafka-delete-records, the perf tests, the console
# producer and consumer, kafka-acls) against a running broker; compat.py parses what they print.
#   usage: kafka-tools/run.sh BOOTSTRAP [scenario ...]
#   env:   ODRADEK_CACHE (Kafka's jars from reference/kafka.sh, the helper's jar, the CDS archives),
#          COMPAT_RESULTS, COMPAT_DEBUG=1 (every tool call and its output),
#          COMPAT_TIMEOUT (whole-run limit in seconds, default 380), KAFKA_TOOLS_CALL_TIMEOUT (60 s a call)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BOOTSTRAP="${1:?usage: $0 BOOTSTRAP [scenario ...]}"
shift
# shellcheck source=../reference/kafka.sh
. "$HERE/../reference/kafka.sh"
if ! ls "$KAFKA_LIBS"/kafka-tools-*.jar >/dev/null 2>&1; then
  echo "kafka-tools: no Apache Kafka jars in $KAFKA_LIBS; run compat-tests/kafka-tools/install.sh" >&2
  echo "FAIL kafka-tools/install"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "FAIL kafka-tools/install" >>"$COMPAT_RESULTS"
  exit 2
fi

# compat.ToolsHelper, compiled against the tools' own kafka-clients into a jar per source hash (a jar,
# not a class directory: a class-data-sharing archive cannot be dumped with a directory on the path)
hash=$( { cat "$HERE"/src/compat/*.java; ls "$KAFKA_LIBS"; } | sha256sum | cut -c1-16)
HELPERS="$KAFKA_CACHE/kafka-tools-helper"
export KAFKA_TOOLS_CLASSES="$HELPERS/tools-helper-$hash.jar"
if [ ! -f "$KAFKA_TOOLS_CLASSES" ]; then
  echo "[kafka-tools] compiling the helper into $KAFKA_TOOLS_CLASSES"
  mkdir -p "$HELPERS"
  tmp=$(mktemp -d "$HELPERS/.build.XXXXXX")
  nice javac --release 17 -nowarn -cp "$KAFKA_LIBS/*" -d "$tmp/classes" "$HERE"/src/compat/*.java
  (cd "$tmp/classes" && jar cf "$tmp/helper.jar" compat)
  mv -f "$tmp/helper.jar" "$KAFKA_TOOLS_CLASSES"
  rm -rf "$tmp"
  # forget builds of other source versions not used for a day
  find "$HELPERS" -name 'tools-helper-*.jar' -mtime +1 ! -path "$KAFKA_TOOLS_CLASSES" -delete 2>/dev/null || true
fi
touch "$KAFKA_TOOLS_CLASSES"

rc=0
timeout --kill-after=5 "${COMPAT_TIMEOUT:-380}" python3 -u "$HERE/compat.py" "$BOOTSTRAP" "$@" || rc=$?
if [ "$rc" -eq 124 ]; then
  echo "FAIL kafka-tools (timed out after ${COMPAT_TIMEOUT:-380}s)"
  [ -n "${COMPAT_RESULTS:-}" ] && echo "FAIL kafka-tools/timeout" >>"$COMPAT_RESULTS"
fi
exit "$rc"
