package compat;

import static compat.Common.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Used by restart/run.sh: committed group offsets survive a broker restart (SIGKILL).
 *
 *   GroupDurability BOOTSTRAP commit STATE_FILE  create a 3-partition topic with 10 records
 *        per partition; group G reads all 30 and commitSync()s (10,10,10), then commits
 *        explicit offsets with metadata for partitions 1 and 2 (4 "meta-1", 7 "meta-2");
 *        group D commits and is then deleted with deleteConsumerGroups. Saves names.
 *   GroupDurability BOOTSTRAP verify STATE_FILE  after the restart: listConsumerGroupOffsets(G)
 *        and a consumer's committed() return exactly 10 / 4 "meta-1" / 7 "meta-2"; a consumer
 *        in G reads exactly offsets 4..9 of partition 1 and 7..9 of partition 2; group D is
 *        still gone (not listed, no offsets).
 */
@SuppressWarnings("deprecation") // listConsumerGroups()
public final class GroupDurability {
    static final String NAME = "java/GroupDurability";
    static final int PARTITIONS = 3;
    static final int PER = 10;
    static final Map<Integer, Long> EXPECTED = Map.of(0, 10L, 1, 4L, 2, 7L);
    static final Map<Integer, String> META = Map.of(0, "", 1, "meta-1", 2, "meta-2");

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        if (args.length < 3) {
            System.err.println("usage: GroupDurability BOOTSTRAP commit|verify STATE_FILE");
            System.exit(2);
        }
        String mode = args[1];
        Path state = Path.of(args[2]);
        run(NAME + "/" + mode, () -> {
            if (mode.equals("commit")) commit(bootstrap, state);
            else verify(bootstrap, state);
        });
    }

    static void commit(String bootstrap, Path state) throws Exception {
        String topic = uniqueTopic("java-gdurable");
        String group = uniqueGroup("java-gdurable");
        String deleted = uniqueGroup("java-gdeleted");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
        }
        produceEach(bootstrap, topic, PARTITIONS, 0, PER, "gd");
        List<TopicPartition> tps = tps(topic);
        try (KafkaConsumer<byte[], byte[]> c = groupConsumer(bootstrap, group, "gdurable")) {
            c.subscribe(List.of(topic));
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, PARTITIONS * PER, Duration.ofSeconds(30));
            checkEq(PARTITIONS * PER, got.size(), "records read before the commit");
            c.commitSync();
            c.commitSync(Map.of(tps.get(1), new OffsetAndMetadata(4, "meta-1"), tps.get(2), new OffsetAndMetadata(7, "meta-2")));
            checkCommitted(c.committed(Set.copyOf(tps)), topic, "committed() before the restart");
        }
        try (KafkaConsumer<byte[], byte[]> c = groupConsumer(bootstrap, deleted, "gdeleted")) {
            c.assign(List.of(tps.get(0)));
            c.commitSync(Map.of(tps.get(0), new OffsetAndMetadata(5)));
        }
        try (Admin admin = admin(bootstrap)) {
            checkCommitted(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(), topic,
                    "listConsumerGroupOffsets before the restart");
            admin.deleteConsumerGroups(List.of(deleted)).all().get();
            check(!listed(admin, deleted), deleted + " still listed after deleteConsumerGroups");
        }
        Files.write(state, List.of(topic, group, deleted), StandardCharsets.UTF_8);
        log(NAME, "group " + group + " committed " + EXPECTED + " on " + topic + "; group " + deleted + " deleted");
    }

    static void verify(String bootstrap, Path state) throws Exception {
        List<String> lines = Files.readAllLines(state, StandardCharsets.UTF_8);
        String topic = lines.get(0), group = lines.get(1), deleted = lines.get(2);
        List<TopicPartition> tps = tps(topic);
        try (Admin admin = admin(bootstrap)) {
            checkCommitted(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(), topic,
                    "listConsumerGroupOffsets(" + group + ") after the restart");
            check(listed(admin, group), "listConsumerGroups does not contain " + group + " after the restart");
            check(!listed(admin, deleted), "deleted group " + deleted + " is listed again after the restart");
            Map<TopicPartition, OffsetAndMetadata> d = admin.listConsumerGroupOffsets(deleted).partitionsToOffsetAndMetadata().get();
            d.values().removeIf(v -> v == null);
            checkEq(Map.of(), d, "offsets of the deleted group " + deleted + " after the restart");
        }
        try (KafkaConsumer<byte[], byte[]> c = groupConsumer(bootstrap, group, "gdurable-after")) {
            checkCommitted(c.committed(Set.copyOf(tps)), topic, "committed() after the restart");
            c.subscribe(List.of(topic));
            int want = 0;
            for (long off : EXPECTED.values()) want += PER - (int) off;
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, want, Duration.ofSeconds(30));
            got.addAll(pollAtLeast(c, Integer.MAX_VALUE, Duration.ofMillis(800)));
            TreeSet<String> expect = new TreeSet<>(), seen = new TreeSet<>();
            for (int p = 0; p < PARTITIONS; p++) for (long o = EXPECTED.get(p); o < PER; o++) expect.add(p + "@" + o);
            for (ConsumerRecord<byte[], byte[]> r : got) {
                checkEq("gd-" + r.partition() + "-" + r.offset(), new String(r.value(), StandardCharsets.UTF_8), "value at " + r.partition() + "@" + r.offset());
                check(seen.add(r.partition() + "@" + r.offset()), "read " + r.partition() + "@" + r.offset() + " twice");
            }
            checkEq(expect, seen, "positions read by a group consumer after the restart");
        }
        log(NAME, "committed offsets and metadata of " + group + " intact after the restart; " + deleted + " still deleted");
    }

    static List<TopicPartition> tps(String topic) {
        List<TopicPartition> out = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) out.add(new TopicPartition(topic, p));
        return out;
    }

    static void checkCommitted(Map<TopicPartition, OffsetAndMetadata> got, String topic, String what) {
        Map<String, String> want = new HashMap<>(), have = new HashMap<>();
        for (int p = 0; p < PARTITIONS; p++) want.put(topic + "-" + p, EXPECTED.get(p) + " '" + META.get(p) + "'");
        got.forEach((tp, om) -> { if (om != null) have.put(tp.toString(), om.offset() + " '" + om.metadata() + "'"); });
        checkEq(new java.util.TreeMap<>(want), new java.util.TreeMap<>(have), what + " (offset 'metadata')");
    }

    static boolean listed(Admin admin, String group) throws Exception {
        for (ConsumerGroupListing l : admin.listConsumerGroups().all().get()) if (l.groupId().equals(group)) return true;
        return false;
    }
}
