package compat;

import static compat.Common.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
 * Scenario d: batches compressed by the producer (gzip, lz4, zstd, snappy) are stored and
 * served back intact; offsets inside compressed batches are dense. One partition per codec.
 */
public final class Compression {
    static final String NAME = "java/Compression";
    static final int N = 300;
    static final String[] CODECS = {"gzip", "lz4", "zstd", "snappy"};

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-comp");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, CODECS.length, (short) 1))).all().get();
        }
        for (int p = 0; p < CODECS.length; p++) {
            String codec = CODECS[p];
            Properties extra = new Properties();
            extra.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
            extra.put(ProducerConfig.LINGER_MS_CONFIG, 50);
            extra.put(ProducerConfig.BATCH_SIZE_CONFIG, 16384);
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            try (KafkaProducer<byte[], byte[]> prod = producer(bootstrap, extra)) {
                for (int i = 0; i < N; i++) {
                    fs.add(prod.send(new ProducerRecord<>(topic, p, utf8(codec + "-k" + i), utf8(codec + "-value-" + i + "-" + "abc".repeat(i % 30)))));
                }
                prod.flush();
            }
            for (int i = 0; i < N; i++) {
                checkEq((long) i, fs.get(i).get().offset(), codec + ": acked offset of record " + i);
            }
            TopicPartition tp = new TopicPartition(topic, p);
            try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, N, Duration.ofSeconds(20));
                checkEq(N, got.size(), codec + ": records read back");
                for (int i = 0; i < N; i++) {
                    ConsumerRecord<byte[], byte[]> r = got.get(i);
                    checkEq((long) i, r.offset(), codec + ": offset of record " + i);
                    checkEq(codec + "-k" + i, new String(r.key()), codec + ": key at " + i);
                    checkEq(codec + "-value-" + i + "-" + "abc".repeat(i % 30), new String(r.value()), codec + ": value at " + i);
                }
                // reading from the middle of a compressed batch must start at the requested offset
                c.seek(tp, N / 2 + 1);
                List<ConsumerRecord<byte[], byte[]>> mid = pollAtLeast(c, 1, Duration.ofSeconds(10));
                check(!mid.isEmpty(), codec + ": nothing read after seek into the middle");
                checkEq((long) (N / 2 + 1), mid.get(0).offset(), codec + ": first offset after seek into a compressed batch");
            }
            log(NAME, codec + ": " + N + " records ok");
        }
        try (Admin admin = admin(bootstrap)) {
            admin.deleteTopics(List.of(topic)).all().get();
        }
    }
}
