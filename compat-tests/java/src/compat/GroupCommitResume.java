package compat;

import static compat.Common.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
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
 * A group consumer reads N records, commitSync()s and closes; M more records are produced;
 * a new consumer in the same group (auto.offset.reset=earliest, so a lost commit would show
 * as re-delivery from 0) reads exactly the M new records, first at the committed offsets.
 * Also: commitSync with explicit offsets + metadata, read back through committed().
 */
public final class GroupCommitResume {
    static final String NAME = "java/GroupCommitResume";
    static final int PARTITIONS = 2;
    static final int N = 30; // per partition, first round
    static final int M = 10; // per partition, after the commit

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-gresume");
        String group = uniqueGroup("java-gresume");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
        }
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) tps.add(new TopicPartition(topic, p));
        List<String> first = produceEach(bootstrap, topic, PARTITIONS, 0, N, "old");

        try (KafkaConsumer<byte[], byte[]> c = groupConsumer(bootstrap, group, "gresume-1")) {
            // a fresh group has no committed offsets
            Map<TopicPartition, OffsetAndMetadata> none = c.committed(Set.copyOf(tps));
            for (TopicPartition tp : tps) check(none.get(tp) == null, "fresh group has a committed offset for " + tp + ": " + none.get(tp));
            c.subscribe(List.of(topic));
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, first.size(), Duration.ofSeconds(30));
            checkEq(new TreeSet<>(first), values(got), "records read by the first consumer");
            checkEq(first.size(), got.size(), "number of records read by the first consumer (duplicates?)");
            checkEq(Set.copyOf(tps), c.assignment(), "assignment of the only member");
            c.commitSync();
            Map<TopicPartition, OffsetAndMetadata> committed = c.committed(Set.copyOf(tps));
            for (TopicPartition tp : tps) {
                check(committed.get(tp) != null, "no committed offset for " + tp + " after commitSync()");
                checkEq((long) N, committed.get(tp).offset(), "committed offset of " + tp + " after commitSync()");
            }
            // explicit offsets with metadata: commit N on partition 0 again, with metadata
            c.commitSync(Map.of(tps.get(0), new OffsetAndMetadata(N, "resume-meta-0")));
            committed = c.committed(Set.copyOf(tps));
            checkEq((long) N, committed.get(tps.get(0)).offset(), "committed offset of " + tps.get(0) + " after explicit commit");
            checkEq("resume-meta-0", committed.get(tps.get(0)).metadata(), "committed metadata of " + tps.get(0));
            checkEq((long) N, committed.get(tps.get(1)).offset(), "committed offset of " + tps.get(1) + " (untouched by the explicit commit)");
        }
        log(NAME, "consumer 1 read " + first.size() + " records, committed " + N + " per partition, closed");

        List<String> second = produceEach(bootstrap, topic, PARTITIONS, N, M, "new");
        try (KafkaConsumer<byte[], byte[]> c = groupConsumer(bootstrap, group, "gresume-2")) {
            Map<TopicPartition, OffsetAndMetadata> committed = c.committed(Set.copyOf(tps));
            for (TopicPartition tp : tps) {
                check(committed.get(tp) != null, "new consumer sees no committed offset for " + tp);
                checkEq((long) N, committed.get(tp).offset(), "committed offset of " + tp + " seen by the new consumer");
            }
            c.subscribe(List.of(topic));
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, second.size(), Duration.ofSeconds(30));
            // linger a little: anything re-delivered would show up now
            got.addAll(pollAtLeast(c, Integer.MAX_VALUE, Duration.ofSeconds(1)));
            long[] firstOffset = {-1, -1};
            for (ConsumerRecord<byte[], byte[]> r : got) {
                String v = new String(r.value(), StandardCharsets.UTF_8);
                check(!v.startsWith("old-"), "re-delivered " + v + " at " + r.partition() + "@" + r.offset()
                        + " although offset " + N + " was committed");
                if (firstOffset[r.partition()] < 0) firstOffset[r.partition()] = r.offset();
            }
            for (TopicPartition tp : tps) checkEq((long) N, firstOffset[tp.partition()], "first offset the new consumer read on " + tp);
            checkEq(new TreeSet<>(second), values(got), "records read by the new consumer");
            checkEq(second.size(), got.size(), "number of records read by the new consumer (duplicates?)");
            for (TopicPartition tp : tps) checkEq((long) (N + M), c.position(tp), "position of the new consumer on " + tp);
        }
        log(NAME, "new consumer resumed at offset " + N + " and read exactly the " + second.size() + " new records");
    }

    static TreeSet<String> values(List<ConsumerRecord<byte[], byte[]>> recs) {
        TreeSet<String> out = new TreeSet<>();
        for (ConsumerRecord<byte[], byte[]> r : recs) out.add(new String(r.value(), StandardCharsets.UTF_8));
        return out;
    }
}
