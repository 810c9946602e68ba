package compat;

import static compat.Common.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;

/**
 * Time-based retention (cleanup.policy=delete) applied live.
 *
 * A 1-partition topic with segment.bytes=4096 gets 100 records of ~500 bytes (one per
 * request: a segment holds at most 7), so the log has ~15 segments; beginningOffsets is 0.
 * incrementalAlterConfigs SET retention.ms=1 then must, within 20 s (broker with
 * log.retention.check.interval.ms=200, see run.sh), delete every non-active segment:
 * beginningOffsets (and ListOffsets earliest) moves to at least 100 - 8 (the active segment
 * holds at most 8 of these records) and at most 100, the log end offset stays 100, and
 * describeLogDirs reports a smaller partition. A group-less consumer with
 * auto.offset.reset=earliest that seeks to offset 0 (now out of range) starts at the new
 * beginning and reads the surviving records with their original offsets and values; a new
 * record is appended at offset 100.
 */
public final class Retention {
    static final String NAME = "java/Retention";
    static final int COUNT = 100;
    static final String PAD = "r".repeat(500);

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-retention");
        TopicPartition tp = new TopicPartition(topic, 0);
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1).configs(Map.of("segment.bytes", "4096")))).all().get();
            int nodeId = admin.describeCluster().nodes().get().iterator().next().id();
            Properties pp = new Properties();
            pp.put(ProducerConfig.LINGER_MS_CONFIG, 0);
            try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, pp)) {
                for (int i = 0; i < COUNT; i++) {
                    long off = p.send(new ProducerRecord<>(topic, 0, utf8("k" + i), utf8(value(i)))).get().offset();
                    checkEq((long) i, off, "acked offset of record " + i);
                }
            }
            long sizeBefore = Compaction.partitionSize(admin, nodeId, tp);
            try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
                checkEq(0L, c.beginningOffsets(List.of(tp)).get(tp), "beginningOffsets before the retention change");
                checkEq((long) COUNT, c.endOffsets(List.of(tp)).get(tp), "endOffsets before the retention change");
            }
            log(NAME, "produced " + COUNT + " records; describeLogDirs size " + sizeBefore);

            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "1"),
                    AlterConfigOp.OpType.SET)))).all().get();
            long t0 = System.nanoTime();
            long begin = 0;
            long deadline = t0 + Duration.ofSeconds(20).toNanos();
            try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
                while (true) {
                    begin = c.beginningOffsets(List.of(tp)).get(tp);
                    if (begin >= COUNT - 8) break;
                    check(System.nanoTime() < deadline, "20 s after SET retention.ms=1 beginningOffsets is " + begin
                            + " (want >= " + (COUNT - 8) + ": every segment but the active one deleted)");
                    Thread.sleep(200);
                }
                check(begin <= COUNT, "beginningOffsets " + begin + " is past the log end " + COUNT);
                checkEq((long) COUNT, c.endOffsets(List.of(tp)).get(tp), "endOffsets after retention");
            }
            long earliest = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get().get(tp).offset();
            checkEq(begin, earliest, "listOffsets(earliest) vs consumer beginningOffsets");
            long sizeAfter = Compaction.partitionSize(admin, nodeId, tp);
            check(sizeAfter < sizeBefore, "describeLogDirs size did not shrink: " + sizeBefore + " -> " + sizeAfter);
            log(NAME, "retention.ms=1: log start " + begin + " after " + (System.nanoTime() - t0) / 1_000_000
                    + " ms; size " + sizeBefore + " -> " + sizeAfter);

            // a consumer asking for offset 0 is reset (earliest) to the new log start
            try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
                c.assign(List.of(tp));
                c.seek(tp, 0);
                List<ConsumerRecord<byte[], byte[]>> recs = new ArrayList<>();
                long until = System.nanoTime() + Duration.ofSeconds(15).toNanos();
                while (c.position(tp) < COUNT && System.nanoTime() < until) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) recs.add(r);
                }
                checkEq((long) COUNT, c.position(tp), "position after reading from a reset offset 0");
                if (begin < COUNT) {
                    check(!recs.isEmpty(), "nothing read after seek(0) although offsets " + begin + ".." + (COUNT - 1) + " remain");
                    checkEq(begin, recs.get(0).offset(), "first offset read after seek(0) with auto.offset.reset=earliest");
                }
                checkEq((int) (COUNT - begin), recs.size(), "records read from the new log start to the end");
                for (ConsumerRecord<byte[], byte[]> r : recs) {
                    checkEq(value((int) r.offset()), new String(r.value(), StandardCharsets.UTF_8), "value at offset " + r.offset());
                }
            }
            try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, pp)) {
                long off = p.send(new ProducerRecord<>(topic, 0, utf8("after"), utf8("after retention"))).get().offset();
                checkEq((long) COUNT, off, "offset of a record appended after retention");
            }
            log(NAME, "seek(0) was reset to " + begin + "; the surviving records read back intact; appends continue at " + COUNT);
            admin.deleteTopics(List.of(topic)).all().get();
        }
    }

    static String value(int i) {
        return "v" + i + "-" + PAD;
    }
}
