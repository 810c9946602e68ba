package compat;

import static compat.Common.*;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * Scenario g: Admin error paths, each of which Apache Kafka answers with a specific error
 * code that the client maps to a specific exception type.
 */
public final class AdminErrors {
    static final String NAME = "java/AdminErrors";

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void expectFailure(KafkaFuture<?> f, Class<? extends Throwable> type, String what) throws InterruptedException {
        try {
            f.get();
        } catch (ExecutionException e) {
            check(type.isInstance(e.getCause()), what + ": failed with " + e.getCause() + "; expected " + type.getSimpleName());
            log(NAME, what + " -> " + type.getSimpleName() + " ok");
            return;
        }
        throw new Mismatch(what + ": succeeded; expected " + type.getSimpleName());
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-adminerr");
        try (Admin admin = admin(bootstrap)) {
            // validateOnly must not create the topic
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1)), new CreateTopicsOptions().validateOnly(true)).all().get();
            check(!admin.listTopics().names().get().contains(topic), "createTopics(validateOnly=true) created " + topic);
            log(NAME, "validateOnly ok");

            expectFailure(admin.createTopics(List.of(new NewTopic(uniqueTopic("java-badcfg"), 1, (short) 1)
                    .configs(Map.of("retention.ms", "not-a-number")))).all(),
                    InvalidConfigurationException.class, "createTopics with retention.ms=not-a-number");
            expectFailure(admin.createTopics(List.of(new NewTopic(uniqueTopic("java-badparts"), 0, (short) 1))).all(),
                    InvalidPartitionsException.class, "createTopics with 0 partitions");
            expectFailure(admin.createTopics(List.of(new NewTopic("bad/topic name", 1, (short) 1))).all(),
                    InvalidTopicException.class, "createTopics with an illegal name");
            String missing = uniqueTopic("java-missing");
            expectFailure(admin.deleteTopics(List.of(missing)).all(),
                    UnknownTopicOrPartitionException.class, "deleteTopics of an unknown topic");
            expectFailure(admin.describeTopics(List.of(missing)).allTopicNames(),
                    UnknownTopicOrPartitionException.class, "describeTopics of an unknown topic");
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, missing);
            expectFailure(admin.describeConfigs(List.of(res)).all(),
                    UnknownTopicOrPartitionException.class, "describeConfigs of an unknown topic");

            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get();
            expectFailure(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(2))).all(),
                    InvalidPartitionsException.class, "createPartitions decreasing 3 -> 2");
            expectFailure(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all(),
                    InvalidPartitionsException.class, "createPartitions to the same count 3 -> 3");
            expectFailure(admin.createPartitions(Map.of(missing, NewPartitions.increaseTo(3))).all(),
                    UnknownTopicOrPartitionException.class, "createPartitions of an unknown topic");
            admin.deleteTopics(List.of(topic)).all().get();
        }
    }
}
