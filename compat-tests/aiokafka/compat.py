"""Odradek compat scenarios driven by aiokafka (asyncio Kafka client).

usage: python compat.py BOOTSTRAP [scenario ...]
Prints "PASS aiokafka/<name>" / "FAIL aiokafka/<name>: reason" per scenario, appends the same
verdicts to $COMPAT_RESULTS when set, and exits 1 if any scenario failed.

Each scenario runs in its own event loop (asyncio.run) under a time limit (SCENARIO_TIMEOUT).
Consumers are group-less (group_id=None + assign() + seek) except in the group-* and txn-ctp
scenarios, which use classic consumer groups with enable_auto_commit=False and explicit commits.
aiokafka negotiates every API version from ApiVersions; the versions it sent are printed at the
end (one line), since aiokafka implements only old versions of several APIs (see FINDINGS.md).
"""
import asyncio
import logging
import os
import sys
import time

import aiokafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import InvalidPartitionsError
from aiokafka.protocol import api as _api

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from compat_lib import Mismatch, check, check_eq, run_scenarios, topic_name  # noqa: E402

BOOTSTRAP = None
TIMEOUT_MS = 15000
SCENARIO_TIMEOUT = 60  # seconds per scenario

# error codes the scenarios expect in raw admin responses
NONE, UNKNOWN_TOPIC_OR_PARTITION, TOPIC_ALREADY_EXISTS, INVALID_CONFIG = 0, 3, 36, 40
# DescribeConfigs v1+ config_source values
DYNAMIC_TOPIC_CONFIG = 1

# Which request structs aiokafka built (API versions it negotiated), for the summary line.
SENT = {}
_orig_prepare = _api.Request.prepare


def _recording_prepare(self, versions):
    struct = _orig_prepare(self, versions)
    name = type(struct).__name__
    SENT[name] = SENT.get(name, 0) + 1
    return struct


_api.Request.prepare = _recording_prepare


# --------------------------------------------------------------------------- helpers

async def admin():
    a = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, client_id="odradek-compat-aiokafka-admin",
                            request_timeout_ms=TIMEOUT_MS)
    await a.start()
    return a


async def producer(**extra):
    cfg = dict(bootstrap_servers=BOOTSTRAP, client_id="odradek-compat-aiokafka-producer", acks="all",
               request_timeout_ms=TIMEOUT_MS)
    cfg.update(extra)
    p = AIOKafkaProducer(**cfg)
    await p.start()
    return p


async def consumer(**extra):
    cfg = dict(bootstrap_servers=BOOTSTRAP, client_id="odradek-compat-aiokafka-consumer", group_id=None,
               enable_auto_commit=False, auto_offset_reset="earliest", request_timeout_ms=TIMEOUT_MS + 5000,
               fetch_max_wait_ms=300)
    cfg.update(extra)
    c = AIOKafkaConsumer(**cfg)
    await c.start()
    return c


async def group_consumer(group, client_id, *topics, **extra):
    cfg = dict(group_id=group, client_id=client_id, session_timeout_ms=10000, heartbeat_interval_ms=500,
               rebalance_timeout_ms=20000)
    cfg.update(extra)
    c = AIOKafkaConsumer(*topics, bootstrap_servers=BOOTSTRAP, enable_auto_commit=False,
                         auto_offset_reset="earliest", request_timeout_ms=TIMEOUT_MS + 5000,
                         fetch_max_wait_ms=300, **cfg)
    await c.start()
    return c


async def create_topics(a, specs, expect=NONE, validate_only=False):
    """specs: [(name, partitions, configs)]; checks every topic's error code is `expect`."""
    resp = await a.create_topics([NewTopic(n, p, 1, topic_configs=cfg or {}) for n, p, cfg in specs],
                                 timeout_ms=TIMEOUT_MS, validate_only=validate_only)
    got = {t[0]: t[1] for t in resp.topic_errors}
    check_eq({n: expect for n, _p, _c in specs}, got, "CreateTopics error codes (validate_only=%s)" % validate_only)
    return resp


async def create_topic(name, partitions, configs=None):
    a = await admin()
    try:
        await create_topics(a, [(name, partitions, configs)])
    finally:
        await a.close()


async def drain(c, n, seconds=20, tps=()):
    """getmany until n records arrived or the deadline passed; returns them in arrival order."""
    out = []
    deadline = time.time() + seconds
    while len(out) < n and time.time() < deadline:
        batch = await c.getmany(*tps, timeout_ms=300)
        for _tp, recs in sorted(batch.items(), key=lambda kv: kv[0].partition):
            out.extend(recs)
    return out


async def settle(c, rounds=3):
    """A few more fetch rounds: anything extra (a duplicate, an aborted record) shows up here."""
    out = []
    for _ in range(rounds):
        for _tp, recs in (await c.getmany(timeout_ms=200)).items():
            out.extend(recs)
    return out


async def produce_each(topic, partitions, start, per, prefix, **extra):
    """per records to each partition (explicit), value PREFIX-P-I acked at offset I."""
    p = await producer(**extra)
    vals = []
    try:
        futs = []
        for i in range(start, start + per):
            for part in range(partitions):
                v = "%s-%d-%d" % (prefix, part, i)
                vals.append(v)
                futs.append((part, i, v, await p.send(topic, key=b"k%d" % i, value=v.encode(), partition=part)))
        await p.flush()
        for part, i, v, f in futs:
            md = await f
            check_eq((part, i), (md.partition, md.offset), "acked position of %s" % v)
    finally:
        await p.stop()
    return vals


def describe_entries(resps, name):
    """{config name: (value, read_only, source)} of resource `name` from DescribeConfigs responses."""
    out = None
    for resp in resps:
        for err, msg, _rtype, rname, entries in resp.resources:
            if rname != name:
                continue
            check_eq(NONE, err, "DescribeConfigs(%s) error code (%s)" % (rname, msg))
            out = {e[0]: (e[1], e[2], e[3]) for e in entries}
    check(out is not None, "DescribeConfigs returned no resource %s" % name)
    return out


# --------------------------------------------------------------------------- produce / consume

async def scenario_produce_consume_idempotent():
    """acks=all + enable_idempotence, 300 keyed records with headers (some null values) to 3
    partitions; every record read back exactly by a group-less consumer."""
    n, parts = 300, 3
    topic = topic_name("aiok-pc")
    await create_topic(topic, parts)
    p = await producer(enable_idempotence=True)
    sent = {}
    base_ts = int(time.time() * 1000) - 60000
    try:
        futs = []
        for i in range(n):
            key = ("key-%d" % i).encode()
            value = None if i % 37 == 3 else ("value-%d-%s" % (i, "x" * (i % 40))).encode()
            headers = [("idx", str(i).encode()), ("src", b"aiokafka"), ("empty", b"")]
            ts = base_ts + i * 7
            futs.append((key, value, headers, ts,
                         await p.send(topic, key=key, value=value, headers=headers, timestamp_ms=ts)))
        await p.flush()
        for key, value, headers, ts, f in futs:
            md = await f
            check(0 <= md.partition < parts, "acked on bad partition %r" % (md.partition,))
            pos = (md.partition, md.offset)
            check(pos not in sent, "two records acked at %r" % (pos,))
            check_eq(0, md.log_start_offset, "log_start_offset in the Produce answer for %r" % (pos,))
            # log_append_time -1 (CreateTime topic) makes timestamp_type 0; md.timestamp itself is
            # the batch's first record's for every record of a batch (an aiokafka quirk, FINDINGS.md)
            check_eq(0, md.timestamp_type, "timestamp type in the RecordMetadata of %r" % (pos,))
            sent[pos] = (key, value, headers, ts)
    finally:
        await p.stop()
    used = sorted({pt for pt, _ in sent})
    check(len(used) > 1, "all keys landed on one partition: %r" % used)
    for pt in used:
        offs = sorted(o for q, o in sent if q == pt)
        check_eq(list(range(len(offs))), offs, "acked offsets on partition %d are dense from 0" % pt)

    c = await consumer()
    try:
        tps = [TopicPartition(topic, i) for i in range(parts)]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        ends = await c.end_offsets(tps)
        begins = await c.beginning_offsets(tps)
        for tp in tps:
            check_eq(sum(1 for q, _ in sent if q == tp.partition), ends[tp], "end_offsets(%s)" % (tp,))
            check_eq(0, begins[tp], "beginning_offsets(%s)" % (tp,))
        got = await drain(c, n)
        got += await settle(c)
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
            check_eq(0, r.timestamp_type, "timestamp type (CreateTime) at %r" % (pos,))
        for tp in tps:
            check_eq(ends[tp], await c.position(tp), "position after reading %s" % (tp,))
            check_eq(ends[tp], c.highwater(tp), "highwater of %s" % (tp,))
        # a second pass from an explicit offset in the middle of partition 0's log
        tp0 = tps[0]
        mid = ends[tp0] // 2
        c.seek(tp0, mid)
        again = await drain(c, ends[tp0] - mid, tps=[tp0])
        check_eq(list(range(mid, ends[tp0])), [r.offset for r in again], "offsets re-read from seek(%d)" % mid)
    finally:
        await c.stop()
    return "%d records over partitions %r, end offsets %r" % (n, used, [ends[tp] for tp in tps])


async def scenario_compression():
    """gzip, lz4, zstd and snappy batches (linger 50 ms, plus one explicit send_batch each);
    dense offsets, values intact, seek into the middle of a compressed batch."""
    codecs = ["gzip", "lz4", "zstd", "snappy"]
    n = 150
    done = []
    for codec in codecs:
        topic = topic_name("aiok-%s" % codec)
        await create_topic(topic, 1)
        p = await producer(compression_type=codec, linger_ms=50, enable_idempotence=True)
        try:
            futs = [await p.send(topic, key=b"k%d" % i, value=b"%s-%d-%s" % (codec.encode(), i, b"z" * (i % 60)),
                                 partition=0, headers=[("codec", codec.encode())]) for i in range(n)]
            await p.flush()
            offs = [(await f).offset for f in futs]
            check_eq(list(range(n)), offs, "%s: acked offsets" % codec)
            batch = p.create_batch()
            for i in range(n, n + 20):
                check(batch.append(key=b"k%d" % i, value=b"%s-%d-%s" % (codec.encode(), i, b"z" * (i % 60)),
                                   timestamp=None, headers=[("codec", codec.encode())]) is not None,
                      "%s: batch full after %d records" % (codec, i - n))
            md = await (await p.send_batch(batch, topic, partition=0))
            check_eq(n, md.offset, "%s: base offset of the explicit batch" % codec)
        finally:
            await p.stop()
        total = n + 20
        c = await consumer()
        try:
            tp = TopicPartition(topic, 0)
            c.assign([tp])
            await c.seek_to_beginning(tp)
            got = await drain(c, total)
            got += await settle(c, 2)
            check_eq(list(range(total)), [r.offset for r in got], "%s: offsets consumed" % codec)
            for i, r in enumerate(got):
                check_eq(b"%s-%d-%s" % (codec.encode(), i, b"z" * (i % 60)), r.value, "%s: value at %d" % (codec, i))
                check_eq(b"k%d" % i, r.key, "%s: key at %d" % (codec, i))
                check_eq([("codec", codec.encode())], [tuple(h) for h in r.headers], "%s: headers at %d" % (codec, i))
            c.seek(tp, 77)
            got = await drain(c, 1)
            check(got, "%s: nothing read after seek(77)" % codec)
            check_eq(77, got[0].offset, "%s: first offset after seek into a compressed batch" % codec)
            check_eq(total, (await c.end_offsets([tp]))[tp], "%s: end offset" % codec)
        finally:
            await c.stop()
        done.append(codec)
    return "%d records each: %s" % (n + 20, ", ".join(done))


# --------------------------------------------------------------------------- groups

def take(batch, who, owned, read_by, prefix):
    for tp, recs in batch.items():
        if owned is not None:
            check(tp in owned, "%s got a record of %s, which it does not own (%r)" % (who, tp, sorted(owned)))
        for r in recs:
            v = r.value.decode()
            check_eq("%s-%d-%d" % (prefix, r.partition, r.offset), v, "value at %d@%d" % (r.partition, r.offset))
            check(v not in read_by, "%s delivered twice (to %s and %s)" % (v, read_by.get(v), who))
            read_by[v] = who


async def scenario_group_split():
    """Two members split 4 partitions 2+2 and read everything once; both commit; after one leaves
    the other owns all 4 and reads exactly what was produced after the commits."""
    parts, first_n, second_n = 4, 30, 10
    topic = topic_name("aiok-gsplit")
    group = topic_name("aiok-gsplit-group")
    await create_topic(topic, parts)
    all_tps = {TopicPartition(topic, i) for i in range(parts)}
    c1 = await group_consumer(group, "aiok-gsplit-c1", topic)
    c2 = await group_consumer(group, "aiok-gsplit-c2", topic)
    try:
        deadline = time.time() + 30
        while True:
            b1, b2 = await asyncio.gather(c1.getmany(timeout_ms=200), c2.getmany(timeout_ms=200))
            check(not b1 and not b2, "records from an empty topic: %r %r" % (b1, b2))
            a1, a2 = set(c1.assignment()), set(c2.assignment())
            if len(a1) == 2 and len(a2) == 2 and a1 | a2 == all_tps:
                break
            check(time.time() < deadline, "no 2+2 split within 30 s: c1=%r c2=%r" % (sorted(a1), sorted(a2)))
        first = await produce_each(topic, parts, 0, first_n, "first")
        read_by = {}
        deadline = time.time() + 30
        while len(read_by) < len(first) and time.time() < deadline:
            b1, b2 = await asyncio.gather(c1.getmany(timeout_ms=300), c2.getmany(timeout_ms=300))
            take(b1, "c1", a1, read_by, "first")
            take(b2, "c2", a2, read_by, "first")
        for _ in range(2):
            b1, b2 = await asyncio.gather(c1.getmany(timeout_ms=200), c2.getmany(timeout_ms=200))
            take(b1, "c1", a1, read_by, "first")
            take(b2, "c2", a2, read_by, "first")
        check_eq(sorted(first), sorted(read_by), "records read by the two members together")
        check_eq(a1, set(c1.assignment()), "c1 assignment after reading")
        check_eq(a2, set(c2.assignment()), "c2 assignment after reading")
        await c1.commit()
        await c2.commit()
        for tp in sorted(all_tps):
            check_eq(first_n, await c1.committed(tp), "committed offset of %s (asked by c1)" % (tp,))
        await c2.stop()  # LeaveGroup
        c2 = None
        deadline = time.time() + 30
        while set(c1.assignment()) != all_tps:
            check(not await c1.getmany(timeout_ms=200), "c1 got records while none were produced")
            check(time.time() < deadline, "c1 did not get all partitions within 30 s after c2 left: %r"
                  % sorted(c1.assignment()))
        second = await produce_each(topic, parts, first_n, second_n, "second")
        after = {}
        deadline = time.time() + 30
        while len(after) < len(second) and time.time() < deadline:
            take(await c1.getmany(timeout_ms=300), "c1", None, after, "second")
        for _ in range(2):
            take(await c1.getmany(timeout_ms=200), "c1", None, after, "second")
        check_eq(sorted(second), sorted(after),
                 "records c1 read after c2 left (a re-read 'first-' record would fail the value check)")
        await c1.commit()
        for tp in sorted(all_tps):
            check_eq(first_n + second_n, await c1.committed(tp), "committed offset of %s at the end" % (tp,))
        return "split %s / %s, then c1 alone read %d new records" % (
            sorted(tp.partition for tp in a1), sorted(tp.partition for tp in a2), len(second))
    finally:
        if c2 is not None:
            await c2.stop()
        await c1.stop()


async def scenario_group_commit_resume():
    """Consume, commit (and an explicit commit with metadata), stop; the admin client sees the
    group Empty with those offsets; a new member resumes exactly at the commit."""
    parts, n, m = 2, 25, 10
    topic = topic_name("aiok-gresume")
    group = topic_name("aiok-gresume-group")
    await create_topic(topic, parts)
    tps = [TopicPartition(topic, i) for i in range(parts)]
    first = await produce_each(topic, parts, 0, n, "old")
    c = await group_consumer(group, "aiok-gresume-1", topic)
    try:
        for tp in tps:
            check(await c.committed(tp) is None, "fresh group has a committed offset for %s" % (tp,))
        read = {}
        deadline = time.time() + 30
        while len(read) < len(first) and time.time() < deadline:
            take(await c.getmany(timeout_ms=300), "c", None, read, "old")
        check_eq(sorted(first), sorted(read), "records read by the first consumer")
        check_eq(set(tps), set(c.assignment()), "assignment of the only member")
        await c.commit()
        await c.commit({tps[0]: (n, "aiok-meta-0")})
        for tp in tps:
            check_eq(n, await c.committed(tp), "committed offset of %s" % (tp,))
    finally:
        await c.stop()
    a = await admin()
    try:
        groups = await a.list_consumer_groups()
        check(any(g[0] == group for g in groups), "list_consumer_groups lacks %s: %r" % (group, groups))
        offs = await a.list_consumer_group_offsets(group)
        check_eq({tp: n for tp in tps}, {tp: om.offset for tp, om in offs.items()}, "list_consumer_group_offsets")
        check_eq("aiok-meta-0", offs[tps[0]].metadata, "committed metadata of %s" % (tps[0],))
        desc = await a.describe_consumer_groups([group])
        gs = [g for resp in desc for g in resp.groups if g[1] == group]
        check_eq(1, len(gs), "DescribeGroups entries for %s" % group)
        err, _gid, state, ptype = gs[0][0], gs[0][1], gs[0][2], gs[0][3]
        check_eq((NONE, "Empty", "consumer"), (err, state, ptype), "DescribeGroups (error, state, protocol type)")
    finally:
        await a.close()
    second = await produce_each(topic, parts, n, m, "new")
    c = await group_consumer(group, "aiok-gresume-2", topic)
    try:
        got = await drain(c, len(second), 30)
        got += await settle(c)
        for r in got:
            check(not r.value.startswith(b"old-"), "re-delivered %r at %d@%d although %d was committed"
                  % (r.value, r.partition, r.offset, n))
        for tp in tps:
            offs = [r.offset for r in got if r.partition == tp.partition]
            check_eq(list(range(n, n + m)), offs, "offsets the new member read on %s" % (tp,))
        check_eq(sorted(second), sorted(r.value.decode() for r in got), "values the new member read")
    finally:
        await c.stop()
    return "resumed at %d, read exactly %d new records" % (n, len(second))


# --------------------------------------------------------------------------- transactions

async def read_all(topic, parts, isolation, expect_n):
    c = await consumer(isolation_level=isolation)
    try:
        tps = [TopicPartition(topic, i) for i in range(parts)]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        got = await drain(c, expect_n)
        got += await settle(c)
        ends = await c.end_offsets(tps)
        return got, [ends[tp] for tp in tps]
    finally:
        await c.stop()


async def scenario_transactions():
    """Committed, aborted and committed transactions over 2 partitions; an open transaction holds
    back read_committed readers (end offset = LSO) until it commits."""
    parts = 2
    topic = topic_name("aiok-txn")
    await create_topic(topic, parts)
    p = await producer(transactional_id=topic_name("aiok-txn-id"), enable_idempotence=True)
    expect = {i: [] for i in range(parts)}  # committed (offset, value) per partition
    aborted = {i: [] for i in range(parts)}
    try:
        async def txn(label, count, commit):
            await p.begin_transaction()
            futs = []
            for i in range(count):
                for part in range(parts):
                    v = "%s-%d-%d" % (label, part, i)
                    futs.append((part, v, await p.send(topic, key=b"k%d" % i, value=v.encode(), partition=part)))
            if commit:
                await p.commit_transaction()
            else:
                await p.abort_transaction()
            for part, v, f in futs:
                md = await f
                (expect if commit else aborted)[part].append((md.offset, v))

        await txn("c1", 5, True)
        await txn("ab", 4, False)
        await txn("c2", 3, True)
    finally:
        await p.stop()
    # every transaction ends with one control record per partition: 5+1, 4+1, 3+1
    for part in range(parts):
        check_eq(list(range(0, 5)) + list(range(11, 14)), [o for o, _ in expect[part]],
                 "offsets of committed records on partition %d" % part)
        check_eq(list(range(6, 10)), [o for o, _ in aborted[part]], "offsets of aborted records on partition %d" % part)

    got, ends = await read_all(topic, parts, "read_committed", 16)
    check_eq([15] * parts, ends, "read_committed end offsets (LSO) after the last commit")
    for part in range(parts):
        check_eq(expect[part], [(r.offset, r.value.decode()) for r in got if r.partition == part],
                 "read_committed records on partition %d" % part)
    check_eq(16, len(got), "read_committed record count")
    got, ends = await read_all(topic, parts, "read_uncommitted", 24)
    check_eq([15] * parts, ends, "read_uncommitted end offsets")
    for part in range(parts):
        want = sorted(expect[part] + aborted[part])
        check_eq(want, [(r.offset, r.value.decode()) for r in got if r.partition == part],
                 "read_uncommitted records on partition %d" % part)

    # an open transaction: read_committed stops before it, read_uncommitted sees it
    p = await producer(transactional_id=topic_name("aiok-txn-open"), enable_idempotence=True)
    try:
        await p.begin_transaction()
        fs = [await p.send(topic, value=b"open-%d" % i, partition=0) for i in range(3)]
        await p.flush()
        offs = [(await f).offset for f in fs]
        check_eq([15, 16, 17], offs, "offsets of the open transaction's records")
        rc = await consumer(isolation_level="read_committed")
        ru = await consumer(isolation_level="read_uncommitted")
        try:
            tp = TopicPartition(topic, 0)
            for c in (rc, ru):
                c.assign([tp])
                c.seek(tp, 14)
            check_eq(15, (await rc.end_offsets([tp]))[tp], "read_committed end offset with a transaction open")
            check_eq(18, (await ru.end_offsets([tp]))[tp], "read_uncommitted end offset with a transaction open")
            seen_ru = await drain(ru, 3)
            check_eq([b"open-0", b"open-1", b"open-2"], [r.value for r in seen_ru], "read_uncommitted sees the open txn")
            seen_rc = await settle(rc, 3)
            check_eq([], [r.value for r in seen_rc], "read_committed reads nothing past the LSO")
            check_eq(15, rc.last_stable_offset(tp), "last_stable_offset reported by Fetch")
            check_eq(18, rc.highwater(tp), "highwater reported by Fetch")
            await p.commit_transaction()
            seen_rc = await drain(rc, 3)
            check_eq([(15, b"open-0"), (16, b"open-1"), (17, b"open-2")], [(r.offset, r.value) for r in seen_rc],
                     "read_committed after the commit")
            check_eq(19, (await rc.end_offsets([tp]))[tp], "read_committed end offset after the commit")
        finally:
            await rc.stop()
            await ru.stop()
    finally:
        await p.stop()
    return "committed %d, aborted %d records per partition; LSO held at 15 by an open txn" % (
        len(expect[0]), len(aborted[0]))


async def scenario_txn_consume_transform_produce():
    """Group consumer (read_committed) -> transactional producer with send_offsets_to_transaction.
    The first batch is processed in an aborted transaction (its output invisible, the group's
    offsets uncommitted), then redone; the output holds each input exactly once."""
    parts, per = 2, 20
    src = topic_name("aiok-ctp-in")
    dst = topic_name("aiok-ctp-out")
    group = topic_name("aiok-ctp-group")
    await create_topic(src, parts)
    await create_topic(dst, parts)
    inputs = await produce_each(src, parts, 0, per, "in")
    tps = [TopicPartition(src, i) for i in range(parts)]
    c = await group_consumer(group, "aiok-ctp-consumer", src, isolation_level="read_committed", max_poll_records=7)
    p = await producer(transactional_id=topic_name("aiok-ctp-txn"), enable_idempotence=True)
    processed = []
    aborted_n = 0
    try:
        deadline = time.time() + 40
        aborted_once = False
        while len(processed) < len(inputs):
            check(time.time() < deadline, "processed only %d of %d inputs in 40 s" % (len(processed), len(inputs)))
            batch = await c.getmany(timeout_ms=300)
            recs = [r for _tp, rs in sorted(batch.items(), key=lambda kv: kv[0].partition) for r in rs]
            if not recs:
                continue
            await p.begin_transaction()
            for r in recs:
                await p.send(dst, key=r.key, value=b"OUT-" + r.value.upper(), partition=r.partition,
                             headers=[("src-offset", str(r.offset).encode())])
            offsets = {}
            for r in recs:
                offsets[TopicPartition(r.topic, r.partition)] = r.offset + 1
            await p.send_offsets_to_transaction(offsets, group)
            if not aborted_once:
                await p.abort_transaction()
                aborted_once = True
                aborted_n = len(recs)
                for tp in tps:
                    check(await c.committed(tp) is None, "offset of %s committed by an aborted transaction" % (tp,))
                # seek_to_committed() leaves a partition without a committed offset where it is,
                # so rewind by hand: nothing is committed, i.e. back to 0
                check_eq({tp: None for tp in tps}, await c.seek_to_committed(), "seek_to_committed()")
                for tp in tps:
                    c.seek(tp, 0)
                for tp in tps:
                    check_eq(0, await c.position(tp), "position of %s after seek_to_committed" % (tp,))
                continue
            await p.commit_transaction()
            processed.extend(r.value.decode() for r in recs)
        check_eq(sorted(inputs), sorted(processed), "inputs processed in committed transactions")
        # TxnOffsetCommit offsets become visible to OffsetFetch (v3 here: no require_stable) once
        # the coordinator has written the commit markers, which may be just after EndTxn returned
        for tp in tps:
            wait_until = time.time() + 10
            while True:
                got = await c.committed(tp)
                if got == per:
                    break
                check(time.time() < wait_until, "group offset of %s committed through the transactions: "
                      "expected %d but got %r after 10 s" % (tp, per, got))
                await asyncio.sleep(0.1)
    finally:
        await p.stop()
        await c.stop()
    got, _ends = await read_all(dst, parts, "read_committed", len(inputs))
    vals = sorted(r.value.decode() for r in got)
    check_eq(sorted("OUT-" + v.upper() for v in inputs), vals, "read_committed output (each input exactly once)")
    for r in got:
        src_off = int(dict(r.headers)["src-offset"])
        check_eq("OUT-IN-%d-%d" % (r.partition, src_off), r.value.decode(), "output record for input %d@%d"
                 % (r.partition, src_off))
    got_ru, _ = await read_all(dst, parts, "read_uncommitted", len(inputs) + aborted_n)
    check_eq(len(inputs) + aborted_n, len(got_ru), "read_uncommitted output includes the aborted batch")
    a = await admin()
    try:
        offs = await a.list_consumer_group_offsets(group)
        check_eq({tp: per for tp in tps}, {tp: om.offset for tp, om in offs.items()},
                 "list_consumer_group_offsets after the transactions")
    finally:
        await a.close()
    return "%d inputs, first batch of %d aborted and redone" % (len(inputs), aborted_n)


# --------------------------------------------------------------------------- offsets

async def scenario_offsets():
    """CreateTime 1000..10000: offsets_for_times, beginning/end offsets; delete_records moves the
    log start (beginning_offsets, offsets_for_times and seek_to_beginning follow it)."""
    topic = topic_name("aiok-offs")
    await create_topic(topic, 2, {"retention.ms": "-1"})
    p = await producer()
    try:
        for i in range(10):
            md = await p.send_and_wait(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0,
                                       timestamp_ms=1000 * (i + 1))
            check_eq(i, md.offset, "acked offset of record %d" % i)
            check_eq(1000 * (i + 1), md.timestamp, "acked timestamp of record %d" % i)
    finally:
        await p.stop()
    c = await consumer()
    a = await admin()
    try:
        tp, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
        check_eq({tp: 0, tp1: 0}, await c.beginning_offsets([tp, tp1]), "beginning_offsets")
        check_eq({tp: 10, tp1: 0}, await c.end_offsets([tp, tp1]), "end_offsets")
        for query, want in [(0, 0), (1000, 0), (2500, 2), (3000, 2), (10000, 9)]:
            res = (await c.offsets_for_times({tp: query}))[tp]
            check(res is not None, "offsets_for_times(%d) returned None" % query)
            check_eq((want, 1000 * (want + 1)), (res.offset, res.timestamp), "offsets_for_times(%d)" % query)
        res = await c.offsets_for_times({tp: 10001, tp1: 0})
        check_eq({tp: None, tp1: None}, res, "offsets_for_times past the last timestamp / on an empty partition")
        c.assign([tp])
        c.seek(tp, 4)
        got = await drain(c, 6)
        check_eq([(i, b"v%d" % i, 1000 * (i + 1)) for i in range(4, 10)], [(r.offset, r.value, r.timestamp) for r in got],
                 "records after seek(4)")

        low = await a.delete_records({tp: RecordsToDelete(6)})
        check_eq({tp: 6}, low, "delete_records low watermark")
        check_eq(6, (await c.beginning_offsets([tp]))[tp], "beginning_offsets after delete_records")
        check_eq(10, (await c.end_offsets([tp]))[tp], "end_offsets after delete_records")
        # the first record at or after the new log start whose timestamp is >= the query
        for query, want in [(0, 6), (2500, 6), (6000, 6), (7000, 6), (8500, 8)]:
            res = (await c.offsets_for_times({tp: query}))[tp]
            check(res is not None, "offsets_for_times(%d) after delete_records returned None" % query)
            check_eq((want, 1000 * (want + 1)), (res.offset, res.timestamp),
                     "offsets_for_times(%d) after delete_records to 6" % query)
        await c.seek_to_beginning(tp)
        got = await drain(c, 4)
        check_eq([6, 7, 8, 9], [r.offset for r in got], "offsets read from the beginning after delete_records")
        c.seek(tp, 2)  # below the log start: auto_offset_reset=earliest puts it back at 6
        got = await drain(c, 4)
        check_eq([6, 7, 8, 9], [r.offset for r in got], "offsets read after seek(2) below the log start")
    finally:
        await a.close()
        await c.stop()
    return "offsets_for_times, delete_records to 6 ok"


# --------------------------------------------------------------------------- admin

async def list_topics_until(a, pred, what, seconds=10):
    deadline = time.time() + seconds
    while True:
        names = set(await a.list_topics())
        if pred(names):
            return names
        check(time.time() < deadline, what(names))
        await asyncio.sleep(0.2)


async def scenario_admin_topics():
    """create_topics (and again: TOPIC_ALREADY_EXISTS; validate_only creates nothing),
    list_topics, describe_topics, describe_cluster, create_partitions (grow; shrink refused),
    delete_topics."""
    t1, t2, t3 = topic_name("aiok-adm-a"), topic_name("aiok-adm-b"), topic_name("aiok-adm-v")
    a = await admin()
    try:
        await create_topics(a, [(t1, 3, {"retention.ms": "7654321"}), (t2, 1, None)])
        await create_topics(a, [(t1, 3, None)], expect=TOPIC_ALREADY_EXISTS)
        await create_topics(a, [(t3, 2, None)], validate_only=True)
        names = await list_topics_until(a, lambda s: t1 in s and t2 in s, lambda s: "list_topics lacks %s/%s" % (t1, t2))
        check(t3 not in names, "validate_only create_topics created %s" % t3)
        cluster = await a.describe_cluster()
        brokers = cluster["brokers"]
        check_eq(1, len(brokers), "brokers in describe_cluster: %r" % (brokers,))
        node = brokers[0]["node_id"]
        check_eq(node, cluster["controller_id"], "controller_id in describe_cluster")
        check(cluster.get("cluster_id"), "describe_cluster has no cluster_id: %r" % (cluster,))
        desc = {t["topic"]: t for t in await a.describe_topics([t1, t2])}
        check_eq({t1, t2}, set(desc), "topics in describe_topics")
        for t, n in ((t1, 3), (t2, 1)):
            check_eq(0, desc[t]["error_code"], "describe_topics(%s) error code" % t)
            check_eq(False, desc[t]["is_internal"], "describe_topics(%s) is_internal" % t)
            ps = sorted(desc[t]["partitions"], key=lambda x: x["partition"])
            check_eq(list(range(n)), [x["partition"] for x in ps], "partitions of %s" % t)
            for x in ps:
                check_eq((0, node, [node], [node]), (x["error_code"], x["leader"], x["replicas"], x["isr"]),
                         "partition %d of %s (error, leader, replicas, isr)" % (x["partition"], t))

        await a.create_partitions({t2: NewPartitions(3)})
        deadline = time.time() + 10
        while True:
            d = (await a.describe_topics([t2]))[0]
            if len(d["partitions"]) == 3:
                break
            check(time.time() < deadline, "partitions of %s after create_partitions(3): %d" % (t2, len(d["partitions"])))
            await asyncio.sleep(0.2)
        try:
            await a.create_partitions({t1: NewPartitions(2)})
            raise Mismatch("create_partitions 3 -> 2 succeeded; expected InvalidPartitionsError")
        except InvalidPartitionsError:
            pass

        resp = await a.delete_topics([t1, t2], timeout_ms=TIMEOUT_MS)
        check_eq({t1: NONE, t2: NONE}, {t[0]: t[1] for t in resp.topic_error_codes}, "DeleteTopics error codes")
        await list_topics_until(a, lambda s: t1 not in s and t2 not in s,
                                lambda s: "deleted topics still listed after 10 s: %r" % sorted(s & {t1, t2}))
        resp = await a.delete_topics([t1], timeout_ms=TIMEOUT_MS)
        check_eq({t1: UNKNOWN_TOPIC_OR_PARTITION}, {t[0]: t[1] for t in resp.topic_error_codes},
                 "DeleteTopics of a deleted topic")
        return "cluster %s, node %d" % (cluster["cluster_id"], node)
    finally:
        await a.close()


async def scenario_admin_configs():
    """describe_configs (topic, filtered keys, broker, unknown topic) and alter_configs (the whole
    override set is replaced; an unknown name or a bad value is INVALID_CONFIG)."""
    t, base = topic_name("aiok-cfg"), topic_name("aiok-cfg-base")
    a = await admin()
    try:
        await create_topics(a, [(t, 1, {"retention.ms": "7654321", "max.message.bytes": "200000"}), (base, 1, None)])
        # CreateTopics may answer before the topics are served: wait until Metadata lists them
        await list_topics_until(a, lambda s: t in s and base in s, lambda s: "list_topics lacks %s/%s" % (t, base))
        TOPIC = ConfigResourceType.TOPIC
        e = describe_entries(await a.describe_configs([ConfigResource(TOPIC, t)]), t)
        b = describe_entries(await a.describe_configs([ConfigResource(TOPIC, base)]), base)
        check_eq(("7654321", False, DYNAMIC_TOPIC_CONFIG), e.get("retention.ms"), "retention.ms (value, read_only, source)")
        check_eq(("200000", False, DYNAMIC_TOPIC_CONFIG), e.get("max.message.bytes"), "max.message.bytes override")
        for name in ("cleanup.policy", "segment.bytes", "retention.ms", "max.message.bytes"):
            check(name in b, "DescribeConfigs of a plain topic lacks %s: %r" % (name, sorted(b)))
            check(b[name][2] != DYNAMIC_TOPIC_CONFIG, "%s of a topic without overrides has source %r" % (name, b[name]))
        check_eq(b["cleanup.policy"], e["cleanup.policy"], "cleanup.policy (not overridden)")

        only = describe_entries(await a.describe_configs([ConfigResource(TOPIC, t, {"retention.ms": None})]), t)
        check_eq(["retention.ms"], sorted(only), "DescribeConfigs with config_names=[retention.ms]")

        node = (await a.describe_cluster())["brokers"][0]["node_id"]
        be = describe_entries(await a.describe_configs([ConfigResource(ConfigResourceType.BROKER, str(node))]), str(node))
        check_eq("1", be.get("num.partitions", (None,))[0], "broker num.partitions")
        check_eq("true", be.get("auto.create.topics.enable", (None,))[0], "broker auto.create.topics.enable")

        resps = await a.describe_configs([ConfigResource(TOPIC, topic_name("aiok-cfg-none"))])
        errs = [r[0] for resp in resps for r in resp.resources]
        check_eq([UNKNOWN_TOPIC_OR_PARTITION], errs, "DescribeConfigs of an unknown topic")

        resps = await a.alter_configs([ConfigResource(TOPIC, t, {"retention.ms": "1234567", "cleanup.policy": "compact"})])
        check_eq([(NONE, t)], [(r[0], r[3]) for resp in resps for r in resp.resources], "AlterConfigs (error, name)")
        # Apache Kafka applies the change through its controller: DescribeConfigs may show the old
        # value for a moment
        deadline = time.time() + 10
        while True:
            e = describe_entries(await a.describe_configs([ConfigResource(TOPIC, t)]), t)
            if e.get("retention.ms", (None,))[0] == "1234567":
                break
            check(time.time() < deadline, "retention.ms still %r 10 s after AlterConfigs" % (e.get("retention.ms"),))
            await asyncio.sleep(0.2)
        check_eq(("1234567", False, DYNAMIC_TOPIC_CONFIG), e.get("retention.ms"), "retention.ms after AlterConfigs")
        check_eq(("compact", False, DYNAMIC_TOPIC_CONFIG), e.get("cleanup.policy"), "cleanup.policy after AlterConfigs")
        check_eq(b["max.message.bytes"], e.get("max.message.bytes"),
                 "max.message.bytes after an AlterConfigs that left it out (back to the default)")

        for bad in ({"no.such.config": "1"}, {"retention.ms": "not-a-number"}):
            resps = await a.alter_configs([ConfigResource(TOPIC, t, bad)])
            got = [(r[0], r[3]) for resp in resps for r in resp.resources]
            check_eq([(INVALID_CONFIG, t)], got, "AlterConfigs %r (error, name)" % (bad,))
        await asyncio.sleep(0.5)
        e2 = describe_entries(await a.describe_configs([ConfigResource(TOPIC, t)]), t)
        check_eq(e["retention.ms"], e2.get("retention.ms"), "retention.ms after the refused AlterConfigs")
        check_eq(e["cleanup.policy"], e2.get("cleanup.policy"), "cleanup.policy after the refused AlterConfigs")

        resp = await a.delete_topics([t, base], timeout_ms=TIMEOUT_MS)
        check_eq({t: NONE, base: NONE}, {x[0]: x[1] for x in resp.topic_error_codes}, "DeleteTopics error codes")
        return "%d topic entries, %d broker entries" % (len(e), len(be))
    finally:
        await a.close()


SCENARIOS = {
    "produce-consume-idempotent": scenario_produce_consume_idempotent,
    "compression": scenario_compression,
    "group-split": scenario_group_split,
    "group-commit-resume": scenario_group_commit_resume,
    "transactions": scenario_transactions,
    "txn-consume-transform-produce": scenario_txn_consume_transform_produce,
    "offsets": scenario_offsets,
    "admin-topics": scenario_admin_topics,
    "admin-configs": scenario_admin_configs,
}


def sync(fn):
    def run():
        return asyncio.run(asyncio.wait_for(fn(), SCENARIO_TIMEOUT))
    return run


def start(bootstrap):
    global BOOTSTRAP
    BOOTSTRAP = bootstrap
    logging.basicConfig(level=logging.DEBUG if os.environ.get("COMPAT_DEBUG") == "1" else logging.CRITICAL,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print("[aiokafka] client version %s" % aiokafka.__version__)


def main(argv):
    rc = run_scenarios("aiokafka", {k: sync(v) for k, v in SCENARIOS.items()}, argv, __doc__, start)
    if SENT:
        print("[aiokafka] requests sent: %s" % " ".join("%s=%d" % kv for kv in sorted(SENT.items())))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
