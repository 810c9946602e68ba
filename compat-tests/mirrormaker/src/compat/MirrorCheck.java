package compat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.connect.mirror.Checkpoint;
import org.apache.kafka.connect.mirror.Heartbeat;

/**
 * MirrorMaker 2 scenarios (kafka-clients and connect-mirror-client 4.3.1), source alias "src",
 * target alias "tgt", replicated topic "src.TOPIC".
 *
 *   seed SRC TOPIC GROUP     before MM2 starts: TOPIC with 3 partitions and retention.ms=7200000,
 *                            30 records a partition (keys, values, a null value, headers with a
 *                            repeated key, explicit timestamps), GROUP reads them all and commits
 *   check SRC TGT TOPIC GROUP [scenario...]
 *                            the scenarios below, in order, against the running MM2; prints
 *                            "PASS mirrormaker/NAME" / "FAIL mirrormaker/NAME: why" and appends
 *                            the verdicts to $COMPAT_RESULTS; exit 1 if one failed
 */
public final class MirrorCheck {
    static final String LABEL = "mirrormaker";
    static final int PARTITIONS = 3, SEEDED = 30, LATER = 5;
    static final long WAIT_MS = Long.getLong("mm.wait.ms", 60000);
    static final long FIRST_WAIT_MS = Long.getLong("mm.first.wait.ms", 120000);

    static final class Mismatch extends RuntimeException {
        Mismatch(String m) { super(m); }
    }

    static void check(boolean ok, String what) { if (!ok) throw new Mismatch(what); }

    static void checkEq(Object want, Object got, String what) {
        if (!java.util.Objects.equals(want, got)) throw new Mismatch(what + ": expected " + want + " but got " + got);
    }

    interface Probe<T> { T get() throws Exception; }

    /** Polls probe until it returns without a Mismatch, for at most ms; then rethrows the last one. */
    static <T> T until(long ms, Probe<T> probe) throws Exception {
        long deadline = System.currentTimeMillis() + ms;
        while (true) {
            try {
                return probe.get();
            } catch (Mismatch m) {
                if (System.currentTimeMillis() > deadline) throw m;
                Thread.sleep(500);
            }
        }
    }

    static byte[] utf8(String s) { return s == null ? null : s.getBytes(StandardCharsets.UTF_8); }
    static String str(byte[] b) { return b == null ? null : new String(b, StandardCharsets.UTF_8); }

    static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20000);
        return Admin.create(p);
    }

    static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 10);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 20000);
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<byte[], byte[]> consumer(String bootstrap, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20000);
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        }
        return new KafkaConsumer<>(p);
    }

    /** A record as compared between the clusters: offset, timestamp, key, value, headers in order. */
    static String describe(ConsumerRecord<byte[], byte[]> r) {
        StringBuilder h = new StringBuilder();
        for (Header x : r.headers()) h.append(x.key()).append('=').append(str(x.value())).append(';');
        return r.offset() + "|" + r.timestamp() + "|" + r.timestampType() + "|" + str(r.key()) + "|" + str(r.value()) + "|" + h;
    }

    /** Every record of TOPIC from its beginning to its end offsets, per partition (group-less). */
    static Map<Integer, List<String>> readAll(String bootstrap, String topic) {
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap, null)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(20))) tps.add(new TopicPartition(topic, pi.partition()));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(20));
            Map<Integer, List<String>> out = new TreeMap<>();
            for (TopicPartition tp : tps) out.put(tp.partition(), new ArrayList<>());
            long deadline = System.currentTimeMillis() + 30000;
            while (System.currentTimeMillis() < deadline) {
                boolean done = true;
                for (TopicPartition tp : tps) if (c.position(tp, Duration.ofSeconds(20)) < end.get(tp)) done = false;
                if (done) break;
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(300))) {
                    if (r.offset() < end.get(new TopicPartition(r.topic(), r.partition()))) out.get(r.partition()).add(describe(r));
                }
            }
            return out;
        }
    }

    static List<ConsumerRecord<byte[], byte[]>> rawAll(String bootstrap, String topic) {
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap, null)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(20))) tps.add(new TopicPartition(topic, pi.partition()));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(20));
            List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 30000;
            while (System.currentTimeMillis() < deadline) {
                boolean done = true;
                for (TopicPartition tp : tps) if (c.position(tp, Duration.ofSeconds(20)) < end.get(tp)) done = false;
                if (done) break;
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(300))) out.add(r);
            }
            return out;
        }
    }

    static Map<Integer, Long> endOffsets(String bootstrap, String topic) {
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap, null)) {
            List<PartitionInfo> parts = c.partitionsFor(topic, Duration.ofSeconds(20));
            check(parts != null && !parts.isEmpty(), topic + " does not exist");
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : parts) tps.add(new TopicPartition(topic, pi.partition()));
            Map<Integer, Long> out = new TreeMap<>();
            c.endOffsets(tps, Duration.ofSeconds(20)).forEach((tp, o) -> out.put(tp.partition(), o));
            return out;
        }
    }

    static Set<String> topics(Admin a) throws Exception {
        return new TreeSet<>(a.listTopics(new org.apache.kafka.clients.admin.ListTopicsOptions().listInternal(true)).names().get());
    }

    /** Sends records to one partition of TOPIC: key k-P-I, value v-P-I (null when I % 10 == 7),
     *  headers part=P, idx=I and, every 5th, "dup" twice (a, b); timestamps BASE + I. */
    static List<RecordMetadata> produce(String bootstrap, String topic, int partition, int from, int count, long base)
            throws Exception {
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap)) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = from; i < from + count; i++) {
                RecordHeaders h = new RecordHeaders();
                h.add("part", utf8(Integer.toString(partition)));
                h.add("idx", utf8(Integer.toString(i)));
                if (i % 5 == 0) {
                    h.add("dup", utf8("a"));
                    h.add("dup", utf8("b"));
                }
                String value = i % 10 == 7 ? null : "v-" + partition + "-" + i;
                fs.add(p.send(new ProducerRecord<>(topic, partition, base + i, utf8("k-" + partition + "-" + i), utf8(value), h)));
            }
            List<RecordMetadata> out = new ArrayList<>();
            for (Future<RecordMetadata> f : fs) out.add(f.get());
            return out;
        }
    }

    static void seed(String src, String topic, String group) throws Exception {
        long base = System.currentTimeMillis() - 600000;
        try (Admin a = admin(src)) {
            a.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1).configs(Map.of("retention.ms", "7200000"))))
             .all().get();
        }
        for (int p = 0; p < PARTITIONS; p++) {
            List<RecordMetadata> ms = produce(src, topic, p, 0, SEEDED, base);
            checkEq((long) SEEDED - 1, ms.get(ms.size() - 1).offset(), "last seeded offset on partition " + p);
        }
        // GROUP consumes everything (classic protocol) and commits: offsets 30 on every partition
        int n = 0;
        try (KafkaConsumer<byte[], byte[]> c = consumer(src, group)) {
            c.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 30000;
            while (n < PARTITIONS * SEEDED && System.currentTimeMillis() < deadline) n += c.poll(Duration.ofMillis(300)).count();
            c.commitSync(Duration.ofSeconds(20));
        }
        checkEq(PARTITIONS * SEEDED, n, "records the source group read");
        try (Admin a = admin(src)) {
            Map<TopicPartition, OffsetAndMetadata> m = a.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            for (int p = 0; p < PARTITIONS; p++) {
                checkEq((long) SEEDED, m.get(new TopicPartition(topic, p)).offset(), "source group offset on partition " + p);
            }
        }
        System.out.println("[mirrormaker] seeded " + topic + ": " + PARTITIONS + " x " + SEEDED + " records, group " + group + " at " + SEEDED);
    }

    // ------------------------------------------------------------------------------- scenarios

    static String src, tgt, topic, remote, group;
    static long mmStart;

    /** Source and target records of the partitions in `parts`, offsets [from, to), compared. */
    static void compareRange(String srcTopic, int[] parts, long from, long to) throws Exception {
        String dst = "src." + srcTopic;
        Map<Integer, List<String>> a = readAll(src, srcTopic), b = readAll(tgt, dst);
        for (int p : parts) {
            List<String> want = new ArrayList<>(), got = new ArrayList<>();
            for (String s : a.getOrDefault(p, List.of())) { long o = Long.parseLong(s.split("\\|")[0]); if (o >= from && o < to) want.add(s); }
            for (String s : b.getOrDefault(p, List.of())) { long o = Long.parseLong(s.split("\\|")[0]); if (o >= from && o < to) got.add(s); }
            checkEq((int) (to - from), want.size(), "source records on partition " + p + " in [" + from + "," + to + ")");
            checkEq(want, got, "target records of " + dst + "-" + p + " (offset|timestamp|type|key|value|headers)");
        }
    }

    static void compareRange(int[] parts, long from, long to) throws Exception { compareRange(topic, parts, from, to); }

    static Map<Integer, Long> waitEnds(String dst, long ms, Map<Integer, Long> want) throws Exception {
        return until(ms, () -> {
            Map<Integer, Long> got;
            try {
                got = endOffsets(tgt, dst);
            } catch (org.apache.kafka.common.errors.TimeoutException e) {
                throw new Mismatch(dst + ": " + e);
            }
            checkEq(want, got, "end offsets of " + dst + " on the target");
            return got;
        });
    }

    static Map<Integer, Long> waitEnds(long ms, Map<Integer, Long> want) throws Exception { return waitEnds(remote, ms, want); }

    static String mirrorRecords() throws Exception {
        Map<Integer, Long> want = new TreeMap<>();
        for (int p = 0; p < PARTITIONS; p++) want.put(p, (long) SEEDED);
        waitEnds(FIRST_WAIT_MS, want);
        compareRange(new int[] {0, 1, 2}, 0, SEEDED);
        return "after " + (System.currentTimeMillis() - mmStart) / 1000 + " s of MM2";
    }

    static String topicConfig(Admin sa, Admin ta) throws Exception {
        ConfigResource remoteRes = new ConfigResource(ConfigResource.Type.TOPIC, remote);
        ConfigResource srcRes = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        until(WAIT_MS, () -> {
            Config c = ta.describeConfigs(List.of(remoteRes)).all().get().get(remoteRes);
            checkEq("7200000", c.get("retention.ms").value(), "retention.ms of " + remote + " on the target");
            return null;
        });
        sa.incrementalAlterConfigs(Map.of(srcRes, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"),
                AlterConfigOp.OpType.SET)))).all().get();
        long t0 = System.currentTimeMillis();
        ConfigEntry e = until(WAIT_MS, () -> {
            ConfigEntry x = ta.describeConfigs(List.of(remoteRes)).all().get().get(remoteRes).get("retention.ms");
            checkEq("3600000", x.value(), "retention.ms of " + remote + " on the target after the source changed");
            return x;
        });
        checkEq(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, e.source(), "source of the synced retention.ms");
        return "change synced in " + (System.currentTimeMillis() - t0) + " ms";
    }

    static String checkpoints(Admin sa, Admin ta) throws Exception {
        String cpTopic = "src.checkpoints.internal";
        Map<String, Checkpoint> latest = until(WAIT_MS, () -> {
            check(topics(ta).contains(cpTopic), cpTopic + " not on the target: " + topics(ta));
            Map<String, Checkpoint> m = new TreeMap<>();
            for (ConsumerRecord<byte[], byte[]> r : rawAll(tgt, cpTopic)) {
                Checkpoint cp = Checkpoint.deserializeRecord(r);
                if (cp.consumerGroupId().equals(group)) m.put(cp.topicPartition().toString(), cp);
            }
            Map<String, String> got = new TreeMap<>(), want = new TreeMap<>();
            for (int p = 0; p < PARTITIONS; p++) want.put(remote + "-" + p, SEEDED + "->" + SEEDED);
            m.forEach((k, cp) -> got.put(k, cp.upstreamOffset() + "->" + cp.downstreamOffset()));
            checkEq(want, got, "latest checkpoints of " + group + " (upstream->downstream offset)");
            return m;
        });
        Set<String> t = topics(ta), s = topics(sa);
        for (String name : List.of("heartbeats", "mm2-configs.src.internal", "mm2-offsets.src.internal", "mm2-status.src.internal")) {
            check(t.contains(name), name + " not on the target: " + t);
        }
        check(s.contains("mm2-offset-syncs.tgt.internal"), "mm2-offset-syncs.tgt.internal not on the source: " + s);
        return "target topics " + t;
    }

    static String groupOffsets(Admin ta) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> m = until(WAIT_MS, () -> {
            Map<TopicPartition, OffsetAndMetadata> x = ta.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            Map<String, Long> got = new TreeMap<>(), want = new TreeMap<>();
            for (int p = 0; p < PARTITIONS; p++) want.put(remote + "-" + p, (long) SEEDED);
            x.forEach((tp, o) -> got.put(tp.toString(), o.offset()));
            checkEq(want, got, "offsets of " + group + " on the target");
            return x;
        });
        return "";
    }

    static String newRecords() throws Exception {
        long base = System.currentTimeMillis() - 300000;
        for (int p = 0; p < PARTITIONS; p++) produce(src, topic, p, SEEDED, LATER, base);
        Map<Integer, Long> want = new TreeMap<>();
        for (int p = 0; p < PARTITIONS; p++) want.put(p, (long) SEEDED + LATER);
        long t0 = System.currentTimeMillis();
        waitEnds(WAIT_MS, want);
        compareRange(new int[] {0, 1, 2}, SEEDED, SEEDED + LATER);
        return "mirrored in " + (System.currentTimeMillis() - t0) + " ms";
    }

    static String groupResume() throws Exception {
        List<String> got = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = consumer(tgt, group)) {
            c.subscribe(List.of(remote));
            long deadline = System.currentTimeMillis() + 30000;
            while (got.size() < PARTITIONS * LATER && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(300))) got.add(r.partition() + "@" + r.offset() + ":" + str(r.key()));
            }
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(1500))) got.add(r.partition() + "@" + r.offset() + ":" + str(r.key()));
            c.commitSync(Duration.ofSeconds(20));
        }
        List<String> want = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) for (int i = SEEDED; i < SEEDED + LATER; i++) want.add(p + "@" + i + ":k-" + p + "-" + i);
        java.util.Collections.sort(got);
        java.util.Collections.sort(want);
        checkEq(want, got, "records the group read on the target (it resumes at the synced offsets)");
        return "";
    }

    static String partitions(Admin sa, Admin ta) throws Exception {
        int total = 5, extra = 4;
        sa.createPartitions(Map.of(topic, NewPartitions.increaseTo(total))).all().get();
        long t0 = System.currentTimeMillis();
        until(WAIT_MS, () -> {
            int n = ta.describeTopics(List.of(remote)).allTopicNames().get().get(remote).partitions().size();
            checkEq(total, n, "partitions of " + remote + " on the target");
            return null;
        });
        long grown = System.currentTimeMillis() - t0;
        long base = System.currentTimeMillis() - 200000;
        for (int p = PARTITIONS; p < total; p++) produce(src, topic, p, 0, extra, base);
        Map<Integer, Long> want = new TreeMap<>();
        for (int p = 0; p < total; p++) want.put(p, p < PARTITIONS ? (long) SEEDED + LATER : extra);
        waitEnds(WAIT_MS, want);
        compareRange(new int[] {3, 4}, 0, extra);
        return "target grew in " + grown + " ms";
    }

    /** A topic created on the source after MM2 started (matching src->tgt.topics) is mirrored. */
    static String newTopic(Admin sa, Admin ta) throws Exception {
        String late = topic.replace("mm-data", "mm-late");
        sa.createTopics(List.of(new NewTopic(late, 2, (short) 1))).all().get();
        long t0 = System.currentTimeMillis();
        long base = System.currentTimeMillis() - 100000;
        for (int p = 0; p < 2; p++) produce(src, late, p, 0, 6, base);
        waitEnds("src." + late, WAIT_MS, Map.of(0, 6L, 1, 6L));
        compareRange(late, new int[] {0, 1}, 0, 6);
        check(!topics(ta).contains(late), late + " also on the target under its own name");
        return "mirrored in " + (System.currentTimeMillis() - t0) + " ms";
    }

    static String heartbeats() throws Exception {
        List<Heartbeat> hbs = until(WAIT_MS, () -> {
            List<Heartbeat> x = new ArrayList<>();
            for (ConsumerRecord<byte[], byte[]> r : rawAll(tgt, "heartbeats")) x.add(Heartbeat.deserializeRecord(r));
            check(x.size() >= 3, "fewer than 3 heartbeats on the target: " + x);
            return x;
        });
        long now = System.currentTimeMillis(), prev = 0;
        for (Heartbeat h : hbs) {
            checkEq("src->tgt", h.sourceClusterAlias() + "->" + h.targetClusterAlias(), "heartbeat aliases");
            check(h.timestamp() >= mmStart && h.timestamp() <= now, "heartbeat time " + h.timestamp() + " not within MM2's run");
            check(h.timestamp() > prev, "heartbeat times not increasing: " + hbs);
            prev = h.timestamp();
        }
        long span = hbs.get(hbs.size() - 1).timestamp() - hbs.get(0).timestamp();
        // one every emit.heartbeats.interval.seconds (2 s): no burst, no long gap
        double avg = span / (double) (hbs.size() - 1);
        check(avg >= 1500 && avg <= 6000, "average heartbeat interval " + avg + " ms (" + hbs.size() + " over " + span + " ms)");
        // the source's own heartbeats topic (written by the heartbeat connector of the disabled
        // tgt->src flow) is replicated whatever the topic filter says: src.heartbeats, tgt->src
        List<Heartbeat> remoteHbs = until(WAIT_MS, () -> {
            List<Heartbeat> x = new ArrayList<>();
            for (ConsumerRecord<byte[], byte[]> r : rawAll(tgt, "src.heartbeats")) x.add(Heartbeat.deserializeRecord(r));
            check(!x.isEmpty(), "no heartbeats in src.heartbeats on the target");
            return x;
        });
        for (Heartbeat h : remoteHbs) {
            checkEq("tgt->src", h.sourceClusterAlias() + "->" + h.targetClusterAlias(), "aliases of a replicated heartbeat");
            check(h.timestamp() >= mmStart && h.timestamp() <= now, "replicated heartbeat time " + h.timestamp() + " not within MM2's run");
        }
        return hbs.size() + " heartbeats, every " + Math.round(avg) + " ms; " + remoteHbs.size() + " in src.heartbeats";
    }

    interface Body { String run() throws Exception; }

    public static void main(String[] a) throws Exception {
        if (a[0].equals("seed")) {
            seed(a[1], a[2], a[3]);
            return;
        }
        src = a[1];
        tgt = a[2];
        topic = a[3];
        group = a[4];
        remote = "src." + topic;
        mmStart = Long.parseLong(System.getProperty("mm.start", "0"));
        List<String> names = new ArrayList<>(List.of(a).subList(5, a.length));
        String results = System.getenv("COMPAT_RESULTS");
        int failed = 0;
        boolean mirrored = true;
        try (Admin sa = admin(src); Admin ta = admin(tgt)) {
            Map<String, Body> all = new LinkedHashMap<>();
            all.put("mirror-records", MirrorCheck::mirrorRecords);
            all.put("topic-config", () -> topicConfig(sa, ta));
            all.put("checkpoints", () -> checkpoints(sa, ta));
            all.put("group-offsets", () -> groupOffsets(ta));
            all.put("new-records", MirrorCheck::newRecords);
            all.put("group-resume", MirrorCheck::groupResume);
            all.put("partitions", () -> partitions(sa, ta));
            all.put("new-topic", () -> newTopic(sa, ta));
            all.put("heartbeats", MirrorCheck::heartbeats);
            if (names.isEmpty()) names.addAll(all.keySet());
            for (String name : names) {
                long t0 = System.currentTimeMillis();
                String verdict, line;
                try {
                    Body b = all.get(name);
                    if (b == null) throw new Mismatch("no scenario " + name);
                    if (!mirrored && !name.equals("heartbeats")) throw new Mismatch("skipped: mirror-records failed (nothing mirrored)");
                    String info = b.run();
                    verdict = "PASS";
                    line = String.format("PASS %s/%s (%.1fs) %s", LABEL, name, (System.currentTimeMillis() - t0) / 1000.0, info);
                } catch (Exception e) {
                    Throwable t = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
                    if (!(t instanceof Mismatch)) t.printStackTrace();
                    verdict = "FAIL";
                    line = String.format("FAIL %s/%s (%.1fs): %s", LABEL, name, (System.currentTimeMillis() - t0) / 1000.0,
                                         t instanceof Mismatch ? t.getMessage() : t.toString());
                    failed++;
                    if (name.equals("mirror-records")) mirrored = false;
                }
                System.out.println(line);
                System.out.flush();
                if (results != null && !results.isEmpty()) {
                    Files.writeString(Paths.get(results), verdict + " " + LABEL + "/" + name + "\n",
                                      StandardOpenOption.APPEND, StandardOpenOption.CREATE);
                }
            }
        }
        System.out.println("[mirrormaker] " + (names.size() - failed) + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
