#!/usr/bin/env bash
# The Java transaction scenarios again, against a broker that finalizes Kafka's
# transaction.version feature at 1 (run.sh starts it with --set transaction.version=1), so
# kafka-clients 4.3 uses transactions version 1 (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn v4)
# instead of version 2 (KIP-890). Together with the java/ run this covers both versions.
#   usage: java-txn-v1/run.sh BOOTSTRAP
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
JAVA_LABEL=java-txn-v1 exec "$HERE/../java/run.sh" "${1:?usage: $0 BOOTSTRAP}" \
  TxnCommitAbort TxnFencing TxnConsumeTransformProduce TxnTimeout TxnAdmin
