#!/usr/bin/env bash
# One Apache Kafka 4.3.1 command-line tool (kafka-NAME.sh), through reference/kafka.sh's kafka_tool,
# with a faster JVM start: C1 only (-XX:TieredStopAtLevel=1) and a class-data-sharing archive per
# tool. The JDK here is 17 (no -XX:+AutoCreateSharedArchive), so a tool's first call with no archive
# dumps one at exit (-XX:ArchiveClassesAtExit, into a temporary file renamed into place; ~25 MB);
# later calls map it (-XX:SharedArchiveFile): ~1 s a call instead of ~2 s. An archive is named after
# the tool, the JVM and the jar list, so another JDK or other jars get their own. JVM log lines go
# to stderr, never into the tool's output (the callers parse stdout).
# `tool.sh helper ARGS...` runs compat.ToolsHelper (src/, compiled by run.sh into the jar
# $KAFKA_TOOLS_CLASSES) the same way, with the tools' jars (kafka-clients 4.3.1) on its classpath.
#   usage: tool.sh NAME|CLASS|helper ARGS...   (e.g. tool.sh topics --bootstrap-server H:P --list)
#   env:   ODRADEK_CACHE, KAFKA_TOOLS_CLASSES (for helper), KAFKA_TOOLS_CDS=0 (no archive)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../reference/kafka.sh
. "$ROOT/reference/kafka.sh"
CDS_DIR="$KAFKA_CACHE/kafka-tools-cds"
extra=(-XX:TieredStopAtLevel=1 -Xlog:disable -Xlog:all=warning:stderr)
tmp=""
if [ "${KAFKA_TOOLS_CDS:-1}" = 1 ]; then
  key="$( { java -version 2>&1; ls -l --time-style=+%s "$KAFKA_LIBS"; [ "$1" != helper ] || echo "${KAFKA_TOOLS_CLASSES:-}"; } \
          | sha256sum | cut -c1-16)"
  jsa="$CDS_DIR/${1##*.}-$key.jsa"
  if [ -f "$jsa" ]; then
    extra+=("-XX:SharedArchiveFile=$jsa")
    touch -c "$jsa" 2>/dev/null || true   # in use: kept by the clean-up below
  else
    mkdir -p "$CDS_DIR"
    tmp="$(mktemp "$CDS_DIR/.dump.XXXXXX")"
    rm -f "$tmp"
    # the dump reports classes it skips at warning level: not worth showing
    extra=(-XX:TieredStopAtLevel=1 -Xlog:disable -Xlog:all=error:stderr "-XX:ArchiveClassesAtExit=$tmp")
  fi
fi
KAFKA_JVM_OPTS+=("${extra[@]}")
rc=0
if [ "$1" = helper ]; then
  shift
  KAFKA_HEAP_OPTS=-Xmx256M KAFKA_LOG_LEVEL="${KAFKA_LOG_LEVEL:-WARN}" kafka_cmd
  KAFKA_CMD[${#KAFKA_CMD[@]}-1]+=":${KAFKA_TOOLS_CLASSES:?compile src/ first (run.sh does)}"
  "${KAFKA_CMD[@]}" compat.ToolsHelper "$@" || rc=$?
else
  kafka_tool "$@" || rc=$?
fi
if [ -n "$tmp" ]; then
  if [ -s "$tmp" ]; then mv -f "$tmp" "$jsa"; else rm -f "$tmp"; fi
  # forget archives of other JVMs / jar sets not used for a week
  find "$CDS_DIR" -name '*.jsa' -mtime +7 -delete 2>/dev/null || true
fi
exit "$rc"
