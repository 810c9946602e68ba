#!/usr/bin/env bash
# Runs the aiokafka (asyncio) compat scenarios (compat.py) against a running broker.
#   usage: aiokafka/run.sh BOOTSTRAP [scenario ...]
#   env:   see ../pylib/run-client.sh (aiokafka is installed by ./install.sh into the same venv)
HERE="$(cd "$(dirname "$0")" && pwd)"
exec "$HERE/../pylib/run-client.sh" aiokafka aiokafka "$HERE" "$@"
