#!/usr/bin/env bash
# Installs prometheus_client (PyPI; its text-format parser reads /metrics) into the compat venv
# made by setup.sh, idempotently. confluent-kafka and kafka-python are already in that venv.
#   env: ODRADEK_CACHE (default $HOME/.cache/odradek), PROMETHEUS_CLIENT_VERSION (default 0.26.0)
# Marker: $ODRADEK_CACHE/venv/.prometheus_client-VERSION (as setup.sh's venv_pkg).
set -euo pipefail
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
VENV="$CACHE/venv"
PROMETHEUS_CLIENT_VERSION="${PROMETHEUS_CLIENT_VERSION:-0.26.0}"
log() { echo "[metrics/install] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "no venv at $VENV (compat-tests/setup.sh makes it)"
  exit 1
fi
marker="$VENV/.prometheus_client-$PROMETHEUS_CLIENT_VERSION"
if [ -f "$marker" ]; then
  log "prometheus_client $PROMETHEUS_CLIENT_VERSION already in $VENV"
  exit 0
fi
log "installing prometheus_client==$PROMETHEUS_CLIENT_VERSION into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
  "prometheus_client==$PROMETHEUS_CLIENT_VERSION"
"$VENV/bin/python" -c 'import importlib.metadata as m; print("[metrics/install] prometheus_client", m.version("prometheus_client"))'
rm -f "$VENV"/.prometheus_client-*
touch "$marker"
