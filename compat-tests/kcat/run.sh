#!/usr/bin/env bash
# kcat (librdkafka) compat scenarios against a running broker.
#   usage: kcat/run.sh BOOTSTRAP [scenario ...]
#   env:   COMPAT_RESULTS  append "PASS|FAIL kcat/<name>" lines to this file
#          COMPAT_DEBUG=1  pass -d broker,protocol,msg to kcat (very verbose, to stderr)
#          KCAT_PARTITIONS partitions an auto-created topic gets (default 3; the harness
#                          starts this client's broker with --set num.partitions=3)
# kcat cannot create topics, so topics are auto-created by the first produce.
set -euo pipefail

BOOTSTRAP="${1:?usage: $0 BOOTSTRAP [scenario ...]}"
shift
PARTS="${KCAT_PARTITIONS:-3}"
RUN_ID="$(date +%s)-$$"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
DBG=()
[ "${COMPAT_DEBUG:-0}" = 1 ] && DBG=(-d "broker,protocol,msg,topic")

k() { timeout --kill-after=3 "${KCAT_CALL_TIMEOUT:-20}" kcat -b "$BOOTSTRAP" "${DBG[@]}" "$@"; }

fail_msg=""
fail() { fail_msg="$*"; return 1; }
expect_same() { # expected-file actual-file what
  if ! diff -u "$1" "$2" >"$WORK/diff" 2>&1; then
    echo "--- $3: expected vs actual" >&2
    head -n 40 "$WORK/diff" >&2
    fail "$3 differs from what was produced"
    return 1
  fi
}

# ---------------------------------------------------------------- scenarios

T_KEYED="kcat-keyed-$RUN_ID"

scenario_produce_keyed() {
  # 3 partitions x 20 keyed messages each, produced with explicit -p.
  : >"$WORK/expected-all"
  for p in $(seq 0 $((PARTS - 1))); do
    : >"$WORK/in-$p"
    for i in $(seq 0 19); do
      echo "key-$p-$i:value $p $i with spaces,commas;and=equals" >>"$WORK/in-$p"
      echo "$p|$i|key-$p-$i|value $p $i with spaces,commas;and=equals" >>"$WORK/expected-all"
    done
    k -P -t "$T_KEYED" -p "$p" -K: -l "$WORK/in-$p" || { fail "kcat -P -p $p exited non-zero"; return 1; }
  done
}

scenario_consume_each_partition() {
  : >"$WORK/got-all"
  for p in $(seq 0 $((PARTS - 1))); do
    k -C -t "$T_KEYED" -p "$p" -e -o beginning -q -f '%p|%o|%k|%s\n' >>"$WORK/got-all" \
      || { fail "kcat -C -p $p exited non-zero"; return 1; }
  done
  expect_same "$WORK/expected-all" "$WORK/got-all" "per-partition consume (partition|offset|key|value)"
}

scenario_consume_whole_topic() {
  # no -p: kcat assigns all partitions itself and stops at the end of every one
  k -C -t "$T_KEYED" -e -o beginning -q -f '%p|%o|%k|%s\n' >"$WORK/got-topic" \
    || { fail "kcat -C (all partitions) exited non-zero"; return 1; }
  sort -t'|' -k1,1n -k2,2n "$WORK/got-topic" >"$WORK/got-topic-sorted"
  expect_same "$WORK/expected-all" "$WORK/got-topic-sorted" "whole-topic consume"
}

scenario_consume_from_offset() {
  # -o 15 on one partition -> offsets 15..19; -o -3 (relative to end) on another -> 17..19
  local pa=$((1 % PARTS)) pb=$((2 % PARTS))
  k -C -t "$T_KEYED" -p "$pa" -o 15 -e -q -f '%o|%k\n' >"$WORK/got-o15" || { fail "kcat -C -o 15 failed"; return 1; }
  for i in 15 16 17 18 19; do echo "$i|key-$pa-$i"; done >"$WORK/exp-o15"
  expect_same "$WORK/exp-o15" "$WORK/got-o15" "consume from offset 15" || return 1
  k -C -t "$T_KEYED" -p "$pb" -o -3 -e -q -f '%o|%k\n' >"$WORK/got-tail" || { fail "kcat -C -o -3 failed"; return 1; }
  for i in 17 18 19; do echo "$i|key-$pb-$i"; done >"$WORK/exp-tail"
  expect_same "$WORK/exp-tail" "$WORK/got-tail" "consume last 3 (-o -3)" || return 1
  k -C -t "$T_KEYED" -p 0 -o beginning -c 2 -q -f '%o\n' >"$WORK/got-c2" || { fail "kcat -C -c 2 failed"; return 1; }
  printf '0\n1\n' >"$WORK/exp-c2"
  expect_same "$WORK/exp-c2" "$WORK/got-c2" "consume count 2 (-c 2)"
}

scenario_metadata() {
  k -L -t "$T_KEYED" >"$WORK/meta" 2>&1 || { cat "$WORK/meta" >&2; fail "kcat -L -t exited non-zero"; return 1; }
  grep -q "topic \"$T_KEYED\" with $PARTS partitions" "$WORK/meta" || { cat "$WORK/meta" >&2; fail "kcat -L -t does not show $T_KEYED with $PARTS partitions"; return 1; }
  grep -Eq '^ *1 brokers:' "$WORK/meta" || { cat "$WORK/meta" >&2; fail "kcat -L does not report exactly 1 broker"; return 1; }
  for p in $(seq 0 $((PARTS - 1))); do
    grep -Eq "partition $p, leader [0-9]+, replicas: [0-9]+, isrs: [0-9]+" "$WORK/meta" \
      || { cat "$WORK/meta" >&2; fail "kcat -L: no healthy leader/replicas/isrs line for partition $p"; return 1; }
  done
  # full listing (no -t) also contains the topic
  k -L >"$WORK/meta-all" 2>&1 || { fail "kcat -L exited non-zero"; return 1; }
  grep -q "topic \"$T_KEYED\"" "$WORK/meta-all" || { fail "kcat -L (all topics) does not list $T_KEYED"; return 1; }
  # JSON metadata parses and names the topic
  k -L -J -t "$T_KEYED" >"$WORK/meta.json" 2>/dev/null || { fail "kcat -L -J exited non-zero"; return 1; }
  python3 - "$WORK/meta.json" "$T_KEYED" "$PARTS" <<'PY' || { fail "kcat -L -J content wrong"; return 1; }
import json, sys
m = json.load(open(sys.argv[1]))
t = [t for t in m["topics"] if t["topic"] == sys.argv[2]]
assert t, "topic missing"
assert len(t[0]["partitions"]) == int(sys.argv[3]), t[0]
assert len(m["brokers"]) == 1, m["brokers"]
PY
}

scenario_headers_and_nulls() {
  local t="kcat-hdr-$RUN_ID"
  printf 'k1:with-headers\n' | k -P -t "$t" -p 0 -K: -H "h1=v1" -H "h2=second value" \
    || { fail "kcat -P -H failed"; return 1; }
  # -Z: an empty value is sent as NULL
  printf 'nullval:\n' | k -P -t "$t" -p 0 -K: -Z || { fail "kcat -P -Z failed"; return 1; }
  k -C -t "$t" -p 0 -o 0 -c 1 -q -f '%o|%k|%s|%h\n' >"$WORK/got-hdr" || { fail "kcat -C (headers) failed"; return 1; }
  printf '0|k1|with-headers|h1=v1,h2=second value\n' >"$WORK/exp-hdr"
  expect_same "$WORK/exp-hdr" "$WORK/got-hdr" "headers (offset|key|value|headers)" || return 1
  k -C -t "$t" -p 0 -o 1 -c 1 -q -f '%o|%k|%S\n' >"$WORK/got-null" || { fail "kcat -C (null value) failed"; return 1; }
  printf '1|nullval|-1\n' >"$WORK/exp-null"
  expect_same "$WORK/exp-null" "$WORK/got-null" "NULL value (offset|key|value size)"
}

scenario_compression() {
  local t="kcat-comp-$RUN_ID" codec i
  : >"$WORK/exp-comp"
  local off=0
  for codec in gzip snappy lz4 zstd; do
    : >"$WORK/in-$codec"
    for i in $(seq 1 50); do
      echo "$codec-$i:$codec payload $i $(printf 'x%.0s' $(seq 1 $((i % 20))))" >>"$WORK/in-$codec"
      echo "$off|$codec-$i|$codec payload $i $(printf 'x%.0s' $(seq 1 $((i % 20))))" >>"$WORK/exp-comp"
      off=$((off + 1))
    done
    k -P -t "$t" -p 0 -K: -z "$codec" -X linger.ms=50 -l "$WORK/in-$codec" || { fail "kcat -P -z $codec failed"; return 1; }
  done
  k -C -t "$t" -p 0 -e -o beginning -q -f '%o|%k|%s\n' >"$WORK/got-comp" || { fail "kcat -C (compressed) failed"; return 1; }
  expect_same "$WORK/exp-comp" "$WORK/got-comp" "gzip/snappy/lz4/zstd batches"
}

scenario_idempotent_producer() {
  local t="kcat-idem-$RUN_ID"
  seq 1 300 | sed 's/^/k:/' >"$WORK/in-idem"
  k -P -t "$t" -p 0 -K: -X enable.idempotence=true -X acks=all -l "$WORK/in-idem" \
    || { fail "kcat -P -X enable.idempotence=true failed"; return 1; }
  k -C -t "$t" -p 0 -e -o beginning -q -f '%o|%s\n' >"$WORK/got-idem" || { fail "kcat -C (idempotent topic) failed"; return 1; }
  seq 1 300 | awk '{print NR-1 "|" $0}' >"$WORK/exp-idem"
  expect_same "$WORK/exp-idem" "$WORK/got-idem" "idempotent producer output"
}

scenario_query_offsets_by_time() {
  local t="kcat-ts-$RUN_ID" i
  # kcat -P has no per-message timestamp flag; produce three messages at distinct times
  # and look them up by their broker-visible timestamps (%T) via kcat -Q (ListOffsets).
  for i in 0 1 2; do
    echo "m$i" | k -P -t "$t" -p 0 || { fail "produce m$i failed"; return 1; }
    sleep 0.05
  done
  k -C -t "$t" -p 0 -e -o beginning -q -f '%o %T\n' >"$WORK/ts" || { fail "kcat -C %T failed"; return 1; }
  local ts1
  ts1=$(awk '$1==1 {print $2}' "$WORK/ts")
  [ -n "$ts1" ] && [ "$ts1" -gt 0 ] || { cat "$WORK/ts" >&2; fail "no timestamp for offset 1"; return 1; }
  k -Q -t "$t:0:$ts1" >"$WORK/q" 2>&1 || { cat "$WORK/q" >&2; fail "kcat -Q exited non-zero"; return 1; }
  grep -Eq "^$t \[0\] offset 1\$" "$WORK/q" || { cat "$WORK/ts" "$WORK/q" >&2; fail "kcat -Q $t:0:$ts1 did not return offset 1"; return 1; }
  # consumer start by timestamp: -o s@TS resolves via ListOffsets, then fetches
  k -C -t "$t" -p 0 -o "s@$ts1" -e -q -f '%o|%s\n' >"$WORK/got-sat" || { fail "kcat -C -o s@$ts1 failed"; return 1; }
  printf '1|m1\n2|m2\n' >"$WORK/exp-sat"
  expect_same "$WORK/exp-sat" "$WORK/got-sat" "consume from timestamp (-o s@TS)"
}

scenario_large_message() {
  local t="kcat-big-$RUN_ID"
  python3 -c 'import sys; sys.stdout.write("B" * 200000)' >"$WORK/big"
  k -P -t "$t" -p 0 "$WORK/big" || { fail "kcat -P (200 KB file) failed"; return 1; }
  k -C -t "$t" -p 0 -e -o beginning -q -f '%S\n' >"$WORK/got-big" || { fail "kcat -C (200 KB) failed"; return 1; }
  echo 200000 >"$WORK/exp-big"
  expect_same "$WORK/exp-big" "$WORK/got-big" "200 KB message size"
}

ALL=(produce_keyed consume_each_partition consume_whole_topic consume_from_offset metadata
     headers_and_nulls compression idempotent_producer query_offsets_by_time large_message)
SEL=("$@")
[ "${#SEL[@]}" -eq 0 ] && SEL=("${ALL[@]}")

echo "[kcat] $(kcat -V 2>&1 | grep -o 'Version [^ ]* .*librdkafka [^ ]*' | sed 's/(JSON.*librdkafka/(librdkafka/')"
pass=0
failed=0
for s in "${SEL[@]}"; do
  fail_msg=""
  start=$(date +%s)
  if "scenario_$s"; then
    echo "PASS kcat/$s ($(( $(date +%s) - start ))s)"
    pass=$((pass + 1))
    [ -n "${COMPAT_RESULTS:-}" ] && echo "PASS kcat/$s" >>"$COMPAT_RESULTS"
  else
    echo "FAIL kcat/$s ($(( $(date +%s) - start ))s): ${fail_msg:-non-zero exit}"
    failed=$((failed + 1))
    [ -n "${COMPAT_RESULTS:-}" ] && echo "FAIL kcat/$s" >>"$COMPAT_RESULTS"
  fi
done
echo "[kcat] $pass passed, $failed failed"
[ "$failed" -eq 0 ]
