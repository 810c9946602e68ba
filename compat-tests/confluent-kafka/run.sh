#!/usr/bin/env bash
# Runs the confluent-kafka (Python, librdkafka bundled in its wheel) compat scenarios.
#   usage: confluent-kafka/run.sh BOOTSTRAP [scenario ...]
#   env:   see ../pylib/run-client.sh
HERE="$(cd "$(dirname "$0")" && pwd)"
exec "$HERE/../pylib/run-client.sh" confluent-kafka confluent_kafka "$HERE" "$@"
