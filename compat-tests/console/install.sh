#!/usr/bin/env bash
# Installs what the console test needs, idempotently: Debian's chromium (apt, only when
# /usr/bin/chromium is missing; apt-get update only when the package is not known yet) and
# playwright-core (npm, pinned) into $ODRADEK_CACHE/console-playwright.
#   env: ODRADEK_CACHE (default $HOME/.cache/odradek), PLAYWRIGHT_CORE_VERSION (default 1.64.1)
# Marker: $ODRADEK_CACHE/console-playwright/.playwright-core-VERSION. playwright-core downloads no
# browser of its own (unlike the `playwright` package); the test drives /usr/bin/chromium.
set -euo pipefail
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
VERSION="${PLAYWRIGHT_CORE_VERSION:-1.64.1}"
PREFIX="$CACHE/console-playwright"
MARKER="$PREFIX/.playwright-core-$VERSION"
export DEBIAN_FRONTEND=noninteractive
log() { echo "[console/install] $*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# --- chromium (Debian) ----------------------------------------------------------------
if [ -x /usr/bin/chromium ]; then
  log "chromium already present ($(/usr/bin/chromium --version 2>/dev/null || echo '?'))"
else
  # update the package lists only when apt does not know a chromium candidate yet
  if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    log "apt-get update"
    $SUDO apt-get update -qq
  fi
  log "apt-get install chromium"
  $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
  [ -x /usr/bin/chromium ] || { log "chromium did not install /usr/bin/chromium"; exit 1; }
  log "chromium $(/usr/bin/chromium --version 2>/dev/null || echo '?')"
fi

# --- playwright-core (npm) --------------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "node/npm not found; playwright-core not installed"
  exit 1
fi
if [ -f "$MARKER" ]; then
  log "playwright-core $VERSION already in $PREFIX"
  exit 0
fi
log "npm install playwright-core@$VERSION into $PREFIX"
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error --save-exact \
  "playwright-core@$VERSION" 2>&1 | grep -v 'Unknown user config' || true
got=$(node -p "require('$PREFIX/node_modules/playwright-core/package.json').version" 2>/dev/null || true)
if [ "$got" != "$VERSION" ]; then
  log "playwright-core $VERSION not installed in $PREFIX (found '${got}')"
  exit 1
fi
rm -f "$PREFIX"/.playwright-core-*
touch "$MARKER"
log "playwright-core $got (node $(node --version))"
