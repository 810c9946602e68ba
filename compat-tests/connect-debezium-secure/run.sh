#!/usr/bin/env bash
# Kafka Connect with Debezium (PostgreSQL CDC) over SASL_SSL with SCRAM-SHA-512 and ACLs on:
# the at-least-once run of connect-debezium/ against `odradek --dev --secure`.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CDC_SECURE=1 CDC_LABEL=connect-debezium-secure CDC_MODES="${CDC_MODES:-alo}" exec "$HERE/../connect-debezium/run.sh" "$@"
