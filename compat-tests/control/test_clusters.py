"""pytest suite against Odradek's control API: every test gets a cluster of its own (a fixture
that POSTs /v1/clusters and deletes it afterwards), so the tests run in parallel (pytest-xdist,
`-n 3`) against one broker process without seeing each other's topics, groups or clocks.

Needs ODRADEK_CONTROL=HOST:PORT (the broker's --control-listen) and kafka-python.
"""
import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

CONTROL = os.environ["ODRADEK_CONTROL"]


def call(method, path, body=None):
    """(status, parsed JSON) of one control request."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://{CONTROL}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Cluster:
    def __init__(self, info):
        self.id = info["id"]
        self.bootstrap = info["bootstrap"]
        self.info = info

    def post(self, route, body=None, expect=200):
        status, v = call("POST", f"/v1/clusters/{self.id}{route}", body)
        assert status == expect, (route, body, status, v)
        return v

    def wait(self, **cond):
        return self.post("/wait", cond)

    def advance(self, ms):
        return self.post("/clock/advance", {"ms": ms})


def make_cluster(**opts):
    status, info = call("POST", "/v1/clusters", opts)
    assert status == 201, info
    return Cluster(info)


@pytest.fixture
def cluster():
    c = make_cluster()
    yield c
    call("DELETE", f"/v1/clusters/{c.id}")


@pytest.fixture
def manual_cluster():
    c = make_cluster(clock="manual")
    yield c
    call("DELETE", f"/v1/clusters/{c.id}")


def create_topic(c, name, **configs):
    admin = KafkaAdminClient(bootstrap_servers=c.bootstrap)
    try:
        admin.create_topics([NewTopic(name, 1, 1, topic_configs=configs)])
    finally:
        admin.close()


def produce(c, topic, pairs, **kw):
    p = KafkaProducer(bootstrap_servers=c.bootstrap, **kw)
    try:
        for k, v in pairs:
            p.send(topic, key=k.encode(), value=v.encode(), partition=0).get(timeout=30)
    finally:
        p.close()


def read_all(c, topic):
    consumer = KafkaConsumer(bootstrap_servers=c.bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=3000)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    end = consumer.end_offsets([tp])[tp]
    out = []
    deadline = time.time() + 20
    while consumer.position(tp) < end and time.time() < deadline:
        for recs in consumer.poll(timeout_ms=300).values():
            out.extend((r.key.decode(), r.value.decode()) for r in recs)
    consumer.close()
    return out


def test_clusters_are_isolated(cluster):
    other = make_cluster()
    try:
        create_topic(cluster, "orders")
        produce(cluster, "orders", [("k", f"v{i}") for i in range(5)])
        assert read_all(cluster, "orders") == [("k", f"v{i}") for i in range(5)]
        status, w = call("POST", f"/v1/clusters/{other.id}/wait", {"for": "topic", "topic": "orders", "timeout_ms": 100})
        assert status == 408 and w["seen"]["exists"] is False, w
        assert other.info["cluster_id"] != cluster.info["cluster_id"]
    finally:
        call("DELETE", f"/v1/clusters/{other.id}")


def test_compaction_on_demand_is_seen_by_a_consumer(cluster):
    create_topic(cluster, "table", **{"cleanup.policy": "compact"})
    produce(cluster, "table", [(f"k{k}", f"v{r}") for r in range(3) for k in range(3)])
    report = cluster.post("/maintenance/compaction", {"topic": "table"})
    assert report["records_removed"] == 6, report
    assert read_all(cluster, "table") == [(f"k{k}", "v2") for k in range(3)]


def test_session_expiry_by_advancing_the_clock(manual_cluster):
    c = manual_cluster
    create_topic(c, "ticks")
    group = f"py-{uuid.uuid4()}"
    stop = threading.Event()

    def poll():
        consumer = KafkaConsumer("ticks", bootstrap_servers=c.bootstrap, group_id=group,
                                 session_timeout_ms=45000, heartbeat_interval_ms=3000)
        while not stop.is_set():
            consumer.poll(timeout_ms=100)
        consumer.close(autocommit=False)

    t = threading.Thread(target=poll)
    t.start()
    try:
        assert c.wait(**{"for": "group", "group": group, "state": "Stable", "members": 1, "timeout_ms": 30000})["ok"]
        started = time.monotonic()
        c.advance(46_000)
        assert c.wait(**{"for": "group", "group": group, "members": 0, "timeout_ms": 1000})["ok"]
        assert time.monotonic() - started < 1.0
    finally:
        stop.set()
        t.join()


def test_an_injected_error_is_retried_by_the_producer(cluster):
    create_topic(cluster, "f")
    rule = cluster.post("/faults", {"match": {"api_key": 0, "topic": "f"},
                                    "action": {"type": "error", "code": 6}, "times": 1}, expect=201)
    produce(cluster, "f", [("k", "once")], retries=5, retry_backoff_ms=50)
    status, seen = call("GET", f"/v1/clusters/{cluster.id}/faults/{rule['id']}")
    assert status == 200 and seen["fired"] == 1, seen
    assert read_all(cluster, "f") == [("k", "once")]


def test_a_wait_that_times_out_says_what_it_saw(cluster):
    status, w = call("POST", f"/v1/clusters/{cluster.id}/wait",
                     {"for": "group", "group": "nobody", "state": "Stable", "timeout_ms": 200})
    assert status == 408, w
    assert w["ok"] is False and w["seen"] == {"group": "nobody", "exists": False}
    assert w["waited_ms"] >= 200


def test_a_snapshot_forks_into_a_new_cluster(cluster):
    create_topic(cluster, "events")
    produce(cluster, "events", [("k", "before")])
    snap = cluster.post("/snapshots", expect=201)
    produce(cluster, "events", [("k", "after")])
    fork = make_cluster(snapshot=snap["id"])
    try:
        assert read_all(fork, "events") == [("k", "before")]
        assert read_all(cluster, "events") == [("k", "before"), ("k", "after")]
    finally:
        call("DELETE", f"/v1/clusters/{fork.id}")
