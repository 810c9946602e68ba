# Odradek: the two commands a newcomer needs are `make run` and `make test`.
CARGO ?= cargo
# Two cores: keep test parallelism modest (each integration test runs a broker and real clients).
TEST_THREADS ?= 2

.PHONY: run test build unit test-cluster test-cluster-run compat check console bench bench-matrix bench-micro bench-broker bench-rtt bench-security bench-clusters bench-compare bench-metrics test-differential kafka-run fmt clippy clean

## Run a broker on 127.0.0.1:9092 with data in ./data (release build); metrics, health and the
## web console on http://127.0.0.1:9308/ (/metrics, /healthz, /readyz, /console/).
run:
	$(CARGO) run --release --bin odradek -- --data-dir ./data --listen 127.0.0.1:9092 --metrics-listen 127.0.0.1:9308

## Everything: the format and lint gate (make check), unit, property and integration tests (librdkafka), then the stock-client
## compatibility suite (Java kafka-clients 4.3 and JUnit, kcat, kafka-python and pytest, confluent-kafka, KafkaJS, Go, Connect + Debezium, the control API), installing what it needs.
test: check build unit compat

build:
	$(CARGO) build --bins

unit:
	$(CARGO) test -- --test-threads=$(TEST_THREADS)
	$(MAKE) test-cluster

## Several brokers over etcd and an S3 server (feature `cluster`, docs/cluster.md): builds the
## cluster broker and its test into target/debug/odradek-cluster{,-test} and runs its unit tests;
## compat-tests/cluster runs the three-broker tests (librdkafka and Java) in the compat suite's
## second lane. Installs etcd, protoc and moto first.
test-cluster:
	tests/cluster/setup.sh >/dev/null
	mkdir -p target
	$(CARGO) test --features cluster --lib --test cluster --no-run 2>target/cluster-build.log \
	  || { cat target/cluster-build.log; exit 1; }
	$(CARGO) test --features cluster --lib cluster::
	cp target/debug/odradek target/debug/odradek-cluster
	cp "$$(sed -n 's/.*Executable tests\/cluster.rs (\(.*\))/\1/p' target/cluster-build.log)" target/debug/odradek-cluster-test
	# target/debug/odradek is the default build again: the rest of the compat suite runs it.
	$(CARGO) build --bins

## The three-broker tests alone (they also run in make test, through compat-tests/cluster).
test-cluster-run: test-cluster
	COMPAT_CLIENTS=cluster compat-tests/run.sh

## Two lanes: Connect + Debezium (compat-tests/*/lane2) beside the other clients; mostly waiting,
## they fit on 2 cores. COMPAT_LANES=1 runs every client in turn.
compat: build
	COMPAT_LANES=$${COMPAT_LANES:-2} compat-tests/run.sh

## Micro-benchmarks of the hot paths (criterion-free, see benches/).
bench-micro:
	$(CARGO) bench --bench hot_paths

## End-to-end load against a broker: make bench-broker BROKER=127.0.0.1:9092
BROKER ?= 127.0.0.1:9092
bench-broker:
	$(CARGO) bench --bench loadgen -- --bootstrap $(BROKER)

## librdkafka's rdkafka_performance matrix (produce, consume, latency) against any broker, the
## figures in README's Performance section: make bench-matrix BROKER=127.0.0.1:9092
bench-matrix:
	benches/matrix/bench-broker.sh $(BROKER) odradek

## What TLS, SASL and ACLs cost on produce and fetch (embedded broker, raw protocol).
bench-security:
	$(CARGO) bench --bench security

## What an isolated cluster (POST /v1/clusters) costs: create/delete time, idle RSS, threads, CPU.
bench-clusters:
	$(CARGO) bench --bench clusters

## The broker's own produce round trip and end-to-end latency at a fixed rate, with raw
## requests (no client library): make bench-rtt BROKER=127.0.0.1:9092 [RATE=10000]
RATE ?= 10000
bench-rtt:
	$(CARGO) bench --bench rtt -- --bootstrap $(BROKER) --rate $(RATE) --acks 1
	$(CARGO) bench --bench rtt -- --bootstrap $(BROKER) --rate $(RATE) --acks all

## The same load against Odradek (release) and Apache Kafka 4.3 (its defaults, and with
## log.flush.interval.messages=1), alternating, in one run: librdkafka's rdkafka_performance and
## Kafka's own perf tests, startup time, RSS; prints both with ratios (benches/compare/compare.sh).
bench-compare:
	benches/compare/compare.sh

## What metrics cost: the rdkafka_performance matrix against Odradek with metrics on (and scraped
## every 5 s) and with --no-metrics, alternating, in one run (benches/compare/compare.sh).
bench-metrics:
	BROKERS="odradek odradek-nometrics" DO_JAVA=0 ROUNDS=$${ROUNDS:-3} benches/compare/compare.sh

## Differential conformance against Apache Kafka 4.3 in full: the raw-protocol differential test and
## every client's scenarios run against Kafka (make test runs a short subset: compat-tests/differential).
test-differential: build
	DIFF_CLIENTS=all compat-tests/differential/run.sh

## Apache Kafka 4.3 itself (from Maven Central) on 127.0.0.1:9092, the reference broker.
kafka-run:
	compat-tests/reference/kafka.sh run

fmt:
	$(CARGO) fmt

## The habits CI holds: the tree formatted (rustfmt.toml) and clippy clean, warnings denied, and the
## console's committed build (console/dist) what its sources build to.
check:
	$(CARGO) fmt --check
	tests/cluster/setup.sh >/dev/null
	$(CARGO) clippy --all-targets --features cluster -- -D warnings
	console/check.sh

## Rebuild the web console (console/src, TypeScript) into console/dist, which the binary embeds.
console:
	console/build.sh

clippy:
	$(CARGO) clippy --all-targets

clean:
	$(CARGO) clean
	rm -rf ./data
