package compat;

import static compat.Common.*;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Scenario f: Fetch edge cases.
 *  - a fetch position past the log end gets OFFSET_OUT_OF_RANGE: auto.offset.reset=earliest
 *    restarts at 0, =latest at the end, =none surfaces OffsetOutOfRangeException;
 *  - max.partition.fetch.bytes / fetch.max.bytes smaller than one batch still make progress
 *    (the broker returns at least the first batch);
 *  - isolation.level=read_committed reads everything (no transactions: LSO = HW);
 *  - seek with a leader epoch makes the client validate its position with
 *    OffsetForLeaderEpoch before fetching;
 *  - a consumer blocked in a long fetch (fetch.max.wait.ms=8000) receives a record produced
 *    meanwhile without waiting out the full max wait (warning only).
 */
public final class FetchEdgeCases {
    static final String NAME = "java/FetchEdgeCases";
    static final int N = 20;

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static KafkaConsumer<byte[], byte[]> consumerWith(String bootstrap, Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        p.putAll(extra);
        return new KafkaConsumer<>(p);
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-fetch");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        byte[] big = new byte[1000];
        java.util.Arrays.fill(big, (byte) 'q');
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, null)) {
            for (int i = 0; i < N; i++) {
                big[0] = (byte) ('a' + i);
                p.send(new ProducerRecord<>(topic, 0, utf8("k" + i), big.clone())).get();
            }
        }

        // --- out of range -> reset earliest / latest / none
        try (KafkaConsumer<byte[], byte[]> c = consumerWith(bootstrap, Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"))) {
            c.assign(List.of(tp));
            c.seek(tp, 1000);
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, N, Duration.ofSeconds(15));
            check(!got.isEmpty(), "earliest reset: nothing read after seek(1000) past the end");
            checkEq(0L, got.get(0).offset(), "earliest reset: first offset after an out-of-range fetch");
            checkEq(N, got.size(), "earliest reset: records read");
        }
        try (KafkaConsumer<byte[], byte[]> c = consumerWith(bootstrap, Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest"))) {
            c.assign(List.of(tp));
            c.seek(tp, 1000);
            check(c.poll(Duration.ofSeconds(2)).isEmpty(), "latest reset: records returned after seek(1000)");
            checkEq((long) N, c.position(tp), "latest reset: position after an out-of-range fetch");
        }
        try (KafkaConsumer<byte[], byte[]> c = consumerWith(bootstrap, Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none"))) {
            c.assign(List.of(tp));
            c.seek(tp, 1000);
            boolean thrown = false;
            long deadline = System.currentTimeMillis() + 10_000;
            while (!thrown && System.currentTimeMillis() < deadline) {
                try {
                    c.poll(Duration.ofMillis(500));
                } catch (OffsetOutOfRangeException e) {
                    thrown = true;
                    check(e.offsetOutOfRangePartitions().containsKey(tp), "OffsetOutOfRangeException names " + e.offsetOutOfRangePartitions());
                }
            }
            check(thrown, "auto.offset.reset=none: fetching at offset 1000 of a " + N + "-record log raised no OffsetOutOfRangeException");
        }
        log(NAME, "out-of-range handling ok");

        // --- fetch limits smaller than one record batch
        try (KafkaConsumer<byte[], byte[]> c = consumerWith(bootstrap, Map.of(
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 64,
                ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 64))) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, N, Duration.ofSeconds(20));
            checkEq(N, got.size(), "records read with max.partition.fetch.bytes=64 (batches of ~1 KB)");
            for (int i = 0; i < N; i++) {
                checkEq((long) i, got.get(i).offset(), "offset " + i + " with tiny fetch limits");
                checkEq((byte) ('a' + i), got.get(i).value()[0], "value " + i + " with tiny fetch limits");
            }
        }
        log(NAME, "tiny fetch limits ok");

        // --- isolation.level=read_committed: with no transactions the last stable offset is
        // the high watermark, so everything is readable and endOffsets (ListOffsets with
        // isolation level 1) equals the record count
        try (KafkaConsumer<byte[], byte[]> c = consumerWith(bootstrap, Map.of(
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"))) {
            checkEq((long) N, c.endOffsets(List.of(tp)).get(tp), "read_committed endOffsets (last stable offset)");
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, N, Duration.ofSeconds(15));
            checkEq(N, got.size(), "records read with isolation.level=read_committed");
        }
        log(NAME, "read_committed ok");

        // --- seek with leader epoch -> OffsetForLeaderEpoch validation, then fetch
        try (KafkaConsumer<byte[], byte[]> c = consumerWith(bootstrap, Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"))) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            List<ConsumerRecord<byte[], byte[]>> first = pollAtLeast(c, 1, Duration.ofSeconds(10));
            check(!first.isEmpty(), "nothing read before the epoch seek");
            Optional<Integer> epoch = first.get(0).leaderEpoch();
            if (epoch.isEmpty()) {
                warn(NAME, "records carry no leader epoch; seeking with epoch 0 instead");
                epoch = Optional.of(0);
            }
            c.seek(tp, new OffsetAndMetadata(7, epoch, ""));
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, N - 7, Duration.ofSeconds(15));
            check(!got.isEmpty(), "nothing read after seek(7, leaderEpoch=" + epoch.get() + ")");
            checkEq(7L, got.get(0).offset(), "first offset after seek(7, leaderEpoch=" + epoch.get() + ")");
            checkEq(N - 7, got.size(), "records read after the epoch seek");
        }
        log(NAME, "seek with leader epoch (OffsetForLeaderEpoch validation) ok");

        // --- long poll wakes up on new data
        KafkaConsumer<byte[], byte[]> c = consumerWith(bootstrap, Map.of(
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 8000));
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, null)) {
            c.assign(List.of(tp));
            c.seekToEnd(List.of(tp));
            checkEq((long) N, c.position(tp), "position after seekToEnd");
            c.poll(Duration.ofMillis(200)); // gets a fetch in flight
            Thread.sleep(500);
            long t0 = System.nanoTime();
            p.send(new ProducerRecord<>(topic, 0, utf8("late"), utf8("late-value"))).get();
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, 1, Duration.ofSeconds(12));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            check(!got.isEmpty(), "record produced during a long poll never arrived");
            checkEq("late-value", new String(got.get(0).value()), "value delivered to the long poll");
            if (ms > 4000) {
                warn(NAME, "record produced during a pending fetch arrived after " + ms
                        + " ms: the broker appears to hold fetches for the full fetch.max.wait.ms (8000) instead of answering when data arrives");
            } else {
                log(NAME, "long poll delivered the new record after " + ms + " ms");
            }
        } finally {
            // the next fetch is parked for up to 8 s with nothing to return; don't wait for it
            c.close(Duration.ofMillis(200));
        }
    }
}
