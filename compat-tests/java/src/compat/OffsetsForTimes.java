package compat;

import static compat.Common.*;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Scenario c: records with explicit CreateTime timestamps 1000, 2000, ..., 10000 on one
 * partition; offsetsForTimes (ListOffsets by timestamp) must find the first record whose
 * timestamp is >= the query; then assign()+seek(offset) reads from an arbitrary offset.
 */
public final class OffsetsForTimes {
    static final String NAME = "java/OffsetsForTimes";
    static final int N = 10;

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-oft");
        try (Admin admin = admin(bootstrap)) {
            // retention.ms=-1 so that the (very old) explicit timestamps are never expired
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1).configs(Map.of("retention.ms", "-1")))).all().get();
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, null)) {
            for (int i = 0; i < N; i++) {
                long ts = 1000L * (i + 1);
                // send one record at a time so that each lands in its own batch
                RecordMetadata md = p.send(new ProducerRecord<>(topic, 0, ts, utf8("k" + i), utf8("v" + i))).get();
                checkEq((long) i, md.offset(), "offset acked for record " + i);
                checkEq(ts, md.timestamp(), "timestamp acked for record " + i + " (CreateTime topic)");
            }
        }
        log(NAME, "produced " + N + " records with timestamps 1000.." + (N * 1000));

        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
            Map<Long, Long> expect = new HashMap<>();
            expect.put(0L, 0L);      // before everything -> first record
            expect.put(1000L, 0L);   // exact match
            expect.put(2500L, 2L);   // between 2000 and 3000 -> the 3000 record
            expect.put(3000L, 2L);
            expect.put(10000L, 9L);  // last record
            for (var e : expect.entrySet()) {
                Map<TopicPartition, OffsetAndTimestamp> r = c.offsetsForTimes(Map.of(tp, e.getKey()));
                OffsetAndTimestamp ot = r.get(tp);
                check(ot != null, "offsetsForTimes(" + e.getKey() + ") returned null");
                checkEq(e.getValue(), ot.offset(), "offsetsForTimes(" + e.getKey() + ").offset");
                checkEq(1000L * (e.getValue() + 1), ot.timestamp(), "offsetsForTimes(" + e.getKey() + ").timestamp");
            }
            // after the last timestamp there is no such record
            Map<TopicPartition, OffsetAndTimestamp> none = c.offsetsForTimes(Map.of(tp, 10001L));
            check(none.get(tp) == null, "offsetsForTimes(10001) should be null, got " + none.get(tp));
            log(NAME, "offsetsForTimes ok");

            checkEq(0L, c.beginningOffsets(List.of(tp)).get(tp), "beginningOffsets");
            checkEq((long) N, c.endOffsets(List.of(tp)).get(tp), "endOffsets");

            // seek into the middle and read to the end
            c.assign(List.of(tp));
            c.seek(tp, 5);
            List<ConsumerRecord<byte[], byte[]>> recs = pollAtLeast(c, N - 5, Duration.ofSeconds(15));
            checkEq(N - 5, recs.size(), "records read after seek(5)");
            for (int i = 0; i < recs.size(); i++) {
                ConsumerRecord<byte[], byte[]> r = recs.get(i);
                long off = 5 + i;
                checkEq(off, r.offset(), "offset of record " + i + " after seek(5)");
                checkEq("k" + off, new String(r.key()), "key at offset " + off);
                checkEq("v" + off, new String(r.value()), "value at offset " + off);
                checkEq(1000L * (off + 1), r.timestamp(), "timestamp at offset " + off);
            }
            // seek backwards to the timestamp-derived offset and read a single record
            long o = c.offsetsForTimes(Map.of(tp, 2500L)).get(tp).offset();
            c.seek(tp, o);
            List<ConsumerRecord<byte[], byte[]>> one = pollAtLeast(c, 1, Duration.ofSeconds(15));
            check(!one.isEmpty(), "nothing read after seek(" + o + ")");
            checkEq(3000L, one.get(0).timestamp(), "timestamp of first record after seek to offsetsForTimes(2500)");
            checkEq("v2", new String(one.get(0).value()), "value after seek to offsetsForTimes(2500)");
            log(NAME, "seek ok");
        }
    }
}
