"""Apache Kafka 4.3.1's command-line tools against a broker: the tools' printed output, parsed.

usage: python3 compat.py BOOTSTRAP [scenario ...]
Every tool runs through tool.sh (reference/kafka.sh's kafka_tool, C1 only, a class-data-sharing
archive); records with chosen timestamps, transactions and group commits come from
compat.ToolsHelper (kafka-clients 4.3.1, `tool.sh helper ...`). Prints "PASS kafka-tools/<name>" /
"FAIL kafka-tools/<name>: reason", appends the verdicts to $COMPAT_RESULTS, exits 1 on a failure.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
from compat_lib import Mismatch, check, check_eq, run_scenarios, topic_name  # noqa: E402

TOOL = os.path.join(HERE, "tool.sh")
BOOTSTRAP = None
CALL_TIMEOUT = int(os.environ.get("KAFKA_TOOLS_CALL_TIMEOUT", "60"))
CALLS = {"tool": 0, "helper": 0}
# CreateTime of the records with chosen timestamps: an hour ago, a whole second. Not a fixed date:
# records older than retention.ms (7 days) are deleted by the broker's next retention check.
TS0 = (int(time.time()) - 3600) * 1000


def iso_utc(ms):
    """what --to-datetime takes: YYYY-MM-DDTHH:mm:SS.sssZ"""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


class Out:
    def __init__(self, args, rc, out, err, secs):
        self.args, self.rc, self.out, self.err, self.secs = args, rc, out, err, secs

    def lines(self):
        return [line for line in self.out.splitlines() if line.strip()]

    def __repr__(self):
        return "rc=%s stdout=%r stderr=%r" % (self.rc, self.out[-1500:], self.err[-1500:])


def run(name, *args, ok=True, bootstrap_flag="--bootstrap-server"):
    """Run kafka-NAME (or `helper`); ok=True: a non-zero exit is a failure."""
    argv = [TOOL, name]
    if bootstrap_flag:
        argv += [bootstrap_flag, BOOTSTRAP]
    argv += [str(a) for a in args]
    CALLS["helper" if name == "helper" else "tool"] += 1
    t0 = time.time()
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=CALL_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise Mismatch("%s timed out after %ss (stdout %r)" % (" ".join(argv[1:]), CALL_TIMEOUT,
                                                                (e.stdout or b"")[-500:]))
    o = Out(argv[1:], p.returncode, p.stdout, p.stderr, time.time() - t0)
    if os.environ.get("COMPAT_DEBUG") == "1":
        print("[kafka-tools] %s (%.1fs) -> %r" % (" ".join(argv[1:]), o.secs, o), flush=True)
    if ok and o.rc != 0:
        raise Mismatch("%s failed: %r" % (" ".join(argv[1:]), o))
    return o


def tool(name, *args, ok=True):
    return run(name, *args, ok=ok)


def helper(cmd, *args):
    return run("helper", cmd, BOOTSTRAP, *args, bootstrap_flag=None)


def produce(topic, prefix, *specs):
    """specs "P:COUNT:TS0:STEP"; returns [(partition, offset, ts, key)] in send order."""
    o = helper("produce", topic, prefix, *specs)
    recs = []
    for line in o.lines():
        f = line.split()
        if f[0] == "offset":
            recs.append((int(f[1]), int(f[2]), int(f[3]), f[4]))
    check_eq(sum(int(s.split(":")[1]) for s in specs), len(recs), "records acked by the helper")
    return recs


def read_all(topic, isolation="read_uncommitted"):
    """{partition: [(offset, ts, key, value)]}, {partition: (begin, end)}"""
    o = helper("read", topic, isolation)
    recs, ends = {}, {}
    for line in o.lines():
        f = line.split()
        if f[0] == "record":
            recs.setdefault(int(f[1]), []).append((int(f[2]), int(f[3]), f[4], f[5]))
        elif f[0] == "end":
            ends[int(f[1])] = (int(f[2]), int(f[3]))
    return recs, ends


def create_topic(topic, partitions, *extra):
    o = tool("topics", "--create", "--topic", topic, "--partitions", partitions, "--replication-factor", 1, *extra)
    check_eq(["Created topic %s." % topic], o.lines(), "kafka-topics --create output")


def error_class(o):
    """The exception class a tool reported (first org.apache.kafka... / java... exception name)."""
    m = re.search(r"((?:org\.apache\.kafka|java)[\w.]*\.(\w+(?:Exception|Error)))", o.out + "\n" + o.err)
    return m.group(2) if m else None


def retry(fn, tries=4, pause=0.5):
    """Run fn until it raises no Mismatch (metadata a broker applies asynchronously); bounded."""
    for i in range(tries):
        try:
            return fn()
        except Mismatch:
            if i == tries - 1:
                raise
            time.sleep(pause)


def tsv_rows(o):
    """kafka-transactions' tables: tab-separated, padded; [{header: value}]"""
    lines = o.lines()
    check(lines, "no table in %r" % o)
    head = [h.strip() for h in lines[0].split("\t") if h.strip()]
    rows = []
    for line in lines[1:]:
        vals = [v.strip() for v in line.split("\t")]
        rows.append(dict(zip(head, vals)))
    return head, rows


def group_rows(o, first="GROUP"):
    """kafka-consumer-groups' tables (space-aligned, no spaces in values): the rows under the
    header line starting with `first`."""
    out, head = [], None
    for line in o.out.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == first and head is None:
            head = f
            continue
        if head:
            out.append(f)
    check(head is not None, "no %s table in %r" % (first, o))
    return head, out


def parse_configs(o):
    """kafka-configs --describe: {title: {name: (value, sensitive, [synonym strings])}}"""
    res, cur = {}, None
    for line in o.out.splitlines():
        if not line.strip():
            continue
        if not line.startswith("  "):
            cur = line.strip()
            res[cur] = {}
            continue
        m = re.match(r"^  (\S+?)=(.*) sensitive=(\w+) synonyms=\{(.*)\}$", line)
        check(m is not None, "unparsable config line %r" % line)
        syn = [s.strip() for s in m.group(4).split(", ")] if m.group(4) else []
        res[cur][m.group(1)] = (m.group(2), m.group(3), syn)
    return res


def check_config(entries, name, value, source, synonym_name=None, what=""):
    """value, sensitive=false and the first synonym (the source the value comes from)"""
    check(name in entries, "%s: %s not listed (%s)" % (what, name, sorted(entries)))
    v, sens, syn = entries[name]
    check_eq(value, v, "%s: %s value" % (what, name))
    check_eq("false", sens, "%s: %s sensitive" % (what, name))
    if source:
        check(syn, "%s: %s has no synonyms" % (what, name))
        check_eq("%s:%s=%s" % (source, synonym_name or name, value), syn[0],
                 "%s: %s first synonym (the value's source)" % (what, name))


# --------------------------------------------------------------------------- scenarios

def scenario_topics():
    """kafka-topics --create/--alter/--describe/--list/--delete and its errors."""
    t = topic_name("kt-topics")
    create_topic(t, 3, "--config", "retention.ms=3600000", "--config", "cleanup.policy=delete")
    o = tool("topics", "--create", "--topic", t, "--partitions", 3, ok=False)
    check_eq(1, o.rc, "second --create exit status")
    check_eq("TopicExistsException", error_class(o), "second --create error")
    check("Error while executing topic command : Topic '%s' already exists." % t in o.out,
          "second --create message: %r" % o)
    o = tool("topics", "--alter", "--topic", t, "--partitions", 5)
    check_eq([], o.lines(), "--alter --partitions 5 output")
    o = tool("topics", "--alter", "--topic", t, "--partitions", 4, ok=False)
    check_eq(1, o.rc, "--alter to fewer partitions: exit status")
    check_eq("InvalidPartitionsException", error_class(o), "--alter to fewer partitions: error")

    def described():
        o = tool("topics", "--describe", "--topic", t)
        lines = o.lines()
        head = dict(kv.split(": ", 1) for kv in lines[0].split("\t"))
        check_eq(t, head["Topic"], "describe: Topic")
        check(re.fullmatch(r"[A-Za-z0-9_-]{22}", head["TopicId"]) is not None, "describe: TopicId %r" % head["TopicId"])
        check_eq("5", head["PartitionCount"], "describe: PartitionCount")
        check_eq("1", head["ReplicationFactor"], "describe: ReplicationFactor")
        cfg = dict(kv.split("=", 1) for kv in head["Configs"].split(",") if kv)
        check_eq("3600000", cfg.get("retention.ms"), "describe: Configs retention.ms (%r)" % head["Configs"])
        check_eq("delete", cfg.get("cleanup.policy"), "describe: Configs cleanup.policy (%r)" % head["Configs"])
        parts = []
        for line in lines[1:]:
            d = dict(kv.split(": ", 1) if ": " in kv else (kv.rstrip(":"), "") for kv in line.strip().split("\t"))
            parts.append((d["Topic"], d["Partition"], d["Leader"], d["Replicas"], d["Isr"]))
        check_eq([(t, str(p), "1", "1", "1") for p in range(5)], parts, "describe: partition lines")
        return head["TopicId"], lines
    topic_id, lines = retry(described)
    elr = sorted({re.search(r"\tElr: ([^\t]*)", ln).group(1) for ln in lines[1:]})
    o = tool("topics", "--list", "--exclude-internal")
    listed = o.lines()
    check(t in listed, "--list does not show %s: %r" % (t, listed))
    check_eq([], [n for n in listed if n.startswith("__")], "--list --exclude-internal shows internal topics")
    o = tool("topics", "--describe", "--topic", t + "-missing", ok=False)
    check_eq(1, o.rc, "--describe of a missing topic: exit status")
    check("Topic '%s-missing' does not exist as expected" % t in o.out, "missing topic message: %r" % o)
    o = tool("topics", "--delete", "--topic", t)
    check_eq([], o.lines(), "--delete output")

    def gone():
        o = tool("topics", "--list")
        check(t not in o.lines(), "%s still listed after --delete" % t)
    retry(gone, tries=3, pause=1.0)
    return "topic id %s, Elr column %r" % (topic_id, elr)


def scenario_configs():
    """kafka-configs --alter --add-config/--delete-config and --describe on a topic, on broker 1
    and on the cluster-wide broker default; the topic's effective values follow them."""
    t = topic_name("kt-configs")
    create_topic(t, 1)
    o = tool("configs", "--entity-type", "topics", "--entity-name", t, "--alter",
             "--add-config", "max.message.bytes=20000,retention.ms=7200000")
    check_eq(["Completed updating config for topic %s." % t], o.lines(), "topic --alter output")

    def topic_dynamic(expect):
        c = parse_configs(tool("configs", "--entity-type", "topics", "--entity-name", t, "--describe"))
        title = "Dynamic configs for topic %s are:" % t
        check_eq([title], list(c), "topic --describe title")
        check_eq(sorted(expect), sorted(c[title]), "topic --describe: the dynamic configs")
        for name, value in expect.items():
            check_config(c[title], name, value, "DYNAMIC_TOPIC_CONFIG", what="topic --describe")
        return c[title]
    first = retry(lambda: topic_dynamic({"max.message.bytes": "20000", "retention.ms": "7200000"}))
    o = tool("configs", "--entity-type", "topics", "--entity-name", t, "--alter",
             "--add-config", "cleanup.policy=[compact,delete]", "--delete-config", "retention.ms")
    check_eq(["Completed updating config for topic %s." % t], o.lines(), "topic --alter (add + delete) output")
    retry(lambda: topic_dynamic({"max.message.bytes": "20000", "cleanup.policy": "compact,delete"}))

    o = tool("configs", "--entity-type", "brokers", "--entity-name", 1, "--alter", "--add-config", "log.retention.ms=5400000")
    check_eq(["Completed updating config for broker 1."], o.lines(), "broker 1 --alter output")
    o = tool("configs", "--entity-type", "brokers", "--entity-default", "--alter", "--add-config", "log.segment.bytes=536870912")
    check_eq(["Completed updating default config for brokers in the cluster."], o.lines(), "broker default --alter output")

    def broker1():
        c = parse_configs(tool("configs", "--entity-type", "brokers", "--entity-name", 1, "--describe"))
        title = "Dynamic configs for broker 1 are:"
        check_eq([title], list(c), "broker 1 --describe title")
        check_eq(["log.retention.ms"], sorted(c[title]), "broker 1 --describe: the dynamic configs")
        check_config(c[title], "log.retention.ms", "5400000", "DYNAMIC_BROKER_CONFIG", what="broker 1 --describe")
        return c[title]
    b1 = retry(broker1)

    def topic_all(expect):
        c = parse_configs(tool("configs", "--entity-type", "topics", "--entity-name", t, "--describe", "--all"))
        title = "All configs for topic %s are:" % t
        check_eq([title], list(c), "topic --describe --all title")
        for name, (value, source, syn) in expect.items():
            check_config(c[title], name, value, source, syn, what="topic --describe --all")
        return c[title]
    inherited = retry(lambda: topic_all({
        "retention.ms": ("5400000", "DYNAMIC_BROKER_CONFIG", "log.retention.ms"),
        "segment.bytes": ("536870912", "DYNAMIC_DEFAULT_BROKER_CONFIG", "log.segment.bytes"),
        "max.message.bytes": ("20000", "DYNAMIC_TOPIC_CONFIG", None),
        "cleanup.policy": ("compact,delete", "DYNAMIC_TOPIC_CONFIG", None)}))

    o = tool("configs", "--entity-type", "brokers", "--entity-name", 1, "--alter", "--delete-config", "log.retention.ms")
    check_eq(["Completed updating config for broker 1."], o.lines(), "broker 1 --delete-config output")
    o = tool("configs", "--entity-type", "brokers", "--entity-default", "--alter", "--delete-config", "log.segment.bytes")
    check_eq(["Completed updating default config for brokers in the cluster."], o.lines(),
             "broker default --delete-config output")

    def broker1_empty():
        c = parse_configs(tool("configs", "--entity-type", "brokers", "--entity-name", 1, "--describe"))
        check_eq({"Dynamic configs for broker 1 are:": {}}, c, "broker 1 --describe after --delete-config")
    retry(broker1_empty)
    # back to the static defaults (7 days, 1 GiB); the synonyms of a default differ between
    # brokers (FINDINGS.md), so only the values are checked here
    final = retry(lambda: topic_all({"retention.ms": ("604800000", None, None),
                                     "segment.bytes": ("1073741824", None, None),
                                     "max.message.bytes": ("20000", "DYNAMIC_TOPIC_CONFIG", None)}))
    return "synonyms: topic dynamic retention.ms %s; broker 1 log.retention.ms %s; inherited retention.ms %s; " \
           "default retention.ms %s" % (first["retention.ms"][2], b1["log.retention.ms"][2],
                                        inherited["retention.ms"][2], final["retention.ms"][2])


def describe_offsets(group):
    o = tool("consumer-groups", "--describe", "--group", group)
    head, rows = group_rows(o)
    check_eq(["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
              "CLIENT-ID"], head, "--describe header")
    return o, sorted(tuple(r) for r in rows)


def reset(group, spec, *how):
    o = tool("consumer-groups", "--group", group, "--reset-offsets", "--topic", spec, *how, "--execute")
    head, rows = group_rows(o)
    check_eq(["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], head, "--reset-offsets header")
    return sorted((r[1], int(r[2]), int(r[3])) for r in rows)


def scenario_consumer_groups():
    """describe (offsets, lag, members, state) and --reset-offsets --to-datetime / --shift-by /
    --to-earliest --execute, checked with describe and a group consumer."""
    t = topic_name("kt-groups")
    g = "kt-group-" + t[-8:]
    create_topic(t, 2)
    # partition 0: offsets 0..9, CreateTime TS0 + i s; partition 1: 0..5, the same times
    produce(t, "g", "0:10:%d:1000" % TS0, "1:6:%d:1000" % TS0)
    helper("commit", g, t, "0=7", "1=2")
    o, rows = describe_offsets(g)
    check_eq(sorted([(g, t, "0", "7", "10", "3", "-", "-", "-"), (g, t, "1", "2", "6", "4", "-", "-", "-")]), rows,
             "describe after the commit (offset, end, lag)")
    check("Consumer group '%s' has no active members." % g in o.out + o.err, "no-members note: %r" % o)
    # the first record at or after TS0 + 3.5 s is offset 4 on both partitions
    check_eq([(t, 0, 4), (t, 1, 4)], reset(g, t, "--to-datetime", iso_utc(TS0 + 3500)), "--to-datetime")
    _, rows = describe_offsets(g)
    check_eq([("4", "10", "6"), ("4", "6", "2")], [r[3:6] for r in rows], "describe after --to-datetime")
    # +3: 7 on partition 0; 4+3 is past partition 1's end (6): the tool clamps it to 6
    check_eq([(t, 0, 7), (t, 1, 6)], reset(g, t, "--shift-by", 3), "--shift-by 3")
    check_eq([(t, 1, 0)], reset(g, t + ":1", "--to-earliest"), "--to-earliest on partition 1")
    _, rows = describe_offsets(g)
    check_eq([("7", "10", "3"), ("0", "6", "6")], [r[3:6] for r in rows], "describe after --shift-by/--to-earliest")
    # a group consumer resumes exactly there: partition 0 offsets 7..9, partition 1 0..5
    o = helper("group-read", g, t, 9)
    got = sorted((int(f[1]), int(f[2]), f[4]) for f in (ln.split() for ln in o.lines()) if f[0] == "record")
    want = sorted([(0, i, "g-k0-%d" % i) for i in range(7, 10)] + [(1, i, "g-k1-%d" % i) for i in range(6)])
    check_eq(want, got, "records the group consumer read after the resets")
    _, rows = describe_offsets(g)
    check_eq([("10", "10", "0"), ("6", "6", "0")], [r[3:6] for r in rows], "describe after the consumer committed")

    # an active member: a console consumer in another group, described while it runs
    g2 = g + "-live"
    bg = subprocess.Popen([TOOL, "console-consumer", "--bootstrap-server", BOOTSTRAP, "--topic", t, "--group", g2,
                           "--from-beginning", "--timeout-ms", "30000"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    CALLS["tool"] += 1
    try:
        time.sleep(3)

        def stable():
            o = tool("consumer-groups", "--describe", "--group", g2, "--state")
            head, rows = group_rows(o)
            check_eq(1, len(rows), "--state rows: %r" % o)
            r = rows[0]
            # GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS: host:port "(1)" strategy state n
            check_eq([g2, BOOTSTRAP, "(1)", "range", "Stable", "1"], r, "--state row")
        retry(stable, tries=8, pause=1.0)

        def members():
            o = tool("consumer-groups", "--describe", "--group", g2, "--members", "--verbose")
            head, rows = group_rows(o)
            check_eq(["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "CURRENT-EPOCH",
                      "CURRENT-ASSIGNMENT", "TARGET-EPOCH", "TARGET-ASSIGNMENT"], head, "--members --verbose header")
            check_eq(1, len(rows), "--members rows")
            r = rows[0]
            check(r[1].startswith("console-consumer-"), "member id %r" % r[1])
            check_eq([g2, "/127.0.0.1", "console-consumer", "2", "-", "%s:0,1" % t, "-", "-"],
                     [r[0]] + r[2:], "--members --verbose row")
        retry(members, tries=3, pause=1.0)
    finally:
        try:
            os.killpg(bg.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            bg.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(bg.pid, signal.SIGKILL)
            bg.wait()
    return ""


def txn_rows(o, key):
    head, rows = tsv_rows(o)
    return head, {r[key]: r for r in rows}


def scenario_transactions():
    """kafka-transactions list / describe / describe-producers around a hanging transaction that
    kafka-transactions abort ends (WriteTxnMarkers), plus a committed one."""
    t = topic_name("kt-txn")
    hang, done = "kt-hang-" + t[-8:], "kt-done-" + t[-8:]
    create_topic(t, 1)
    plain = produce(t, "p", "0:3:0:0")
    t_start = int(time.time() * 1000)
    o = helper("hang-txn", t, 0, hang, 4)
    sent = [(int(f[1]), int(f[2])) for f in (ln.split() for ln in o.lines()) if f[0] == "sent"]
    check_eq([3, 4, 5, 6], [s[0] for s in sent], "offsets of the open transaction's records")
    check("hanging" in o.out, "helper did not leave the transaction open: %r" % o)

    head, rows = txn_rows(tool("transactions", "list"), "TransactionalId")
    check_eq(["TransactionalId", "Coordinator", "ProducerId", "TransactionState"], head, "list header")
    check(hang in rows, "list does not show %s: %r" % (hang, rows))
    pid = rows[hang]["ProducerId"]
    check_eq({"TransactionalId": hang, "Coordinator": "1", "ProducerId": pid, "TransactionState": "Ongoing"},
             rows[hang], "list row of the open transaction")
    head, rows = txn_rows(tool("transactions", "describe", "--transactional-id", hang), "TransactionalId")
    d = rows[hang]
    now = int(time.time() * 1000)
    check_eq(("1", pid, "Ongoing", "600000", "%s-0" % t),
             (d["CoordinatorId"], d["ProducerId"], d["TransactionState"], d["TransactionTimeoutMs"], d["TopicPartitions"]),
             "describe row")
    check(t_start <= int(d["CurrentTransactionStartTimeMs"]) <= now, "describe start time %s not in [%d, %d]" %
          (d["CurrentTransactionStartTimeMs"], t_start, now))
    check(0 <= int(d["TransactionDurationMs"]) <= now - t_start, "describe duration %s" % d["TransactionDurationMs"])
    epoch = d["ProducerEpoch"]

    def producers():
        o = tool("transactions", "describe-producers", "--topic", t, "--partition", 0)
        head, rows = txn_rows(o, "ProducerId")
        check_eq(["ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence", "LastTimestamp",
                  "CurrentTransactionStartOffset"], head, "describe-producers header")
        check_eq(2, len(rows), "describe-producers: two producers (%r)" % rows)
        return rows
    rows = producers()
    check(pid in rows, "describe-producers does not list the transactional producer %s: %r" % (pid, rows))
    tx = rows.pop(pid)
    idem = list(rows.values())[0]
    check_eq({"ProducerEpoch": epoch, "LatestCoordinatorEpoch": "-1", "LastSequence": "3",
              "LastTimestamp": str(sent[-1][1]), "CurrentTransactionStartOffset": "3"},
             {k: v for k, v in tx.items() if k != "ProducerId"}, "describe-producers: the open transaction")
    check_eq({"ProducerEpoch": "0", "LatestCoordinatorEpoch": "-1", "LastSequence": "2",
              "LastTimestamp": str(plain[-1][2]), "CurrentTransactionStartOffset": "None"},
             {k: v for k, v in idem.items() if k != "ProducerId"}, "describe-producers: the idempotent producer")
    recs, ends = read_all(t, "read_committed")
    check_eq([0, 1, 2], [r[0] for r in recs.get(0, [])], "read_committed offsets while the transaction is open")
    check_eq((0, 3), ends[0], "read_committed begin/end (last stable offset 3) while open")

    t_abort = int(time.time() * 1000)
    o = tool("transactions", "abort", "--topic", t, "--partition", 0, "--start-offset", 3)
    t_abort_end = int(time.time() * 1000)
    check_eq([], o.lines(), "abort output")
    rows = producers()
    tx = rows.pop(pid)
    # the abort marker is the producer's last append: Apache Kafka reports its (broker) time
    check_eq({"ProducerEpoch": epoch, "LatestCoordinatorEpoch": "0", "LastSequence": "3",
              "CurrentTransactionStartOffset": "None"},
             {k: v for k, v in tx.items() if k not in ("ProducerId", "LastTimestamp")},
             "describe-producers after the abort")
    # checked last, so that the rest of the scenario runs either way
    last_ts = int(tx["LastTimestamp"])

    o = helper("commit-txn", t, 0, done, 2)
    check_eq([8, 9], [int(f[1]) for f in (ln.split() for ln in o.lines()) if f[0] == "sent"],
             "offsets of the committed transaction (after the abort marker at 7)")
    head, rows = txn_rows(tool("transactions", "list"), "TransactionalId")
    # the abort went to the partition only: the coordinator still has the transaction open
    check_eq(("Ongoing", "CompleteCommit"), (rows.get(hang, {}).get("TransactionState"),
                                             rows.get(done, {}).get("TransactionState")),
             "list states after the abort and the commit")
    recs, ends = read_all(t, "read_committed")
    check_eq([(0, "p-k0-0"), (1, "p-k0-1"), (2, "p-k0-2"), (8, done + "-k0"), (9, done + "-k1")],
             [(r[0], r[2]) for r in recs.get(0, [])], "read_committed records after the abort and the commit")
    check_eq((0, 11), ends[0], "read_committed begin/end after the commit marker (10)")
    check(t_abort <= last_ts <= t_abort_end,
          "describe-producers after the abort: LastTimestamp %d is not the abort marker's time (within "
          "[%d, %d]; the last data record's was %d)" % (last_ts, t_abort, t_abort_end, sent[-1][1]))
    return "producer %s epoch %s" % (pid, epoch)


def offsets(o):
    res = {}
    for line in o.lines():
        topic, p, off = line.rsplit(":", 2)
        res[int(p)] = int(off)
    return res


def scenario_get_offsets():
    """kafka-get-offsets --time -2 / -1 / -3 / a timestamp, --topic-partitions."""
    t = topic_name("kt-offsets")
    create_topic(t, 2)
    # partition 0: 10 records TS0 + i s, then 2 older ones (offsets 10, 11): the max timestamp
    # is at offset 9; partition 1: 6 records TS0 + i s
    produce(t, "o", "0:10:%d:1000" % TS0, "1:6:%d:1000" % TS0, "0:2:%d:1000" % (TS0 - 10000))
    check_eq({0: 0, 1: 0}, offsets(tool("get-offsets", "--topic", t, "--time", -2)), "--time -2 (earliest)")
    check_eq({0: 12, 1: 6}, offsets(tool("get-offsets", "--topic", t, "--time", -1)), "--time -1 (latest)")
    check_eq({0: 9, 1: 5}, offsets(tool("get-offsets", "--topic", t, "--time", -3)), "--time -3 (max timestamp)")
    check_eq({0: 5, 1: 5}, offsets(tool("get-offsets", "--topic", t, "--time", TS0 + 4500)), "--time TS0+4.5s")
    o = tool("get-offsets", "--topic-partitions", "%s:1" % t, "--time", TS0 + 2000)
    check_eq(["%s:1:2" % t], o.lines(), "--topic-partitions T:1 --time TS0+2s")
    o = tool("get-offsets", "--topic", t, "--time", TS0 + 60000)
    check_eq([], o.lines(), "--time after every record (no offset: nothing printed)")
    return ""


def scenario_delete_records():
    """kafka-delete-records --offset-json-file: low watermarks printed, then earliest offsets,
    what a consumer reads, and an offset past the end refused."""
    t = topic_name("kt-delrec")
    create_topic(t, 2)
    produce(t, "d", "0:10:0:0", "1:6:0:0")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"version": 1, "partitions": [{"topic": t, "partition": 0, "offset": 4},
                                                {"topic": t, "partition": 1, "offset": -1}]}, f)
        path = f.name
    try:
        o = tool("delete-records", "--offset-json-file", path)
        lines = o.lines()
        check_eq(["Executing records delete operation", "Records delete operation completed:"], lines[:2],
                 "delete-records output head")
        check_eq(sorted(["partition: %s-0\tlow_watermark: 4" % t, "partition: %s-1\tlow_watermark: 6" % t]),
                 sorted(lines[2:]), "delete-records low watermarks")
        check_eq({0: 4, 1: 6}, offsets(tool("get-offsets", "--topic", t, "--time", -2)), "earliest after delete-records")
        recs, ends = read_all(t)
        check_eq([(i, "d-k0-%d" % i) for i in range(4, 10)], [(r[0], r[2]) for r in recs.get(0, [])],
                 "partition 0 records after delete-records")
        check_eq([], recs.get(1, []), "partition 1 records after delete-records")
        check_eq({0: (4, 10), 1: (6, 6)}, ends, "begin/end offsets after delete-records")
        with open(path, "w") as f:
            json.dump({"version": 1, "partitions": [{"topic": t, "partition": 0, "offset": 50}]}, f)
        o = tool("delete-records", "--offset-json-file", path)
        bad = [ln for ln in o.lines() if ln.startswith("partition: ")]
        check_eq(1, len(bad), "delete-records past the end: result lines %r" % o)
        check(bad[0].startswith("partition: %s-0\terror: org.apache.kafka.common.errors.OffsetOutOfRangeException" % t),
              "delete-records past the end: %r" % bad[0])
    finally:
        os.unlink(path)
    return ""


def scenario_perf():
    """kafka-producer-perf-test writes exactly N records, kafka-consumer-perf-test reads exactly
    N (also when asked for N+1 with a short timeout)."""
    t = topic_name("kt-perf")
    n, size = 3000, 100
    create_topic(t, 3)
    o = tool("producer-perf-test", "--topic", t, "--num-records", n, "--record-size", size, "--throughput", -1,
             "--command-property", "bootstrap.servers=%s" % BOOTSTRAP, "acks=all")
    last = o.lines()[-1]
    m = re.match(r"^(\d+) records sent, [\d.]+ records/sec \(([\d.]+) MB/sec\), [\d.]+ ms avg latency", last)
    check(m is not None, "producer-perf-test summary %r" % last)
    check_eq(str(n), m.group(1), "producer-perf-test: records sent")
    ends = offsets(tool("get-offsets", "--topic", t, "--time", -1))
    check_eq(n, sum(ends.values()), "records in the topic after producer-perf-test (%r)" % ends)
    check_eq(3, len(ends), "partitions")

    def consumed(o):
        lines = [ln for ln in o.lines() if not ln.startswith("WARNING")]
        head = [h.strip() for h in lines[0].split(",")]
        vals = dict(zip(head, [v.strip() for v in lines[1].split(",")]))
        return vals
    o = tool("consumer-perf-test", "--topic", t, "--num-records", n, "--timeout", 20000)
    v = consumed(o)
    check_eq(str(n), v["data.consumed.in.nMsg"], "consumer-perf-test: records consumed")
    check_eq("%.4f" % (n * size / 1024.0 / 1024.0), v["data.consumed.in.MB"], "consumer-perf-test: MB consumed")
    check("WARNING" not in o.out, "consumer-perf-test warned: %r" % o)
    o = tool("consumer-perf-test", "--topic", t, "--num-records", n + 1, "--timeout", 3000)
    v = consumed(o)
    check_eq(str(n), v["data.consumed.in.nMsg"], "consumer-perf-test asked for N+1: records consumed")
    check("Exiting before consuming the expected number of records" in o.out, "no timeout warning: %r" % o)
    return "per partition %r" % ends


def scenario_console():
    """kafka-console-producer (keys, headers, a null value) -> kafka-console-consumer in a group
    (partition, offset, headers, key, value), then the group's committed offsets."""
    t = topic_name("kt-console")
    g = "kt-console-" + t[-8:]
    create_topic(t, 2)
    # (the default partitioner puts k1 and k2 on partition 1 of 2, k3 on partition 0)
    lines = [("h1:x,h2:y", "k1", "one"), ("h1:z", "k2", "two words"), ("h3:w", "k3", "<nil>"),
             ("h4:", "k1", "four"), ("h5:5", "k2", "five")]
    data = "".join("%s\t%s\t%s\n" % ln for ln in lines)
    p = subprocess.run([TOOL, "console-producer", "--bootstrap-server", BOOTSTRAP, "--topic", t,
                        "--reader-property", "parse.key=true", "--reader-property", "parse.headers=true",
                        "--reader-property", "key.separator=\t", "--reader-property", "headers.delimiter=\t",
                        "--reader-property", "null.marker=<nil>", "--command-property", "acks=all"],
                       input=data, capture_output=True, text=True, timeout=CALL_TIMEOUT)
    CALLS["tool"] += 1
    check_eq(0, p.returncode, "console-producer exit status (%r)" % p.stderr[-800:])
    o = tool("console-consumer", "--topic", t, "--group", g, "--from-beginning", "--max-messages", len(lines),
             "--timeout-ms", 20000, "--formatter-property", "print.key=true", "--formatter-property", "print.headers=true",
             "--formatter-property", "print.partition=true", "--formatter-property", "print.offset=true",
             "--formatter-property", "key.separator=|", "--formatter-property", "null.literal=<nil>")
    check("Processed a total of %d messages" % len(lines) in o.err + o.out, "console-consumer count: %r" % o)
    got = {}
    for ln in o.lines():
        f = ln.split("|")
        check_eq(5, len(f), "console-consumer line %r" % ln)
        check(f[0].startswith("Partition:") and f[1].startswith("Offset:"), "console-consumer line %r" % ln)
        got.setdefault(int(f[0][10:]), []).append((int(f[1][7:]), f[2], f[3], f[4]))
    # per partition: dense offsets from 0 in the order produced; a key always on one partition
    part_of = {}
    for p_, recs in got.items():
        check_eq(list(range(len(recs))), [r[0] for r in recs], "partition %d offsets" % p_)
        for r in recs:
            check(part_of.setdefault(r[2], p_) == p_, "key %s on two partitions" % r[2])
    flat = sorted(((part_of[r[2]], r[0]), (r[1], r[2], r[3])) for recs in got.values() for r in recs)
    want = []
    for p_ in sorted(got):
        want += [((p_, i), ln) for i, ln in enumerate(x for x in lines if part_of.get(x[1]) == p_)]
    check_eq(len(lines), len(flat), "records consumed")
    check_eq(2, len(got), "partitions the records went to (%r)" % got)
    check_eq(want, flat, "records consumed (headers, key, value per partition and offset)")
    _, rows = describe_offsets(g)
    want_rows = sorted((g, t, str(p_), str(len(got.get(p_, []))), str(len(got.get(p_, []))), "0") for p_ in (0, 1))
    check_eq(want_rows, [tuple(r[:6]) for r in rows], "the console consumer's committed offsets")
    return "partitions %r" % {p_: len(v) for p_, v in got.items()}


def scenario_acls():
    """kafka-acls against a broker without an authorizer: the broker advertises DescribeAcls and
    CreateAcls (kafka-broker-api-versions) and answers SECURITY_DISABLED to both."""
    o = tool("broker-api-versions")
    for api in ("DescribeAcls(29)", "CreateAcls(30)", "DeleteAcls(31)"):
        m = re.search(re.escape(api) + r": ([^,\n]*)", o.out)
        check(m is not None and "usable" in m.group(1), "%s advertised: %r" % (api, m and m.group(1)))
    o = tool("acls", "--list", ok=False)
    check_eq(1, o.rc, "acls --list exit status")
    check_eq("SecurityDisabledException", error_class(o), "acls --list error")
    o = tool("acls", "--add", "--allow-principal", "User:alice", "--operation", "Read", "--topic", "kt-acl", ok=False)
    check_eq(1, o.rc, "acls --add exit status")
    check_eq("SecurityDisabledException", error_class(o), "acls --add error")
    m = re.search(r"SecurityDisabledException: ([^\n]*)", o.out + o.err)
    return "message %r" % (m.group(1) if m else None)


SCENARIOS = {
    "topics": scenario_topics,
    "configs": scenario_configs,
    "consumer-groups": scenario_consumer_groups,
    "transactions": scenario_transactions,
    "get-offsets": scenario_get_offsets,
    "delete-records": scenario_delete_records,
    "perf": scenario_perf,
    "console": scenario_console,
    "acls": scenario_acls,
}


def start(bootstrap):
    global BOOTSTRAP
    BOOTSTRAP = bootstrap
    print("[kafka-tools] Apache Kafka 4.3.1 tools against %s" % bootstrap, flush=True)


if __name__ == "__main__":
    rc = run_scenarios("kafka-tools", SCENARIOS, sys.argv, __doc__, start)
    print("[kafka-tools] %d tool calls, %d helper calls" % (CALLS["tool"], CALLS["helper"]), flush=True)
    sys.exit(rc)
