package compat;

import static compat.Common.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;

/**
 * AdminClient group operations against a classic consumer group:
 * listConsumerGroups / listGroups, describeConsumerGroups (members, assignment, Stable),
 * listConsumerGroupOffsets, deleteConsumerGroups on a non-empty group (GroupNotEmpty),
 * alterConsumerGroupOffsets on the empty group (a new consumer starts there),
 * deleteConsumerGroupOffsets, deleteConsumerGroups (group gone).
 */
@SuppressWarnings("deprecation") // listConsumerGroups() is deprecated in 4.x in favour of listGroups()
public final class GroupAdmin {
    static final String NAME = "java/GroupAdmin";
    static final int PER = 10; // records per partition

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-gadmin");
        String group = uniqueGroup("java-gadmin");
        TopicPartition tp0 = new TopicPartition(topic, 0), tp1 = new TopicPartition(topic, 1);
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
            produceEach(bootstrap, topic, 2, 0, PER, "ga");

            // --- an active member: read everything, commit (10, 10)
            try (KafkaConsumer<byte[], byte[]> c = groupConsumer(bootstrap, group, "gadmin-member")) {
                c.subscribe(List.of(topic));
                List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, 2 * PER, Duration.ofSeconds(30));
                checkEq(2 * PER, got.size(), "records read by the member");
                c.commitSync();
                String memberId = c.groupMetadata().memberId();
                check(memberId != null && !memberId.isEmpty(), "consumer has no member id after joining");

                // listConsumerGroups: present, Stable
                ConsumerGroupListing l = findListing(admin, group);
                check(l != null, "listConsumerGroups does not contain " + group);
                check(!l.isSimpleConsumerGroup(), "listConsumerGroups: " + group + " reported as a simple (protocol-less) group: " + l);
                checkEq(java.util.Optional.of(GroupState.STABLE), l.groupState(), "listConsumerGroups state of the active group");
                // listGroups (the 4.x replacement) agrees
                GroupListing gl = null;
                for (GroupListing x : admin.listGroups(ListGroupsOptions.forConsumerGroups()).all().get()) {
                    if (x.groupId().equals(group)) gl = x;
                }
                check(gl != null, "listGroups(forConsumerGroups) does not contain " + group);
                checkEq("consumer", gl.protocol(), "listGroups protocol type of " + group);
                log(NAME, "listed: " + l + " / " + gl);

                // describeConsumerGroups: Stable, one member holding both partitions
                ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
                check(d != null, "describeConsumerGroups returned nothing for " + group);
                checkEq(group, d.groupId(), "described group id");
                checkEq(GroupState.STABLE, d.groupState(), "describeConsumerGroups state while a consumer is active");
                check(!d.isSimpleConsumerGroup(), "described as a simple group: " + d);
                checkEq(1, d.members().size(), "members of " + group + ": " + d.members());
                MemberDescription m = d.members().iterator().next();
                checkEq(memberId, m.consumerId(), "member id from describeConsumerGroups");
                checkEq("gadmin-member", m.clientId(), "member client id");
                check(m.host() != null && !m.host().isEmpty(), "member host is empty: " + m);
                checkEq(Set.of(tp0, tp1), m.assignment().topicPartitions(), "member assignment from describeConsumerGroups");
                check(d.partitionAssignor() != null && !d.partitionAssignor().isEmpty(), "no partition assignor (protocol) in description: " + d);
                check(d.coordinator() != null && d.coordinator().id() >= 0, "no coordinator in description: " + d);
                log(NAME, "described: state=" + d.groupState() + " assignor=" + d.partitionAssignor() + " member=" + m);

                // listConsumerGroupOffsets matches the commit
                Map<TopicPartition, OffsetAndMetadata> offs = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
                checkEq(Map.of(tp0, (long) PER, tp1, (long) PER), offsets(offs), "listConsumerGroupOffsets after commitSync");

                // deleting a group with an active member must fail with GroupNotEmpty
                try {
                    admin.deleteConsumerGroups(List.of(group)).all().get();
                    throw new Mismatch("deleteConsumerGroups(" + group + ") succeeded while a member was active; expected GroupNotEmptyException");
                } catch (ExecutionException e) {
                    check(e.getCause() instanceof GroupNotEmptyException,
                            "deleteConsumerGroups on an active group failed with " + e.getCause() + "; expected GroupNotEmptyException");
                }
                // keep the member alive through the admin calls above
                c.poll(Duration.ofMillis(100));
            }

            // --- after the member left: Empty
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            checkEq(GroupState.EMPTY, d.groupState(), "describeConsumerGroups state after the only member closed");
            checkEq(0, d.members().size(), "members after close: " + d.members());
            ConsumerGroupListing l = findListing(admin, group);
            check(l != null, "listConsumerGroups lost " + group + " after its member left (offsets are still committed)");
            checkEq(java.util.Optional.of(GroupState.EMPTY), l.groupState(), "listConsumerGroups state of the empty group");

            // --- alterConsumerGroupOffsets on the empty group
            admin.alterConsumerGroupOffsets(group, Map.of(tp0, new OffsetAndMetadata(3, "altered-0"), tp1, new OffsetAndMetadata(7))).all().get();
            Map<TopicPartition, OffsetAndMetadata> offs = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            checkEq(Map.of(tp0, 3L, tp1, 7L), offsets(offs), "listConsumerGroupOffsets after alterConsumerGroupOffsets");
            checkEq("altered-0", offs.get(tp0).metadata(), "metadata of the altered offset on " + tp0);
            try (KafkaConsumer<byte[], byte[]> c = groupConsumer(bootstrap, group, "gadmin-after-alter")) {
                c.subscribe(List.of(topic));
                int want = (PER - 3) + (PER - 7);
                List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, want, Duration.ofSeconds(30));
                got.addAll(pollAtLeast(c, Integer.MAX_VALUE, Duration.ofMillis(800)));
                checkEq(want, got.size(), "records read after alterConsumerGroupOffsets(" + tp0 + "=3, " + tp1 + "=7)");
                long[] firstOff = {-1, -1};
                for (ConsumerRecord<byte[], byte[]> r : got) {
                    if (firstOff[r.partition()] < 0) firstOff[r.partition()] = r.offset();
                    checkEq("ga-" + r.partition() + "-" + r.offset(), new String(r.value(), StandardCharsets.UTF_8), "value at " + r.partition() + "@" + r.offset());
                }
                checkEq(3L, firstOff[0], "first offset read on " + tp0 + " after alter");
                checkEq(7L, firstOff[1], "first offset read on " + tp1 + " after alter");
                // no commit: the altered offsets stay
            }
            log(NAME, "alterConsumerGroupOffsets ok: a new consumer started at 3 / 7");

            // --- deleteConsumerGroupOffsets(tp0) on the empty group
            admin.deleteConsumerGroupOffsets(group, Set.of(tp0)).all().get();
            offs = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            checkEq(Map.of(tp1, 7L), offsets(offs), "listConsumerGroupOffsets after deleteConsumerGroupOffsets(" + tp0 + ")");
            log(NAME, "deleteConsumerGroupOffsets ok");

            // --- deleteConsumerGroups
            admin.deleteConsumerGroups(List.of(group)).all().get();
            check(findListing(admin, group) == null, "listConsumerGroups still contains " + group + " after deleteConsumerGroups");
            offs = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            checkEq(Map.of(), offsets(offs), "listConsumerGroupOffsets of the deleted group");
            try {
                ConsumerGroupDescription gone = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
                check(gone.groupState() == GroupState.DEAD && gone.members().isEmpty(),
                        "describeConsumerGroups of the deleted group: state " + gone.groupState() + " members " + gone.members() + " (expected DEAD or GroupIdNotFoundException)");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof GroupIdNotFoundException,
                        "describeConsumerGroups of the deleted group failed with " + e.getCause() + "; expected DEAD or GroupIdNotFoundException");
            }
            // deleting it again: GroupIdNotFound
            try {
                admin.deleteConsumerGroups(List.of(group)).all().get();
                throw new Mismatch("second deleteConsumerGroups(" + group + ") succeeded; expected GroupIdNotFoundException");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof GroupIdNotFoundException,
                        "second deleteConsumerGroups failed with " + e.getCause() + "; expected GroupIdNotFoundException");
            }
            log(NAME, "deleteConsumerGroups ok");
            admin.deleteTopics(List.of(topic)).all().get();
        }
    }

    static ConsumerGroupListing findListing(Admin admin, String group) throws Exception {
        Collection<ConsumerGroupListing> all = admin.listConsumerGroups().all().get();
        for (ConsumerGroupListing l : all) if (l.groupId().equals(group)) return l;
        return null;
    }

    /** partition -> offset, leaving out partitions without a committed offset (null values). */
    static Map<TopicPartition, Long> offsets(Map<TopicPartition, OffsetAndMetadata> m) {
        Map<TopicPartition, Long> out = new java.util.HashMap<>();
        m.forEach((tp, om) -> { if (om != null) out.put(tp, om.offset()); });
        return out;
    }
}
