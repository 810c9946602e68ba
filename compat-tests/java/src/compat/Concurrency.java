package compat;

import static compat.Common.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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
 * Scenario i: 4 idempotent producers (each its own producer id) write 5000 records each,
 * concurrently, to the same 2 partitions with up to 5 requests in flight and lz4 batches;
 * at the same time a consumer tails the topic. Every acked (partition, offset) must be
 * unique, offsets dense, each producer's records in send order within a partition, and the
 * tailing consumer must see exactly what was acked.
 */
public final class Concurrency {
    static final String NAME = "java/Concurrency";
    static final int PRODUCERS = 4;
    static final int PER_PRODUCER = 5000;
    static final int PARTITIONS = 2;

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-conc");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
        }
        int total = PRODUCERS * PER_PRODUCER;
        ExecutorService pool = Executors.newFixedThreadPool(PRODUCERS + 1);
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) tps.add(new TopicPartition(topic, p));

        Future<List<ConsumerRecord<byte[], byte[]>>> tail = pool.submit(() -> {
            try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
                c.assign(tps);
                c.seekToBeginning(tps);
                return pollAtLeast(c, total, Duration.ofSeconds(60));
            }
        });

        List<Future<List<RecordMetadata>>> producers = new ArrayList<>();
        for (int w = 0; w < PRODUCERS; w++) {
            final int id = w;
            producers.add(pool.submit(() -> {
                Properties extra = new Properties();
                extra.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
                extra.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
                extra.put(ProducerConfig.LINGER_MS_CONFIG, 2);
                extra.put(ProducerConfig.BATCH_SIZE_CONFIG, 4096);
                extra.put(ProducerConfig.CLIENT_ID_CONFIG, "odradek-compat-conc-" + id);
                List<Future<RecordMetadata>> fs = new ArrayList<>();
                try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, extra)) {
                    for (int i = 0; i < PER_PRODUCER; i++) {
                        fs.add(p.send(new ProducerRecord<>(topic, i % PARTITIONS, utf8("w" + id), utf8("w" + id + "-" + i))));
                    }
                    p.flush();
                }
                List<RecordMetadata> mds = new ArrayList<>();
                for (Future<RecordMetadata> f : fs) mds.add(f.get());
                return mds;
            }));
        }

        Map<String, String> acked = new HashMap<>(); // "partition@offset" -> value
        for (int w = 0; w < PRODUCERS; w++) {
            List<RecordMetadata> mds = producers.get(w).get();
            long[] last = new long[PARTITIONS];
            java.util.Arrays.fill(last, -1);
            for (int i = 0; i < mds.size(); i++) {
                RecordMetadata md = mds.get(i);
                String pos = md.partition() + "@" + md.offset();
                String prev = acked.put(pos, "w" + w + "-" + i);
                check(prev == null, "two records acked at " + pos + ": " + prev + " and w" + w + "-" + i);
                check(md.offset() > last[md.partition()], "producer " + w + ": record " + i + " acked at " + pos
                        + " before its predecessor at offset " + last[md.partition()]);
                last[md.partition()] = md.offset();
            }
        }
        checkEq(total, acked.size(), "acked records");
        for (int p = 0; p < PARTITIONS; p++) {
            for (long o = 0; o < total / PARTITIONS; o++) {
                check(acked.containsKey(p + "@" + o), "offset gap: nothing acked at " + p + "@" + o);
            }
        }
        log(NAME, PRODUCERS + " producers acked " + total + " records, offsets dense and unique");

        List<ConsumerRecord<byte[], byte[]>> got = tail.get();
        pool.shutdown();
        checkEq(total, got.size(), "records seen by the tailing consumer");
        Set<String> seen = new HashSet<>();
        for (ConsumerRecord<byte[], byte[]> r : got) {
            String pos = r.partition() + "@" + r.offset();
            check(seen.add(pos), "tailing consumer saw " + pos + " twice");
            checkEq(acked.get(pos), new String(r.value()), "value at " + pos + " seen by the tailing consumer");
        }
        log(NAME, "tailing consumer saw exactly the acked records");
    }
}
