"""Odradek compat scenarios driven by the kafka-python client.

usage: python compat.py BOOTSTRAP [scenario ...]
Prints "PASS <name>" / "FAIL <name>: reason" per scenario, appends the same verdicts to
$COMPAT_RESULTS when set, and exits 1 if any scenario failed.

Most scenarios use group-less consumers (group_id=None + assign() + seek); the group-*
scenarios use consumer groups (group_id + subscribe, classic protocol) and commits.
The client's api_version is auto-detected (ApiVersions) rather than pinned.
"""
import logging
import os
import sys
import time

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from compat_lib import Mismatch, check, check_eq, run_scenarios, topic_name  # noqa: E402

BOOTSTRAP = None
TIMEOUT_MS = 15000


def admin():
    return KafkaAdminClient(bootstrap_servers=BOOTSTRAP, client_id="odradek-compat-py-admin",
                            request_timeout_ms=TIMEOUT_MS)


def producer(**extra):
    cfg = dict(bootstrap_servers=BOOTSTRAP, client_id="odradek-compat-py-producer", acks="all",
               request_timeout_ms=TIMEOUT_MS, max_block_ms=20000)
    cfg.update(extra)
    return KafkaProducer(**cfg)


def consumer():
    return KafkaConsumer(bootstrap_servers=BOOTSTRAP, client_id="odradek-compat-py-consumer",
                         group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                         request_timeout_ms=TIMEOUT_MS + 5000, consumer_timeout_ms=1000)


def poll_at_least(c, n, seconds=30):
    """Poll until n records arrived (or the deadline passes); records in arrival order."""
    out = []
    deadline = time.time() + seconds
    while len(out) < n and time.time() < deadline:
        batch = c.poll(timeout_ms=500)
        for _tp, recs in sorted(batch.items(), key=lambda kv: kv[0].partition):
            out.extend(recs)
    return out


def create_topic(a, name, partitions, configs=None):
    a.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})], timeout_ms=TIMEOUT_MS)


# --------------------------------------------------------------------------- scenarios

def scenario_produce_consume(idempotent):
    """Keyed records with headers to a 3-partition topic, read back field by field."""
    n = 500
    topic = topic_name("py-pc")
    a = admin()
    try:
        create_topic(a, topic, 3)
    finally:
        a.close()
    extra = {"enable_idempotence": True} if idempotent else {}
    p = producer(**extra)
    sent = {}
    try:
        futures = []
        for i in range(n):
            key = ("key-%d" % i).encode()
            value = None if i % 89 == 5 else ("value-%d-%s" % (i, "y" * (i % 25))).encode()
            headers = [("idx", str(i).encode()), ("parity", b"even" if i % 2 == 0 else b"odd")]
            futures.append((key, value, headers, p.send(topic, key=key, value=value, headers=headers)))
        p.flush(timeout=30)
        for key, value, headers, f in futures:
            md = f.get(timeout=30)
            check(0 <= md.partition < 3, "acked on bad partition %r" % (md.partition,))
            pos = (md.partition, md.offset)
            check(pos not in sent, "two records acked at %r" % (pos,))
            sent[pos] = (key, value, headers, md.timestamp)
    finally:
        p.close(timeout=10)
    parts = sorted({pt for pt, _ in sent})
    check(len(parts) > 1, "all keys landed on one partition: %r" % parts)
    for pt in parts:
        offs = sorted(o for q, o in sent if q == pt)
        check_eq(list(range(len(offs))), offs, "acked offsets on partition %d are dense from 0" % pt)

    c = consumer()
    try:
        tps = [TopicPartition(topic, i) for i in range(3)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        ends = c.end_offsets(tps)
        begins = c.beginning_offsets(tps)
        for tp in tps:
            check_eq(sum(1 for q, _ in sent if q == tp.partition), ends[tp], "end_offsets(%s)" % (tp,))
            check_eq(0, begins[tp], "beginning_offsets(%s)" % (tp,))
        got = poll_at_least(c, n)
        check_eq(n, len(got), "records consumed")
        seen = set()
        for r in got:
            pos = (r.partition, r.offset)
            check(pos in sent, "consumed %r which was never acked" % (pos,))
            check(pos not in seen, "consumed %r twice" % (pos,))
            seen.add(pos)
            key, value, headers, ts = sent[pos]
            check_eq(key, r.key, "key at %r" % (pos,))
            check_eq(value, r.value, "value at %r" % (pos,))
            check_eq(headers, [(h[0], h[1]) for h in r.headers], "headers at %r" % (pos,))
            check_eq(ts, r.timestamp, "timestamp at %r" % (pos,))
        for tp in tps:
            check_eq(ends[tp], c.position(tp), "position after reading %s" % (tp,))
    finally:
        c.close()
    return "%d records over partitions %r" % (n, parts)


def scenario_produce_consume_default():
    return scenario_produce_consume(idempotent=False)


def scenario_produce_consume_idempotent():
    return scenario_produce_consume(idempotent=True)


def scenario_gzip():
    """A gzip-compressed batch round-trips; seeking into the middle of it works."""
    n = 200
    topic = topic_name("py-gzip")
    a = admin()
    try:
        create_topic(a, topic, 1)
    finally:
        a.close()
    p = producer(compression_type="gzip", linger_ms=50)
    try:
        fs = [p.send(topic, key=b"k%d" % i, value=b"gz-%d-%s" % (i, b"z" * (i % 50)), partition=0) for i in range(n)]
        p.flush(timeout=30)
        offs = [f.get(timeout=30).offset for f in fs]
    finally:
        p.close(timeout=10)
    check_eq(list(range(n)), offs, "acked offsets")
    c = consumer()
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        got = poll_at_least(c, n)
        check_eq(n, len(got), "records consumed")
        for i, r in enumerate(got):
            check_eq(i, r.offset, "offset of record %d" % i)
            check_eq(b"gz-%d-%s" % (i, b"z" * (i % 50)), r.value, "value at offset %d" % i)
        c.seek(tp, 123)
        got = poll_at_least(c, 1)
        check(got, "nothing read after seek(123)")
        check_eq(123, got[0].offset, "first offset after seek into a compressed batch")
    finally:
        c.close()
    return "%d gzip records" % n


def scenario_offsets_for_times():
    """Explicit timestamps 1000..10000; offsets_for_times(2500) -> the 3000 record."""
    topic = topic_name("py-oft")
    a = admin()
    try:
        create_topic(a, topic, 1, {"retention.ms": "-1"})
    finally:
        a.close()
    p = producer()
    try:
        for i in range(10):
            md = p.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0, timestamp_ms=1000 * (i + 1)).get(timeout=30)
            check_eq(i, md.offset, "acked offset of record %d" % i)
    finally:
        p.close(timeout=10)
    c = consumer()
    try:
        tp = TopicPartition(topic, 0)
        for query, want in [(0, 0), (1000, 0), (2500, 2), (3000, 2), (10000, 9)]:
            res = c.offsets_for_times({tp: query})[tp]
            check(res is not None, "offsets_for_times(%d) returned None" % query)
            check_eq(want, res.offset, "offsets_for_times(%d).offset" % query)
            check_eq(1000 * (want + 1), res.timestamp, "offsets_for_times(%d).timestamp" % query)
        check(c.offsets_for_times({tp: 10001})[tp] is None, "offsets_for_times(10001) should be None")
        c.assign([tp])
        c.seek(tp, 4)
        got = poll_at_least(c, 6)
        check_eq([4, 5, 6, 7, 8, 9], [r.offset for r in got], "offsets after seek(4)")
        check_eq([b"v%d" % i for i in range(4, 10)], [r.value for r in got], "values after seek(4)")
        check_eq([1000 * (i + 1) for i in range(4, 10)], [r.timestamp for r in got], "timestamps after seek(4)")
    finally:
        c.close()
    return "offsets_for_times and seek ok"


def scenario_admin_metadata():
    """list_topics / describe_topics / describe_cluster.

    kafka-python's admin sends Metadata with include_cluster_authorized_operations=True and
    include_topic_authorized_operations=True and decodes the returned bit fields.
    """
    topic = topic_name("py-meta")
    a = admin()
    try:
        create_topic(a, topic, 2)
        check(topic in a.list_topics(), "list_topics does not contain %s" % topic)
        desc = a.describe_topics([topic])
        check_eq(1, len(desc), "describe_topics result count")
        check_eq(0, desc[0]["error_code"], "describe_topics error_code")
        check_eq(2, len(desc[0]["partitions"]), "partition count")
        cluster = a.describe_cluster()
        check(cluster.get("cluster_id"), "describe_cluster has no cluster_id: %r" % (cluster,))
        check_eq(1, len(cluster["brokers"]), "broker count in describe_cluster")
        return "cluster_id=%s topic ops=%s" % (cluster.get("cluster_id"), desc[0].get("authorized_operations"))
    finally:
        a.close()


def scenario_admin_topics():
    """create_topics, describe_configs, create_partitions, delete_records, delete_topics.

    Verified through calls that do not ask for authorized operations (the consumer's
    metadata, the admin client's cluster view), so scenario_admin_metadata's checks stay
    separate.
    """
    topic = topic_name("py-admin")
    a = admin()
    c = consumer()
    try:
        create_topic(a, topic, 2, {"retention.ms": "7654321"})
        try:
            create_topic(a, topic, 2)
            raise Mismatch("second create_topics(%s) succeeded; expected TopicAlreadyExistsError" % topic)
        except TopicAlreadyExistsError:
            pass
        check(topic in c.topics(), "consumer.topics() does not contain %s" % topic)
        check_eq({0, 1}, c.partitions_for_topic(topic), "partitions after create_topics")

        resps = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = config_entries(resps, topic)
        check("retention.ms" in entries, "describe_configs(topic) lacks retention.ms: %r" % sorted(entries))
        check_eq("7654321", entries["retention.ms"], "retention.ms via describe_configs")
        brokers = list(a._client.cluster.brokers())
        check_eq(1, len(brokers), "brokers in the client's cluster metadata")
        node_id = brokers[0].nodeId
        resps = a.describe_configs([ConfigResource(ConfigResourceType.BROKER, str(node_id))])
        bentries = config_entries(resps, str(node_id))
        check(len(bentries) > 0, "describe_configs(broker %s) returned no entries" % node_id)

        a.create_partitions({topic: NewPartitions(4)})
        deadline = time.time() + 10
        while True:
            c._client.cluster.request_update()
            c._client.poll(timeout_ms=200)
            parts = c.partitions_for_topic(topic)
            if parts == {0, 1, 2, 3}:
                break
            check(time.time() < deadline, "partitions after create_partitions(4): %r" % (parts,))
            time.sleep(0.2)

        p = producer()
        try:
            for i in range(8):
                p.send(topic, value=b"r%d" % i, partition=3).get(timeout=30)
        finally:
            p.close(timeout=10)
        tp = TopicPartition(topic, 3)
        # partition_leader_id skips the admin client's own Metadata lookup (which asks for
        # authorized operations; see scenario_admin_metadata)
        res = a.delete_records({tp: 5}, partition_leader_id=node_id)
        check(tp in res, "delete_records result lacks %s: %r" % (tp, res))
        low = res[tp]
        low = low.get("low_watermark") if isinstance(low, dict) else getattr(low, "low_watermark", low)
        check_eq(5, low, "delete_records low watermark")
        check_eq(5, c.beginning_offsets([tp])[tp], "beginning_offsets after delete_records")
        c.assign([tp])
        c.seek_to_beginning(tp)
        got = poll_at_least(c, 3)
        check_eq([5, 6, 7], [r.offset for r in got], "offsets readable after delete_records")

        a.delete_topics([topic], timeout_ms=TIMEOUT_MS)
        deadline = time.time() + 10
        while topic in c.topics():
            check(time.time() < deadline, "%s still listed 10 s after delete_topics" % topic)
            time.sleep(0.2)
        return "retention.ms=%s, %d broker config entries" % (entries["retention.ms"], len(bentries))
    finally:
        c.close()
        a.close()


def config_entries(responses, resource_name):
    """Flatten DescribeConfigs responses (kafka-python returns raw protocol responses)."""
    out = {}
    for resp in responses:
        for res in resp.resources:
            # (error_code, error_message, resource_type, resource_name, config_entries)
            err, msg, _rtype, name, entries = res[0], res[1], res[2], res[3], res[4]
            if name != resource_name:
                continue
            check_eq(0, err, "describe_configs(%s) error (%s)" % (name, msg))
            for e in entries:
                out[e[0]] = e[1]
    return out


def scenario_auto_create():
    """Producing to an unknown topic auto-creates it (auto.create.topics.enable=true)."""
    topic = topic_name("py-auto")
    p = producer()
    try:
        md = p.send(topic, key=b"k", value=b"auto").get(timeout=30)
    finally:
        p.close(timeout=10)
    check_eq(0, md.offset, "offset of the first record")
    c = consumer()
    try:
        tp = TopicPartition(topic, md.partition)
        c.assign([tp])
        c.seek_to_beginning(tp)
        got = poll_at_least(c, 1)
        check_eq([b"auto"], [r.value for r in got], "values read from auto-created topic")
    finally:
        c.close()
    return "auto-created %s" % topic


# --------------------------------------------------------------------------- groups

def group_consumer(group, client_id):
    return KafkaConsumer(bootstrap_servers=BOOTSTRAP, client_id=client_id, group_id=group,
                         enable_auto_commit=False, auto_offset_reset="earliest",
                         session_timeout_ms=10000, heartbeat_interval_ms=500,
                         request_timeout_ms=TIMEOUT_MS + 5000)


def produce_each(topic, partitions, start, per, prefix):
    """per records to each partition (explicit), values PREFIX-P-I acked at offset I."""
    p = producer()
    vals = []
    try:
        fs = []
        for i in range(start, start + per):
            for part in range(partitions):
                v = "%s-%d-%d" % (prefix, part, i)
                vals.append(v)
                fs.append((part, i, v, p.send(topic, key=b"k%d" % i, value=v.encode(), partition=part)))
        p.flush(timeout=30)
        for part, i, v, f in fs:
            md = f.get(timeout=30)
            check_eq((part, i), (md.partition, md.offset), "acked position of %s" % v)
    finally:
        p.close(timeout=10)
    return vals


def take(c, who, owned, read_by, prefix):
    """One short poll; every record must come from an owned partition, once, with its value."""
    for tp, recs in c.poll(timeout_ms=200).items():
        check(owned is None or tp in owned, "%s read from %s which is not in its assignment %r" % (who, tp, owned))
        for r in recs:
            v = r.value.decode()
            check_eq("%s-%d-%d" % (prefix, r.partition, r.offset), v, "value at %d@%d" % (r.partition, r.offset))
            check(v not in read_by, "%s delivered twice (to %s and %s)" % (v, read_by.get(v), who))
            read_by[v] = who


def scenario_group_split():
    """Two group members split 4 partitions 2+2 and read everything once; after one closes
    the other owns all 4 and reads only what comes after the commits."""
    parts, first_n, second_n = 4, 40, 10
    topic = topic_name("py-gsplit")
    group = topic_name("py-gsplit-group")
    a = admin()
    try:
        create_topic(a, topic, parts)
    finally:
        a.close()
    all_tps = {TopicPartition(topic, i) for i in range(parts)}
    c1 = group_consumer(group, "py-gsplit-c1")
    c2 = group_consumer(group, "py-gsplit-c2")
    try:
        c1.subscribe([topic])
        c2.subscribe([topic])
        deadline = time.time() + 30
        while True:
            check(not c1.poll(timeout_ms=200), "c1 got records from an empty topic")
            check(not c2.poll(timeout_ms=200), "c2 got records from an empty topic")
            a1, a2 = set(c1.assignment()), set(c2.assignment())
            if len(a1) == 2 and len(a2) == 2 and a1 | a2 == all_tps:
                break
            check(time.time() < deadline, "no 2+2 split within 30 s: c1=%r c2=%r" % (sorted(a1), sorted(a2)))
        check(not (a1 & a2), "assignments overlap: %r %r" % (a1, a2))
        first = produce_each(topic, parts, 0, first_n, "first")
        read_by = {}
        deadline = time.time() + 30
        while len(read_by) < len(first) and time.time() < deadline:
            take(c1, "c1", a1, read_by, "first")
            take(c2, "c2", a2, read_by, "first")
        for _ in range(3):
            take(c1, "c1", a1, read_by, "first")
            take(c2, "c2", a2, read_by, "first")
        check_eq(sorted(first), sorted(read_by), "records read by the two members together")
        check_eq(a1, set(c1.assignment()), "c1 assignment after reading")
        check_eq(a2, set(c2.assignment()), "c2 assignment after reading")
        c1.commit()
        c2.commit()
        for tp in sorted(all_tps):
            check_eq(first_n, c1.committed(tp), "committed offset of %s" % (tp,))
        c2.close(autocommit=False)
        c2 = None
        deadline = time.time() + 30
        while set(c1.assignment()) != all_tps:
            check(not c1.poll(timeout_ms=200), "c1 got records while none were produced")
            check(time.time() < deadline, "c1 did not get all partitions within 30 s after c2 left: %r"
                  % sorted(c1.assignment()))
        second = produce_each(topic, parts, first_n, second_n, "second")
        after = {}
        deadline = time.time() + 30
        while len(after) < len(second) and time.time() < deadline:
            take(c1, "c1", None, after, "second")
        for _ in range(3):
            take(c1, "c1", None, after, "second")
        check_eq(sorted(second), sorted(after), "records c1 read after c2 left (a re-read 'first-' record would fail the value check)")
        return "split %s / %s, then c1 alone read %d new records" % (
            sorted(tp.partition for tp in a1), sorted(tp.partition for tp in a2), len(second))
    finally:
        if c2 is not None:
            c2.close(autocommit=False)
        c1.close(autocommit=False)


def scenario_group_commit_resume():
    """Consume N, commit, close; produce M; a new member resumes exactly at the commit.
    Also an explicit commit with metadata and the admin client's view of the group."""
    parts, n, m = 2, 25, 10
    topic = topic_name("py-gresume")
    group = topic_name("py-gresume-group")
    a = admin()
    try:
        create_topic(a, topic, parts)
    finally:
        a.close()
    tps = [TopicPartition(topic, i) for i in range(parts)]
    first = produce_each(topic, parts, 0, n, "old")
    c = group_consumer(group, "py-gresume-1")
    try:
        for tp in tps:
            check(c.committed(tp) is None, "fresh group has a committed offset for %s" % (tp,))
        c.subscribe([topic])
        read = {}
        deadline = time.time() + 30
        while len(read) < len(first) and time.time() < deadline:
            take(c, "c", None, read, "old")
        check_eq(sorted(first), sorted(read), "records read by the first consumer")
        check_eq(set(tps), set(c.assignment()), "assignment of the only member")
        c.commit()
        c.commit(offsets={tps[0]: OffsetAndMetadata(n, "py-meta-0", -1)})
        for tp in tps:
            check_eq(n, c.committed(tp), "committed offset of %s" % (tp,))
        check_eq("py-meta-0", c.committed(tps[0], metadata=True).metadata, "committed metadata of %s" % (tps[0],))
    finally:
        c.close(autocommit=False)
    a = admin()
    try:
        groups = a.list_consumer_groups()
        check(any(g[0] == group for g in groups), "list_consumer_groups lacks %s: %r" % (group, groups))
        offs = a.list_consumer_group_offsets(group)
        check_eq({tp: n for tp in tps}, {tp: om.offset for tp, om in offs.items()}, "list_consumer_group_offsets")
    finally:
        a.close()
    second = produce_each(topic, parts, n, m, "new")
    c = group_consumer(group, "py-gresume-2")
    try:
        c.subscribe([topic])
        got = []
        deadline = time.time() + 30
        while len(got) < len(second) and time.time() < deadline:
            for _tp, recs in c.poll(timeout_ms=300).items():
                got.extend(recs)
        for _ in range(3):
            for _tp, recs in c.poll(timeout_ms=300).items():
                got.extend(recs)
        for r in got:
            check(not r.value.startswith(b"old-"), "re-delivered %r at %d@%d although %d was committed"
                  % (r.value, r.partition, r.offset, n))
        for tp in tps:
            offs = [r.offset for r in got if r.partition == tp.partition]
            check_eq(list(range(n, n + m)), offs, "offsets the new member read on %s" % (tp,))
        check_eq(sorted(second), sorted(r.value.decode() for r in got), "values the new member read")
    finally:
        c.close(autocommit=False)
    return "resumed at %d, read exactly %d new records" % (n, len(second))


SCENARIOS = {
    "admin-topics": scenario_admin_topics,
    "admin-metadata": scenario_admin_metadata,
    "produce-consume": scenario_produce_consume_default,
    "produce-consume-idempotent": scenario_produce_consume_idempotent,
    "gzip": scenario_gzip,
    "offsets-for-times": scenario_offsets_for_times,
    "auto-create": scenario_auto_create,
    "group-split": scenario_group_split,
    "group-commit-resume": scenario_group_commit_resume,
}


def start(bootstrap):
    global BOOTSTRAP
    BOOTSTRAP = bootstrap
    logging.basicConfig(level=logging.DEBUG if os.environ.get("COMPAT_DEBUG") == "1" else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print("[kafka-python] client version %s" % kafka.__version__)


def main(argv):
    return run_scenarios("kafka-python", SCENARIOS, argv, __doc__, start)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
