#!/usr/bin/env bash
# Installs @platformatic/kafka (npm) into its own prefix, idempotently.
#   env: ODRADEK_CACHE (default $HOME/.cache/odradek), PLATFORMATIC_KAFKA_VERSION (default 1.35.0)
# Prefix: $ODRADEK_CACHE/node-platformatic (node_modules/@platformatic/kafka); marker
# $ODRADEK_CACHE/node-platformatic/.platformatic-kafka-VERSION. The package's engines field asks
# ">= 20.19.4 || >= 22.18.0 || >= 24.6.0", i.e. node >= 20.19.4; npm only warns, so this checks it.
set -euo pipefail
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
VERSION="${PLATFORMATIC_KAFKA_VERSION:-1.35.0}"
PREFIX="$CACHE/node-platformatic"
MARKER="$PREFIX/.platformatic-kafka-$VERSION"
log() { echo "[platformatic-kafka/install] $*"; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "node/npm not found; @platformatic/kafka not installed"
  exit 1
fi
if [ -f "$MARKER" ]; then
  log "@platformatic/kafka $VERSION already in $PREFIX"
  exit 0
fi
if ! node -e '
  const [a, b, c] = process.versions.node.split(".").map(Number)
  process.exit(a > 20 || (a === 20 && (b > 19 || (b === 19 && c >= 4))) ? 0 : 1)'; then
  log "node $(node --version) does not satisfy the engines range of @platformatic/kafka $VERSION (>= 20.19.4)"
  exit 1
fi
log "npm install @platformatic/kafka@$VERSION into $PREFIX"
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error --save-exact \
  "@platformatic/kafka@$VERSION" 2>&1 | grep -v 'Unknown user config' || true
got=$(node -p "require('$PREFIX/node_modules/@platformatic/kafka/package.json').version" 2>/dev/null || true)
if [ "$got" != "$VERSION" ]; then
  log "@platformatic/kafka $VERSION not installed in $PREFIX (found '${got}')"
  exit 1
fi
rm -f "$PREFIX"/.platformatic-kafka-*
touch "$MARKER"
log "@platformatic/kafka $got (node $(node --version))"
