#!/usr/bin/env bash
# The Kafka Streams client needs Apache Kafka 4.3.1's jars (kafka-streams, kafka-clients,
# rocksdbjni, jackson for the state directory's process-id file, slf4j, log4j2), which
# reference/kafka.sh resolves from Maven Central into $ODRADEK_CACHE/kafka-4.3.1/libs
# (idempotent: a marker file per pom.xml hash). Called by compat-tests/setup.sh like every
# */install.sh.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../reference/kafka.sh
. "$HERE/../reference/kafka.sh"
kafka_install
for j in kafka-streams kafka-clients rocksdbjni slf4j-api log4j-core log4j-slf4j2-impl jackson-databind; do
  ls "$KAFKA_LIBS/$j"-*.jar >/dev/null 2>&1 || { echo "[kafka-streams] $j jar missing in $KAFKA_LIBS" >&2; exit 1; }
done
