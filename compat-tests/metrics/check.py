"""Odradek's observability HTTP surface (--metrics-listen: /metrics, /healthz, /readyz, /api/...)
checked with stock clients: confluent-kafka and kafka-python make the traffic, prometheus_client's
text parser reads /metrics, the standard library's http.client asks the HTTP routes.

usage: python check.py [scenario ...]        (starts its own brokers from $ODRADEK_BIN)
env:   ODRADEK_BIN (broker binary), METRICS_WORK (a directory for data dirs and broker logs),
       COMPAT_RESULTS (verdicts are appended there)
Prints "PASS metrics/<scenario>" / "FAIL metrics/<scenario>: reason", exits 1 if any failed.
"""
import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import confluent_kafka
import kafka  # kafka-python
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from compat_lib import Mismatch, check, check_eq, run_scenarios, topic_name  # noqa: E402

BIN = os.environ.get("ODRADEK_BIN", "")
WORK = os.environ.get("METRICS_WORK") or "/tmp"
VERBOSE = os.environ.get("METRICS_VERBOSE") == "1"   # print every bad-input answer
NOTES = []   # informational observations, printed at the end of the run


def note(msg):
    NOTES.append(msg)
    print("[metrics] NOTE: %s" % msg, flush=True)


def log(msg):
    print("[metrics] %s" % msg, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(what, fn, timeout=10.0, interval=0.25):
    """Calls fn() until it returns without raising Mismatch, at most `timeout` seconds; returns
    its value and how long it took. The last Mismatch is raised when time runs out."""
    t0 = time.time()
    while True:
        try:
            return fn(), time.time() - t0
        except Mismatch as e:
            if time.time() - t0 > timeout:
                raise Mismatch("%s (still after %.0f s): %s" % (what, timeout, e))
        time.sleep(interval)


# --- HTTP (standard library only) ----------------------------------------------------------

class Http:
    def __init__(self, port):
        self.port = port

    def request(self, method, path, timeout=10.0, body=None):
        """Returns (status, headers with lower-case names, body bytes). A connection closed or
        reset without an answer raises Mismatch."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.putrequest(method, path, skip_accept_encoding=True)
            if body is not None:
                c.putheader("Content-Length", str(len(body)))
                c.putheader("Content-Type", "application/json")
            c.endheaders(body)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                http.client.IncompleteRead, socket.timeout) as e:
            raise Mismatch("%s %s: no answer (%s: %s)" % (method, short(path), type(e).__name__, e))
        finally:
            c.close()

    def get_json(self, path, expect=200):
        status, headers, data = self.request("GET", path)
        if status != expect:
            raise Mismatch("GET %s: expected HTTP %d but got %d %s" % (short(path), expect, status, data[:300]))
        ctype = headers.get("content-type", "")
        check(ctype.startswith("application/json"), "GET %s: content-type %r is not JSON" % (short(path), ctype))
        try:
            return json.loads(data)
        except ValueError:
            raise Mismatch("GET %s: body is not JSON: %r" % (short(path), data[:300]))


def short(path, n=120):
    return path if len(path) <= n else "%s...(%d chars)" % (path[:n], len(path))


# --- /metrics ------------------------------------------------------------------------------

class Scrape:
    """One /metrics answer: raw text and every sample, keyed by sample name and labels."""

    def __init__(self, text, content_type):
        self.text = text
        self.content_type = content_type
        self.samples = []   # (name, labels dict, value) in order
        self.families = []
        for fam in text_string_to_metric_families(text):
            self.families.append(fam)
            for s in fam.samples:
                self.samples.append((s.name, dict(s.labels), s.value))

    def select(self, name, **labels):
        """[(labels, value)] of the samples called `name` whose labels include `labels`."""
        want = {k: str(v) for k, v in labels.items()}
        return [(lab, v) for n, lab, v in self.samples
                if n == name and all(lab.get(k) == v for k, v in want.items())]

    def value(self, name, **labels):
        """The value of the one sample with exactly these labels (None when absent)."""
        want = {k: str(v) for k, v in labels.items()}
        got = [v for n, lab, v in self.samples if n == name and lab == want]
        check(len(got) <= 1, "%s%r appears %d times" % (name, want, len(got)))
        return got[0] if got else None

    def total(self, name, **labels):
        return sum(v for _, v in self.select(name, **labels))


class Broker:
    """An odradek process with --metrics-listen; stdout is read for the `metrics: http://` line."""

    def __init__(self, name, args, dev=True, data_dir=None):
        self.name = name
        self.kport = free_port()
        self.hport = free_port()
        while self.hport == self.kport:
            self.hport = free_port()
        self.bootstrap = "127.0.0.1:%d" % self.kport
        self.http = Http(self.hport)
        cmd = [BIN]
        if dev:
            cmd.append("--dev")
        if data_dir:
            cmd += ["--data-dir", data_dir]
        cmd += ["--listen", self.bootstrap, "--metrics-listen", "127.0.0.1:%d" % self.hport,
                "--set", "group.initial.rebalance.delay.ms=0",
                "--set", "group.consumer.heartbeat.interval.ms=500"] + list(args)
        self.cmd = cmd
        self.log_path = os.path.join(WORK, "%s.log" % name)
        self.stdout_lines = []
        self.metrics_line = threading.Event()
        self.proc = None

    def spawn(self):
        logf = open(self.log_path, "ab")
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info"))
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=logf, env=env)
        logf.close()
        threading.Thread(target=self._read_stdout, daemon=True).start()

    def _read_stdout(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stdout_lines.append(line)
            with open(self.log_path, "a") as f:
                f.write("[stdout] %s\n" % line)
            if line.startswith("metrics: http://") or " metrics: http://" in line:
                self.metrics_line.set()

    def start(self, timeout=20.0):
        self.spawn()
        if not self.metrics_line.wait(timeout):
            raise Mismatch("broker %s printed no 'metrics: http://' line within %.0f s (stdout: %r)"
                           % (self.name, timeout, self.stdout_lines))
        want = "metrics: http://127.0.0.1:%d/metrics" % self.hport
        line = [x for x in self.stdout_lines if "metrics: http://" in x][0]
        check(want in line, "stdout line %r does not name %s" % (line, want))
        self.wait_kafka(timeout)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=20.0):
        """Polls /readyz until 200; notes a 503 seen after the Kafka port already accepted connections."""
        t0 = time.time()
        first503 = None
        while time.time() - t0 < timeout:
            st, _, body = self.http.request("GET", "/readyz", timeout=2)
            if st == 200:
                if first503 is not None:
                    note("%s: the Kafka port accepted connections while /readyz still answered 503 %s (for %.3f s)"
                         % (self.name, first503.decode("utf-8", "replace"), time.time() - t0))
                return
            check_eq(503, st, "/readyz while starting")
            if first503 is None:
                first503 = body
                ms, _, mbody = self.http.request("GET", "/metrics", timeout=2)
                fams = [ln.split(" ")[2] for ln in mbody.decode("utf-8", "replace").split("\n") if ln.startswith("# TYPE ")]
                note("%s: /metrics while /readyz says 503 declares %d families: %s" % (self.name, len(fams), fams[:4]))
            time.sleep(0.005)
        raise Mismatch("broker %s: /readyz not 200 within %.0f s" % (self.name, timeout))

    def wait_kafka(self, timeout=20.0):
        t0 = time.time()
        while time.time() - t0 < timeout:
            check(self.proc.poll() is None, "broker %s exited (%s)" % (self.name, self.proc.returncode))
            s = socket.socket()
            s.settimeout(0.5)
            ok = s.connect_ex(("127.0.0.1", self.kport)) == 0
            s.close()
            if ok:
                return
            time.sleep(0.1)
        raise Mismatch("broker %s: Kafka port %d not open after %.0f s" % (self.name, self.kport, timeout))

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def scrape(self):
        status, headers, data = self.http.request("GET", "/metrics")
        check_eq(200, status, "GET /metrics status")
        return Scrape(data.decode("utf-8"), headers.get("content-type", ""))


# --- Kafka helpers ------------------------------------------------------------------------

_ADMINS = {}


def admin(b):
    if b.bootstrap not in _ADMINS:
        _ADMINS[b.bootstrap] = AdminClient({"bootstrap.servers": b.bootstrap})
    return _ADMINS[b.bootstrap]


def create_topics(b, spec):
    fs = admin(b).create_topics([NewTopic(t, n, 1) for t, n in spec.items()], request_timeout=15)
    for t, f in fs.items():
        f.result(timeout=20)


def produce(b, topic, records, extra=None):
    """records: [(partition, key, value, timestamp_ms or None)]; acks=all; returns the delivery
    reports [(partition, offset)] and checks every record was delivered."""
    conf = {"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5}
    conf.update(extra or {})
    p = Producer(conf)
    delivered, errors = [], []

    def cb(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered.append((msg.partition(), msg.offset()))
    for part, key, value, ts in records:
        kw = {"key": key, "value": value, "partition": part, "on_delivery": cb}
        if ts is not None:
            kw["timestamp"] = ts
        while True:
            try:
                p.produce(topic, **kw)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    check_eq(0, p.flush(30), "records left unflushed")
    check(not errors, "delivery errors: %r" % errors[:5])
    check_eq(len(records), len(delivered), "delivery reports")
    return delivered


def end_offsets(delivered):
    """partition -> last delivered offset + 1"""
    out = {}
    for part, off in delivered:
        out[part] = max(out.get(part, 0), off + 1)
    return out


def consume_to_end(b, topic, partition):
    """A group-less consumer reads one partition from the beginning to its high watermark."""
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "plain-" + uuid.uuid4().hex[:6],
                  "enable.auto.commit": False})
    try:
        _, hi = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        c.assign([TopicPartition(topic, partition, confluent_kafka.OFFSET_BEGINNING)])
        got = []
        deadline = time.time() + 30
        while (not got or got[-1][1] < hi - 1) and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            got.append((m.partition(), m.offset(), m.key(), m.value()))
        return got
    finally:
        c.close()


def consume_assigned(b, topic, partitions, expect):
    """A group-less consumer (assign from the beginning, no commits) reads `expect` records."""
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "plain-" + uuid.uuid4().hex[:6],
                  "enable.auto.commit": False, "enable.auto.offset.store": False})
    try:
        c.assign([TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING) for p in partitions])
        got = []
        deadline = time.time() + 30
        while len(got) < expect and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            got.append((m.partition(), m.offset(), m.key(), m.value()))
        return got
    finally:
        c.close()


# --- the scenarios -------------------------------------------------------------------------

MAIN = None            # the broker of every scenario but the recovery part of `health`
STATE = {}             # what scenarios leave for later ones (topics, groups)
N_PER_PARTITION = 100  # records per partition of topic A (3 partitions)
M_RECORDS = 37         # records of topic B
AGO_MS = 30000         # A's records carry a CreateTime this far in the past


def needs(*keys):
    """Scenarios after `counts` read the topics it made (run them together, in order)."""
    missing = [k for k in keys if k not in STATE]
    check(not missing, "needs what `counts` leaves (%s): run counts first" % ", ".join(missing))
    return [STATE[k] for k in keys]


def main_broker():
    global MAIN
    if MAIN is None:
        MAIN = Broker("main", ["--set", "log.cleaner.backoff.ms=200"]).start()
    return MAIN


def s_health():
    b = main_broker()
    status, headers, data = b.http.request("GET", "/healthz")
    check_eq(200, status, "GET /healthz status")
    check(headers.get("content-type", "").startswith("application/json"), "/healthz content-type %r" % headers.get("content-type"))
    check_eq("ok", json.loads(data).get("status"), "/healthz status field (body %r)" % data)
    ready = b.http.get_json("/readyz")
    check_eq("ready", ready.get("status"), "/readyz status field (body %r)" % ready)
    sc = b.scrape()
    check_eq(1.0, sc.value("odradek_ready"), "odradek_ready once /readyz says ready")
    builds = sc.select("odradek_build_info")
    check_eq(1, len(builds), "odradek_build_info samples")
    version = b.http.get_json("/api/overview").get("version")
    check_eq(version, builds[0][0].get("version"), "odradek_build_info version label vs /api/overview version")
    check_eq(1.0, builds[0][1], "odradek_build_info value")
    return "healthz ok, readyz ready; " + recovery_readyz()


def recovery_readyz():
    """A broker restarted (after SIGKILL) on a data dir with many small segments: /readyz is
    polled from before the process starts until it answers 200."""
    data = os.path.join(WORK, "recovery-data")
    b1 = Broker("recovery-1", ["--set", "log.segment.bytes=2048"], dev=False, data_dir=data).start()
    topic = "recovery"
    parts = 16
    try:
        create_topics(b1, {topic: parts})
        recs = [(i % parts, b"k%d" % i, b"v" * 300, None) for i in range(12000)]
        delivered = produce(b1, topic, recs, {"batch.size": 2048, "linger.ms": 1})
        leo_before = end_offsets(delivered)
        sc = b1.scrape()
        segs_before = sc.total("kafka_log_log_numlogsegments", topic=topic)
        for p in range(parts):
            check_eq(leo_before[p], sc.value("kafka_log_log_logendoffset", topic=topic, partition=p),
                     "logendoffset of %s-%d before the restart" % (topic, p))
        check(segs_before > 500, "expected many segments with log.segment.bytes=2048, metrics say %r" % segs_before)
    finally:
        b1.stop(signal.SIGKILL)
    b2 = Broker("recovery-2", [], dev=False, data_dir=data)
    b2.hport, b2.kport = b1.hport, b1.kport   # same ports, same command line
    b2.cmd = b1.cmd
    b2.bootstrap, b2.http = b1.bootstrap, b1.http
    seen = []          # (seconds since spawn, status or exception name, body)
    during = None      # what the other routes answered while /readyz said 503
    t0 = time.time()
    b2.spawn()
    while time.time() - t0 < 60:
        try:
            st, _, body = b2.http.request("GET", "/readyz", timeout=2)
            seen.append((time.time() - t0, st, body))
            if st == 200:
                break
            if st == 503 and during is None:
                hz = b2.http.request("GET", "/healthz", timeout=2)[0]
                ms, _, mbody = b2.http.request("GET", "/metrics", timeout=2)
                ready_gauge = [ln for ln in mbody.decode("utf-8", "replace").split("\n") if ln.startswith("odradek_ready ")]
                api = b2.http.request("GET", "/api/topics", timeout=2)[0]
                still = b2.http.request("GET", "/readyz", timeout=2)[0]
                during = {"healthz": hz, "metrics": ms, "odradek_ready": ready_gauge, "api_topics": api, "readyz_after": still}
        except (Mismatch, OSError) as e:
            seen.append((time.time() - t0, "no-answer", str(e)[:60]))
        if b2.proc.poll() is not None:
            raise Mismatch("restarted broker exited with %s" % b2.proc.returncode)
        time.sleep(0.005)
    try:
        statuses = [s for _, s, _ in seen]
        check(statuses and statuses[-1] == 200, "/readyz never answered 200 within 60 s (last: %r)" % seen[-3:])
        starting = [(t, body) for t, s, body in seen if s == 503]
        others = sorted({s for s in statuses if s not in (200, 503, "no-answer")}, key=str)
        check(not others, "/readyz answered %r while starting (only 503 or 200 allowed)" % others)
        for t, body in starting:
            try:
                check_eq("starting", json.loads(body).get("status"), "503 /readyz status field")
            except ValueError:
                raise Mismatch("503 /readyz body is not JSON: %r" % body[:200])
        if during is not None:
            check_eq(200, during["healthz"], "/healthz while /readyz says starting")
            check(during["api_topics"] < 500 or during["api_topics"] == 503, "/api/topics while starting: %r" % during)
            if during["readyz_after"] == 503:
                check_eq(["odradek_ready 0"], during["odradek_ready"], "odradek_ready while /readyz says starting")
            STATE["during"] = during
        first_answer = next((t for t, s, _ in seen if s != "no-answer"), None)
        ready_at = seen[-1][0]
        sc = b2.scrape()
        check_eq(1.0, sc.value("odradek_ready"), "odradek_ready after /readyz 200")
        for p in range(parts):
            check_eq(leo_before[p], sc.value("kafka_log_log_logendoffset", topic=topic, partition=p),
                     "logendoffset of %s-%d after SIGKILL and restart" % (topic, p))
        segs_after = sc.total("kafka_log_log_numlogsegments", topic=topic)
        info = ("recovery of %d segments: HTTP first answered %.3f s after spawn, ready at %.3f s, "
                "503 starting seen %d times, %d segments after; while starting: %r" %
                (segs_before, first_answer if first_answer is not None else -1, ready_at, len(starting), segs_after, during))
        if not starting:
            note("readyz: no 503 'starting' seen during the restart (" + info + ")")
        STATE["recovery"] = info
        return info
    finally:
        b2.stop()


def s_counts():
    b = main_broker()
    a, bb = topic_name("A"), topic_name("B")
    STATE["A"], STATE["B"] = a, bb
    before = b.scrape()
    create_topics(b, {a: 3, bb: 1})
    # creating A again: TOPIC_ALREADY_EXISTS must show in errors_total
    again = admin(b).create_topics([NewTopic(a, 3, 1)], request_timeout=15)[a]
    try:
        again.result(timeout=20)
        raise Mismatch("creating %s twice succeeded" % a)
    except confluent_kafka.KafkaException as e:
        check_eq(confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS, e.args[0].code(), "second CreateTopics error")
    now = int(time.time() * 1000)
    ts0 = now - AGO_MS
    STATE["ts0"] = ts0
    n = 3 * N_PER_PARTITION
    recs_a = [(i % 3, b"key-%05d" % i, b"value-%05d-" % i + b"x" * (i % 50), ts0 + i) for i in range(n)]
    recs_b = [(0, None, b"b-%d" % i, None) for i in range(M_RECORDS)]
    payload_a = sum(len(k) + len(v) for _, k, v, _ in recs_a)
    da = produce(b, a, recs_a)
    db = produce(b, bb, recs_b)
    leo_a, leo_b = end_offsets(da), end_offsets(db)
    check_eq({0: N_PER_PARTITION, 1: N_PER_PARTITION, 2: N_PER_PARTITION}, leo_a, "A's end offsets from the delivery reports")
    sc = b.scrape()
    check_eq(float(n), sc.value("kafka_server_brokertopicmetrics_messagesin_total", topic=a), "messagesin_total{topic=A}")
    check_eq(float(M_RECORDS), sc.value("kafka_server_brokertopicmetrics_messagesin_total", topic=bb), "messagesin_total{topic=B}")
    bytes_in = sc.value("kafka_server_brokertopicmetrics_bytesin_total", topic=a)
    check(bytes_in is not None and bytes_in >= payload_a,
          "bytesin_total{topic=A} %r below the %d key+value bytes sent" % (bytes_in, payload_a))
    check(bytes_in < payload_a + n * 40 + 10000, "bytesin_total{topic=A} %r implausibly above %d payload bytes" % (bytes_in, payload_a))
    size_a = sc.total("kafka_log_log_size", topic=a)
    check_eq(bytes_in, size_a, "sum of kafka_log_log_size{topic=A} vs bytesin_total{topic=A} (batches are stored as received)")
    for topic, leo, parts in ((a, leo_a, 3), (bb, leo_b, 1)):
        for p in range(parts):
            for name in ("kafka_log_log_logendoffset", "kafka_log_log_highwatermark", "kafka_log_log_laststableoffset"):
                check_eq(float(leo[p]), sc.value(name, topic=topic, partition=p), "%s{%s,%d}" % (name, topic, p))
            check_eq(0.0, sc.value("kafka_log_log_logstartoffset", topic=topic, partition=p), "logstartoffset{%s,%d}" % (topic, p))
            check_eq(1.0, sc.value("kafka_log_log_numlogsegments", topic=topic, partition=p), "numlogsegments{%s,%d}" % (topic, p))
    produce_reqs = sc.total("kafka_network_requestmetrics_requests_total", request="Produce")
    check(produce_reqs > 0, "no Produce requests counted")
    check(produce_reqs <= n + M_RECORDS, "%r Produce requests for %d records" % (produce_reqs, n + M_RECORDS))
    versions = sorted(int(lab["version"]) for lab, _ in sc.select("kafka_network_requestmetrics_requests_total", request="Produce"))
    hist_count = sc.value("kafka_network_requestmetrics_totaltime_seconds_count", request="Produce")
    check(hist_count is not None and produce_reqs - 1 <= hist_count <= produce_reqs,
          "totaltime_seconds_count{Produce} %r vs requests_total{Produce} %r" % (hist_count, produce_reqs))
    inf = sc.value("kafka_network_requestmetrics_totaltime_seconds_bucket", request="Produce", le="+Inf")
    check_eq(hist_count, inf, "totaltime_seconds_bucket{Produce,+Inf} vs _count")
    none_errs = sc.value("kafka_network_requestmetrics_errors_total", request="Produce", error="NONE")
    check(none_errs is not None and none_errs >= produce_reqs,
          "errors_total{Produce,NONE} %r below the %r Produce requests (one per partition)" % (none_errs, produce_reqs))
    ct_exists = (sc.value("kafka_network_requestmetrics_errors_total", request="CreateTopics", error="TOPIC_ALREADY_EXISTS") or 0) - \
        (before.value("kafka_network_requestmetrics_errors_total", request="CreateTopics", error="TOPIC_ALREADY_EXISTS") or 0)
    check_eq(1.0, ct_exists, "errors_total{CreateTopics,TOPIC_ALREADY_EXISTS} increase after one duplicate create")
    ct_none = (sc.value("kafka_network_requestmetrics_errors_total", request="CreateTopics", error="NONE") or 0) - \
        (before.value("kafka_network_requestmetrics_errors_total", request="CreateTopics", error="NONE") or 0)
    check_eq(2.0, ct_none, "errors_total{CreateTopics,NONE} increase after creating 2 topics")
    # acks=all answers wait for the fsync of their partitions (README): the flush histograms moved
    flushes = sc.value("kafka_log_logflushstats_logflushrateandtime_seconds_count")
    check(flushes is not None and flushes >= 4, "logflushrateandtime_seconds_count %r after acks=all produces to 4 partitions" % flushes)
    synced = sc.value("odradek_log_flush_batch_size_sum")
    check(synced is not None and synced >= produce_reqs, "odradek_log_flush_batch_size_sum %r below the %r acks=all Produce requests" % (synced, produce_reqs))
    check((sc.value("odradek_log_flush_batch_size_count") or 0) >= 1, "odradek_log_flush_batch_size_count 0")
    # the JSON API agrees
    topics = {t["name"]: t for t in b.http.get_json("/api/topics")}
    check(a in topics, "/api/topics lacks %s" % a)
    check_eq(n, topics[a]["records"], "/api/topics records of A")
    check_eq(3, topics[a]["partitions"], "/api/topics partitions of A")
    check_eq(False, topics[a]["internal"], "/api/topics internal of A")
    check_eq(int(size_a), topics[a]["size_bytes"], "/api/topics size_bytes of A vs kafka_log_log_size")
    detail = b.http.get_json("/api/topics/%s" % a)
    hws = {p["partition"]: p["high_watermark"] for p in detail["partitions"]}
    check_eq(leo_a, hws, "/api/topics/A high watermarks")
    for p in detail["partitions"]:
        q = p["partition"]
        check_eq((sc.value("kafka_log_log_size", topic=a, partition=q), sc.value("kafka_log_log_numlogsegments", topic=a, partition=q),
                  sc.value("kafka_log_log_laststableoffset", topic=a, partition=q), sc.value("kafka_log_log_logstartoffset", topic=a, partition=q)),
                 (p["size_bytes"], p["segments"], p["last_stable_offset"], p["log_start_offset"]),
                 "/api/topics/A partition %d (size, segments, LSO, log start) vs the log gauges" % q)
    # everything of A read back by a group-less consumer
    got = consume_assigned(b, a, range(3), n)
    check_eq(n, len(got), "records of A read back")
    check_eq(sorted((p, k, v) for p, k, v, _ in recs_a), sorted((p, k, v) for p, _, k, v in got), "A's records read back")
    sc2, _ = wait_for("messagesout", lambda: need(b.scrape(), lambda s: (s.value(
        "kafka_server_brokertopicmetrics_messagesout_total", topic=a) or 0) >= n,
        "messagesout_total{topic=A} below %d" % n), timeout=5)
    out_a = sc2.value("kafka_server_brokertopicmetrics_messagesout_total", topic=a)
    bout_a = sc2.value("kafka_server_brokertopicmetrics_bytesout_total", topic=a)
    check(bout_a is not None and bout_a >= bytes_in, "bytesout_total{topic=A} %r below bytesin %r after reading all" % (bout_a, bytes_in))
    fetch_reqs = sc2.total("kafka_network_requestmetrics_requests_total", request="Fetch")
    check(fetch_reqs > 0, "no Fetch requests counted")
    return ("messagesin A=%d B=%d, bytesin A=%d (payload %d, log size %d), Produce requests %d (versions %s), "
            "histogram count %d, messagesout A=%d, bytesout A=%d, fsyncs %d covering %d sync requests" %
            (n, M_RECORDS, bytes_in, payload_a, size_a, produce_reqs, sorted(set(versions)), hist_count, out_a, bout_a,
             flushes, synced))


def need(value, pred, what):
    check(pred(value), what)
    return value


def group_consume_confluent(b, group, topic, targets, extra=None):
    """A classic-group confluent-kafka member subscribed to `topic` reads each partition p up to
    offset targets[p] (pausing it there) and commits exactly those offsets synchronously.
    Returns (consumer, records read, committed() answer)."""
    conf = {"bootstrap.servers": b.bootstrap, "group.id": group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": 10000}
    conf.update(extra or {})
    c = Consumer(conf)
    assigned = []
    c.subscribe([topic], on_assign=lambda cons, parts: assigned.extend(parts))
    pos = {p: 0 for p in targets}
    read = 0
    deadline = time.time() + 30
    while time.time() < deadline and any(pos[p] < targets[p] for p in targets):
        m = c.poll(0.3)
        if m is None or m.error():
            continue
        p = m.partition()
        if m.offset() != pos[p] or pos[p] >= targets[p]:
            continue   # past the target (fetched before the pause)
        pos[p] += 1
        read += 1
        if pos[p] >= targets[p]:
            c.pause([TopicPartition(topic, p)])
    check_eq(targets, pos, "offsets read by the confluent-kafka member of %s" % group)
    tps = [TopicPartition(topic, p, off) for p, off in targets.items()]
    res = c.commit(offsets=tps, asynchronous=False)
    check(all(t.error is None for t in res), "commit errors: %r" % res)
    committed = {t.partition: t.offset for t in c.committed([TopicPartition(topic, p) for p in targets], timeout=10)}
    return c, read, committed


def lag_checks(b, group, topic, hw, committed, ts0, caught_up_zero=True):
    """Waits until the consumergroup gauges say what `committed` implies, checks them; returns the scrape."""
    def probe():
        sc = b.scrape()
        for p, off in committed.items():
            check_eq(float(off), sc.value("kafka_consumergroup_current_offset", consumergroup=group, topic=topic, partition=p),
                     "current_offset{%s,%s,%d}" % (group, topic, p))
            check_eq(float(hw[p] - off), sc.value("kafka_consumergroup_lag", consumergroup=group, topic=topic, partition=p),
                     "lag{%s,%s,%d}" % (group, topic, p))
            ls = sc.value("kafka_consumergroup_lag_seconds", consumergroup=group, topic=topic, partition=p)
            check(ls is not None, "no lag_seconds{%s,%s,%d}" % (group, topic, p))
            if off >= hw[p]:
                check_eq(0.0, ls, "lag_seconds{%s,%s,%d} of a caught-up partition" % (group, topic, p))
            else:
                # the first unconsumed record has CreateTime ts0 + (its index in the produce order)
                first_ts = ts0 + off * 3 + p
                expect = time.time() - first_ts / 1000.0
                check(AGO_MS / 1000.0 - 1 <= ls <= expect + 5,
                      "lag_seconds{%s,%s,%d} = %r, expected about %.1f (record timestamp %d)" % (group, topic, p, ls, expect, first_ts))
        return sc
    sc, waited = wait_for("consumer-group gauges of %s" % group, probe, timeout=12, interval=0.5)
    if waited > 1:
        note("consumergroup gauges of %s matched the commit only after %.1f s" % (group, waited))
    return sc


def s_lag():
    b = main_broker()
    a, ts0 = needs("A", "ts0")
    hw = {p: N_PER_PARTITION for p in range(3)}
    n = 3 * N_PER_PARTITION
    targets = {0: 100, 1: 40, 2: 10}
    k = sum(targets.values())
    g1 = topic_name("lag-ck")
    c, read, committed = group_consume_confluent(b, g1, a, targets)
    try:
        check_eq(k, read, "records read by the group member")
        check_eq(targets, committed, "confluent-kafka committed()")
        sc = lag_checks(b, g1, a, hw, committed, ts0)
        check_eq(float(n - k), sc.total("kafka_consumergroup_lag", consumergroup=g1), "sum of lag{%s} (N - K)" % g1)
        check_eq(1.0, sc.value("kafka_consumergroup_members", consumergroup=g1), "members{%s}" % g1)
        lag_s = {p: sc.value("kafka_consumergroup_lag_seconds", consumergroup=g1, topic=a, partition=p) for p in range(3)}
        # the JSON API agrees
        g = b.http.get_json("/api/groups/%s" % g1)
        check_eq("classic", g.get("protocol"), "/api/groups/g protocol")
        check_eq("Stable", g.get("state"), "/api/groups/g state")
        check_eq("consumer", g.get("protocol_type"), "/api/groups/g protocol_type")
        check_eq(1, len(g.get("members", [])), "/api/groups/g members")
        asg = {(x["topic"], p) for x in g["members"][0]["assignment"] for p in x["partitions"]}
        check_eq({(a, 0), (a, 1), (a, 2)}, asg, "/api/groups/g member assignment")
        offs = {o["partition"]: o for o in g["offsets"] if o["topic"] == a}
        for p in range(3):
            check(p in offs, "/api/groups/g offsets lack partition %d: %r" % (p, g["offsets"]))
            check_eq(committed[p], offs[p]["committed"], "/api/groups/g committed p%d" % p)
            check_eq(hw[p], offs[p]["high_watermark"], "/api/groups/g high_watermark p%d" % p)
            check_eq(hw[p] - committed[p], offs[p]["lag"], "/api/groups/g lag p%d" % p)
            if committed[p] >= hw[p]:
                check_eq(0, offs[p]["lag_ms"], "/api/groups/g lag_ms p%d (caught up)" % p)
            else:
                check(offs[p]["lag_ms"] >= AGO_MS - 1000, "/api/groups/g lag_ms p%d = %r" % (p, offs[p]["lag_ms"]))
                check(abs(offs[p]["lag_ms"] / 1000.0 - lag_s[p]) < 5, "/api/groups/g lag_ms p%d %r vs lag_seconds %r" % (p, offs[p]["lag_ms"], lag_s[p]))
        listed = {x["group_id"]: x for x in b.http.get_json("/api/groups")}
        check(g1 in listed, "/api/groups lacks %s" % g1)
        check_eq(n - k, listed[g1]["lag"], "/api/groups lag of %s" % g1)
        check_eq(1, listed[g1]["members"], "/api/groups members of %s" % g1)

        # kafka-python (classic group) commits the same offsets in another group: same gauges
        g2 = topic_name("lag-kp")
        kp_committed = group_consume_kafka_python(b, g2, a, targets)
        check_eq(targets, kp_committed, "kafka-python committed()")
        sc2 = lag_checks(b, g2, a, hw, kp_committed, ts0)
        for p in range(3):
            check_eq(sc2.value("kafka_consumergroup_lag", consumergroup=g1, topic=a, partition=p),
                     sc2.value("kafka_consumergroup_lag", consumergroup=g2, topic=a, partition=p),
                     "lag of p%d: confluent-kafka group vs kafka-python group" % p)
        listed = {x["group_id"]: x for x in b.http.get_json("/api/groups")}
        check(g2 in listed, "/api/groups lacks the kafka-python group %s (closed: Empty)" % g2)
        check_eq("Empty", listed[g2]["state"], "/api/groups state of the closed kafka-python group")
        check_eq(n - k, listed[g2]["lag"], "/api/groups lag of the kafka-python group")

        # the confluent member reads the rest and commits: no lag anywhere
        for p, off in targets.items():
            c.seek(TopicPartition(a, p, off))
        c.resume([TopicPartition(a, p) for p in range(3)])
        pos = dict(targets)
        deadline = time.time() + 30
        while time.time() < deadline and any(pos[p] < hw[p] for p in pos):
            m = c.poll(0.3)
            if m is None or m.error() or m.offset() != pos[m.partition()]:
                continue
            pos[m.partition()] += 1
        check_eq(hw, pos, "positions after reading the rest")
        res = c.commit(offsets=[TopicPartition(a, p, hw[p]) for p in range(3)], asynchronous=False)
        check(all(t.error is None for t in res), "commit errors: %r" % res)
        sc3 = lag_checks(b, g1, a, hw, dict(hw), ts0)
        check_eq(0.0, sc3.total("kafka_consumergroup_lag", consumergroup=g1), "sum of lag after reading everything")
        check_eq(0.0, sc3.total("kafka_consumergroup_lag_seconds", consumergroup=g1), "sum of lag_seconds after reading everything")
        g = b.http.get_json("/api/groups/%s" % g1)
        check_eq([0, 0, 0], [o["lag"] for o in sorted(g["offsets"], key=lambda o: o["partition"]) if o["topic"] == a],
                 "/api/groups/g lag after reading everything")
    finally:
        c.close()
    return "K=%d of N=%d, lag %d, lag_seconds %s; same lag from the kafka-python group; 0 after the rest" % (
        k, n, n - k, {p: round(v, 1) for p, v in lag_s.items()})


def group_consume_kafka_python(b, group, topic, targets):
    from kafka.structs import OffsetAndMetadata
    from kafka.structs import TopicPartition as KTP
    c = kafka.KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=group, enable_auto_commit=False,
                            auto_offset_reset="earliest", consumer_timeout_ms=1000)
    try:
        c.subscribe([topic])
        pos = {p: 0 for p in targets}
        deadline = time.time() + 30
        while time.time() < deadline and any(pos[p] < targets[p] for p in targets):
            for tp, msgs in c.poll(timeout_ms=300).items():
                for m in msgs:
                    if m.offset == pos[tp.partition] and pos[tp.partition] < targets[tp.partition]:
                        pos[tp.partition] += 1
                if pos[tp.partition] >= targets[tp.partition]:
                    c.pause(tp)
        check_eq(targets, pos, "offsets read by the kafka-python member")
        c.commit({KTP(topic, p): OffsetAndMetadata(off, "", -1) for p, off in targets.items()})
        return {p: c.committed(KTP(topic, p)) for p in targets}
    finally:
        c.close()


def s_groups_txn():
    b = main_broker()
    bb, = needs("B")
    before = b.scrape()
    reb0 = before.total("kafka_coordinator_group_rebalances_total", protocol="classic")
    g = topic_name("gauge-classic")
    g848 = topic_name("gauge-848")
    c1, _, _ = group_consume_confluent(b, g, bb, {0: 5})
    c2 = Consumer({"bootstrap.servers": b.bootstrap, "group.id": g848, "group.protocol": "consumer",
                   "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        c2.subscribe([bb])
        got = 0
        deadline = time.time() + 30
        while got < M_RECORDS and time.time() < deadline:
            m = c2.poll(0.3)
            if m is not None and not m.error():
                got += 1
        check_eq(M_RECORDS, got, "records read by the KIP-848 member")

        def probe():
            sc = b.scrape()
            check((sc.value("kafka_coordinator_group_groups", protocol="classic", state="Stable") or 0) >= 1,
                  "groups{classic,Stable} %r" % sc.select("kafka_coordinator_group_groups"))
            check((sc.value("kafka_coordinator_group_groups", protocol="consumer", state="Stable") or 0) >= 1,
                  "groups{consumer,Stable} %r" % sc.select("kafka_coordinator_group_groups"))
            return sc
        sc, _ = wait_for("group gauges", probe, timeout=10)
        reb1 = sc.total("kafka_coordinator_group_rebalances_total", protocol="classic")
        check(reb1 > reb0, "rebalances_total{classic} did not increase (%r -> %r)" % (reb0, reb1))
        reb848 = sc.select("kafka_coordinator_group_rebalances_total", protocol="consumer")
        listed = {x["group_id"]: x for x in b.http.get_json("/api/groups")}
        check_eq(("classic", "Stable"), (listed.get(g, {}).get("protocol"), listed.get(g, {}).get("state")), "/api/groups %s" % g)
        check_eq(("consumer", "Stable"), (listed.get(g848, {}).get("protocol"), listed.get(g848, {}).get("state")), "/api/groups %s" % g848)
        gauges = {(lab["protocol"], lab["state"]): v for lab, v in sc.select("kafka_coordinator_group_groups")}
    finally:
        c1.close()
        c2.close()

    def empty_probe():
        sc = b.scrape()
        check((sc.value("kafka_coordinator_group_groups", protocol="classic", state="Empty") or 0) >= 1,
              "groups{classic,Empty} after the members left: %r" % sc.select("kafka_coordinator_group_groups"))
        return sc
    wait_for("group gauges after leaving", empty_probe, timeout=10)

    # transactions: commit one, abort one, then one left open, then committed
    t = topic_name("txn")
    create_topics(b, {t: 1})
    tid = "tid-" + uuid.uuid4().hex[:8]
    p = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": tid, "acks": "all"})
    p.init_transactions(15)

    def txn(count, tag):
        p.begin_transaction()
        for i in range(count):
            p.produce(t, value=b"%s-%d" % (tag, i), partition=0)
        check_eq(0, p.flush(15), "unflushed transactional records")

    def state_probe(state):
        def f():
            sc = b.scrape()
            check((sc.value("kafka_coordinator_transaction_transactions", state=state) or 0) >= 1,
                  "transactions{state=%s}: %r" % (state, sc.select("kafka_coordinator_transaction_transactions")))
            return sc
        return wait_for("transaction gauge %s" % state, f, timeout=10)[0]

    def api_txn():
        got = [x for x in b.http.get_json("/api/transactions") if x["transactional_id"] == tid]
        check_eq(1, len(got), "/api/transactions entries for %s" % tid)
        return got[0]
    txn(5, b"c")
    p.commit_transaction(15)
    sc = state_probe("CompleteCommit")
    check_eq("CompleteCommit", api_txn()["state"], "/api/transactions state after the commit")
    txn(5, b"a")
    p.abort_transaction(15)
    sc = state_probe("CompleteAbort")
    check_eq("CompleteAbort", api_txn()["state"], "/api/transactions state after the abort")
    for name in ("kafka_log_log_logendoffset", "kafka_log_log_laststableoffset", "kafka_log_log_highwatermark"):
        check_eq(12.0, sc.value(name, topic=t, partition=0), "%s after commit (5 + marker) and abort (5 + marker)" % name)
    txn(3, b"o")
    sc = state_probe("Ongoing")
    open_txn = api_txn()
    check_eq("Ongoing", open_txn["state"], "/api/transactions state of the open transaction")
    check_eq([{"topic": t, "partition": 0}], open_txn["partitions"], "/api/transactions partitions of the open transaction")
    check_eq(15.0, sc.value("kafka_log_log_logendoffset", topic=t, partition=0), "logendoffset with 3 records open")
    check_eq(12.0, sc.value("kafka_log_log_laststableoffset", topic=t, partition=0), "laststableoffset with a transaction open at 12")
    p.commit_transaction(15)
    sc = state_probe("CompleteCommit")
    check_eq(16.0, sc.value("kafka_log_log_logendoffset", topic=t, partition=0), "logendoffset after the third commit")
    check_eq(16.0, sc.value("kafka_log_log_laststableoffset", topic=t, partition=0), "laststableoffset after the third commit")
    msgs_in = sc.value("kafka_server_brokertopicmetrics_messagesin_total", topic=t)
    check(msgs_in in (13.0, 16.0), "messagesin_total{txn topic} %r: 13 records (+3 markers)" % msgs_in)
    # the messages API: control records skipped, transactional flag set
    m = b.http.get_json("/api/topics/%s/messages?partition=0" % t)
    offs = [r["offset"] for r in m["records"]]
    check_eq(list(range(0, 5)) + list(range(6, 11)) + list(range(12, 15)), offs, "/api/topics/t/messages offsets (markers skipped)")
    check(all(r["transactional"] is True for r in m["records"]), "records of transactions not flagged transactional")
    check_eq("a-0", m["records"][5]["value"]["text"], "value text of the first aborted record")
    check_eq(16, m["high_watermark"], "/messages high_watermark")
    txstates = {lab["state"]: v for lab, v in sc.select("kafka_coordinator_transaction_transactions")}
    return "groups %s, rebalances classic %d -> %d, consumer %r; transactions %s; LSO = LEO = 16; messagesin %d" % (
        gauges, reb0, reb1, [v for _, v in reb848], txstates, msgs_in)


def s_connections():
    b = main_broker()
    extra = 20

    def count(sc):
        v = sc.value("kafka_server_socketservermetrics_connection_count", listener="PLAINTEXT")
        check(v is not None, "no connection_count{listener=PLAINTEXT}: %r" % sc.select("kafka_server_socketservermetrics_connection_count"))
        return v
    # connections of clients from earlier scenarios may still be closing: wait for a steady count
    prev, sc0 = None, b.scrape()
    for _ in range(20):
        if count(sc0) == prev:
            break
        prev = count(sc0)
        time.sleep(0.3)
        sc0 = b.scrape()
    c0 = count(sc0)
    created0 = sc0.value("kafka_server_socketservermetrics_connection_creation_total", listener="PLAINTEXT")
    socks = []
    try:
        for _ in range(extra):
            s = socket.create_connection(("127.0.0.1", b.kport), timeout=5)
            socks.append(s)
        sc1, _ = wait_for("connection_count up", lambda: need(b.scrape(), lambda s: count(s) >= c0 + extra,
                                                               "connection_count below %d + %d" % (c0, extra)), timeout=5)
        c1 = count(sc1)
        created1 = sc1.value("kafka_server_socketservermetrics_connection_creation_total", listener="PLAINTEXT")
        check(created1 - created0 >= extra, "connection_creation_total rose by %r for %d sockets" % (created1 - created0, extra))
        ov = b.http.get_json("/api/overview")
        lst = [x for x in ov["listeners"] if x["name"] == "PLAINTEXT"]
        check_eq(1, len(lst), "/api/overview PLAINTEXT listener")
        check(lst[0]["connections"] >= c0 + extra, "/api/overview connections %r with %d extra sockets" % (lst[0]["connections"], extra))
        check_eq(b.bootstrap, lst[0]["address"], "/api/overview listener address")
    finally:
        for s in socks:
            s.close()
    sc2, waited = wait_for("connection_count down", lambda: need(b.scrape(), lambda s: count(s) <= c0,
                                                                  "connection_count above %d" % c0), timeout=10)
    return "connection_count %d -> %d -> %d (down after %.1f s), creation_total +%d" % (
        c0, c1, count(sc2), waited, created1 - created0)


def s_deleted():
    """Deleted topics and groups leave the gauges and the JSON API."""
    b = main_broker()
    d = topic_name("D")
    create_topics(b, {d: 2})
    produce(b, d, [(i % 2, None, b"d%d" % i, None) for i in range(10)])
    g = topic_name("del-g")
    c, _, _ = group_consume_confluent(b, g, d, {0: 5, 1: 2})
    c.close()
    sc = b.scrape()
    check_eq(2, len(sc.select("kafka_log_log_logendoffset", topic=d)), "logendoffset series of %s before the delete" % d)
    check_eq(2, len(sc.select("kafka_consumergroup_lag", consumergroup=g)), "lag series of %s before the delete" % g)
    res = admin(b).delete_consumer_groups([g], request_timeout=15)
    res[g].result(timeout=20)
    fs = admin(b).delete_topics([d], operation_timeout=15)
    fs[d].result(timeout=20)

    def gone():
        sc = b.scrape()
        left = [(n, lab) for n, lab, _ in sc.samples
                if (n.startswith("kafka_log_log_") and lab.get("topic") == d)
                or (n.startswith("kafka_consumergroup_") and lab.get("consumergroup") == g)]
        check(not left, "series left: %r" % left[:6])
        return sc
    sc, waited = wait_for("series of the deleted topic and group", gone, timeout=10)
    st, _, body = b.http.request("GET", "/api/topics/%s" % d)
    check_eq(404, st, "/api/topics/<deleted> (body %r)" % body[:200])
    st, _, body = b.http.request("GET", "/api/groups/%s" % g)
    check_eq(404, st, "/api/groups/<deleted> (body %r)" % body[:200])
    check(d not in [t["name"] for t in b.http.get_json("/api/topics")], "/api/topics still lists %s" % d)
    check(g not in [x["group_id"] for x in b.http.get_json("/api/groups")], "/api/groups still lists %s" % g)
    counters = sorted({n for n, lab, _ in sc.samples if lab.get("topic") == d})
    if counters:
        note("after DeleteTopics, per-topic series of %s stay: %s (Kafka removes a deleted topic's BrokerTopicMetrics)" % (d, counters))
    return "log gauges and group gauges gone %.1f s after the deletes; per-topic counters left: %s" % (waited, counters or "none")


def s_purgatory():
    """A consumer long-polling an empty partition parks its Fetch: purgatorysize{Fetch} >= 1."""
    b = main_broker()
    e = topic_name("empty")
    create_topics(b, {e: 1})
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "plain-" + uuid.uuid4().hex[:6],
                  "enable.auto.commit": False, "fetch.wait.max.ms": 2000})
    c.assign([TopicPartition(e, 0, confluent_kafka.OFFSET_BEGINNING)])
    stop = threading.Event()
    got = []

    def poller():
        while not stop.is_set():
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append(m.value())
    th = threading.Thread(target=poller, daemon=True)
    th.start()
    try:
        def parked():
            sc = b.scrape()
            v = sc.value("kafka_server_delayedoperationpurgatory_purgatorysize", delayedoperation="Fetch")
            check(v is not None and v >= 1, "purgatorysize{Fetch} %r with a consumer waiting on an empty partition" % v)
            return v
        v, waited = wait_for("a parked fetch", parked, timeout=10, interval=0.2)
        # a record ends the wait: the consumer gets it
        produce(b, e, [(0, None, b"wake", None)])
        wait_for("the record", lambda: check_eq([b"wake"], got, "records the waiting consumer got"), timeout=10)
    finally:
        stop.set()
        th.join(5)
        c.close()

    def empty():
        v = b.scrape().value("kafka_server_delayedoperationpurgatory_purgatorysize", delayedoperation="Fetch")
        check_eq(0.0, v, "purgatorysize{Fetch} after the consumer closed")
    wait_for("purgatory empty", empty, timeout=10)
    return "purgatorysize{Fetch} %d while waiting (seen after %.1f s), 0 after close" % (v, waited)


def s_cleaner():
    """A compacted topic with small segments: the cleaner's counters and dirty gauges."""
    b = main_broker()
    t = topic_name("compact")
    fs = admin(b).create_topics([NewTopic(t, 1, 1, config={
        "cleanup.policy": "compact", "segment.bytes": "1024", "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "100"})], request_timeout=15)
    fs[t].result(timeout=20)
    before = b.scrape()
    passes0 = before.value("kafka_log_logcleaner_passes_total") or 0
    cleaned0 = before.value("kafka_log_logcleaner_cleaned_bytes_total") or 0
    keys = [b"key-%d" % k for k in range(5)]
    recs = [(0, keys[i % 5], b"value-%04d-" % i + b"p" * 40, None) for i in range(300)]
    produce(b, t, recs, {"linger.ms": 0, "batch.size": 1024})
    sc = b.scrape()
    size0 = sc.value("kafka_log_log_size", topic=t, partition=0)
    segs0 = sc.value("kafka_log_log_numlogsegments", topic=t, partition=0)
    dirty0 = sc.value("kafka_log_logcleanermanager_dirty_bytes", topic=t, partition=0)
    check(segs0 is not None and segs0 > 5, "numlogsegments %r with segment.bytes=1024" % segs0)

    def cleaned():
        sc = b.scrape()
        p = sc.value("kafka_log_logcleaner_passes_total") or 0
        cb = sc.value("kafka_log_logcleaner_cleaned_bytes_total") or 0
        check(p > passes0 and cb > cleaned0, "passes_total %r -> %r, cleaned_bytes_total %r -> %r" % (passes0, p, cleaned0, cb))
        size = sc.value("kafka_log_log_size", topic=t, partition=0)
        check(size < size0, "log size %r not below %r" % (size, size0))
        return sc
    sc2, waited = wait_for("a cleaner pass over %s" % t, cleaned, timeout=30, interval=0.5)
    # nothing is written any more: the cleaner catches up (passes every 200 ms), then nothing is dirty
    dirty_seen = []

    def clean_now():
        sc = b.scrape()
        d = sc.value("kafka_log_logcleanermanager_dirty_bytes", topic=t, partition=0)
        mdp = sc.value("kafka_log_logcleanermanager_max_dirty_percent")
        dirty_seen.append(d)
        check(d is not None, "no dirty_bytes series for the compacted topic")
        check(mdp is not None and 0 <= mdp <= 100, "max_dirty_percent %r" % mdp)
        check(d == 0 and mdp == 0, "dirty_bytes %r, max_dirty_percent %r once the cleaner caught up" % (d, mdp))
        return sc
    sc2, _ = wait_for("the cleaner catching up", clean_now, timeout=15, interval=0.3)
    dirty1 = dirty_seen[0]
    mdp = sc2.value("kafka_log_logcleanermanager_max_dirty_percent")
    # what the cleaner kept: the last value of every key is still there
    got = consume_to_end(b, t, 0)
    last = {}
    for _, _, k, v in got:
        last[k] = v
    want = {k: v for _, k, v, _ in recs}
    check_eq(want, last, "latest value per key after compaction")
    check(len(got) < len(recs), "compaction removed nothing: %d records read" % len(got))
    return ("cleaner pass after %.1f s: passes +%d, cleaned bytes +%d, log %d -> %d bytes, dirty_bytes %r right after "
            "the produce, %r after the first pass, then 0; max_dirty_percent %r, %d of %d records kept, segments %r -> %r" % (
                waited, sc2.value("kafka_log_logcleaner_passes_total") - passes0,
                sc2.value("kafka_log_logcleaner_cleaned_bytes_total") - cleaned0, size0,
                sc2.value("kafka_log_log_size", topic=t, partition=0), dirty0, dirty1, mdp, len(got), len(recs),
                segs0, sc2.value("kafka_log_log_numlogsegments", topic=t, partition=0)))


CONTRACT_METRICS = {
    "counter": ["kafka_network_requestmetrics_requests_total", "kafka_network_requestmetrics_errors_total",
                "kafka_server_brokertopicmetrics_bytesin_total", "kafka_server_brokertopicmetrics_bytesout_total",
                "kafka_server_brokertopicmetrics_messagesin_total", "kafka_server_brokertopicmetrics_messagesout_total",
                "kafka_server_socketservermetrics_connection_creation_total", "kafka_log_logcleaner_cleaned_bytes_total",
                "kafka_log_logcleaner_passes_total", "kafka_coordinator_group_rebalances_total"],
    "histogram": ["kafka_network_requestmetrics_totaltime_seconds", "kafka_log_logflushstats_logflushrateandtime_seconds",
                  "odradek_log_flush_batch_size"],
    "gauge": ["kafka_log_log_logstartoffset", "kafka_log_log_logendoffset", "kafka_log_log_highwatermark",
              "kafka_log_log_laststableoffset", "kafka_log_log_size", "kafka_log_log_numlogsegments",
              "kafka_server_delayedoperationpurgatory_purgatorysize", "kafka_server_socketservermetrics_connection_count",
              "kafka_log_logcleanermanager_max_dirty_percent", "kafka_log_logcleanermanager_dirty_bytes",
              "kafka_coordinator_group_groups", "kafka_coordinator_transaction_transactions",
              "kafka_consumergroup_current_offset", "kafka_consumergroup_lag", "kafka_consumergroup_lag_seconds",
              "kafka_consumergroup_members", "odradek_build_info", "odradek_ready"],
}
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+\S+)?$')


def exposition_checks(sc):
    """Raw-text checks of one /metrics answer; returns (families, samples)."""
    ct = sc.content_type
    check(ct.startswith("text/plain") and "version=0.0.4" in ct, "content-type %r" % ct)
    helps, types, order = {}, {}, []
    sample_lines = 0
    for i, line in enumerate(sc.text.split("\n"), 1):
        if not line:
            continue
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            check(name not in helps, "line %d: second HELP for %s" % (i, name))
            helps[name] = line
        elif line.startswith("# TYPE "):
            parts = line.split(" ")
            check(len(parts) == 4, "line %d: malformed TYPE %r" % (i, line))
            check(parts[2] not in types, "line %d: second TYPE for %s" % (i, parts[2]))
            check(parts[3] in ("counter", "gauge", "histogram", "summary", "untyped"), "line %d: type %r" % (i, parts[3]))
            types[parts[2]] = parts[3]
            order.append(parts[2])
        elif line.startswith("#"):
            continue
        else:
            sample_lines += 1
            m = SAMPLE_RE.match(line)
            check(m is not None, "line %d does not look like a sample: %r" % (i, line[:200]))
            name = m.group(1)
            fam = name if name in types else None
            for suffix in ("_bucket", "_sum", "_count"):
                if fam is None and name.endswith(suffix) and types.get(name[:-len(suffix)]) in ("histogram", "summary"):
                    fam = name[:-len(suffix)]
            check(fam is not None, "line %d: sample %s has no TYPE before it" % (i, name))
            check(fam == order[-1], "line %d: sample %s is not in its family's block (%s)" % (i, name, order[-1]))
    check_eq(sorted(types), sorted(helps), "families with TYPE vs families with HELP")
    for name in types:
        check(len(helps[name].split(" ", 3)) == 4 and helps[name].split(" ", 3)[3].strip(), "empty HELP for %s" % name)
    check_eq(sample_lines, len(sc.samples), "sample lines vs samples prometheus_client parsed")
    seen = {}
    for name, labels, _ in sc.samples:
        key = (name, tuple(sorted(labels.items())))
        check(key not in seen, "duplicate series %s%r" % key)
        seen[key] = 1
    # histograms: cumulative buckets ending in +Inf == _count, per label set
    for name, kind in types.items():
        if kind != "histogram":
            continue
        series = {}
        for n, labels, v in sc.samples:
            if n == name + "_bucket":
                rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
                series.setdefault(rest, []).append((float(labels["le"]), v))
        for rest, buckets in series.items():
            vals = [v for _, v in sorted(buckets)]
            check(vals == sorted(vals), "%s%r buckets not cumulative: %r" % (name, rest, vals))
            check_eq(float("inf"), sorted(buckets)[-1][0], "%s%r last bucket" % (name, rest))
            cnt = [v for n, lab, v in sc.samples if n == name + "_count" and tuple(sorted(lab.items())) == rest]
            check_eq([vals[-1]], cnt, "%s%r _count vs +Inf bucket" % (name, rest))
    for kind, names in CONTRACT_METRICS.items():
        for name in names:
            check_eq(kind, types.get(name), "TYPE of %s" % name)
    return len(types), sample_lines


def checked_exposition(b, what):
    sc = b.scrape()
    try:
        return exposition_checks(sc)
    except Mismatch as e:
        dump = os.path.join(WORK, "metrics-%s.txt" % what)
        with open(dump, "w") as f:
            f.write(sc.text)
        raise Mismatch("%s: %s (the answer is in %s)" % (what, e, dump))


def s_exposition():
    b = main_broker()
    fams, samples = checked_exposition(b, "main")
    # a broker that has done nothing yet, too
    fresh = Broker("fresh", []).start()
    try:
        f2, s2 = checked_exposition(fresh, "fresh")
    finally:
        fresh.stop()
    return "%d families, %d samples after the traffic (fresh broker: %d families, %d samples)" % (fams, samples, f2, s2)


def s_routes():
    """Every route of the contract answers its documented shape on a well-formed request."""
    b = main_broker()
    a, = needs("A")
    st, h, _ = b.http.request("GET", "/")
    loc = h.get("location")
    check(st in (301, 302, 303, 307, 308) and loc == "/console/", "GET / answered %d location %r" % (st, loc))
    if st != 302:
        note("GET / answers %d (the contract says 302) with location %r" % (st, loc))
    for path, ctype in (("/console/", "text/html"), ("/console/app.js", "javascript"), ("/console/style.css", "text/css")):
        st, h, body = b.http.request("GET", path)
        check_eq(200, st, "GET %s" % path)
        check(ctype in h.get("content-type", "") and len(body) > 0, "GET %s content-type %r, %d bytes" % (path, h.get("content-type"), len(body)))
    ov = b.http.get_json("/api/overview")
    for k in ("cluster_id", "node_id", "version", "uptime_ms", "listeners", "topics", "partitions", "groups", "transactions"):
        check(k in ov, "/api/overview lacks %s: %r" % (k, ov))
    topics = b.http.get_json("/api/topics")
    check_eq(len(topics), ov["topics"], "/api/overview topics vs /api/topics")
    check_eq(sum(t["partitions"] for t in topics), ov["partitions"], "/api/overview partitions vs /api/topics")
    internal = [t["name"] for t in topics if t["internal"]]
    check("__consumer_offsets" in internal, "internal topics listed: %r (groups committed offsets)" % internal)
    d = b.http.get_json("/api/topics/%s" % a)
    for p in d["partitions"]:
        for k in ("partition", "log_start_offset", "high_watermark", "last_stable_offset", "size_bytes", "segments"):
            check(k in p, "/api/topics/A partition lacks %s" % k)
    check(isinstance(d["configs"], dict) and "cleanup.policy" in d["configs"], "/api/topics/A configs %r" % str(d["configs"])[:200])
    # messages: limit, offset, next_offset, timestamp, key/value encoding
    m = b.http.get_json("/api/topics/%s/messages?partition=1&offset=10&limit=5" % a)
    check_eq([10, 11, 12, 13, 14], [r["offset"] for r in m["records"]], "messages offset=10 limit=5")
    check_eq(15, m["next_offset"], "next_offset")
    r = m["records"][0]
    i = 10 * 3 + 1
    check_eq("key-%05d" % i, r["key"]["text"], "key text")
    check_eq(b"key-%05d" % i, base64.b64decode(r["key"]["base64"]), "key base64")
    check_eq(STATE["ts0"] + i, r["timestamp"], "record timestamp")
    check_eq("CreateTime", r["timestamp_type"], "timestamp_type")
    check_eq([], r["headers"], "headers")
    check_eq(False, r["transactional"], "transactional")
    m = b.http.get_json("/api/topics/%s/messages?partition=2&timestamp=%d&limit=3" % (a, STATE["ts0"] + 3 * 50 + 2))
    check_eq([50, 51, 52], [r["offset"] for r in m["records"]], "messages by timestamp")
    m = b.http.get_json("/api/topics/%s/messages" % a)
    check_eq((0, 50), (m["partition"], len(m["records"])), "messages defaults (partition 0, limit 50)")
    check_eq(list(range(50)), [r["offset"] for r in m["records"]], "default offsets from the log start")
    # key / value / header encodings, null key and value, LogAppendTime
    h = topic_name("enc")
    fs = admin(b).create_topics([NewTopic(h, 1, 1, config={"message.timestamp.type": "LogAppendTime"})], request_timeout=15)
    fs[h].result(timeout=20)
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    t_before = int(time.time() * 1000)
    p.produce(h, key=None, value=b"\xff\x00\xfe", headers=[("h1", b"v1"), ("h2", None)], partition=0, timestamp=1000)
    p.produce(h, key=b"k", value=None, partition=0)
    check_eq(0, p.flush(15), "unflushed")
    recs = b.http.get_json("/api/topics/%s/messages" % h)["records"]
    check_eq(2, len(recs), "records of %s" % h)
    r0, r1 = recs
    check_eq(None, r0["key"], "null key")
    check_eq({"base64": base64.b64encode(b"\xff\x00\xfe").decode(), "text": None}, r0["value"], "binary value")
    check_eq([{"key": "h1", "value": {"base64": base64.b64encode(b"v1").decode(), "text": "v1"}},
              {"key": "h2", "value": None}], r0["headers"], "headers")
    check_eq("LogAppendTime", r0["timestamp_type"], "timestamp_type of a LogAppendTime topic")
    check(r0["timestamp"] >= t_before - 1000, "LogAppendTime timestamp %r (sent CreateTime 1000)" % r0["timestamp"])
    check_eq(({"base64": base64.b64encode(b"k").decode(), "text": "k"}, None), (r1["key"], r1["value"]), "key and null value")
    ov = b.http.get_json("/api/overview")
    groups = b.http.get_json("/api/groups")
    check_eq(len(groups), ov["groups"], "/api/overview groups vs /api/groups")
    check_eq(len(b.http.get_json("/api/transactions")), ov["transactions"], "/api/overview transactions vs /api/transactions")
    check(len(groups) >= 2, "/api/groups lists %d groups (routes runs after lag, which leaves two)" % len(groups))
    check(all({"group_id", "protocol", "state", "members", "lag"} <= set(x) for x in groups), "/api/groups %r" % groups[:2])
    gd = b.http.get_json("/api/groups/%s" % groups[0]["group_id"])
    for k in ("group_id", "protocol", "state", "protocol_type", "assignor", "generation", "members", "offsets", "history"):
        check(k in gd, "/api/groups/g lacks %s" % k)
    check(isinstance(gd["history"], list) and all({"t_ms", "lag"} <= set(x) for x in gd["history"]), "history %r" % gd["history"][:3])
    cfgs = b.http.get_json("/api/configs")
    byname = {c["name"]: c for c in cfgs}
    check("log.segment.bytes" in byname and byname["log.segment.bytes"]["source"] in ("default", "static", "dynamic"), "/api/configs log.segment.bytes")
    check_eq("0", byname.get("group.initial.rebalance.delay.ms", {}).get("value"), "/api/configs group.initial.rebalance.delay.ms (set on the command line)")
    check_eq("static", byname.get("group.initial.rebalance.delay.ms", {}).get("source"), "/api/configs source of a --set key")
    sens = [c for c in cfgs if c["sensitive"] and c["value"] is not None]
    check(not sens, "sensitive configs with values: %r" % sens)
    def throughput():
        tp = b.http.get_json("/api/throughput")
        check_eq(2000, tp["interval_ms"], "/api/throughput interval_ms")
        ts = [x["t_ms"] for x in tp["samples"]]
        gaps = [y - x for x, y in zip(ts, ts[1:])]
        check(gaps and all(1500 <= g <= 2500 for g in gaps), "/api/throughput sample spacing %r" % gaps[-10:])
        check(max(x["messages_in"] for x in tp["samples"]) > 0, "/api/throughput never saw messages_in > 0: %r" % tp["samples"][-5:])
        check(max(x["requests"] for x in tp["samples"]) > 0, "/api/throughput never saw requests > 0")
        return tp
    wait_for("/api/throughput samples", throughput, timeout=6, interval=0.5)
    return "every route answered its documented shape"


def s_bad_input():
    b = main_broker()
    a, = needs("A")
    big = topic_name("big")
    create_topics(b, {big: 1})
    produce(b, big, [(0, None, b"r%d" % i, None) for i in range(600)])
    get_routes = ["/healthz", "/readyz", "/metrics", "/", "/console/", "/console/app.js", "/console/style.css",
                  "/api/overview", "/api/topics", "/api/topics/%s" % a, "/api/topics/%s/messages" % a, "/api/groups",
                  "/api/groups/%s" % STATE.get("some_group", "nope"), "/api/transactions", "/api/configs", "/api/throughput"]
    msg = "/api/topics/%s/messages" % a
    cases = [   # (method, path, allowed statuses, what to check on a 200 answer)
        ("GET", "/api/topics/no-such-topic-%s" % uuid.uuid4().hex[:6], {404}, None),
        ("GET", "/api/topics/no-such-topic/messages", {404}, None),
        ("GET", "/api/groups/no-such-group-%s" % uuid.uuid4().hex[:6], {404}, None),
        ("GET", msg + "?partition=-1", {400}, None),
        ("GET", msg + "?partition=abc", {400}, None),
        ("GET", msg + "?partition=3", {404}, None),
        ("GET", msg + "?partition=99999999999999999999", {400, 404}, None),
        ("GET", msg + "?partition=", {400}, None),
        ("GET", msg + "?offset=-1", {400}, None),
        ("GET", msg + "?offset=abc", {400}, None),
        ("GET", msg + "?offset=99999999999999999999", {200, 400}, "empty"),
        ("GET", msg + "?offset=9223372036854775807", {200}, "empty"),
        ("GET", msg + "?offset=100", {200}, "empty"),
        ("GET", msg + "?offset=1.5", {400}, None),
        ("GET", msg + "?limit=0", {200, 400}, "empty"),
        ("GET", msg + "?limit=-5", {400}, None),
        ("GET", msg + "?limit=abc", {400}, None),
        ("GET", "/api/topics/%s/messages?limit=100000" % big, {200, 400}, "max500"),
        ("GET", "/api/topics/%s/messages?limit=501" % big, {200, 400}, "max500"),
        ("GET", "/api/topics/%s/messages?limit=500" % big, {200}, "exactly500"),
        ("GET", msg + "?timestamp=abc", {400}, None),
        ("GET", msg + "?timestamp=-1", {400}, None),
        ("GET", msg + "?timestamp=99999999999999", {200}, "empty"),
        ("GET", msg + "?offset=1&timestamp=1", {400}, None),
        ("GET", msg + "?offset=%zz", {400}, None),
        ("GET", msg + "?partition=%zz&offset=%", {400}, None),
        ("GET", msg + "?%zz=1", {200, 400}, None),
        ("GET", msg + "?offset=%31%30&limit=%32", {200}, "offsets10-11"),
        ("GET", msg + "?partition=0&partition=1", {200, 400}, None),
        ("GET", msg + "?offset=1%00", {400}, None),
        ("GET", msg + "?offset=" + "9" * 5000, {200, 400, 414}, "empty"),
        ("GET", "/api/topics/%zz", {400, 404}, None),
        ("GET", "/api/topics/%ff%fe", {400, 404}, None),
        ("GET", "/api/groups/%zz", {400, 404}, None),
        ("GET", "/api/groups/%ff", {400, 404}, None),
        ("GET", "/api/topics/%ff/messages", {400, 404}, None),
        ("GET", "/api/topics/" + "x" * 10000, {400, 404, 414}, None),
        ("GET", "/api/" + "a/" * 4000, {400, 404, 414}, None),
        ("GET", "/" + "y" * 60000, {400, 404, 414, 431}, None),
        ("GET", "/api/topics/../../etc/passwd", {400, 404}, "nopasswd"),
        ("GET", "/console/../../../../etc/passwd", {400, 404}, "nopasswd"),
        ("GET", "/console/..%2f..%2f..%2f..%2fetc%2fpasswd", {400, 404}, "nopasswd"),
        ("GET", "/console/%2e%2e/%2e%2e/%2e%2e/etc/passwd", {400, 404}, "nopasswd"),
        ("GET", "/console/..\\..\\Cargo.toml", {400, 404}, None),
        ("GET", "/api/topics/%s/messages/extra" % a, {404}, None),
        ("GET", "/api//topics", {400, 404}, None),
        ("GET", "/metrics?x=%zz", {200, 400}, None),
        ("GET", "/healthz?" + "q=" + "z" * (1 << 20), {200, 400, 414, 431}, None),
        ("GET", msg + "?offset=0&pad=" + "z" * (1 << 20), {200, 400, 414, 431}, None),
    ]
    for path in get_routes:
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            cases.append((method, path, {405}, None))
    cases.append(("POST", "/api/topics", {405}, None))
    problems = []
    answers = {}
    for method, path, allowed, what in cases:
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        try:
            st, h, data = b.http.request(method, path, timeout=15, body=body)
        except Mismatch as e:
            problems.append(str(e))
            continue
        answers.setdefault(st, 0)
        answers[st] += 1
        label = "%s %s -> %d %s" % (method, short(path, 80), st, data[:160])
        if VERBOSE:
            log("%s [%s]" % (label, h.get("content-type")))
        if st >= 500:
            problems.append("5xx: " + label)
            continue
        if st not in allowed:
            problems.append("expected %s: %s" % (sorted(allowed), label))
            continue
        if st >= 400 and (len(path) < 8000 or st not in (414, 431)):
            try:
                err = json.loads(data)
                if not (isinstance(err, dict) and isinstance(err.get("error"), str) and err["error"]):
                    problems.append("error body is not {\"error\": ...}: " + label)
            except ValueError:
                problems.append("error body is not JSON: " + label)
        if st == 200 and what:
            try:
                j = json.loads(data) if what != "nopasswd" else None
            except ValueError:
                problems.append("200 body is not JSON: " + label)
                continue
            if what == "empty" and j["records"] != []:
                problems.append("expected no records: %s (%d records)" % (label, len(j["records"])))
            if what == "max500" and len(j["records"]) != 500:
                problems.append("expected the limit clamped to 500: %s (%d records)" % (label, len(j["records"])))
            if what == "exactly500" and len(j["records"]) != 500:
                problems.append("expected 500 records: %s (%d)" % (label, len(j["records"])))
            if what == "offsets10-11" and [r["offset"] for r in j["records"]] != [10, 11]:
                problems.append("percent-decoded offset=10 limit=2: %s" % label)
        if what == "nopasswd" and b"root:" in data:
            problems.append("path traversal served a file: " + label)
    # a request that is not HTTP at all, and a header-less bare line: an answer or a clean close, no hang
    for raw in (b"GARBAGE\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40):
        s = socket.create_connection(("127.0.0.1", b.hport), timeout=5)
        try:
            s.sendall(raw)
            try:
                reply = s.recv(200)
            except socket.timeout:
                reply = b"<no answer in 5 s>"
        finally:
            s.close()
        first = reply.split(b"\r\n", 1)[0]
        if VERBOSE:
            log("raw %r -> %r" % (raw[:20], reply[:200]))
        if first.startswith(b"HTTP/1.") and first[9:10] == b"5":
            problems.append("5xx for raw %r: %r" % (raw[:20], first))
        if not first.startswith(b"HTTP/1.1 4") and not first.startswith(b"HTTP/1.0 4"):
            note("raw bytes %r to the metrics port: first line of the reply %r" % (raw[:20], first[:80]))
    # HEAD is not in the contract's GET-only list: recorded, not judged
    st, h, data = b.http.request("HEAD", "/healthz")
    if st != 405:
        note("HEAD /healthz answers %d (content-length %s, %d body bytes); the contract says anything but GET is 405"
             % (st, h.get("content-length"), len(data)))
    # still serving: HTTP and Kafka
    st, _, data = b.http.request("GET", "/healthz")
    check_eq(200, st, "/healthz after the bad input")
    exposition_checks(b.scrape())
    produce(b, big, [(0, b"after", b"bad-input", None)])
    got = consume_assigned(b, big, [0], 601)
    check_eq(601, len(got), "records of %s read after the bad input" % big)
    check_eq((600, b"after", b"bad-input"), got[-1][1:], "last record")
    check(b.proc.poll() is None, "broker exited")
    if problems:
        raise Mismatch("%d of %d requests: %s" % (len(problems), len(cases), " | ".join(problems)))
    return "%d requests, answers by status %s; Kafka and /healthz fine afterwards" % (len(cases), dict(sorted(answers.items())))


SCENARIOS = {
    "health": s_health,
    "counts": s_counts,
    "lag": s_lag,
    "groups-txn": s_groups_txn,
    "connections": s_connections,
    "deleted": s_deleted,
    "purgatory": s_purgatory,
    "cleaner": s_cleaner,
    "exposition": s_exposition,
    "routes": s_routes,
    "bad-input": s_bad_input,
}


def start(_):
    check(BIN and os.access(BIN, os.X_OK), "ODRADEK_BIN %r is not an executable" % BIN)
    import importlib.metadata as md
    print("[metrics] confluent-kafka %s (librdkafka %s), kafka-python %s, prometheus_client %s, broker %s"
          % (confluent_kafka.version(), confluent_kafka.libversion()[0], kafka.__version__,
             md.version("prometheus_client"), BIN), flush=True)


def main():
    try:
        rc = run_scenarios("metrics", SCENARIOS, [sys.argv[0], "own-broker"] + sys.argv[1:], __doc__, start)
    finally:
        if MAIN is not None:
            code = MAIN.stop()
            if code not in (0, None):
                note("main broker exit status %r after SIGTERM" % code)
        for n in NOTES:
            print("[metrics] note: %s" % n)
    return rc


if __name__ == "__main__":
    sys.exit(main())
