package compat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * What the kafka-tools scenarios need besides the tools themselves (kafka-clients 4.3.1, the jar
 * the tools run with). One command per call; everything printed on stdout is for compat.py to parse.
 *
 *   produce BOOTSTRAP TOPIC PREFIX PARTITION:COUNT:TS0:TSSTEP...
 *       for each spec in turn, COUNT records to PARTITION with key PREFIX-k<p>-<i>, value
 *       PREFIX-v<p>-<i> (i counts per partition over all specs) and CreateTime TS0 + j*TSSTEP
 *       (j counts within the spec; TS0 0: the producer's clock); acks=all, idempotent (the
 *       client's default); prints "offset <partition> <offset> <timestamp> <key>" per record
 *   hang-txn BOOTSTRAP TOPIC PARTITION TXNID COUNT
 *       a transactional producer (timeout 10 min) sends COUNT records in one open transaction,
 *       flushes, prints "sent <offset> <timestamp>" per record and "hanging", then halts the JVM
 *       without committing, aborting or closing: the transaction stays open on the broker
 *   commit-txn BOOTSTRAP TOPIC PARTITION TXNID COUNT
 *       the same, committed and closed; prints "sent ..." lines and "committed"
 *   commit BOOTSTRAP GROUP TOPIC P=OFFSET...
 *       commits the offsets for GROUP (assign, no subscription, classic group) and exits
 *   read BOOTSTRAP TOPIC ISOLATION
 *       reads every partition from its beginning to its end offset (read_committed or
 *       read_uncommitted; group-less); prints "record <p> <offset> <ts> <key> <value>" and
 *       "end <p> <begin> <end>" per partition
 *   group-read BOOTSTRAP GROUP TOPIC COUNT
 *       a classic group consumer subscribes, reads COUNT records (30 s at most) and whatever one
 *       more 1 s poll brings, commits and leaves; prints "record ..." lines in arrival order and "total <n>"
 */
public final class ToolsHelper {
    static byte[] utf8(String s) { return s == null ? null : s.getBytes(StandardCharsets.UTF_8); }
    static String str(byte[] b) { return b == null ? "<null>" : new String(b, StandardCharsets.UTF_8); }

    static Properties producerProps(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 20000);
        return p;
    }

    static Properties consumerProps(String bootstrap, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        }
        return p;
    }

    public static void main(String[] a) throws Exception {
        switch (a[0]) {
            case "produce": produce(a[1], a[2], a[3], java.util.Arrays.copyOfRange(a, 4, a.length)); break;
            case "hang-txn": txn(a[1], a[2], Integer.parseInt(a[3]), a[4], Integer.parseInt(a[5]), false); break;
            case "commit-txn": txn(a[1], a[2], Integer.parseInt(a[3]), a[4], Integer.parseInt(a[5]), true); break;
            case "commit": commit(a[1], a[2], a[3], java.util.Arrays.copyOfRange(a, 4, a.length)); break;
            case "read": read(a[1], a[2], a[3]); break;
            case "group-read": groupRead(a[1], a[2], a[3], Integer.parseInt(a[4])); break;
            default: throw new IllegalArgumentException("unknown command " + a[0]);
        }
    }

    static void produce(String bootstrap, String topic, String prefix, String[] specs) throws Exception {
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(producerProps(bootstrap))) {
            List<java.util.concurrent.Future<RecordMetadata>> fs = new ArrayList<>();
            List<String> keys = new ArrayList<>();
            Map<Integer, Integer> next = new HashMap<>();
            for (String spec : specs) {
                String[] f = spec.split(":");
                int partition = Integer.parseInt(f[0]), count = Integer.parseInt(f[1]);
                long ts0 = Long.parseLong(f[2]), step = Long.parseLong(f[3]);
                for (int j = 0; j < count; j++) {
                    int i = next.merge(partition, 1, Integer::sum) - 1;
                    Long ts = ts0 == 0 ? null : ts0 + j * step;
                    String key = prefix + "-k" + partition + "-" + i;
                    keys.add(key);
                    fs.add(p.send(new ProducerRecord<>(topic, partition, ts, utf8(key), utf8(prefix + "-v" + partition + "-" + i))));
                }
            }
            for (int i = 0; i < fs.size(); i++) {
                RecordMetadata m = fs.get(i).get();
                System.out.println("offset " + m.partition() + " " + m.offset() + " " + m.timestamp() + " " + keys.get(i));
            }
        }
    }

    static void txn(String bootstrap, String topic, int partition, String txnId, int count, boolean commit) throws Exception {
        Properties props = producerProps(bootstrap);
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        props.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 600000);
        KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(props);
        p.initTransactions();
        p.beginTransaction();
        List<java.util.concurrent.Future<RecordMetadata>> fs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            fs.add(p.send(new ProducerRecord<>(topic, partition, utf8(txnId + "-k" + i), utf8(txnId + "-v" + i))));
        }
        p.flush();
        for (java.util.concurrent.Future<RecordMetadata> f : fs) {
            RecordMetadata m = f.get();
            System.out.println("sent " + m.offset() + " " + m.timestamp());
        }
        if (commit) {
            p.commitTransaction();
            p.close(Duration.ofSeconds(10));
            System.out.println("committed");
        } else {
            System.out.println("hanging");
            System.out.flush();
            Runtime.getRuntime().halt(0);
        }
    }

    static void commit(String bootstrap, String group, String topic, String[] offsets) {
        Map<TopicPartition, OffsetAndMetadata> m = new HashMap<>();
        for (String s : offsets) {
            String[] kv = s.split("=");
            m.put(new TopicPartition(topic, Integer.parseInt(kv[0])), new OffsetAndMetadata(Long.parseLong(kv[1])));
        }
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerProps(bootstrap, group))) {
            c.assign(m.keySet());
            c.commitSync(m, Duration.ofSeconds(20));
        }
        System.out.println("committed " + m.size());
    }

    static void read(String bootstrap, String topic, String isolation) {
        Properties props = consumerProps(bootstrap, null);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(20))) tps.add(new TopicPartition(topic, pi.partition()));
            tps.sort((x, y) -> Integer.compare(x.partition(), y.partition()));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> begin = c.beginningOffsets(tps, Duration.ofSeconds(20));
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(20));
            long deadline = System.currentTimeMillis() + 30000;
            Map<TopicPartition, List<String>> out = new HashMap<>();
            while (System.currentTimeMillis() < deadline) {
                boolean done = true;
                for (TopicPartition tp : tps) if (c.position(tp, Duration.ofSeconds(20)) < end.get(tp)) done = false;
                if (done) break;
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(300))) {
                    out.computeIfAbsent(new TopicPartition(r.topic(), r.partition()), k -> new ArrayList<>())
                       .add("record " + r.partition() + " " + r.offset() + " " + r.timestamp() + " " + str(r.key()) + " " + str(r.value()));
                }
            }
            for (TopicPartition tp : tps) {
                for (String s : out.getOrDefault(tp, List.of())) System.out.println(s);
                System.out.println("end " + tp.partition() + " " + begin.get(tp) + " " + end.get(tp));
            }
        }
    }

    static void groupRead(String bootstrap, String group, String topic, int count) {
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerProps(bootstrap, group))) {
            c.subscribe(List.of(topic));
            int n = 0;
            long deadline = System.currentTimeMillis() + 30000;
            while (n < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(300))) {
                    System.out.println("record " + r.partition() + " " + r.offset() + " " + r.timestamp() + " " + str(r.key()) + " " + str(r.value()));
                    n++;
                }
            }
            // one more poll: anything past COUNT is printed too (the caller checks the total)
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(1000))) {
                System.out.println("record " + r.partition() + " " + r.offset() + " " + r.timestamp() + " " + str(r.key()) + " " + str(r.value()));
                n++;
            }
            c.commitSync(Duration.ofSeconds(20));
            System.out.println("total " + n);
        }
    }
}
