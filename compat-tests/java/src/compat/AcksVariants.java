package compat;

import static compat.Common.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Scenario h: non-idempotent producers with acks=1 and acks=0. For acks=0 the broker must
 * send no Produce response at all; a stray response would desynchronise the client's
 * correlation ids on that connection (the following metadata/produce requests then fail).
 */
public final class AcksVariants {
    static final String NAME = "java/AcksVariants";
    static final int N = 200;

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-acks");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
        }
        for (String acks : new String[] {"1", "0"}) {
            int partition = acks.equals("1") ? 0 : 1;
            Properties extra = new Properties();
            extra.put(ProducerConfig.ACKS_CONFIG, acks);
            extra.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
            extra.put(ProducerConfig.LINGER_MS_CONFIG, 0);
            extra.put(ProducerConfig.METADATA_MAX_AGE_CONFIG, 500); // keep metadata requests flowing on the same connection
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, extra)) {
                for (int i = 0; i < N; i++) {
                    fs.add(p.send(new ProducerRecord<>(topic, partition, utf8("a" + acks + "-" + i), utf8("acks" + acks + "-v" + i))));
                    if (i % 50 == 49) {
                        p.flush();
                        Thread.sleep(300);
                    }
                }
                p.flush();
                for (int i = 0; i < N; i++) {
                    RecordMetadata md = fs.get(i).get();
                    if (acks.equals("1")) checkEq((long) i, md.offset(), "acks=1: acked offset of record " + i);
                }
            }
            TopicPartition tp = new TopicPartition(topic, partition);
            try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, N, Duration.ofSeconds(20));
                checkEq(N, got.size(), "acks=" + acks + ": records stored");
                for (int i = 0; i < N; i++) {
                    checkEq("acks" + acks + "-v" + i, new String(got.get(i).value()), "acks=" + acks + ": value at offset " + i);
                }
            }
            log(NAME, "acks=" + acks + ": " + N + " records ok");
        }
    }
}
