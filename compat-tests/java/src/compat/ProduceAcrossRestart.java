package compat;

import static compat.Common.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Used by restart/run.sh: one idempotent producer keeps sending while the broker is
 * restarted underneath it (same address). The client retries whatever was in flight; the
 * broker must neither lose acked records nor store a retried batch twice.
 *
 *   ProduceAcrossRestart BOOTSTRAP MARKER_FILE
 *     creates a 2-partition topic, sends N records at a steady pace, touches MARKER_FILE
 *     once a first share is acked (the script then restarts the broker), waits for all
 *     acks, then reads the topic back and checks: every acked record present exactly once,
 *     at its acked offset, each partition in send order, no duplicates.
 */
public final class ProduceAcrossRestart {
    static final String NAME = "java/ProduceAcrossRestart";
    static final int N = 3000;
    static final int PARTITIONS = 2;

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        if (args.length < 2) {
            System.err.println("usage: ProduceAcrossRestart BOOTSTRAP MARKER_FILE");
            System.exit(2);
        }
        Path marker = Path.of(args[1]);
        run(NAME, () -> body(bootstrap, marker));
    }

    static void body(String bootstrap, Path marker) throws Exception {
        String topic = uniqueTopic("java-xrestart");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
        }
        Properties extra = new Properties();
        extra.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 60000);
        extra.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000);
        extra.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, 100);
        extra.put(ProducerConfig.RECONNECT_BACKOFF_MS_CONFIG, 100);
        extra.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        extra.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        extra.put(ProducerConfig.BATCH_SIZE_CONFIG, 2048);
        extra.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 60000);
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, extra)) {
            boolean signalled = false;
            for (int i = 0; i < N; i++) {
                fs.add(p.send(new ProducerRecord<>(topic, i % PARTITIONS, utf8("k" + i), utf8("v" + i))));
                if (i % 20 == 19) Thread.sleep(20); // ~3 s of sending in all
                if (!signalled && i >= N / 5 && fs.get(N / 10).isDone()) {
                    Files.writeString(marker, "go\n");
                    signalled = true;
                    log(NAME, "marker written after " + (i + 1) + " sends; broker restart expected now");
                }
            }
            p.flush();
            if (!signalled) Files.writeString(marker, "late\n");
        }
        Map<String, Integer> acked = new HashMap<>();
        for (int i = 0; i < N; i++) {
            RecordMetadata md = fs.get(i).get(); // throws if a record was finally not delivered
            Integer prev = acked.put(md.partition() + "@" + md.offset(), i);
            check(prev == null, "records " + prev + " and " + i + " both acked at " + md.partition() + "@" + md.offset());
        }
        log(NAME, "all " + N + " records acked");
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) tps.add(new TopicPartition(topic, p));
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long stored = end.values().stream().mapToLong(Long::longValue).sum();
            c.assign(tps);
            c.seekToBeginning(tps);
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, (int) stored, Duration.ofSeconds(30));
            checkEq(stored, (long) got.size(), "records read back (sum of end offsets)");
            Map<Integer, Integer> count = new HashMap<>();
            int[] lastIdx = new int[PARTITIONS];
            java.util.Arrays.fill(lastIdx, -1);
            for (ConsumerRecord<byte[], byte[]> r : got) {
                int idx = Integer.parseInt(new String(r.value()).substring(1));
                count.merge(idx, 1, Integer::sum);
                check(idx > lastIdx[r.partition()], "partition " + r.partition() + " out of send order: v" + idx
                        + " at offset " + r.offset() + " after v" + lastIdx[r.partition()]);
                lastIdx[r.partition()] = idx;
                Integer ackedIdx = acked.get(r.partition() + "@" + r.offset());
                checkEq(ackedIdx, idx, "record stored at " + r.partition() + "@" + r.offset() + " vs. what was acked there");
            }
            List<Integer> dups = new ArrayList<>();
            count.forEach((k, v) -> { if (v > 1) dups.add(k); });
            check(dups.isEmpty(), dups.size() + " records stored more than once (retried batches appended twice), e.g. v" + (dups.isEmpty() ? "" : dups.get(0)));
            checkEq(N, count.size(), "distinct records stored");
            checkEq((long) N, stored, "records stored");
        }
        log(NAME, "no loss, no duplicates, order kept across the restart");
    }
}
