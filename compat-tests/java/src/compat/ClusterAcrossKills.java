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
 * Used by cluster/run.sh: three Odradek brokers over etcd and an S3 server. The Java producer
 * with its defaults (idempotent, acks=all; Produce v13 with topic ids) keeps sending to a
 * 12-partition topic while the script SIGKILLs and restarts brokers; partitions move to other
 * brokers (new leader epochs) and back. Then an assign()ing consumer reads every partition back
 * (leader-epoch validation across the moves included) and checks: every record acked, stored
 * exactly once at its acked offset, each partition in send order.
 *
 *   ClusterAcrossKills BOOTSTRAP MARKER_FILE
 *     touches MARKER_FILE once sending has started (the script then starts killing)
 */
public final class ClusterAcrossKills {
    static final String NAME = "cluster/java-produce-across-kills";
    static final int N = 12000;
    static final int PARTITIONS = 12;

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        if (args.length < 2) {
            System.err.println("usage: ClusterAcrossKills BOOTSTRAP MARKER_FILE");
            System.exit(2);
        }
        Path marker = Path.of(args[1]);
        run(NAME, () -> body(bootstrap, marker));
    }

    static void body(String bootstrap, Path marker) throws Exception {
        String topic = uniqueTopic("java-cluster");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
        }
        Properties extra = new Properties();
        extra.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120000);
        extra.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000);
        extra.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, 100);
        extra.put(ProducerConfig.RECONNECT_BACKOFF_MS_CONFIG, 100);
        extra.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        extra.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 120000);
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, extra)) {
            for (int i = 0; i < N; i++) {
                fs.add(p.send(new ProducerRecord<>(topic, i % PARTITIONS, utf8("k" + i), utf8("v" + i))));
                if (i == 600) Files.writeString(marker, "go\n");
                if (i % 4 == 3) Thread.sleep(10); // ~30 s of sending in all
            }
            p.flush();
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
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(60));
            long stored = end.values().stream().mapToLong(Long::longValue).sum();
            c.assign(tps);
            c.seekToBeginning(tps);
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, (int) stored, Duration.ofSeconds(90));
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
                checkEq(acked.get(r.partition() + "@" + r.offset()), idx,
                        "record stored at " + r.partition() + "@" + r.offset() + " vs. what was acked there");
            }
            List<Integer> dups = new ArrayList<>();
            count.forEach((k, v) -> { if (v > 1) dups.add(k); });
            check(dups.isEmpty(), dups.size() + " records stored more than once, e.g. v" + (dups.isEmpty() ? "" : dups.get(0)));
            checkEq(N, count.size(), "distinct records stored");
            checkEq((long) N, stored, "records stored");
        }
        log(NAME, "no loss, no duplicates, order kept while brokers were killed");
    }
}
