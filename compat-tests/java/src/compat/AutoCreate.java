package compat;

import static compat.Common.*;

import java.time.Duration;
import java.util.List;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Scenario e: producing to a topic that does not exist auto-creates it
 * (auto.create.topics.enable defaults to true) with num.partitions (default 1).
 */
public final class AutoCreate {
    static final String NAME = "java/AutoCreate";

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-auto");
        int expectedPartitions = Integer.parseInt(System.getProperty("compat.numPartitions", "1"));
        RecordMetadata md;
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, null)) {
            md = p.send(new ProducerRecord<>(topic, utf8("k"), utf8("hello auto-create"))).get();
        }
        checkEq(0L, md.offset(), "offset of first record in auto-created topic");
        try (Admin admin = admin(bootstrap)) {
            TopicDescription td = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            checkEq(expectedPartitions, td.partitions().size(), "partitions of auto-created topic (num.partitions)");
        }
        TopicPartition tp = new TopicPartition(topic, md.partition());
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, 1, Duration.ofSeconds(15));
            checkEq(1, got.size(), "records read from auto-created topic");
            checkEq("hello auto-create", new String(got.get(0).value()), "value read from auto-created topic");
        }
        log(NAME, "auto-created " + topic);
    }
}
