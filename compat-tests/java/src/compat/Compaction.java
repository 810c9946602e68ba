package compat;

import static compat.Common.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.InvalidRecordException;

/**
 * Log compaction (cleanup.policy=compact) seen through the Java client.
 *
 * A 1-partition topic with segment.bytes=4096, min.cleanable.dirty.ratio=0.01 and
 * delete.retention.ms=500 gets 30 rounds of updates for keys k0..k4 (~1.5 KB values, one
 * record per batch, so a segment holds at most two records), a tombstone for k4, one final
 * value for each of k0..k3 and last a 3.3 KB record with key zz-end: too big to share a segment,
 * it sits alone in the active segment, so every update before it is in a sealed segment and
 * cleanable (the cleaner never touches the active segment, as in Kafka). Needs a broker with
 * a short log.cleaner.backoff.ms (run.sh: 200 ms).
 *
 * Within 20 s a consumer reading from the beginning must see exactly the 5 latest records, at
 * the offsets they were acked at (compaction keeps offsets), k4 absent (tombstone removed
 * after delete.retention.ms), the log end offset unchanged, and describeLogDirs must report
 * the partition at under a fifth of the bytes produced. A record without a key is refused
 * with InvalidRecordException.
 */
public final class Compaction {
    static final String NAME = "java/Compaction";
    static final int ROUNDS = 30;
    static final List<String> KEYS = List.of("k0", "k1", "k2", "k3", "k4");
    static final String TOMBSTONED = "k4";
    static final String PAD = "x".repeat(1500);
    static final String END_KEY = "zz-end";

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-compact");
        TopicPartition tp = new TopicPartition(topic, 0);
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1).configs(Map.of(
                    "cleanup.policy", "compact",
                    "segment.bytes", "4096",
                    "min.cleanable.dirty.ratio", "0.01",
                    "delete.retention.ms", "500")))).all().get();
            int nodeId = admin.describeCluster().nodes().get().iterator().next().id();

            // produce: one record per request, so every batch is small and segments roll often
            Map<String, String> latest = new TreeMap<>();
            Map<String, Long> latestOffset = new TreeMap<>();
            long produced = 0, producedBytes = 0;
            Properties pp = new Properties();
            pp.put(ProducerConfig.LINGER_MS_CONFIG, 0);
            try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, pp)) {
                for (int r = 0; r < ROUNDS; r++) {
                    for (String k : KEYS) {
                        String v = k + "-" + r + "-" + PAD;
                        RecordMetadata md = p.send(new ProducerRecord<>(topic, 0, utf8(k), utf8(v))).get();
                        checkEq(produced, md.offset(), "offset of update " + k + "-" + r);
                        produced++;
                        producedBytes += v.length();
                    }
                }
                RecordMetadata md = p.send(new ProducerRecord<>(topic, 0, utf8(TOMBSTONED), null)).get();
                checkEq(produced, md.offset(), "offset of the tombstone for " + TOMBSTONED);
                produced++;
                for (String k : KEYS) {
                    if (k.equals(TOMBSTONED)) continue;
                    String v = k + "-final-" + PAD;
                    md = p.send(new ProducerRecord<>(topic, 0, utf8(k), utf8(v))).get();
                    checkEq(produced, md.offset(), "offset of the final value of " + k);
                    latest.put(k, v);
                    latestOffset.put(k, md.offset());
                    produced++;
                    producedBytes += v.length();
                }
                // a ~3.3 KB record with a key of its own: with a 1.5 KB final value before it, it cannot share a
                // segment, so every record before it ends up in sealed (cleanable) segments
                String v = END_KEY + "-" + "e".repeat(3200);
                md = p.send(new ProducerRecord<>(topic, 0, utf8(END_KEY), utf8(v))).get();
                checkEq(produced, md.offset(), "offset of the " + END_KEY + " record");
                latest.put(END_KEY, v);
                latestOffset.put(END_KEY, md.offset());
                produced++;
                producedBytes += v.length();
            }
            long sizeAfterProduce = partitionSize(admin, nodeId, tp);
            log(NAME, "produced " + produced + " records (" + producedBytes + " value bytes); describeLogDirs size now "
                    + sizeAfterProduce);

            // wait (bounded) until a full read shows exactly the latest value per key
            String lastSeen = "";
            long size = -1;
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            List<ConsumerRecord<byte[], byte[]>> recs;
            while (true) {
                recs = readAll(bootstrap, tp, produced);
                size = partitionSize(admin, nodeId, tp);
                lastSeen = summary(recs);
                if (recs.size() == latest.size() && size < producedBytes / 5) break;
                check(System.nanoTime() < deadline, "20 s after producing, reading " + topic + " from the beginning still gives "
                        + recs.size() + " records (want " + latest.size() + ": the final value of k0..k3 and " + END_KEY + ", " + TOMBSTONED
                        + " removed) and describeLogDirs size " + size + " (want < " + producedBytes / 5
                        + ", produced " + producedBytes + " value bytes); read: " + lastSeen);
                Thread.sleep(500);
            }
            Map<String, String> got = new TreeMap<>();
            for (ConsumerRecord<byte[], byte[]> r : recs) {
                check(r.key() != null, "record without a key at offset " + r.offset());
                String k = new String(r.key(), StandardCharsets.UTF_8);
                check(!k.equals(TOMBSTONED), TOMBSTONED + " (tombstoned, delete.retention.ms=500) still present at offset "
                        + r.offset() + " value " + (r.value() == null ? "null (the tombstone)" : "non-null"));
                check(got.put(k, r.value() == null ? null : new String(r.value(), StandardCharsets.UTF_8)) == null,
                        "key " + k + " read more than once after compaction: " + lastSeen);
                checkEq(latestOffset.get(k), r.offset(), "offset of the surviving record of " + k + " (compaction keeps offsets)");
            }
            checkEq(latest, got, "latest value per key after compaction");
            try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
                checkEq(produced, c.endOffsets(List.of(tp)).get(tp), "log end offset after compaction");
            }
            log(NAME, "after compaction: " + recs.size() + " of " + produced + " records left (" + lastSeen + "), size "
                    + sizeAfterProduce + " -> " + size + " bytes");

            // a record without a key is refused on a compacted topic
            try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, pp)) {
                p.send(new ProducerRecord<>(topic, 0, null, utf8("no key"))).get();
                throw new Mismatch("a keyless record was accepted by compacted topic " + topic);
            } catch (ExecutionException e) {
                check(e.getCause() instanceof InvalidRecordException,
                        "keyless record to a compacted topic failed with " + e.getCause() + "; expected InvalidRecordException");
                log(NAME, "keyless record -> " + e.getCause().getClass().getSimpleName() + ": " + e.getCause().getMessage());
            }
            try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
                checkEq(produced, c.endOffsets(List.of(tp)).get(tp), "log end offset after the refused keyless record");
            }
            admin.deleteTopics(List.of(topic)).all().get();
        }
    }

    /** Reads the partition from the beginning up to {@code end} (group-less consumer). */
    static List<ConsumerRecord<byte[], byte[]>> readAll(String bootstrap, TopicPartition tp, long end) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (c.position(tp) < end && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) out.add(r);
            }
            check(c.position(tp) >= end, "could not read " + tp + " up to offset " + end + " within 10 s (position "
                    + c.position(tp) + ")");
        }
        return out;
    }

    static String summary(List<ConsumerRecord<byte[], byte[]>> recs) {
        StringBuilder b = new StringBuilder();
        int n = 0;
        for (ConsumerRecord<byte[], byte[]> r : recs) {
            if (n++ == 12) { b.append(" ..."); break; }
            String v = r.value() == null ? "null" : new String(r.value(), StandardCharsets.UTF_8);
            int cut = Math.max(v.indexOf("-xx"), v.indexOf("-ee"));
            b.append(' ').append(r.offset()).append(':').append(r.key() == null ? "null" : new String(r.key(), StandardCharsets.UTF_8))
                    .append('=').append(cut > 0 ? v.substring(0, cut) : v);
        }
        return "[" + b.toString().trim() + "]";
    }

    /** Size of {@code tp} on node {@code nodeId} as reported by describeLogDirs (-1 if absent). */
    static long partitionSize(Admin admin, int nodeId, TopicPartition tp) throws Exception {
        Map<Integer, Map<String, LogDirDescription>> all = admin.describeLogDirs(List.of(nodeId)).allDescriptions().get();
        Map<String, LogDirDescription> dirs = all.get(nodeId);
        check(dirs != null && !dirs.isEmpty(), "describeLogDirs(" + nodeId + ") returned no log dirs: " + all);
        long size = -1;
        for (LogDirDescription d : dirs.values()) {
            check(d.error() == null, "describeLogDirs reports an error for a log dir: " + d);
            ReplicaInfo ri = d.replicaInfos().get(tp);
            if (ri != null) size = Math.max(size, ri.size());
        }
        check(size >= 0, "describeLogDirs(" + nodeId + ") does not list " + tp + ": " + dirs);
        return size;
    }
}
