package compat;

import static compat.Common.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;

/**
 * KIP-848 regex subscriptions (group.protocol=consumer).
 *
 * 1. subscribe(SubscriptionPattern): the regex is sent to the broker
 *    (ConsumerGroupHeartbeat v1 SubscribedTopicRegex) and resolved there. Topics P-a (2
 *    partitions) and P-b (1) match "P-(a|b|c)", P-x does not. The member is assigned exactly
 *    P-a-0, P-a-1, P-b-0 and reads exactly their records (none of P-x). Creating P-c while
 *    subscribed adds P-c-0 to the assignment within 15 s and its record is read.
 * 2. subscribe(java.util.regex.Pattern) in a second group: the client matches topic names
 *    from metadata and the member gets P-a, P-b, P-c (not P-x); it reads every record of
 *    those topics from the beginning.
 */
public final class GroupConsumerRegex {
    static final String NAME = "java/GroupConsumerRegex";
    static final int PER = 5;

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String prefix = uniqueTopic("java-g848re");
        String ta = prefix + "-a", tb = prefix + "-b", tc = prefix + "-c", tx = prefix + "-x";
        // the prefix is letters, digits and '-' only: literal in RE2/RE2J/java.util.regex alike
        String regex = prefix + "-(a|b|c)";
        String group1 = uniqueGroup("java-g848re-server");
        String group2 = uniqueGroup("java-g848re-client");
        Set<String> expectedAB = new TreeSet<>(), expectedC = new TreeSet<>();
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(ta, 2, (short) 1), new NewTopic(tb, 1, (short) 1),
                    new NewTopic(tx, 1, (short) 1))).all().get();
            try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, null)) {
                for (int i = 0; i < PER; i++) {
                    for (String[] tp : new String[][] {{ta, "0"}, {ta, "1"}, {tb, "0"}, {tx, "0"}}) {
                        String v = tp[0] + "/" + tp[1] + "/" + i;
                        p.send(new ProducerRecord<>(tp[0], Integer.parseInt(tp[1]), utf8("k" + i), utf8(v))).get();
                        if (!tp[0].equals(tx)) expectedAB.add(v);
                    }
                }
            }

            // --- 1. broker-side regex (a failure is reported after part 2 ran too)
            Mismatch part1 = null;
            Set<TopicPartition> ab = Set.of(new TopicPartition(ta, 0), new TopicPartition(ta, 1), new TopicPartition(tb, 0));
            try (KafkaConsumer<byte[], byte[]> c = GroupConsumerProtocol.consumer848(bootstrap, group1, "g848re-server")) {
              try {
                c.subscribe(new SubscriptionPattern(regex));
                Set<String> got = new TreeSet<>();
                long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
                while ((got.size() < expectedAB.size() || !c.assignment().equals(ab)) && System.nanoTime() < deadline) {
                    take(c, got, tx);
                }
                checkEq(ab, new HashSet<>(c.assignment()), "assignment for SubscriptionPattern(\"" + regex + "\")");
                checkEq(expectedAB, got, "records read through SubscriptionPattern");
                log(NAME, "SubscriptionPattern: assignment " + c.assignment() + ", read " + got.size() + " records");

                ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group1)).all().get().get(group1);
                checkEq(1, d.members().size(), "members of the regex group");
                checkEq(ab, new HashSet<>(d.members().iterator().next().assignment().topicPartitions()),
                        "assignment of the regex member in describeConsumerGroups");

                // a topic created later that matches the regex joins the assignment
                admin.createTopics(List.of(new NewTopic(tc, 1, (short) 1))).all().get();
                String vc = tc + "/0/0";
                try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, null)) {
                    p.send(new ProducerRecord<>(tc, 0, utf8("k0"), utf8(vc))).get();
                }
                expectedC.add(vc);
                Set<TopicPartition> abc = new HashSet<>(ab);
                abc.add(new TopicPartition(tc, 0));
                Set<String> gotC = new TreeSet<>();
                deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
                while ((!c.assignment().equals(abc) || gotC.isEmpty()) && System.nanoTime() < deadline) {
                    take(c, gotC, tx);
                }
                checkEq(abc, new HashSet<>(c.assignment()),
                        "assignment 15 s after creating " + tc + " which matches the subscribed regex");
                checkEq(expectedC, gotC, "records read after " + tc + " joined the assignment");
                log(NAME, "new matching topic " + tc + " was added to the assignment");
              } catch (Mismatch m) {
                System.err.println("[" + NAME + "] FAIL (SubscriptionPattern part): " + m.getMessage());
                part1 = m;
              }
            }
            if (!admin.listTopics().names().get().contains(tc)) {
                admin.createTopics(List.of(new NewTopic(tc, 1, (short) 1))).all().get();
                try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, null)) {
                    p.send(new ProducerRecord<>(tc, 0, utf8("k0"), utf8(tc + "/0/0"))).get();
                }
                expectedC.add(tc + "/0/0");
            }

            // --- 2. client-side java.util.regex.Pattern (topic names resolved from metadata)
            Set<TopicPartition> abc = new HashSet<>(ab);
            abc.add(new TopicPartition(tc, 0));
            Set<String> all = new TreeSet<>(expectedAB);
            all.addAll(expectedC);
            try (KafkaConsumer<byte[], byte[]> c = GroupConsumerProtocol.consumer848(bootstrap, group2, "g848re-client")) {
                c.subscribe(Pattern.compile(regex));
                Set<String> got = new TreeSet<>();
                long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
                while ((got.size() < all.size() || !c.assignment().equals(abc)) && System.nanoTime() < deadline) {
                    take(c, got, tx);
                }
                checkEq(abc, new HashSet<>(c.assignment()), "assignment for subscribe(Pattern \"" + regex + "\")");
                checkEq(all, got, "records read through subscribe(Pattern)");
                ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group2)).all().get().get(group2);
                log(NAME, "subscribe(Pattern): assignment " + c.assignment() + ", read " + got.size() + " records; group "
                        + d.groupState() + " assignor " + d.partitionAssignor());
                checkEq(GroupState.STABLE, d.groupState(), "state of group " + group2 + " with one member that read everything");
            }
            if (part1 != null) throw new Mismatch("SubscriptionPattern (broker-side regex): " + part1.getMessage());
        }
    }

    static void take(KafkaConsumer<byte[], byte[]> c, Set<String> got, String forbiddenTopic) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
            String v = new String(r.value(), StandardCharsets.UTF_8);
            check(!r.topic().equals(forbiddenTopic), "read " + v + " from " + r.topic() + " which does not match the regex");
            checkEq(r.topic() + "/" + r.partition() + "/" + r.offset(), v, "value at " + r.topic() + "-" + r.partition() + "@" + r.offset());
            check(got.add(v), v + " delivered twice");
        }
    }
}
