package compat;

import static compat.Common.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;

/**
 * Scenario a: idempotent producer (client defaults: enable.idempotence=true, acks=all)
 * writes 1000 keyed records with headers to a 3-partition topic; a group-less consumer
 * reads everything back via assign()+seekToBeginning() and every field is compared with
 * what the producer got acked.
 */
public final class ProduceConsume {
    static final String NAME = "java/ProduceConsume";
    static final int N = 1000;
    static final int PARTITIONS = 3;

    static final class Sent {
        final byte[] key, value;
        final List<Header> headers;
        final RecordMetadata md;
        Sent(byte[] key, byte[] value, List<Header> headers, RecordMetadata md) {
            this.key = key; this.value = value; this.headers = headers; this.md = md;
        }
    }

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-pc");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
        }
        log(NAME, "created topic " + topic + " with " + PARTITIONS + " partitions");

        List<byte[]> keys = new ArrayList<>(), values = new ArrayList<>();
        List<List<Header>> headers = new ArrayList<>();
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap, null)) {
            for (int i = 0; i < N; i++) {
                byte[] key = utf8("key-" + i);
                // every 97th record is a tombstone (null value); every 50th has an empty value
                byte[] value = (i % 97 == 13) ? null : (i % 50 == 7) ? new byte[0] : utf8("value-" + i + "-" + "x".repeat(i % 40));
                List<Header> hs = new ArrayList<>();
                hs.add(new RecordHeader("idx", utf8(Integer.toString(i))));
                hs.add(new RecordHeader("kind", utf8(i % 2 == 0 ? "even" : "odd")));
                if (i % 10 == 0) hs.add(new RecordHeader("null-header", (byte[]) null));
                if (i % 3 == 0) hs.add(new RecordHeader("idx", utf8("dup-" + i))); // repeated header key
                keys.add(key); values.add(value); headers.add(hs);
                futures.add(producer.send(new ProducerRecord<>(topic, null, null, key, value, hs)));
            }
            producer.flush();
        }
        Map<TopicPartition, TreeMap<Long, Sent>> acked = new HashMap<>();
        for (int i = 0; i < N; i++) {
            RecordMetadata md = futures.get(i).get();
            check(md.hasOffset(), "record " + i + " acked without offset");
            check(md.partition() >= 0 && md.partition() < PARTITIONS, "record " + i + " acked on bad partition " + md.partition());
            Sent prev = acked.computeIfAbsent(new TopicPartition(topic, md.partition()), k -> new TreeMap<>())
                    .put(md.offset(), new Sent(keys.get(i), values.get(i), headers.get(i), md));
            check(prev == null, "two records acked at the same position " + md.partition() + "@" + md.offset());
        }
        log(NAME, "produced " + N + " records; per-partition counts " + counts(acked));
        check(acked.size() > 1, "default partitioner put all " + N + " keys on one partition: " + counts(acked));
        // With an idempotent producer, offsets per partition must be dense 0..n-1.
        for (var e : acked.entrySet()) {
            long expect = 0;
            for (long off : e.getValue().keySet()) {
                checkEq(expect, off, "acked offsets on " + e.getKey() + " are not contiguous from 0");
                expect++;
            }
        }

        try (KafkaConsumer<byte[], byte[]> consumer = consumer(bootstrap)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < PARTITIONS; p++) tps.add(new TopicPartition(topic, p));
            consumer.assign(tps);
            consumer.seekToBeginning(tps);

            Map<TopicPartition, Long> end = consumer.endOffsets(tps);
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(tps);
            for (TopicPartition tp : tps) {
                long n = acked.getOrDefault(tp, new TreeMap<>()).size();
                checkEq(n, end.get(tp), "endOffsets(" + tp + ")");
                checkEq(0L, begin.get(tp), "beginningOffsets(" + tp + ")");
            }

            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(consumer, N, Duration.ofSeconds(40));
            checkEq(N, got.size(), "number of records consumed");
            Map<TopicPartition, Long> lastOffset = new HashMap<>();
            boolean warnedEpoch = false;
            for (ConsumerRecord<byte[], byte[]> r : got) {
                TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                Long last = lastOffset.put(tp, r.offset());
                check(last == null || r.offset() > last, "offsets not increasing on " + tp + ": " + last + " then " + r.offset());
                Sent s = acked.getOrDefault(tp, new TreeMap<>()).get(r.offset());
                check(s != null, "consumed " + tp + "@" + r.offset() + " which was never acked");
                String where = tp + "@" + r.offset();
                checkEq(s.key, r.key(), "key at " + where);
                checkEq(s.value, r.value(), "value at " + where);
                checkEq(s.md.timestamp(), r.timestamp(), "timestamp at " + where);
                checkEq(TimestampType.CREATE_TIME, r.timestampType(), "timestamp type at " + where);
                checkHeaders(s.headers, r.headers().toArray(), where);
                if (r.leaderEpoch().isEmpty() && !warnedEpoch) {
                    // Real brokers stamp partitionLeaderEpoch on every batch they append.
                    warn(NAME, "record at " + where + " has no leader epoch (batch partitionLeaderEpoch = -1)");
                    warnedEpoch = true;
                }
            }
            Set<TopicPartition> seen = lastOffset.keySet();
            checkEq(acked.keySet(), seen, "partitions seen by the consumer");
            // position is now at the end of each partition
            for (TopicPartition tp : tps) {
                checkEq(end.get(tp), consumer.position(tp), "position after reading " + tp);
            }
            // A poll at the end returns nothing (and must not error).
            check(consumer.poll(Duration.ofMillis(300)).isEmpty(), "poll at log end returned records");
        }
        log(NAME, "consumed and verified " + N + " records");
    }

    static void checkHeaders(List<Header> expected, Header[] actual, String where) {
        checkEq(expected.size(), actual.length, "header count at " + where);
        for (int i = 0; i < actual.length; i++) {
            checkEq(expected.get(i).key(), actual[i].key(), "header[" + i + "] key at " + where);
            checkEq(expected.get(i).value(), actual[i].value(), "header[" + i + "] value at " + where);
        }
    }

    static Map<Integer, Integer> counts(Map<TopicPartition, TreeMap<Long, Sent>> acked) {
        Map<Integer, Integer> m = new TreeMap<>();
        acked.forEach((tp, v) -> m.put(tp.partition(), v.size()));
        return m;
    }

}
