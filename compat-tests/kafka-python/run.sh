#!/usr/bin/env bash
# Runs the kafka-python compat scenarios (compat.py) against a running broker.
#   usage: kafka-python/run.sh BOOTSTRAP [scenario ...]
#   env:   see ../pylib/run-client.sh
HERE="$(cd "$(dirname "$0")" && pwd)"
exec "$HERE/../pylib/run-client.sh" kafka-python kafka "$HERE" "$@"
