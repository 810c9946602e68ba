package compat;

import static compat.Common.*;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DeletedRecords;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Scenario b: the AdminClient calls the broker claims to support: DescribeCluster,
 * CreateTopics (with a topic config), DescribeTopics (Metadata), DescribeConfigs (topic and
 * broker), CreatePartitions, DeleteRecords, ListOffsets, DeleteTopics, ListTopics.
 */
public final class AdminOps {
    static final String NAME = "java/AdminOps";
    static final String RETENTION = "123456789";

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-admin");
        try (Admin admin = admin(bootstrap)) {
            // --- DescribeCluster
            DescribeClusterResult dc = admin.describeCluster();
            String clusterId = dc.clusterId().get();
            Collection<Node> nodes = dc.nodes().get();
            Node controller = dc.controller().get();
            log(NAME, "describeCluster: clusterId=" + clusterId + " nodes=" + nodes + " controller=" + controller);
            check(clusterId != null && !clusterId.isEmpty(), "describeCluster returned no cluster id");
            checkEq(1, nodes.size(), "number of nodes in describeCluster");
            Node node = nodes.iterator().next();
            check(node.id() >= 0, "node id is negative: " + node);
            check(node.port() > 0 && node.host() != null && !node.host().isEmpty(), "node has no usable address: " + node);

            // --- CreateTopics with a config
            NewTopic nt = new NewTopic(topic, 2, (short) 1).configs(Map.of("retention.ms", RETENTION, "cleanup.policy", "delete"));
            admin.createTopics(List.of(nt)).all().get();
            log(NAME, "created " + topic);

            // creating it again must fail with TOPIC_ALREADY_EXISTS
            try {
                admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
                throw new Mismatch("second createTopics(" + topic + ") succeeded; expected TopicExistsException");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof TopicExistsException,
                        "second createTopics failed with " + e.getCause() + "; expected TopicExistsException");
            }

            // --- DescribeTopics
            TopicDescription td = describe(admin, topic);
            checkEq(2, td.partitions().size(), "partition count after create");
            check(td.topicId() != null && !Uuid.ZERO_UUID.equals(td.topicId()), "topic id is zero/null: " + td.topicId());
            for (TopicPartitionInfo p : td.partitions()) {
                check(p.leader() != null && p.leader().id() == node.id(), "partition " + p.partition() + " leader " + p.leader() + " is not node " + node.id());
                checkEq(1, p.replicas().size(), "replicas of partition " + p.partition());
                checkEq(1, p.isr().size(), "isr of partition " + p.partition());
            }
            Uuid topicId = td.topicId();

            // Authorized operations, when asked for (Metadata include_*_authorized_operations /
            // DescribeCluster include_cluster_authorized_operations). Apache Kafka returns the
            // operations allowed on the resource; "not provided" (INT32_MIN) shows up as null.
            TopicDescription tdOps = admin.describeTopics(List.of(topic),
                    new DescribeTopicsOptions().includeAuthorizedOperations(true)).allTopicNames().get().get(topic);
            if (tdOps.authorizedOperations() == null || tdOps.authorizedOperations().isEmpty()) {
                warn(NAME, "describeTopics(includeAuthorizedOperations=true) returned no authorized operations: "
                        + tdOps.authorizedOperations());
            } else {
                log(NAME, "topic authorized operations: " + tdOps.authorizedOperations());
            }
            var clusterOps = admin.describeCluster(new DescribeClusterOptions().includeAuthorizedOperations(true))
                    .authorizedOperations().get();
            if (clusterOps == null || clusterOps.isEmpty()) {
                warn(NAME, "describeCluster(includeAuthorizedOperations=true) returned no authorized operations: " + clusterOps);
            } else {
                log(NAME, "cluster authorized operations: " + clusterOps);
            }

            // --- DescribeConfigs: topic
            ConfigResource topicRes = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Config tc = admin.describeConfigs(List.of(topicRes)).all().get().get(topicRes);
            ConfigEntry ret = tc.get("retention.ms");
            check(ret != null, "describeConfigs(topic) has no retention.ms entry; got " + names(tc));
            checkEq(RETENTION, ret.value(), "retention.ms from describeConfigs(topic)");
            checkEq(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, ret.source(), "source of retention.ms");
            ConfigEntry cp = tc.get("cleanup.policy");
            check(cp != null && "delete".equals(cp.value()), "cleanup.policy from describeConfigs(topic): " + cp);
            log(NAME, "describeConfigs(topic): " + tc.entries().size() + " entries, retention.ms=" + ret.value());

            // --- DescribeConfigs: broker
            ConfigResource brokerRes = new ConfigResource(ConfigResource.Type.BROKER, Integer.toString(node.id()));
            Config bc = admin.describeConfigs(List.of(brokerRes)).all().get().get(brokerRes);
            check(bc != null && !bc.entries().isEmpty(), "describeConfigs(broker " + node.id() + ") returned no entries");
            log(NAME, "describeConfigs(broker " + node.id() + "): " + bc.entries().size() + " entries");

            // --- CreatePartitions: 2 -> 5
            admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all().get();
            td = describe(admin, topic);
            checkEq(5, td.partitions().size(), "partition count after createPartitions(5)");
            checkEq(topicId, td.topicId(), "topic id after createPartitions");
            for (int i = 0; i < 5; i++) checkEq(i, td.partitions().get(i).partition(), "partition index " + i);
            log(NAME, "createPartitions -> 5 ok");

            // --- DeleteRecords: write 10 records to partition 4 (a newly created one) and 0, cut 6 off
            TopicPartition tp0 = new TopicPartition(topic, 0), tp4 = new TopicPartition(topic, 4);
            try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, null)) {
                for (int i = 0; i < 10; i++) {
                    p.send(new ProducerRecord<>(topic, 0, utf8("k" + i), utf8("v" + i))).get();
                    p.send(new ProducerRecord<>(topic, 4, utf8("k" + i), utf8("v" + i))).get();
                }
            }
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> latest =
                    admin.listOffsets(Map.of(tp0, OffsetSpec.latest(), tp4, OffsetSpec.latest())).all().get();
            checkEq(10L, latest.get(tp0).offset(), "listOffsets(latest) " + tp0);
            checkEq(10L, latest.get(tp4).offset(), "listOffsets(latest) " + tp4);

            Map<TopicPartition, org.apache.kafka.common.KafkaFuture<DeletedRecords>> lw =
                    admin.deleteRecords(Map.of(tp0, RecordsToDelete.beforeOffset(6), tp4, RecordsToDelete.beforeOffset(6))).lowWatermarks();
            checkEq(6L, lw.get(tp0).get().lowWatermark(), "deleteRecords low watermark " + tp0);
            checkEq(6L, lw.get(tp4).get().lowWatermark(), "deleteRecords low watermark " + tp4);
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> earliest =
                    admin.listOffsets(Map.of(tp0, OffsetSpec.earliest(), tp4, OffsetSpec.earliest())).all().get();
            checkEq(6L, earliest.get(tp0).offset(), "listOffsets(earliest) after deleteRecords " + tp0);
            try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
                Map<TopicPartition, Long> bo = c.beginningOffsets(List.of(tp0, tp4));
                checkEq(6L, bo.get(tp0), "consumer beginningOffsets after deleteRecords " + tp0);
                checkEq(6L, bo.get(tp4), "consumer beginningOffsets after deleteRecords " + tp4);
                c.assign(List.of(tp0));
                c.seekToBeginning(List.of(tp0));
                var recs = pollAtLeast(c, 4, java.time.Duration.ofSeconds(15));
                checkEq(4, recs.size(), "records readable after deleteRecords on " + tp0);
                checkEq(6L, recs.get(0).offset(), "first readable offset after deleteRecords");
                checkEq("v6", new String(recs.get(0).value()), "first readable value after deleteRecords");
            }
            log(NAME, "deleteRecords ok (low watermark 6)");

            // --- ListTopics / DeleteTopics
            Set<String> names = admin.listTopics().names().get();
            check(names.contains(topic), "listTopics does not contain " + topic + ": " + names);
            admin.deleteTopics(List.of(topic)).all().get();
            long deadline = System.currentTimeMillis() + 10_000;
            while (true) {
                names = admin.listTopics().names().get();
                if (!names.contains(topic)) break;
                check(System.currentTimeMillis() < deadline, "topic " + topic + " still listed 10 s after deleteTopics");
                Thread.sleep(200);
            }
            log(NAME, "deleteTopics ok");

            // --- re-create under the same name: a new, empty topic with a new id
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
            TopicDescription again = describe(admin, topic);
            checkEq(1, again.partitions().size(), "partitions of the re-created topic");
            check(!topicId.equals(again.topicId()), "re-created topic kept the old topic id " + topicId);
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> fresh =
                    admin.listOffsets(Map.of(tp0, OffsetSpec.earliest())).all().get();
            checkEq(0L, fresh.get(tp0).offset(), "earliest offset of the re-created topic");
            fresh = admin.listOffsets(Map.of(tp0, OffsetSpec.latest())).all().get();
            checkEq(0L, fresh.get(tp0).offset(), "latest offset of the re-created topic (old records must be gone)");
            admin.deleteTopics(List.of(topic)).all().get();
            log(NAME, "re-create after delete ok");
        }
    }

    static TopicDescription describe(Admin admin, String topic) throws Exception {
        return admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
    }

    static List<String> names(Config c) {
        return c.entries().stream().map(ConfigEntry::name).sorted().toList();
    }
}
