package compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * The JUnit recipe of docs/testing.md: every test gets a cluster of its own from the control API
 * (@BeforeEach / @AfterEach), so the tests run concurrently against one broker process.
 */
@Execution(ExecutionMode.CONCURRENT)
class ClusterPerTestTest {
    ControlApi cluster;

    @BeforeEach
    void newCluster() throws Exception {
        cluster = ControlApi.fromEnv().newCluster("{\"clock\":\"manual\"}");
    }

    @AfterEach
    void deleteCluster() throws Exception {
        cluster.delete();
    }

    void topic(String name, java.util.Map<String, String> configs) throws Exception {
        try (Admin admin = Common.admin(cluster.bootstrap)) {
            admin.createTopics(List.of(new NewTopic(name, 1, (short) 1).configs(configs))).all().get();
        }
    }

    List<String> values(String topic) {
        TopicPartition tp = new TopicPartition(topic, 0);
        List<String> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : Common.readToEnd(cluster.bootstrap, "read_committed", List.of(tp), Duration.ofSeconds(20), null)) {
            out.add(new String(r.value()));
        }
        return out;
    }

    @Test
    void aMemberIsExpiredByAdvancingTheClock() throws Exception {
        topic("ticks", java.util.Map.of());
        String group = Common.uniqueGroup("junit");
        try (KafkaConsumer<byte[], byte[]> c = Common.groupConsumer(cluster.bootstrap, group, "junit")) {
            c.subscribe(List.of("ticks"));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (c.assignment().isEmpty() && System.nanoTime() < deadline) c.poll(Duration.ofMillis(100));
            cluster.waitFor("{\"for\":\"group\",\"group\":\"" + group + "\",\"state\":\"Stable\",\"members\":1}");
            cluster.advance(11_000); // Common.groupConsumer's session.timeout.ms is 10 s
            String seen = cluster.waitFor("{\"for\":\"group\",\"group\":\"" + group + "\",\"members\":0,\"timeout_ms\":1000}");
            assertEquals(0, ControlApi.num(seen, "members"), seen);
        }
    }

    @Test
    void aKip848MemberIsExpiredByAdvancingTheClock() throws Exception {
        topic("ticks848", java.util.Map.of());
        String group = Common.uniqueGroup("junit-848");
        try (KafkaConsumer<byte[], byte[]> c = GroupConsumerProtocol.consumer848(cluster.bootstrap, group, "junit-848")) {
            c.subscribe(List.of("ticks848"));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (c.assignment().isEmpty() && System.nanoTime() < deadline) c.poll(Duration.ofMillis(100));
            cluster.waitFor("{\"for\":\"group\",\"group\":\"" + group + "\",\"state\":\"Stable\",\"members\":1}");
            // group.consumer.session.timeout.ms is 45 s; the member heartbeats every 5 s.
            cluster.advance(46_000);
            String seen = cluster.waitFor("{\"for\":\"group\",\"group\":\"" + group + "\",\"members\":0,\"timeout_ms\":1000}");
            assertTrue(seen.contains("\"protocol\":\"consumer\""), seen);
            // It finds out on its next heartbeat (UNKNOWN_MEMBER_ID) and joins again.
            deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            String back = null;
            while (System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(100));
                int status = cluster.status("POST", "/wait", "{\"for\":\"group\",\"group\":\"" + group + "\",\"state\":\"Stable\",\"members\":1,\"timeout_ms\":10}");
                if (status == 200) { back = "rejoined"; break; }
            }
            assertEquals("rejoined", back);
        }
    }

    @Test
    void compactionRunsWhenAsked() throws Exception {
        topic("table", java.util.Map.of("cleanup.policy", "compact"));
        try (KafkaProducer<byte[], byte[]> p = Common.producer(cluster.bootstrap, null)) {
            for (int round = 0; round < 3; round++) {
                for (int k = 0; k < 4; k++) p.send(new ProducerRecord<>("table", 0, Common.utf8("k" + k), Common.utf8("v" + round))).get();
            }
        }
        String report = cluster.on("POST", "/maintenance/compaction", "{\"topic\":\"table\"}", 200);
        assertEquals(8, ControlApi.num(report, "records_removed"), report);
        assertEquals(List.of("v2", "v2", "v2", "v2"), values("table"));
    }

    @Test
    void anAnswerLostAfterTheAppendIsNotADuplicate() throws Exception {
        topic("once", java.util.Map.of());
        cluster.addFault("{\"match\":{\"api_key\":0,\"topic\":\"once\"},\"action\":{\"type\":\"close_after\"},\"times\":1}");
        Properties idempotent = new Properties(); // the client's defaults: idempotence on, acks=all
        try (KafkaProducer<byte[], byte[]> p = Common.producer(cluster.bootstrap, idempotent)) {
            assertEquals(0L, p.send(new ProducerRecord<>("once", 0, Common.utf8("k"), Common.utf8("exactly-once"))).get().offset());
        }
        String rules = cluster.on("GET", "/faults", null, 200);
        assertTrue(rules.contains("\"fired\":1"), rules);
        assertEquals(List.of("exactly-once"), values("once"));
    }
}
