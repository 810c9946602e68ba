package compat;

import static compat.Common.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * One transactional producer (transactional.id unique per run) runs three transactions over
 * a 3-partition topic and a second 1-partition topic: T1 committed (every partition), T2
 * aborted (every partition), T3 committed (A-0, A-2, B-0 only).
 *
 * Checks: acked offsets leave exactly one offset for each transaction marker; while T2 is
 * open, read_committed endOffsets (last stable offset) stop at T2's first offset on each
 * partition while read_uncommitted endOffsets (high watermark) include T2's records, and a
 * read_committed consumer reads exactly T1; after the abort and after T3 both isolation
 * levels report the same end (marker included); a read_committed consumer reading from the
 * beginning sees exactly T1+T3 per partition in order at their acked offsets, a
 * read_uncommitted one sees T1+T2+T3.
 */
public final class TxnCommitAbort {
    static final String NAME = "java/TxnCommitAbort";

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    /** Acked record: partition, offset, value. */
    record Acked(TopicPartition tp, long offset, String value) {}

    static void body(String bootstrap) throws Exception {
        String topicA = uniqueTopic("java-txn-a");
        String topicB = uniqueTopic("java-txn-b");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topicA, 3, (short) 1), new NewTopic(topicB, 1, (short) 1))).all().get();
        }
        TopicPartition a0 = new TopicPartition(topicA, 0), a1 = new TopicPartition(topicA, 1),
                a2 = new TopicPartition(topicA, 2), b0 = new TopicPartition(topicB, 0);
        List<TopicPartition> all = List.of(a0, a1, a2, b0);
        String txnId = "java-txn-ca-" + UUID.randomUUID();

        Properties extra = new Properties();
        extra.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        extra.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 30000);
        Map<TopicPartition, List<Acked>> t1, t2, t3;
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, extra)) {
            p.initTransactions();

            // T1: 3 records on each partition of A, 2 on B; committed
            p.beginTransaction();
            t1 = send(p, Map.of(a0, 3, a1, 3, a2, 3, b0, 2), "t1");
            p.commitTransaction();
            for (TopicPartition tp : all) checkOffsets(t1.get(tp), 0, "T1 on " + tp);
            log(NAME, "T1 committed: " + count(t1) + " records");

            // T2: 2 records on every partition; checked while open, then aborted
            p.beginTransaction();
            t2 = send(p, Map.of(a0, 2, a1, 2, a2, 2, b0, 2), "t2");
            for (TopicPartition tp : all) {
                long t1End = last(t1.get(tp)) + 1;
                // one offset for T1's commit marker
                checkOffsets(t2.get(tp), t1End + 1, "T2 on " + tp + " (after T1's commit marker at " + t1End + ")");
            }
            Map<TopicPartition, Long> rcEnds = new HashMap<>(), ruEnds = new HashMap<>();
            List<ConsumerRecord<byte[], byte[]>> rcOpen = readToEnd(bootstrap, "read_committed", all, Duration.ofSeconds(15), rcEnds);
            readToEnd(bootstrap, "read_uncommitted", all, Duration.ofSeconds(15), ruEnds);
            for (TopicPartition tp : all) {
                checkEq(t2.get(tp).get(0).offset(), rcEnds.get(tp),
                        "read_committed endOffsets (last stable offset) of " + tp + " while T2 is open (T2's first offset)");
                checkEq(last(t2.get(tp)) + 1, ruEnds.get(tp),
                        "read_uncommitted endOffsets (high watermark) of " + tp + " while T2 is open");
                checkEq(values(t1.get(tp)), valuesOn(rcOpen, tp), "read_committed records on " + tp + " while T2 is open");
            }
            log(NAME, "while T2 open: read_committed end " + rcEnds + ", read_uncommitted end " + ruEnds);
            p.abortTransaction();
            rcEnds.clear();
            ruEnds.clear();
            readToEnd(bootstrap, "read_committed", all, Duration.ofSeconds(15), rcEnds);
            readToEnd(bootstrap, "read_uncommitted", all, Duration.ofSeconds(15), ruEnds);
            for (TopicPartition tp : all) {
                long expected = last(t2.get(tp)) + 2; // T2's abort marker included
                checkEq(expected, ruEnds.get(tp), "read_uncommitted endOffsets of " + tp + " after T2 aborted");
                checkEq(expected, rcEnds.get(tp), "read_committed endOffsets of " + tp + " after T2 aborted");
            }
            log(NAME, "T2 aborted: endOffsets " + rcEnds);

            // T3: one record on and B-0 (A-1 untouched); committed
            p.beginTransaction();
            t3 = send(p, Map.of(a0, 1, a2, 1, b0, 1), "t3");
            p.commitTransaction();
            t3.put(a1, List.of());
            for (TopicPartition tp : List.of(a0, a2, b0)) {
                checkOffsets(t3.get(tp), last(t2.get(tp)) + 2, "T3 on " + tp + " (after T2's abort marker)");
            }
            log(NAME, "T3 committed: " + count(t3) + " records");
        }

        Map<TopicPartition, Long> rcEnds = new HashMap<>(), ruEnds = new HashMap<>();
        List<ConsumerRecord<byte[], byte[]>> rc = readToEnd(bootstrap, "read_committed", all, Duration.ofSeconds(20), rcEnds);
        List<ConsumerRecord<byte[], byte[]>> ru = readToEnd(bootstrap, "read_uncommitted", all, Duration.ofSeconds(20), ruEnds);
        for (TopicPartition tp : all) {
            long end = t3.get(tp).isEmpty() ? last(t2.get(tp)) + 2 : last(t3.get(tp)) + 2;
            checkEq(end, ruEnds.get(tp), "read_uncommitted endOffsets of " + tp + " at the end");
            checkEq(end, rcEnds.get(tp), "read_committed endOffsets of " + tp + " at the end (no open transaction: LSO = high watermark)");

            List<Acked> committed = new ArrayList<>(t1.get(tp));
            committed.addAll(t3.get(tp));
            checkEq(values(committed), valuesOn(rc, tp), "read_committed records on " + tp + " (T1 + T3, in order)");
            checkEq(offsets(committed), offsetsOn(rc, tp), "read_committed offsets on " + tp);

            List<Acked> everything = new ArrayList<>(t1.get(tp));
            everything.addAll(t2.get(tp));
            everything.addAll(t3.get(tp));
            checkEq(values(everything), valuesOn(ru, tp), "read_uncommitted records on " + tp + " (T1 + T2 + T3, in order)");
            checkEq(offsets(everything), offsetsOn(ru, tp), "read_uncommitted offsets on " + tp);
        }
        log(NAME, "read_committed read " + rc.size() + " records (T1+T3), read_uncommitted " + ru.size()
                + " (T1+T2+T3); endOffsets " + rcEnds);
    }

    /** Sends n records to each partition inside the open transaction; waits for every ack. */
    static Map<TopicPartition, List<Acked>> send(KafkaProducer<byte[], byte[]> p, Map<TopicPartition, Integer> n, String tag) throws Exception {
        Map<TopicPartition, List<Future<RecordMetadata>>> fs = new LinkedHashMap<>();
        Map<TopicPartition, List<String>> vs = new LinkedHashMap<>();
        for (var e : new java.util.TreeMap<>(toStringKeys(n)).values()) {
            TopicPartition tp = e;
            for (int i = 0; i < n.get(tp); i++) {
                String v = tag + "-" + tp + "-" + i;
                fs.computeIfAbsent(tp, k -> new ArrayList<>()).add(p.send(new ProducerRecord<>(tp.topic(), tp.partition(), utf8("k" + i), utf8(v))));
                vs.computeIfAbsent(tp, k -> new ArrayList<>()).add(v);
            }
        }
        p.flush();
        Map<TopicPartition, List<Acked>> out = new HashMap<>();
        for (var e : fs.entrySet()) {
            List<Acked> acked = new ArrayList<>();
            for (int i = 0; i < e.getValue().size(); i++) {
                RecordMetadata md = e.getValue().get(i).get();
                checkEq(e.getKey().partition(), md.partition(), "partition of acked " + vs.get(e.getKey()).get(i));
                acked.add(new Acked(e.getKey(), md.offset(), vs.get(e.getKey()).get(i)));
            }
            out.put(e.getKey(), acked);
        }
        return out;
    }

    static Map<String, TopicPartition> toStringKeys(Map<TopicPartition, Integer> n) {
        Map<String, TopicPartition> m = new HashMap<>();
        for (TopicPartition tp : n.keySet()) m.put(tp.toString(), tp);
        return m;
    }

    static void checkOffsets(List<Acked> acked, long first, String what) {
        for (int i = 0; i < acked.size(); i++) checkEq(first + i, acked.get(i).offset(), "acked offset of record " + i + " of " + what);
    }

    static long last(List<Acked> acked) { return acked.get(acked.size() - 1).offset(); }

    static int count(Map<TopicPartition, List<Acked>> m) {
        int n = 0;
        for (List<Acked> l : m.values()) n += l.size();
        return n;
    }

    static List<String> values(List<Acked> acked) {
        List<String> out = new ArrayList<>();
        for (Acked a : acked) out.add(a.value());
        return out;
    }

    static List<Long> offsets(List<Acked> acked) {
        List<Long> out = new ArrayList<>();
        for (Acked a : acked) out.add(a.offset());
        return out;
    }
}
