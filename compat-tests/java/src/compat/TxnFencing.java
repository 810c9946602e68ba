package compat;

import static compat.Common.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;

/**
 * Zombie fencing. Two rounds, each with a fresh transactional.id shared by producers A and B:
 *
 *  1. A: initTransactions, beginTransaction, send (acked); B (same id): initTransactions, which
 *     aborts A's open transaction and bumps the epoch; A's commitTransaction must fail with
 *     ProducerFencedException (or InvalidProducerEpochException).
 *  2. As 1, but A's next send after B's initTransactions must fail (the Produce carries
 *     A's old epoch), and so must its commitTransaction.
 *
 * In both rounds B then commits its own transaction: read_committed sees exactly B's records
 * (A's never), read_uncommitted sees A's aborted record too, and the last stable offset is
 * the high watermark (nothing left open).
 */
public final class TxnFencing {
    static final String NAME = "java/TxnFencing";

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static KafkaProducer<byte[], byte[]> txnProducer(String bootstrap, String txnId, String clientId) {
        Properties extra = new Properties();
        extra.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        extra.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        extra.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 30000);
        return producer(bootstrap, extra);
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-txn-fence");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
        }
        TopicPartition tp0 = new TopicPartition(topic, 0), tp1 = new TopicPartition(topic, 1);
        List<TopicPartition> all = List.of(tp0, tp1);
        List<String> aValues = new ArrayList<>(), bValues = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        String zombieAfterFence = null; // set when A's post-fencing send was (wrongly) acked

        for (int round = 1; round <= 2; round++) {
            String txnId = "java-txn-fence-" + round + "-" + UUID.randomUUID();
            KafkaProducer<byte[], byte[]> a = txnProducer(bootstrap, txnId, "fence-A" + round);
            KafkaProducer<byte[], byte[]> b = txnProducer(bootstrap, txnId, "fence-B" + round);
            try {
                a.initTransactions();
                a.beginTransaction();
                String av = "A" + round + "-zombie";
                RecordMetadata amd = a.send(new ProducerRecord<>(topic, 0, utf8("a"), utf8(av))).get();
                aValues.add(av);
                log(NAME, "round " + round + ": A's record acked at " + tp0 + "@" + amd.offset());

                b.initTransactions(); // fences A: its open transaction is aborted, epoch bumped

                if (round == 2) {
                    // A keeps producing to the partition it already added: Produce with the old epoch
                    Throwable sendErr = null;
                    try {
                        a.send(new ProducerRecord<>(topic, 0, utf8("a"), utf8("A2-after-fence"))).get();
                    } catch (ExecutionException | RuntimeException e) {
                        sendErr = e;
                    }
                    if (sendErr == null) {
                        // reported at the end, after checking what became of that record
                        failures.add("round 2: A's send after B's initTransactions succeeded (Produce with A's fenced epoch accepted; the record"
                                + " was acked, not rejected with INVALID_PRODUCER_EPOCH/PRODUCER_FENCED)");
                        zombieAfterFence = "A2-after-fence";
                        log(NAME, "round 2: A's send after fencing was ACKED (will fail the scenario)");
                    } else {
                        Throwable f = findCause(sendErr, ProducerFencedException.class, InvalidProducerEpochException.class);
                        check(f != null, "round 2: A's send after being fenced failed with " + chain(sendErr)
                                + ", expected ProducerFencedException or InvalidProducerEpochException");
                        log(NAME, "round 2: A's send after fencing failed with " + f.getClass().getSimpleName() + " (" + f.getMessage() + ")");
                    }
                }

                Throwable commitErr = null;
                try {
                    a.commitTransaction();
                } catch (RuntimeException e) {
                    commitErr = e;
                }
                check(commitErr != null, "round " + round + ": A's commitTransaction succeeded after B initialized the same transactional.id");
                Throwable f = findCause(commitErr, ProducerFencedException.class, InvalidProducerEpochException.class);
                check(f != null, "round " + round + ": A's commitTransaction failed with " + chain(commitErr)
                        + ", expected ProducerFencedException or InvalidProducerEpochException");
                log(NAME, "round " + round + ": A's commitTransaction failed with " + f.getClass().getSimpleName() + " (" + f.getMessage() + ")");

                b.beginTransaction();
                for (int i = 0; i < 3; i++) {
                    String bv = "B" + round + "-" + i;
                    b.send(new ProducerRecord<>(topic, i % 2, utf8("b"), utf8(bv))).get();
                    bValues.add(bv);
                }
                b.commitTransaction();
                log(NAME, "round " + round + ": B committed 3 records");
            } finally {
                a.close(Duration.ofSeconds(2));
                b.close(Duration.ofSeconds(5));
            }
        }

        Map<TopicPartition, Long> rcEnds = new java.util.HashMap<>(), ruEnds = new java.util.HashMap<>();
        List<ConsumerRecord<byte[], byte[]>> rc = readToEnd(bootstrap, "read_committed", all, Duration.ofSeconds(20), rcEnds);
        List<ConsumerRecord<byte[], byte[]>> ru = readToEnd(bootstrap, "read_uncommitted", all, Duration.ofSeconds(20), ruEnds);
        if (!ruEnds.equals(rcEnds)) {
            failures.add("read_committed endOffsets (last stable offset) " + rcEnds + " differ from read_uncommitted (high watermark) "
                    + ruEnds + ": a transaction is left open");
        }
        List<String> rcValues = new ArrayList<>(), ruValues = new ArrayList<>();
        for (TopicPartition tp : all) {
            rcValues.addAll(valuesOn(rc, tp));
            ruValues.addAll(valuesOn(ru, tp));
        }
        log(NAME, "read_committed on " + tp0 + ": " + valuesOn(rc, tp0) + " at " + offsetsOn(rc, tp0)
                + "; read_uncommitted: " + valuesOn(ru, tp0) + " at " + offsetsOn(ru, tp0));
        if (zombieAfterFence != null) aValues.add(zombieAfterFence); // an A record: must not be visible
        for (String av : aValues) {
            if (rcValues.contains(av)) failures.add("fenced producer A's record " + av + " is visible to read_committed: " + rcValues);
            if (!ruValues.contains(av)) failures.add("A's record " + av + " was acked but read_uncommitted does not see it: " + ruValues);
        }
        List<String> rcB = new ArrayList<>(rcValues);
        rcB.removeAll(aValues);
        if (!new java.util.TreeSet<>(bValues).equals(new java.util.TreeSet<>(rcB)) || rcB.size() != bValues.size()) {
            failures.add("B's records visible to read_committed: expected <" + bValues + "> but got <" + rcB + ">");
        }
        for (String v : ruValues) {
            if (!bValues.contains(v) && !aValues.contains(v)) failures.add("read_uncommitted sees an unexpected record " + v);
        }
        if (!failures.isEmpty()) throw new Mismatch(String.join("; ", failures));
        log(NAME, "read_committed sees exactly B's " + bValues.size() + " records; read_uncommitted " + ruValues.size()
                + " (A's aborted ones too); endOffsets " + rcEnds);
    }
}
