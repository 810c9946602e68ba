#!/usr/bin/env bash
# kafka-tools needs Apache Kafka 4.3.1's jars (tools, clients) in $ODRADEK_CACHE/kafka-4.3.1/libs:
# reference/kafka.sh resolves them from Maven Central once (idempotent, marker file). The helper is
# compiled and the class-data-sharing archive dumped by run.sh / tool.sh on first use.
set -euo pipefail
# shellcheck source=../reference/kafka.sh
. "$(cd "$(dirname "$0")" && pwd)/../reference/kafka.sh"
kafka_install
