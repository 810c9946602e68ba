package compat;

import static compat.Common.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Two consumers in one group (classic protocol, subscribe) split a 4-partition topic 2+2 and
 * together read every record exactly once; after one of them closes (LeaveGroup) the other
 * is rebalanced onto all 4 partitions and reads what is produced afterwards, starting at
 * the offsets the departed member committed (no re-delivery).
 *
 * Both consumers are driven from this one thread with short alternating polls (a
 * KafkaConsumer is single-threaded; a JoinGroup that the broker parks until the other
 * member rejoins stays in flight across polls).
 */
public final class GroupSplit {
    static final String NAME = "java/GroupSplit";
    static final int PARTITIONS = 4;
    static final int FIRST = 50;   // records per partition before the split is checked
    static final int SECOND = 25;  // records per partition after one member left

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-gsplit");
        String group = uniqueGroup("java-gsplit");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
        }
        Set<TopicPartition> all = new TreeSet<>(java.util.Comparator.comparingInt(TopicPartition::partition));
        for (int p = 0; p < PARTITIONS; p++) all.add(new TopicPartition(topic, p));

        KafkaConsumer<byte[], byte[]> c1 = groupConsumer(bootstrap, group, "gsplit-c1");
        KafkaConsumer<byte[], byte[]> c2 = groupConsumer(bootstrap, group, "gsplit-c2");
        try {
            c1.subscribe(List.of(topic));
            c2.subscribe(List.of(topic));
            // Phase 1: wait (on an empty topic) until both members hold a disjoint 2+2 split.
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (true) {
                check(c1.poll(Duration.ofMillis(200)).isEmpty(), "c1 got records from an empty topic");
                check(c2.poll(Duration.ofMillis(200)).isEmpty(), "c2 got records from an empty topic");
                Set<TopicPartition> a1 = c1.assignment(), a2 = c2.assignment();
                if (a1.size() == 2 && a2.size() == 2 && union(a1, a2).equals(all)) break;
                check(System.nanoTime() < deadline, "two members of group " + group
                        + " did not reach a 2+2 split of " + PARTITIONS + " partitions within 30 s: c1="
                        + a1 + " c2=" + a2);
            }
            Set<TopicPartition> a1 = new HashSet<>(c1.assignment()), a2 = new HashSet<>(c2.assignment());
            check(intersection(a1, a2).isEmpty(), "assignments overlap: c1=" + a1 + " c2=" + a2);
            log(NAME, "split: c1=" + a1 + " c2=" + a2);

            // Phase 2: produce, both read; every record exactly once, each from its owner.
            List<String> first = produceEach(bootstrap, topic, PARTITIONS, 0, FIRST, "first");
            Map<String, String> readBy = new HashMap<>();
            deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (readBy.size() < first.size() && System.nanoTime() < deadline) {
                take(c1, "c1", a1, readBy);
                take(c2, "c2", a2, readBy);
            }
            checkEq(new TreeSet<>(first), new TreeSet<>(readBy.keySet()), "records read by the two members together");
            // nothing more (no duplicates trickling in), assignments unchanged
            for (int i = 0; i < 3; i++) {
                take(c1, "c1", a1, readBy);
                take(c2, "c2", a2, readBy);
            }
            checkEq(a1, c1.assignment(), "c1 assignment after reading");
            checkEq(a2, c2.assignment(), "c2 assignment after reading");
            c1.commitSync();
            c2.commitSync();
            Map<TopicPartition, OffsetAndMetadata> committed = c1.committed(all);
            for (TopicPartition tp : all) {
                check(committed.get(tp) != null, "no committed offset for " + tp + " after commitSync");
                checkEq((long) FIRST, committed.get(tp).offset(), "committed offset of " + tp);
            }
            log(NAME, "read " + readBy.size() + " records exactly once; committed " + FIRST + " on every partition");

            // Phase 3: c2 leaves; c1 must end up with all partitions.
            c2.close(Duration.ofSeconds(10));
            c2 = null;
            deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!c1.assignment().equals(all)) {
                check(c1.poll(Duration.ofMillis(200)).isEmpty(), "c1 got records while none were produced");
                check(System.nanoTime() < deadline, "c1 did not get all " + PARTITIONS
                        + " partitions within 30 s after c2 left: " + c1.assignment());
            }
            log(NAME, "after c2 left: c1=" + c1.assignment());

            List<String> second = produceEach(bootstrap, topic, PARTITIONS, FIRST, SECOND, "second");
            Map<String, String> readAfter = new HashMap<>();
            List<ConsumerRecord<byte[], byte[]>> recs = new ArrayList<>();
            deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (recs.size() < second.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c1.poll(Duration.ofMillis(300))) recs.add(r);
            }
            for (int i = 0; i < 3; i++) for (ConsumerRecord<byte[], byte[]> r : c1.poll(Duration.ofMillis(300))) recs.add(r);
            for (ConsumerRecord<byte[], byte[]> r : recs) {
                String v = new String(r.value(), StandardCharsets.UTF_8);
                check(!v.startsWith("first-"), "c1 re-read " + v + " at " + r.topic() + "-" + r.partition() + "@" + r.offset()
                        + " after the rebalance (committed offset was " + FIRST + ")");
                check(readAfter.put(v, "c1") == null, "c1 read " + v + " twice");
                checkEq("second-" + r.partition() + "-" + r.offset(), v, "value at " + r.partition() + "@" + r.offset());
            }
            checkEq(new TreeSet<>(second), new TreeSet<>(readAfter.keySet()), "records read by c1 after c2 left");
            log(NAME, "c1 alone read the " + second.size() + " new records, starting at the committed offsets");
        } finally {
            if (c2 != null) c2.close(Duration.ofSeconds(5));
            c1.close(Duration.ofSeconds(5));
        }
    }

    static void take(KafkaConsumer<byte[], byte[]> c, String who, Set<TopicPartition> owned, Map<String, String> readBy) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
            TopicPartition tp = new TopicPartition(r.topic(), r.partition());
            String v = new String(r.value(), StandardCharsets.UTF_8);
            check(owned.contains(tp), who + " read " + v + " from " + tp + " which is not in its assignment " + owned);
            checkEq("first-" + r.partition() + "-" + r.offset(), v, "value at " + tp + "@" + r.offset());
            String prev = readBy.put(v, who);
            check(prev == null, v + " delivered twice (to " + prev + " and " + who + ")");
        }
    }

    static Set<TopicPartition> union(Set<TopicPartition> a, Set<TopicPartition> b) {
        Set<TopicPartition> u = new TreeSet<>(java.util.Comparator.comparingInt(TopicPartition::partition));
        u.addAll(a);
        u.addAll(b);
        return u;
    }

    static Set<TopicPartition> intersection(Set<TopicPartition> a, Set<TopicPartition> b) {
        Set<TopicPartition> i = new HashSet<>(a);
        i.retainAll(b);
        return i;
    }
}
