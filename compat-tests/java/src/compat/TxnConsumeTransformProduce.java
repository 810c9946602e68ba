package compat;

import static compat.Common.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Exactly-once consume-transform-produce. An input topic holds N records per partition (2
 * partitions, plain producer). A group consumer (classic protocol, read_committed, no
 * auto-commit, max.poll.records=7) and a transactional producer loop: each non-empty poll
 * becomes one transaction that writes "out|VALUE|itK" for every input record to the same
 * partition of the output topic and commits the consumer's next offsets with
 * sendOffsetsToTransaction(offsets, consumer.groupMetadata()) (TxnOffsetCommit with the
 * group generation and member id). Iteration ABORT_AT does the same and then aborts, and the
 * consumer seeks back to the group's committed offsets.
 *
 * Checks: read_committed output holds every input exactly once, per partition in input order,
 * nothing from the aborted iteration; read_uncommitted output also holds the aborted
 * iteration's records (they were written); the group's committed offsets (consumer.committed
 * and Admin.listConsumerGroupOffsets) equal the input end offsets; right after the abort the
 * committed offsets are those of the previous commit (the aborted offsets were not applied).
 */
public final class TxnConsumeTransformProduce {
    static final String NAME = "java/TxnConsumeTransformProduce";
    static final int PARTITIONS = 2;
    static final int N = 20; // per partition
    static final int ABORT_AT = 3; // the 3rd non-empty poll is aborted

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static KafkaConsumer<byte[], byte[]> eosConsumer(String bootstrap, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 7);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "eos-consumer");
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000);
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        return new KafkaConsumer<>(p);
    }

    static String str(byte[] b) { return new String(b, StandardCharsets.UTF_8); }

    static void body(String bootstrap) throws Exception {
        String in = uniqueTopic("java-eos-in");
        String out = uniqueTopic("java-eos-out");
        String group = uniqueGroup("java-eos");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(in, PARTITIONS, (short) 1), new NewTopic(out, PARTITIONS, (short) 1))).all().get();
        }
        List<TopicPartition> inTps = new ArrayList<>(), outTps = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) {
            inTps.add(new TopicPartition(in, p));
            outTps.add(new TopicPartition(out, p));
        }
        produceEach(bootstrap, in, PARTITIONS, 0, N, "in");

        Properties extra = new Properties();
        extra.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "java-eos-" + UUID.randomUUID());
        extra.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 30000);

        Set<String> abortedValues = new HashSet<>();
        Map<TopicPartition, Long> committedByUs = new HashMap<>();
        int iteration = 0, commits = 0;
        try (KafkaConsumer<byte[], byte[]> c = eosConsumer(bootstrap, group);
             KafkaProducer<byte[], byte[]> p = producer(bootstrap, extra)) {
            p.initTransactions();
            c.subscribe(List.of(in));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!(committedByUs.getOrDefault(inTps.get(0), 0L) == N && committedByUs.getOrDefault(inTps.get(1), 0L) == N)) {
                check(System.nanoTime() < deadline, "consume-transform-produce loop did not commit offsets " + N
                        + " on both input partitions within 30 s: committed " + committedByUs + " after " + iteration + " iterations");
                ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(300));
                if (recs.isEmpty()) continue;
                iteration++;
                boolean abort = iteration == ABORT_AT;
                p.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                for (ConsumerRecord<byte[], byte[]> r : recs) {
                    String v = "out|" + str(r.value()) + "|it" + iteration;
                    p.send(new ProducerRecord<>(out, r.partition(), r.key(), utf8(v)));
                    if (abort) abortedValues.add(v);
                    next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                p.sendOffsetsToTransaction(next, c.groupMetadata());
                if (abort) {
                    p.flush(); // the records really reach the log before the abort
                    p.abortTransaction();
                    Map<TopicPartition, OffsetAndMetadata> committed = c.committed(c.assignment());
                    for (TopicPartition tp : c.assignment()) {
                        OffsetAndMetadata om = committed.get(tp);
                        Long ours = committedByUs.get(tp);
                        checkEq(ours, om == null ? null : om.offset(),
                                "committed offset of " + tp + " right after the aborted iteration (must be the previous commit, not " + next.get(tp) + ")");
                        if (om == null) c.seekToBeginning(List.of(tp));
                        else c.seek(tp, om.offset());
                    }
                    log(NAME, "iteration " + iteration + ": " + recs.count() + " records and offsets " + next
                            + " aborted; consumer seeks back to " + committed);
                } else {
                    p.commitTransaction();
                    commits++;
                    for (var e : next.entrySet()) committedByUs.put(e.getKey(), e.getValue().offset());
                }
            }
            check(iteration > ABORT_AT, "only " + iteration + " iterations: the aborted one was the last, nothing after it proves a recovery");
            log(NAME, iteration + " iterations, " + commits + " committed, 1 aborted (" + abortedValues.size() + " records)");

            Map<TopicPartition, OffsetAndMetadata> committed = c.committed(Set.copyOf(inTps));
            for (TopicPartition tp : inTps) {
                check(committed.get(tp) != null, "no committed offset for " + tp + " (consumer.committed)");
                checkEq((long) N, committed.get(tp).offset(), "committed offset of " + tp + " (consumer.committed) = input end offset");
            }
        }
        try (Admin admin = admin(bootstrap)) {
            Map<TopicPartition, OffsetAndMetadata> offs = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            for (TopicPartition tp : inTps) {
                check(offs.get(tp) != null, "no committed offset for " + tp + " (Admin.listConsumerGroupOffsets): " + offs);
                checkEq((long) N, offs.get(tp).offset(), "committed offset of " + tp + " (Admin.listConsumerGroupOffsets)");
            }
        }

        List<ConsumerRecord<byte[], byte[]>> rc = readToEnd(bootstrap, "read_committed", outTps, Duration.ofSeconds(15), null);
        List<ConsumerRecord<byte[], byte[]>> ru = readToEnd(bootstrap, "read_uncommitted", outTps, Duration.ofSeconds(15), null);
        for (int part = 0; part < PARTITIONS; part++) {
            List<String> expected = new ArrayList<>(), got = new ArrayList<>();
            for (int i = 0; i < N; i++) expected.add("in-" + part + "-" + i);
            for (String v : valuesOn(rc, outTps.get(part))) {
                check(!abortedValues.contains(v), "record " + v + " from the aborted iteration is visible to read_committed on " + outTps.get(part));
                got.add(v.split("\\|")[1]);
            }
            checkEq(expected, got, "input values in the read_committed output on " + outTps.get(part) + " (each exactly once, in order)");
        }
        Set<String> ruValues = new HashSet<>();
        for (ConsumerRecord<byte[], byte[]> r : ru) ruValues.add(str(r.value()));
        for (String v : abortedValues) check(ruValues.contains(v), "aborted record " + v + " is missing from read_uncommitted output (was it written?)");
        checkEq(PARTITIONS * N + abortedValues.size(), ru.size(), "records in the read_uncommitted output (committed + aborted)");
        log(NAME, "output: read_committed " + rc.size() + " records (each input once), read_uncommitted " + ru.size()
                + "; group offsets " + N + " on both partitions");
    }
}
