package compat;

import static compat.Common.*;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TransactionAbortedException;

/**
 * transaction.timeout.ms=2000: the producer begins a transaction, sends one record (acked at
 * offset 0) and sleeps 4 s. Meanwhile the read_committed end offset (last stable offset)
 * stays at 0; the coordinator must abort the transaction on its own (abort marker at 1, the
 * last stable offset moves to 2 with the producer still idle) and bump the epoch, so the
 * producer's late commitTransaction fails (the exception is recorded). The record is never
 * visible to read_committed; read_uncommitted sees it. A new producer with the same
 * transactional.id then initializes and commits normally.
 */
public final class TxnTimeout {
    static final String NAME = "java/TxnTimeout";

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static long rcEnd(String bootstrap, TopicPartition tp) {
        Map<TopicPartition, Long> ends = new HashMap<>();
        try (var c = consumer(bootstrap, Map.of(org.apache.kafka.clients.consumer.ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"))) {
            ends.putAll(c.endOffsets(List.of(tp)));
        }
        return ends.get(tp);
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-txn-timeout");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        String txnId = "java-txn-timeout-" + UUID.randomUUID();
        Properties extra = new Properties();
        extra.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        extra.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 2000);
        // the client requires delivery.timeout.ms >= linger.ms + request.timeout.ms; keep the
        // defaults from Common (30 s / 15 s) which satisfy it

        long abortedAfterMs = -1;
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, extra)) {
            p.initTransactions();
            p.beginTransaction();
            long t0 = System.nanoTime();
            RecordMetadata md = p.send(new ProducerRecord<>(topic, 0, utf8("k"), utf8("timed-out"))).get();
            checkEq(0L, md.offset(), "offset of the record in the transaction that will time out");
            checkEq(0L, rcEnd(bootstrap, tp), "read_committed endOffsets (last stable offset) while the transaction is open");

            // watch the last stable offset while the producer sleeps past its timeout
            long deadline = t0 + Duration.ofMillis(4000).toNanos();
            long lso = 0;
            while (System.nanoTime() < deadline) {
                lso = rcEnd(bootstrap, tp);
                if (lso != 0 && abortedAfterMs < 0) abortedAfterMs = (System.nanoTime() - t0) / 1_000_000;
                Thread.sleep(200);
            }
            if (abortedAfterMs < 0) {
                // not aborted within 4 s: give the coordinator up to 10 s more before failing
                long more = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (lso == 0 && System.nanoTime() < more) {
                    Thread.sleep(200);
                    lso = rcEnd(bootstrap, tp);
                }
                check(lso != 0, "the coordinator did not abort the transaction (transaction.timeout.ms=2000): read_committed endOffsets"
                        + " still 0 after 14 s");
                abortedAfterMs = (System.nanoTime() - t0) / 1_000_000;
                warn(NAME, "transaction aborted only after " + abortedAfterMs + " ms (timeout 2000 ms)");
            }
            check(abortedAfterMs >= 1500, "transaction aborted after " + abortedAfterMs + " ms, before its 2000 ms timeout");
            checkEq(2L, lso, "read_committed endOffsets after the timeout abort (record at 0, abort marker at 1)");
            log(NAME, "coordinator aborted the transaction ~" + abortedAfterMs + " ms after the send; last stable offset 2");

            Throwable err = null;
            try {
                p.commitTransaction();
            } catch (KafkaException e) {
                err = e;
            }
            check(err != null, "commitTransaction succeeded although the coordinator had aborted the transaction (timeout)");
            Throwable f = findCause(err, ProducerFencedException.class, InvalidProducerEpochException.class,
                    InvalidTxnStateException.class, TransactionAbortedException.class);
            check(f != null, "commitTransaction after the timeout abort failed with " + chain(err)
                    + ", expected ProducerFencedException / InvalidProducerEpochException / InvalidTxnStateException");
            log(NAME, "late commitTransaction failed with " + chain(err));
        }

        // the transactional.id is usable again
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, extra)) {
            p.initTransactions();
            p.beginTransaction();
            RecordMetadata md = p.send(new ProducerRecord<>(topic, 0, utf8("k"), utf8("after-timeout"))).get();
            p.commitTransaction();
            checkEq(2L, md.offset(), "offset of the record committed after the timed-out transaction");
        }

        Map<TopicPartition, Long> rcEnds = new HashMap<>(), ruEnds = new HashMap<>();
        List<ConsumerRecord<byte[], byte[]>> rc = readToEnd(bootstrap, "read_committed", List.of(tp), Duration.ofSeconds(15), rcEnds);
        List<ConsumerRecord<byte[], byte[]>> ru = readToEnd(bootstrap, "read_uncommitted", List.of(tp), Duration.ofSeconds(15), ruEnds);
        checkEq(List.of("after-timeout"), valuesOn(rc, tp), "records visible to read_committed");
        checkEq(List.of(2L), offsetsOn(rc, tp), "offsets visible to read_committed");
        checkEq(List.of("timed-out", "after-timeout"), valuesOn(ru, tp), "records visible to read_uncommitted");
        checkEq(4L, ruEnds.get(tp), "read_uncommitted endOffsets (2 records, 2 markers)");
        checkEq(4L, rcEnds.get(tp), "read_committed endOffsets");
        log(NAME, "read_committed sees only the later committed record; the timed-out one only read_uncommitted");
    }
}
