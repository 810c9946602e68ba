"""kafka-python and confluent-kafka (librdkafka) over the listeners `odradek --dev --secure` makes,
using the client configs it writes: SASL_SSL SCRAM-SHA-512 and PLAIN, mutual TLS, a wrong password.
   usage: secure.py SECURE_DIR CLIENT SCENARIO
          CLIENT: kafka-python | confluent-kafka; SCENARIO: scram | plain | mtls | wrong-password"""
import json
import sys
import time


def props(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[k] = v
    return out


def check(ok, what):
    if not ok:
        raise SystemExit("MISMATCH: " + what)


def kafka_python(d, scenario):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError
    base = json.load(open(d + "/kafka-python.json"))
    if scenario == "plain":
        base.update(sasl_mechanism="PLAIN", sasl_plain_username="alice", sasl_plain_password="alice-secret")
    if scenario == "mtls":
        ssl = props(d + "/client-mtls.properties")["bootstrap.servers"]
        base = dict(bootstrap_servers=ssl, security_protocol="SSL", ssl_cafile=d + "/ca.pem",
                    ssl_certfile=d + "/admin.crt", ssl_keyfile=d + "/admin.key")
    if scenario == "wrong-password":
        base.update(sasl_plain_password="nope")
        try:
            KafkaProducer(**base, request_timeout_ms=5000, max_block_ms=5000).partitions_for("anything")
        except KafkaError as e:
            print("refused as expected:", type(e).__name__, e)
            return
        raise SystemExit("MISMATCH: a wrong password was served")
    topic = "kp-" + scenario
    admin = KafkaAdminClient(**base)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    p = KafkaProducer(**base, acks="all")
    for i in range(15):
        p.send(topic, key=b"k", value=("%s %d" % (topic, i)).encode(), partition=0).get(timeout=20)
    p.close()
    c = KafkaConsumer(**base, auto_offset_reset="earliest", consumer_timeout_ms=15000)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    got = []
    deadline = time.time() + 20
    while len(got) < 15 and time.time() < deadline:
        for recs in c.poll(timeout_ms=500).values():
            got += [r.value.decode() for r in recs]
    c.close()
    check(got == ["%s %d" % (topic, i) for i in range(15)], "read back %r" % got)


def confluent(d, scenario):
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    conf = props(d + {"mtls": "/librdkafka-mtls.conf", "oauth": "/librdkafka-oauth.conf"}.get(scenario, "/librdkafka-scram.conf"))
    if scenario == "plain":
        conf.update({"sasl.mechanisms": "PLAIN", "sasl.username": "alice", "sasl.password": "alice-secret"})
    if scenario == "wrong-password":
        conf["sasl.password"] = "nope"
        errors = []
        conf["error_cb"] = lambda e: errors.append(e)
        a = AdminClient(conf)
        try:
            md = a.list_topics(timeout=5)
            raise SystemExit("MISMATCH: metadata served to a wrong password: %r" % md.topics)
        except KafkaException as e:
            print("metadata refused:", e)
        deadline = time.time() + 10
        while not any("uthentication" in str(e) for e in errors) and time.time() < deadline:
            a.poll(0.5)  # error_cb is served by poll
        check(any("uthentication" in str(e) for e in errors), "no authentication error reported: %r" % errors)
        print("refused as expected:", [str(e) for e in errors if "uthentication" in str(e)][0])
        return
    topic = "ck-" + scenario
    a = AdminClient(conf)
    for f in a.create_topics([NewTopic(topic, 1, 1)]).values():
        f.result(20)
    p = Producer(dict(conf, acks="all"))
    delivered = []
    for i in range(15):
        p.produce(topic, key=b"k", value=("%s %d" % (topic, i)).encode(), partition=0,
                  on_delivery=lambda err, msg: delivered.append(err))
    p.flush(20)
    check(delivered == [None] * 15, "deliveries %r" % delivered)
    c = Consumer(dict(conf, **{"group.id": "g-" + topic, "auto.offset.reset": "earliest"}))
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.time() + 20
    while len(got) < 15 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value().decode())
    c.close()
    check(got == ["%s %d" % (topic, i) for i in range(15)], "read back %r" % got)


if __name__ == "__main__":
    d, client, scenario = sys.argv[1:4]
    (kafka_python if client == "kafka-python" else confluent)(d, scenario)
    print("PASS", client, scenario)
