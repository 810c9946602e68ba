"""Odradek compat scenarios driven by confluent-kafka (Confluent's Python client, on the
librdkafka its wheel bundles).

usage: python compat.py BOOTSTRAP [scenario ...]
Prints "PASS <name>" / "FAIL <name>: reason" per scenario, appends the same verdicts to
$COMPAT_RESULTS when set, and exits 1 if any scenario failed.
"""
import os
import sys
import time
import uuid

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions, NewTopic)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from compat_lib import Mismatch, check, check_eq, run_scenarios, topic_name  # noqa: E402

BOOTSTRAP = None


_ADMIN = None


def admin():
    """One AdminClient for the run (a client that is garbage-collected while its futures are
    pending fails them with _DESTROY)."""
    global _ADMIN
    if _ADMIN is None:
        _ADMIN = AdminClient({"bootstrap.servers": BOOTSTRAP})
    return _ADMIN


def create_topic(name, partitions, config=None):
    fs = admin().create_topics([NewTopic(name, partitions, 1, config=config or {})], request_timeout=15)
    fs[name].result(timeout=20)


def produce_all(p, topic, records):
    """records: (partition or None, key, value, headers); returns delivered (partition, offset, key, value) in order."""
    delivered, errors = [], []

    def cb(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered.append((msg.partition(), msg.offset(), msg.key(), msg.value()))
    for part, key, value, headers in records:
        kw = {"key": key, "value": value, "headers": headers, "on_delivery": cb}
        if part is not None:
            kw["partition"] = part
        p.produce(topic, **kw)
        p.poll(0)
    check_eq(0, p.flush(30), "messages left unflushed")
    check(not errors, "delivery errors: %r" % errors)
    return delivered


def consume_range(topic, partitions, n, isolation="read_uncommitted", seconds=30):
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "unused-" + uuid.uuid4().hex[:6],
                  "enable.auto.commit": False, "isolation.level": isolation,
                  "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING) for p in range(partitions)])
    out, eof, deadline = [], set(), time.time() + seconds
    while time.time() < deadline and (len(out) < n or len(eof) < partitions):
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                eof.add(m.partition())
                continue
            raise Mismatch("consume error %s" % m.error())
        out.append(m)
    c.close()
    return out


# --------------------------------------------------------------------------- scenarios

def scenario_produce_consume():
    """Keyed records on 3 partitions: same key -> same partition, per-partition order, headers."""
    topic = topic_name("ck-pc")
    create_topic(topic, 3)
    p = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True, "linger.ms": 5})
    recs = [(None, b"key-%d" % (i % 7), b"value-%d" % i, [("h", b"%d" % i)]) for i in range(300)]
    delivered = produce_all(p, topic, recs)
    check_eq(300, len(delivered), "delivered")
    part_of = {}
    for part, _off, key, _v in delivered:
        check(part_of.setdefault(key, part) == part, "key %r on one partition" % key)
    got = consume_range(topic, 3, 300)
    check_eq(300, len(got), "records read back")
    for part in range(3):
        sent = [v for (pp, _o, _k, v) in sorted(delivered, key=lambda d: d[1]) if pp == part]
        read = [m.value() for m in got if m.partition() == part]
        check_eq(sent, read, "partition %d in order" % part)
    m = got[0]
    check_eq(b"value-" + m.headers()[0][1], m.value(), "header travels with its record")
    return "300 keyed records over %d partitions" % len(set(part_of.values()))


def scenario_transactions():
    """One committed and one aborted transaction: read_committed sees only the committed one."""
    topic = topic_name("ck-txn")
    create_topic(topic, 2)
    p = Producer({"bootstrap.servers": BOOTSTRAP, "transactional.id": "ck-" + uuid.uuid4().hex[:8]})
    p.init_transactions(20)
    p.begin_transaction()
    produce_all(p, topic, [(i % 2, b"k", b"committed-%d" % i, None) for i in range(10)])
    p.commit_transaction(20)
    p.begin_transaction()
    produce_all(p, topic, [(i % 2, b"k", b"aborted-%d" % i, None) for i in range(10)])
    p.abort_transaction(20)
    p.begin_transaction()
    produce_all(p, topic, [(0, b"k", b"last", None)])
    p.commit_transaction(20)
    rc = sorted(m.value() for m in consume_range(topic, 2, 11, "read_committed"))
    check_eq(sorted([b"committed-%d" % i for i in range(10)] + [b"last"]), rc, "read_committed")
    ru = consume_range(topic, 2, 21, "read_uncommitted")
    check_eq(21, len(ru), "read_uncommitted sees aborted records too")
    return "read_committed 11 of 21 records"


def scenario_group_commit_resume():
    """Group consumer (classic, then KIP-848) commits after 20 records; the next member resumes there."""
    out = []
    for protocol in ("classic", "consumer"):
        topic = topic_name("ck-grp")
        create_topic(topic, 2)
        p = Producer({"bootstrap.servers": BOOTSTRAP})
        produce_all(p, topic, [(i % 2, None, b"v%d" % i, None) for i in range(40)])
        group = "ck-group-" + uuid.uuid4().hex[:6]
        conf = {"bootstrap.servers": BOOTSTRAP, "group.id": group, "enable.auto.commit": False,
                "auto.offset.reset": "earliest", "group.protocol": protocol}
        if protocol == "classic":
            conf["session.timeout.ms"] = 6000
        c = Consumer(conf)
        c.subscribe([topic])
        first, deadline = [], time.time() + 30
        while len(first) < 20 and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                first.append(m)
        check_eq(20, len(first), "%s: first member read" % protocol)
        c.commit(asynchronous=False)
        committed = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
        c.close()
        want = {}
        for m in first:
            want[m.partition()] = max(want.get(m.partition(), 0), m.offset() + 1)
        check_eq(want, {tp.partition: tp.offset for tp in committed if tp.offset >= 0}, "%s: committed offsets" % protocol)
        c = Consumer(conf)
        c.subscribe([topic])
        second, deadline = [], time.time() + 30
        while len(second) < 20 and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                second.append(m)
        c.close()
        check_eq(20, len(second), "%s: second member read the rest" % protocol)
        seen = {(m.partition(), m.offset()) for m in first}
        check(not seen & {(m.partition(), m.offset()) for m in second}, "%s: nothing read twice" % protocol)
        out.append(protocol)
    return "resumed at the committed offsets with group.protocol=" + " and ".join(out)


def scenario_group_regex():
    """KIP-848 regex subscription: matching topics only, and a matching topic created later."""
    pre = "ckrx" + uuid.uuid4().hex[:6]
    p = Producer({"bootstrap.servers": BOOTSTRAP})
    for t in (pre + "-a", pre + "-b", "other-" + pre):
        create_topic(t, 1)
        produce_all(p, t, [(0, None, ("%s-%d" % (t, i)).encode(), None) for i in range(5)])
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "g" + pre, "group.protocol": "consumer",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe(["^" + pre + "-.*"])

    def read_until(n, seconds):
        deadline = time.time() + seconds
        while len(got) < n and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value().decode())
    got = []
    read_until(10, 30)
    check_eq(sorted("%s-%s-%d" % (pre, t, i) for t in "ab" for i in range(5)), sorted(got), "records of the matching topics")
    create_topic(pre + "-c", 1)
    produce_all(p, pre + "-c", [(0, None, ("%s-c-%d" % (pre, i)).encode(), None) for i in range(5)])
    read_until(15, 45)
    time.sleep(1)
    read_until(16, 1)   # nothing else may arrive (the non-matching topic in particular)
    c.close()
    check_eq(sorted("%s-%s-%d" % (pre, t, i) for t in "abc" for i in range(5)), sorted(got), "records after the new topic")
    return "regex ^%s-.* picked up a topic created after subscribing" % pre


def scenario_admin():
    """Topics, partitions, configs (incremental), records deletion, groups listing."""
    a = admin()
    topic = topic_name("ck-admin")
    create_topic(topic, 1, {"retention.ms": "86400000"})
    md = a.list_topics(topic, timeout=10)
    check_eq(1, len(md.topics[topic].partitions), "partitions after create")
    a.create_partitions([NewPartitions(topic, 3)])[topic].result(20)
    check_eq(3, len(a.list_topics(topic, timeout=10).topics[topic].partitions), "partitions after create_partitions")
    res = ConfigResource(ConfigResource.Type.TOPIC, topic,
                         incremental_configs=[ConfigEntry("cleanup.policy", "compact",
                                                          incremental_operation=AlterConfigOpType.SET)])
    for f in a.incremental_alter_configs([res]).values():
        f.result(20)
    desc = a.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
    cfg = list(desc.values())[0].result(20)
    check_eq("compact", cfg["cleanup.policy"].value, "cleanup.policy after incremental alter")
    check_eq("86400000", cfg["retention.ms"].value, "retention.ms from create")
    p = Producer({"bootstrap.servers": BOOTSTRAP})
    produce_all(p, topic, [(0, b"k%d" % i, b"v", None) for i in range(10)])
    # records of a compact-only topic cannot be deleted (Kafka: POLICY_VIOLATION)
    try:
        list(a.delete_records([TopicPartition(topic, 0, 4)]).values())[0].result(20)
        raise AssertionError("delete_records on a compacted topic was accepted")
    except KafkaException as e:
        check_eq(KafkaError.POLICY_VIOLATION, e.args[0].code(), "delete_records on cleanup.policy=compact")
    res = ConfigResource(ConfigResource.Type.TOPIC, topic,
                         incremental_configs=[ConfigEntry("cleanup.policy", "compact,delete",
                                                          incremental_operation=AlterConfigOpType.SET)])
    for f in a.incremental_alter_configs([res]).values():
        f.result(20)
    got = None
    deadline = time.time() + 10   # Kafka applies a config change a moment after answering
    while got is None:
        try:
            got = list(a.delete_records([TopicPartition(topic, 0, 4)]).values())[0].result(20)
        except KafkaException as e:
            if e.args[0].code() != KafkaError.POLICY_VIOLATION or time.time() > deadline:
                raise
            time.sleep(0.2)
    check_eq(4, got.low_watermark, "low watermark after delete_records (cleanup.policy=compact,delete)")
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "ck-wm"})
    low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.close()
    check_eq((4, 10), (low, high), "watermarks")
    a.delete_topics([topic])[topic].result(20)
    deadline = time.time() + 10
    while topic in a.list_topics(timeout=10).topics and time.time() < deadline:
        time.sleep(0.2)
    check(topic not in a.list_topics(timeout=10).topics, "topic deleted")
    return "create/partitions/incremental configs/delete_records/delete"


def scenario_offsets_for_times():
    topic = topic_name("ck-time")
    create_topic(topic, 1)
    p = Producer({"bootstrap.servers": BOOTSTRAP})
    base = int(time.time() * 1000) - 100000
    for i in range(10):
        p.produce(topic, value=b"v%d" % i, partition=0, timestamp=base + i * 1000)
    check_eq(0, p.flush(30), "flushed")
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "ck-time"})
    got = c.offsets_for_times([TopicPartition(topic, 0, base + 4500)], timeout=10)
    c.close()
    check_eq(5, got[0].offset, "first offset at or after the timestamp")
    return "offset 5 for t0+4.5 s"


SCENARIOS = {
    "produce-consume": scenario_produce_consume,
    "transactions": scenario_transactions,
    "group-commit-resume": scenario_group_commit_resume,
    "group-regex": scenario_group_regex,
    "admin": scenario_admin,
    "offsets-for-times": scenario_offsets_for_times,
}


def start(bootstrap):
    global BOOTSTRAP
    BOOTSTRAP = bootstrap
    print("[confluent-kafka] client %s, librdkafka %s" % (confluent_kafka.__version__, confluent_kafka.libversion()[0]))


def main(argv):
    return run_scenarios("confluent-kafka", SCENARIOS, argv, __doc__, start)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
