#!/usr/bin/env bash
# Builds the go-clients scenario binary (this folder's one Go module: franz-go, sarama, kafka-go at
# the versions go.mod pins) into $ODRADEK_CACHE/go-clients/, named by a hash of the sources, the
# module files and the Go version, so an unchanged folder is never rebuilt. Modules and the build
# cache live under $ODRADEK_CACHE/go (GOMODCACHE, GOCACHE), so CI's cache keeps them. Idempotent;
# compat-tests/setup.sh runs it, and run.sh runs it again (a no-op once built).
#   usage: go-clients/install.sh          build unless built; prints where the binary is
#          go-clients/install.sh --path   only print the binary's path (built or not)
#   env:   ODRADEK_CACHE (default $HOME/.cache/odradek)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local
log() { echo "[go-clients] $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "go is not installed: cannot build the Go client scenarios"
  exit 1
fi
hash="$( { go version; cd "$HERE" && cat go.mod go.sum ./*.go; } | sha256sum | cut -c1-16)"
OUT="$CACHE/go-clients"
BIN="$OUT/go-clients-$hash"
if [ "${1:-}" = --path ]; then
  echo "$BIN"
  exit 0
fi
if [ -x "$BIN" ]; then
  log "binary up to date: $BIN"
  echo "$BIN"
  exit 0
fi
mkdir -p "$OUT"
log "building $BIN ($(go version | awk '{print $3}'); modules in $GOMODCACHE)"
started=$(date +%s)
tmp="$BIN.tmp.$$"
if ! (cd "$HERE" && nice go build -trimpath -o "$tmp" .); then
  rm -f "$tmp"
  log "go build failed"
  exit 1
fi
mv -f "$tmp" "$BIN"
# older builds of this folder are of no further use
find "$OUT" -maxdepth 1 -name 'go-clients-*' ! -name "go-clients-$hash" -delete 2>/dev/null || true
log "built in $(( $(date +%s) - started ))s"
echo "$BIN"
