package compat;

import static compat.Common.*;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * A cluster of its own on a manual clock. (1) A classic-group consumer with Kafka's default
 * session.timeout.ms (45 s) is kicked out by one `advance` of 46 s: the group has no member
 * within one second of wall time, and the consumer's onPartitionsLost runs when its next
 * heartbeat is refused; it then joins again. (2) A transaction left open is aborted by
 * `advance` past transaction.timeout.ms (60 s) at once: the coordinator bumps the epoch, the
 * producer's commitTransaction fails, read_committed sees nothing and the abort marker is in
 * the log. Nothing in this scenario sleeps for a timeout.
 */
public final class ControlClock {
    static final String NAME = "java/ControlClock";

    public static void main(String[] args) {
        run(NAME, ControlClock::body);
    }

    static void body() throws Exception {
        ControlApi cluster = ControlApi.fromEnv().newCluster("{\"clock\":\"manual\"}");
        String bootstrap = cluster.bootstrap;
        String topic = uniqueTopic("java-control-clock");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        String group = uniqueGroup("java-control-clock");

        AtomicLong lostAt = new AtomicLong(-1);
        AtomicBoolean stop = new AtomicBoolean(false);
        Thread poller = new Thread(() -> {
            try (KafkaConsumer<byte[], byte[]> c = groupConsumer(bootstrap, group, "kicked-out")) {
                // Kafka's defaults for the timers this scenario jumps over.
                c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                    public void onPartitionsRevoked(Collection<TopicPartition> p) {}
                    public void onPartitionsAssigned(Collection<TopicPartition> p) {}
                    public void onPartitionsLost(Collection<TopicPartition> p) {
                        lostAt.compareAndSet(-1, System.nanoTime());
                    }
                });
                while (!stop.get()) c.poll(Duration.ofMillis(100));
            }
        });
        poller.start();
        cluster.waitFor("{\"for\":\"group\",\"group\":\"" + group + "\",\"state\":\"Stable\",\"members\":1,\"timeout_ms\":30000}");

        long t0 = System.nanoTime();
        String adv = cluster.advance(46_000);
        cluster.waitFor("{\"for\":\"group\",\"group\":\"" + group + "\",\"members\":0,\"timeout_ms\":1000}");
        long kickedMs = (System.nanoTime() - t0) / 1_000_000;
        check(kickedMs < 1000, "the member left the group " + kickedMs + " ms after advance; expected under 1000 (" + adv + ")");
        log(NAME, "member expired " + kickedMs + " ms (wall) after advancing the clock 46 s");
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (lostAt.get() < 0 && System.nanoTime() < deadline) Thread.sleep(50);
        check(lostAt.get() > 0, "the consumer's onPartitionsLost did not run after its session expired");
        cluster.waitFor("{\"for\":\"group\",\"group\":\"" + group + "\",\"state\":\"Stable\",\"members\":1,\"timeout_ms\":30000}");
        stop.set(true);
        poller.join();

        String txnId = "java-control-clock-" + System.nanoTime();
        Properties extra = new Properties();
        extra.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        extra.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 60000);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, extra)) {
            p.initTransactions();
            p.beginTransaction();
            checkEq(0L, p.send(new ProducerRecord<>(topic, 0, utf8("k"), utf8("abandoned"))).get().offset(), "offset of the open transaction's record");
            String before = cluster.waitFor("{\"for\":\"transaction\",\"transactional_id\":\"" + txnId + "\",\"state\":\"Ongoing\"}");
            long epoch = ControlApi.num(before, "producer_epoch");
            long t1 = System.nanoTime();
            cluster.advance(61_000);
            String after = cluster.waitFor("{\"for\":\"transaction\",\"transactional_id\":\"" + txnId + "\",\"state\":\"CompleteAbort\",\"timeout_ms\":2000}");
            long abortMs = (System.nanoTime() - t1) / 1_000_000;
            check(ControlApi.num(after, "producer_epoch") > epoch, "the timeout abort bumps the producer epoch: " + before + " -> " + after);
            log(NAME, "transaction aborted " + abortMs + " ms (wall) after advancing the clock 61 s");
            Throwable failed = null;
            try {
                p.commitTransaction();
            } catch (Exception e) {
                failed = e;
            }
            check(failed != null, "commitTransaction after the coordinator aborted the transaction must fail");
            log(NAME, "late commit failed as expected: " + chain(failed));
        }
        Map<TopicPartition, Long> ends = new java.util.HashMap<>();
        var committed = readToEnd(bootstrap, "read_committed", List.of(tp), Duration.ofSeconds(20), ends);
        checkEq(2L, ends.get(tp), "read_committed end offset: the record and its abort marker");
        checkEq(List.of(), valuesOn(committed, tp), "records read_committed sees");
        cluster.delete();
    }
}
