package compat;

import static compat.Common.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * KIP-848 consumer groups (group.protocol=consumer: ConsumerGroupHeartbeat, ConsumerGroupDescribe,
 * server-side assignment) with the Java client.
 *
 * Two consumers subscribe (topic list) to a 4-partition topic in one group and must reach a
 * disjoint 2+2 split; describeConsumerGroups then reports type CONSUMER, state STABLE and
 * member assignments equal to what each consumer reports. They read every record exactly
 * once (each from the partition owner), commit, one closes (leave heartbeat, epoch -1) and
 * the other ends with all 4 partitions and reads exactly the records produced afterwards.
 * After both closed the group is EMPTY and a new member resumes exactly at the committed
 * offsets.
 *
 * The consumers are driven from this one thread with short alternating polls (the new
 * consumer heartbeats on its own background thread; reconciliation completes in poll()).
 */
public final class GroupConsumerProtocol {
    static final String NAME = "java/GroupConsumerProtocol";
    static final int PARTITIONS = 4;
    static final int FIRST = 50;   // records per partition read by the 2+2 split
    static final int SECOND = 25;  // records per partition read by the survivor
    static final int THIRD = 10;   // records per partition read by a new member after both closed

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    /** A consumer using the KIP-848 protocol. session/heartbeat settings are the broker's here. */
    static KafkaConsumer<byte[], byte[]> consumer848(String bootstrap, String groupId, String clientId) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        return new KafkaConsumer<>(p);
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-g848");
        String group = uniqueGroup("java-g848");
        Set<TopicPartition> all = new TreeSet<>(java.util.Comparator.comparingInt(TopicPartition::partition));
        for (int p = 0; p < PARTITIONS; p++) all.add(new TopicPartition(topic, p));

        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();

            KafkaConsumer<byte[], byte[]> c1 = consumer848(bootstrap, group, "g848-c1");
            KafkaConsumer<byte[], byte[]> c2 = consumer848(bootstrap, group, "g848-c2");
            try {
                c1.subscribe(List.of(topic));
                c2.subscribe(List.of(topic));
                // Phase 1: on the empty topic, wait until both members hold a disjoint 2+2 split.
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (true) {
                    check(c1.poll(Duration.ofMillis(200)).isEmpty(), "c1 got records from an empty topic");
                    check(c2.poll(Duration.ofMillis(200)).isEmpty(), "c2 got records from an empty topic");
                    Set<TopicPartition> a1 = c1.assignment(), a2 = c2.assignment();
                    if (a1.size() == 2 && a2.size() == 2 && GroupSplit.union(a1, a2).equals(all)) break;
                    check(System.nanoTime() < deadline, "two KIP-848 members of group " + group
                            + " did not reach a 2+2 split of " + PARTITIONS + " partitions within 20 s: c1="
                            + a1 + " c2=" + a2);
                }
                Set<TopicPartition> a1 = new HashSet<>(c1.assignment()), a2 = new HashSet<>(c2.assignment());
                check(GroupSplit.intersection(a1, a2).isEmpty(), "assignments overlap: c1=" + a1 + " c2=" + a2);
                String m1 = c1.groupMetadata().memberId(), m2 = c2.groupMetadata().memberId();
                check(m1 != null && !m1.isEmpty() && m2 != null && !m2.isEmpty() && !m1.equals(m2),
                        "member ids of c1/c2 are empty or equal: '" + m1 + "' / '" + m2 + "'");
                log(NAME, "split: c1=" + a1 + " (" + m1 + ") c2=" + a2 + " (" + m2 + ")");

                // describeConsumerGroups (ConsumerGroupDescribe) while both are active. The broker
                // learns that a member finished reconciling from its next heartbeat, so allow a
                // short bounded wait for STABLE while the consumers keep polling.
                ConsumerGroupDescription d = null;
                deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (true) {
                    d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
                    if (d.groupState() == GroupState.STABLE) break;
                    check(System.nanoTime() < deadline, "describeConsumerGroups(" + group
                            + ") not STABLE 10 s after both members reported a 2+2 split: " + d);
                    check(c1.poll(Duration.ofMillis(200)).isEmpty(), "c1 got records from an empty topic");
                    check(c2.poll(Duration.ofMillis(200)).isEmpty(), "c2 got records from an empty topic");
                }
                log(NAME, "describeConsumerGroups: " + d);
                checkEq(GroupType.CONSUMER, d.type(), "group type of " + group);
                checkEq(GroupState.STABLE, d.groupState(), "group state of " + group);
                checkEq(false, d.isSimpleConsumerGroup(), "isSimpleConsumerGroup");
                checkEq(2, d.members().size(), "members in describeConsumerGroups");
                check(d.partitionAssignor() != null && !d.partitionAssignor().isEmpty(),
                        "describeConsumerGroups reports no assignor: " + d.partitionAssignor());
                check(d.coordinator() != null && d.coordinator().id() >= 0, "no coordinator in " + d);
                Map<String, MemberDescription> byId = new HashMap<>();
                for (MemberDescription md : d.members()) byId.put(md.consumerId(), md);
                checkEq(new TreeSet<>(List.of(m1, m2)), new TreeSet<>(byId.keySet()), "member ids in describeConsumerGroups");
                checkMember(byId.get(m1), "g848-c1", c1.assignment(), d);
                checkMember(byId.get(m2), "g848-c2", c2.assignment(), d);
                // the assignments must not have moved while we were describing
                checkEq(a1, c1.assignment(), "c1 assignment after describe");
                checkEq(a2, c2.assignment(), "c2 assignment after describe");

                // Phase 2: produce, both read; every record exactly once, each from its owner.
                List<String> first = produceEach(bootstrap, topic, PARTITIONS, 0, FIRST, "first");
                Map<String, String> readBy = new HashMap<>();
                deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (readBy.size() < first.size() && System.nanoTime() < deadline) {
                    take(c1, "c1", a1, "first", readBy);
                    take(c2, "c2", a2, "first", readBy);
                }
                checkEq(new TreeSet<>(first), new TreeSet<>(readBy.keySet()), "records read by the two members together");
                for (int i = 0; i < 3; i++) { // nothing more (no duplicates trickling in)
                    take(c1, "c1", a1, "first", readBy);
                    take(c2, "c2", a2, "first", readBy);
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

                // Phase 3: c2 leaves; c1 must end up with all partitions and read only new records.
                c2.close(Duration.ofSeconds(10));
                c2 = null;
                deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
                while (!c1.assignment().equals(all)) {
                    check(c1.poll(Duration.ofMillis(200)).isEmpty(), "c1 got records while none were produced");
                    check(System.nanoTime() < deadline, "c1 did not get all " + PARTITIONS
                            + " partitions within 15 s after c2 left: " + c1.assignment());
                }
                log(NAME, "after c2 left: c1=" + c1.assignment());
                List<String> second = produceEach(bootstrap, topic, PARTITIONS, FIRST, SECOND, "second");
                Map<String, String> readAfter = new HashMap<>();
                deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (readAfter.size() < second.size() && System.nanoTime() < deadline) {
                    take(c1, "c1", all, "second", readAfter);
                }
                for (int i = 0; i < 3; i++) take(c1, "c1", all, "second", readAfter);
                checkEq(new TreeSet<>(second), new TreeSet<>(readAfter.keySet()), "records read by c1 after c2 left");
                c1.commitSync();
                log(NAME, "c1 alone read the " + second.size() + " new records, starting at the committed offsets");
                c1.close(Duration.ofSeconds(10));
                c1 = null;
            } finally {
                if (c2 != null) c2.close(Duration.ofSeconds(5));
                if (c1 != null) c1.close(Duration.ofSeconds(5));
            }

            // Phase 4: no members left: EMPTY (membership gone, committed offsets kept).
            ConsumerGroupDescription d = null;
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (true) {
                d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
                if (d.groupState() == GroupState.EMPTY && d.members().isEmpty()) break;
                check(System.nanoTime() < deadline, "group " + group + " not EMPTY with no members 10 s after both closed: " + d);
                Thread.sleep(200);
            }
            checkEq(GroupType.CONSUMER, d.type(), "group type after both members closed");
            Map<TopicPartition, OffsetAndMetadata> listed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            for (TopicPartition tp : all) {
                check(listed.get(tp) != null, "listConsumerGroupOffsets has no offset for " + tp + ": " + listed);
                checkEq((long) (FIRST + SECOND), listed.get(tp).offset(), "listConsumerGroupOffsets " + tp);
            }

            List<String> third = produceEach(bootstrap, topic, PARTITIONS, FIRST + SECOND, THIRD, "third");
            try (KafkaConsumer<byte[], byte[]> c3 = consumer848(bootstrap, group, "g848-c3")) {
                c3.subscribe(List.of(topic));
                Map<String, String> read3 = new HashMap<>();
                deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (read3.size() < third.size() && System.nanoTime() < deadline) {
                    take(c3, "c3", all, "third", read3);
                }
                for (int i = 0; i < 3; i++) take(c3, "c3", all, "third", read3);
                checkEq(new TreeSet<>(third), new TreeSet<>(read3.keySet()),
                        "records read by a new member (auto.offset.reset=earliest) after both closed");
                checkEq(all, c3.assignment(), "assignment of the only member c3");
                for (TopicPartition tp : all) {
                    checkEq((long) (FIRST + SECOND + THIRD), c3.position(tp), "c3 position on " + tp);
                }
                log(NAME, "a new member resumed at offset " + (FIRST + SECOND) + " on every partition and read exactly "
                        + third.size() + " records");
            }
        }
    }

    static void checkMember(MemberDescription md, String clientId, Set<TopicPartition> reported, ConsumerGroupDescription d) {
        checkEq(clientId, md.clientId(), "client id of member " + md.consumerId());
        checkEq(new HashSet<>(reported), new HashSet<>(md.assignment().topicPartitions()),
                "assignment of " + clientId + " in describeConsumerGroups vs consumer.assignment()");
        check(md.host() != null && !md.host().isEmpty(), "member " + clientId + " has no host");
        Optional<Integer> target = d.targetAssignmentEpoch();
        if (md.memberEpoch().isPresent() && target.isPresent()) {
            checkEq(target.get(), md.memberEpoch().get(), "member epoch of " + clientId + " in a STABLE group (target assignment epoch)");
        }
        if (md.targetAssignment().isPresent()) {
            checkEq(new HashSet<>(reported), new HashSet<>(md.targetAssignment().get().topicPartitions()),
                    "target assignment of " + clientId + " in a STABLE group");
        }
    }

    /** Polls once; each record must come from an owned partition, carry PREFIX-P-OFFSET and be new. */
    static void take(KafkaConsumer<byte[], byte[]> c, String who, Set<TopicPartition> owned, String prefix, Map<String, String> readBy) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
            TopicPartition tp = new TopicPartition(r.topic(), r.partition());
            String v = new String(r.value(), StandardCharsets.UTF_8);
            check(owned.contains(tp), who + " read " + v + " from " + tp + " which is not in its assignment " + owned);
            checkEq(prefix + "-" + r.partition() + "-" + r.offset(), v,
                    who + " read an unexpected record at " + tp + "@" + r.offset() + " (re-delivery of an older record?)");
            String prev = readBy.put(v, who);
            check(prev == null, v + " delivered twice (to " + prev + " and " + who + ")");
        }
    }

}
