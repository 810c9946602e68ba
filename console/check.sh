#!/usr/bin/env bash
# Fails when console/dist/ is not what console/build.sh makes from the sources (rebuilds into a
# temporary directory and compares byte for byte). Run it before committing console changes.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/odradek-console-check.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
"$HERE/build.sh" "$TMP/dist"
if diff -r "$HERE/dist" "$TMP/dist" >"$TMP/diff.txt"; then
  echo "[console/check] console/dist is up to date"
else
  echo "[console/check] console/dist differs from a fresh build of console/src (run console/build.sh and commit dist/):"
  head -n 40 "$TMP/diff.txt"
  exit 1
fi
