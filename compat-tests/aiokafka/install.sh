#!/usr/bin/env bash
# Installs aiokafka (PyPI) into the compat venv made by setup.sh, idempotently.
#   env: ODRADEK_CACHE (default $HOME/.cache/odradek), AIOKAFKA_VERSION (default 0.14.0)
# Marker: $ODRADEK_CACHE/venv/.aiokafka-VERSION-cramjam-VERSION (as setup.sh's venv_pkg). aiokafka's
# lz4/snappy/zstd codecs come from cramjam (its "lz4" extra), installed pinned beside it; gzip is
# the standard library's.
set -euo pipefail
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
VENV="$CACHE/venv"
AIOKAFKA_VERSION="${AIOKAFKA_VERSION:-0.14.0}"
CRAMJAM_VERSION="${CRAMJAM_VERSION:-2.14.0}"
log() { echo "[aiokafka/install] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "no venv at $VENV (compat-tests/setup.sh makes it)"
  exit 1
fi
marker="$VENV/.aiokafka-$AIOKAFKA_VERSION-cramjam-$CRAMJAM_VERSION"
if [ -f "$marker" ]; then
  log "aiokafka $AIOKAFKA_VERSION (cramjam $CRAMJAM_VERSION) already in $VENV"
  exit 0
fi
log "installing aiokafka==$AIOKAFKA_VERSION cramjam==$CRAMJAM_VERSION into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
  "aiokafka==$AIOKAFKA_VERSION" "cramjam==$CRAMJAM_VERSION"
"$VENV/bin/python" -c 'import aiokafka, cramjam; print("[aiokafka/install] aiokafka", aiokafka.__version__, "cramjam", cramjam.__version__)'
rm -f "$VENV"/.aiokafka-*
touch "$marker"
