#!/usr/bin/env bash
# Builds the web console into console/dist/ (or OUT_DIR): index.html, app.js (every
# src/*.ts compiled by tsc into one script, module "none", files in tsconfig.json's order) and
# style.css. Same input, byte-identical output: dist/ is committed and embedded in the broker
# (include_str!), check.sh verifies it is up to date.
#   usage: console/build.sh [OUT_DIR]
#   env:   ODRADEK_CACHE (default $HOME/.cache/odradek): typescript is installed once into
#          $ODRADEK_CACHE/console-npm (npm install --prefix; marker .typescript-VERSION)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:-$HERE/dist}"
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
TS_VERSION="5.9.3"
PREFIX="$CACHE/console-npm"
MARKER="$PREFIX/.typescript-$TS_VERSION"
TSC="$PREFIX/node_modules/typescript/bin/tsc"
log() { echo "[console/build] $*" >&2; }

command -v node >/dev/null 2>&1 || { log "node is not installed"; exit 1; }
if [ ! -f "$MARKER" ] || [ ! -f "$TSC" ]; then
  command -v npm >/dev/null 2>&1 || { log "npm is not installed"; exit 1; }
  log "npm install typescript@$TS_VERSION into $PREFIX"
  mkdir -p "$PREFIX"
  npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error --save-exact \
    "typescript@$TS_VERSION" >&2
  got=$(node -p "require('$PREFIX/node_modules/typescript/package.json').version")
  [ "$got" = "$TS_VERSION" ] || { log "typescript $TS_VERSION not installed (found $got)"; exit 1; }
  rm -f "$PREFIX"/.typescript-*
  touch "$MARKER"
fi

# every .ts under src/ must be compiled: tsconfig.json lists them in dependency order
for f in "$HERE"/src/*.ts; do
  grep -q "\"src/$(basename "$f")\"" "$HERE/tsconfig.json" || { log "src/$(basename "$f") is not in tsconfig.json's files"; exit 1; }
done

STAGE="$(mktemp -d "${TMPDIR:-/tmp}/odradek-console.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
node "$TSC" -p "$HERE/tsconfig.json" --outFile "$STAGE/app.js"
cp "$HERE/index.html" "$HERE/style.css" "$STAGE/"
# the console is embedded in the broker: keep it small
size=$(cat "$STAGE"/index.html "$STAGE"/app.js "$STAGE"/style.css | wc -c)
[ "$size" -lt 102400 ] || { log "dist is $size bytes, over the 100 KB budget"; exit 1; }

mkdir -p "$OUT"
for f in index.html app.js style.css; do
  cmp -s "$STAGE/$f" "$OUT/$f" || cp "$STAGE/$f" "$OUT/$f"
done
# exactly those three files
find "$OUT" -mindepth 1 -maxdepth 1 ! -name index.html ! -name app.js ! -name style.css -exec rm -rf {} +
log "built $OUT ($size bytes)"
