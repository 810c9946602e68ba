#!/usr/bin/env bash
# What the cluster build and its test need, installed idempotently: protoc and its well-known
# types (etcd-client's build script compiles etcd's protos), etcd from Debian, and an S3 server
# from PyPI (moto) in a venv in the cache. Prints the path of the venv's moto_server.
#   ODRADEK_CACHE (default: $HOME/.cache/odradek)
set -euo pipefail
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
export DEBIAN_FRONTEND=noninteractive
log() { echo "[cluster-setup] $*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/descriptor.proto ] || missing+=(libprotobuf-dev)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  # etcd-server's postinst would start a system etcd on :2379 where services may start; the test
  # runs its own on free ports, so the package's service is not needed (and not started here).
  $SUDO env RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

VENV="$CACHE/cluster-venv"
mkdir -p "$CACHE"
[ -x "$VENV/bin/python" ] || { log "creating venv $VENV"; python3 -m venv "$VENV"; }
if [ ! -f "$VENV/.moto-$MOTO_VERSION" ]; then
  log "installing moto[server]==$MOTO_VERSION into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  touch "$VENV/.moto-$MOTO_VERSION"
fi
echo "$VENV/bin/moto_server"
