#!/usr/bin/env bash
# mirrormaker needs Apache Kafka 4.3.1's jars (connect-mirror, connect-runtime, clients, and the
# broker for COMPAT_BROKER=kafka) in $ODRADEK_CACHE/kafka-4.3.1/libs: reference/kafka.sh resolves
# them from Maven Central once (idempotent, marker file). run.sh compiles its checks on first use.
set -euo pipefail
# shellcheck source=../reference/kafka.sh
. "$(cd "$(dirname "$0")" && pwd)/../reference/kafka.sh"
kafka_install
