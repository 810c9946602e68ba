#!/usr/bin/env bash
# Stock clients over TLS and SASL, against `odradek --dev --secure` (which makes the CA,
# certificates, users, a SASL_SSL listener and an mTLS listener, and writes client configs):
#   Java kafka-clients: SASL_SSL SCRAM-SHA-512 and PLAIN, mTLS, wrong passwords refused,
#     SCRAM users made and deleted with Admin.alterUserScramCredentials, ACLs made, described and
#     deleted with Admin (produce, consume in a group, transactional id refused then allowed),
#     re-authentication (KIP-368) every 2 s on a long-lived producer connection
#   kafka-python and confluent-kafka (librdkafka): SASL_SSL SCRAM-SHA-512 and PLAIN, mTLS,
#     a wrong password refused
#   KafkaJS: SASL_SSL SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN, a wrong password refused
#   Java and confluent-kafka: OAUTHBEARER with unsecured tokens, on a second broker
# Starts its own broker (like restart/), so it takes no BOOTSTRAP.
#   env: ODRADEK_BIN, ODRADEK_CACHE, COMPAT_RESULTS, COMPAT_KEEP
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export BIN="${ODRADEK_BIN:-$ROOT/../target/debug/odradek}"
# shellcheck source=../broker.sh
. "$ROOT/broker.sh"
# shellcheck source=../java/lib.sh
. "$ROOT/java/lib.sh"
java_compile
CACHE="${ODRADEK_CACHE:-${HOME:-/tmp}/.cache/odradek}"
PY="$CACHE/venv/bin/python"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/odradek-compat-security.XXXXXX")"
LOG="$WORK/broker.log"
cleanup() {
  broker_stop KILL >/dev/null 2>&1 || true
  if [ "${COMPAT_KEEP:-0}" = 1 ]; then echo "[security] kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

verdict() {  # verdict NAME RC
  if [ "$2" -eq 0 ]; then echo "PASS $1"; else echo "FAIL $1 (exit $2)"; fi
  [ -n "${COMPAT_RESULTS:-}" ] && { if [ "$2" -eq 0 ]; then echo "PASS $1"; else echo "FAIL $1"; fi >>"$COMPAT_RESULTS"; }
  return 0
}

if ! broker_start "$WORK/data" "$LOG" --dev --secure --set connections.max.reauth.ms=2000; then
  verdict security/broker-start 1
  exit 1
fi
SECURE="$WORK/data/secure"
for _ in $(seq 1 100); do [ -f "$SECURE/kafkajs.json" ] && break; sleep 0.1; done
if [ ! -f "$SECURE/kafkajs.json" ]; then
  echo "[security] no client configs in $SECURE"; tail -n 20 "$LOG"
  verdict security/client-configs 1
  exit 1
fi
verdict security/client-configs 0

fails=0
for s in scram plain mtls wrong-password scram-admin acls reauth; do
  rc=0
  java_scenario SecureClients "$SECURE" "$s" || rc=$?
  verdict "security/java/$s" "$rc"
  [ "$rc" -eq 0 ] || fails=$((fails + 1))
done
for client in kafka-python confluent-kafka; do
  for s in scram plain mtls wrong-password; do
    rc=0
    timeout --kill-after=5 60 "$PY" -u "$HERE/secure.py" "$SECURE" "$client" "$s" || rc=$?
    verdict "security/$client/$s" "$rc"
    [ "$rc" -eq 0 ] || fails=$((fails + 1))
  done
done
export NODE_PATH="$CACHE/node/node_modules"
for s in scram-sha-512 scram-sha-256 plain wrong-password; do
  rc=0
  timeout --kill-after=5 60 node "$HERE/secure.js" "$SECURE" "$s" || rc=$?
  verdict "security/kafkajs/$s" "$rc"
  [ "$rc" -eq 0 ] || fails=$((fails + 1))
done
if ! broker_stop TERM; then
  verdict security/broker-crashed 1
  fails=$((fails + 1))
fi

# OAUTHBEARER with Kafka's unsecured validator (a broker of its own: anyone may claim any
# principal there, which is why --dev --secure does not offer it).
OAUTH="$WORK/oauth"
mkdir -p "$OAUTH"
OPORT=$(free_port)
cat >"$OAUTH/server.properties" <<PROPS
listeners=SASL_PLAINTEXT://127.0.0.1:$OPORT
sasl.enabled.mechanisms=OAUTHBEARER
listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="admin";
auto.create.topics.enable=true
PROPS
cat >"$OAUTH/client-oauth.properties" <<PROPS
bootstrap.servers=127.0.0.1:$OPORT
security.protocol=SASL_PLAINTEXT
sasl.mechanism=OAUTHBEARER
sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";
PROPS
cat >"$OAUTH/librdkafka-oauth.conf" <<PROPS
bootstrap.servers=127.0.0.1:$OPORT
security.protocol=SASL_PLAINTEXT
sasl.mechanisms=OAUTHBEARER
enable.sasl.oauthbearer.unsecure.jwt=true
sasl.oauthbearer.config=principal=alice lifeSeconds=300
PROPS
# broker_start adds --listen; this broker's listeners come from its properties file.
RUST_LOG=info "$BIN" --data-dir "$OAUTH/data" --config "$OAUTH/server.properties" >>"$LOG" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 100); do port_open "$OPORT" && break; sleep 0.1; done
rc=0
java_scenario SecureClients "$OAUTH" oauth || rc=$?
verdict security/java/oauthbearer "$rc"
[ "$rc" -eq 0 ] || fails=$((fails + 1))
rc=0
timeout --kill-after=5 60 "$PY" -u "$HERE/secure.py" "$OAUTH" confluent-kafka oauth || rc=$?
verdict security/confluent-kafka/oauthbearer "$rc"
[ "$rc" -eq 0 ] || fails=$((fails + 1))
if ! broker_stop TERM; then
  verdict security/oauth-broker-crashed 1
  fails=$((fails + 1))
fi
[ "$fails" -eq 0 ] || { echo "[security] broker log tail:"; tail -n 30 "$LOG" | sed 's/^/    /'; }
[ "$fails" -eq 0 ]
