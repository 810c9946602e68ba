package compat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.UUID;

import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** Small helpers shared by the compat scenarios. No test framework: a failed check throws. */
final class Common {
    private Common() {}

    /** Thrown when the broker's observable behaviour differs from what a Kafka client expects. */
    static final class Mismatch extends RuntimeException {
        Mismatch(String msg) { super(msg); }
    }

    static void check(boolean ok, String what) {
        if (!ok) throw new Mismatch(what);
    }

    static void checkEq(Object expected, Object actual, String what) {
        boolean same = (expected == null) ? actual == null
                : (expected instanceof byte[] && actual instanceof byte[])
                    ? Arrays.equals((byte[]) expected, (byte[]) actual)
                    : expected.equals(actual);
        if (!same) {
            throw new Mismatch(what + ": expected <" + show(expected) + "> but got <" + show(actual) + ">");
        }
    }

    static String show(Object o) {
        if (o instanceof byte[]) return "bytes:" + new String((byte[]) o, StandardCharsets.UTF_8);
        return String.valueOf(o);
    }

    static byte[] utf8(String s) { return s == null ? null : s.getBytes(StandardCharsets.UTF_8); }

    static String bootstrap(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: <scenario> BOOTSTRAP_SERVERS");
            System.exit(2);
        }
        return args[0];
    }

    static String uniqueTopic(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    static void log(String scenario, String msg) {
        System.out.println("[" + scenario + "] " + msg);
        System.out.flush();
    }

    /** A deviation worth noting that does not fail the scenario. */
    static void warn(String scenario, String msg) {
        System.out.println("[" + scenario + "] WARN: " + msg);
        System.out.flush();
    }

    /**
     * The client security settings of the file named by COMPAT_CLIENT_PROPS (e.g. the
     * client-scram.properties `odradek --dev --secure` writes), when set: every client these
     * helpers make uses them, so a scenario runs unchanged over SASL_SSL.
     */
    static void secure(Properties p) {
        String f = System.getenv("COMPAT_CLIENT_PROPS");
        if (f == null || f.isEmpty()) return;
        Properties extra = new Properties();
        try (java.io.FileInputStream in = new java.io.FileInputStream(f)) {
            extra.load(in);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("COMPAT_CLIENT_PROPS=" + f + ": " + e);
        }
        extra.remove("bootstrap.servers");
        p.putAll(extra);
    }

    static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        p.put(CommonClientConfigs.CLIENT_ID_CONFIG, "odradek-compat-admin");
        secure(p);
        return Admin.create(p);
    }

    /** Producer with the client's defaults (idempotence on, acks=all) plus byte[] serdes. */
    static KafkaProducer<byte[], byte[]> producer(String bootstrap, Properties extra) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "odradek-compat-producer");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 20000);
        if (extra != null) p.putAll(extra);
        secure(p);
        return new KafkaProducer<>(p);
    }

    /** Consumer without a group (no group.id): assign()+seek only, no commits. */
    static KafkaConsumer<byte[], byte[]> consumer(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "odradek-compat-consumer");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        secure(p);
        return new KafkaConsumer<>(p);
    }

    /**
     * Consumer in consumer group {@code groupId} (classic rebalance protocol, chosen explicitly;
     * KIP-848 consumers are made by GroupConsumerProtocol.consumer848), auto-commit off, auto.offset.reset=earliest,
     * short heartbeat interval so rebalances are noticed quickly.
     */
    static KafkaConsumer<byte[], byte[]> groupConsumer(String bootstrap, String groupId, String clientId) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000);
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        secure(p);
        return new KafkaConsumer<>(p);
    }

    /**
     * Writes {@code perPartition} records to each of partitions 0..partitions-1 (explicit
     * partition, values "PREFIX-P-I" for I = from..from+perPartition-1) and checks each was
     * acked at offset I. Returns the values written, in order.
     */
    static List<String> produceEach(String bootstrap, String topic, int partitions, int from, int perPartition, String prefix) throws Exception {
        List<String> values = new ArrayList<>();
        List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> fs = new ArrayList<>();
        List<int[]> where = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> prod = producer(bootstrap, null)) {
            for (int i = from; i < from + perPartition; i++) {
                for (int part = 0; part < partitions; part++) {
                    String v = prefix + "-" + part + "-" + i;
                    values.add(v);
                    where.add(new int[] {part, i});
                    fs.add(prod.send(new org.apache.kafka.clients.producer.ProducerRecord<>(topic, part, utf8("k" + i), utf8(v))));
                }
            }
            prod.flush();
        }
        for (int j = 0; j < fs.size(); j++) {
            var md = fs.get(j).get();
            checkEq(where.get(j)[0], md.partition(), "partition of acked record " + values.get(j));
            checkEq((long) where.get(j)[1], md.offset(), "offset of acked record " + values.get(j));
        }
        return values;
    }

    /** Group-less consumer like {@link #consumer(String)} with extra settings (e.g. isolation.level). */
    static KafkaConsumer<byte[], byte[]> consumer(String bootstrap, java.util.Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "odradek-compat-consumer");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        p.putAll(extra);
        secure(p);
        return new KafkaConsumer<>(p);
    }

    /**
     * A group-less consumer with {@code isolation.level} = {@code isolation} ("read_committed" or
     * "read_uncommitted") reads {@code tps} from the beginning up to their endOffsets (the last
     * stable offset for read_committed, the high watermark otherwise), taken once before
     * reading. Fails if the end is not reached within {@code max}. Returns the end offsets in
     * {@code endsOut} (when not null) and the records in arrival order.
     */
    static List<ConsumerRecord<byte[], byte[]>> readToEnd(String bootstrap, String isolation, java.util.Collection<org.apache.kafka.common.TopicPartition> tps,
                                                         Duration max, java.util.Map<org.apache.kafka.common.TopicPartition, Long> endsOut) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap, java.util.Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation))) {
            c.assign(tps);
            c.seekToBeginning(tps);
            java.util.Map<org.apache.kafka.common.TopicPartition, Long> ends = c.endOffsets(tps);
            if (endsOut != null) endsOut.putAll(ends);
            long deadline = System.nanoTime() + max.toNanos();
            while (true) {
                boolean done = true;
                for (var tp : tps) if (c.position(tp) < ends.get(tp)) done = false;
                if (done) break;
                if (System.nanoTime() > deadline) {
                    java.util.Map<org.apache.kafka.common.TopicPartition, Long> pos = new java.util.TreeMap<>(java.util.Comparator.comparing(Object::toString));
                    for (var tp : tps) pos.put(tp, c.position(tp));
                    throw new Mismatch(isolation + " consumer did not reach endOffsets " + ends + " within " + max.toSeconds()
                            + " s: positions " + pos + " after " + out.size() + " records");
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(300))) out.add(r);
            }
        }
        return out;
    }

    /** Values of {@code recs} on {@code tp}, in the order they were read. */
    static List<String> valuesOn(List<ConsumerRecord<byte[], byte[]>> recs, org.apache.kafka.common.TopicPartition tp) {
        List<String> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : recs) {
            if (r.topic().equals(tp.topic()) && r.partition() == tp.partition()) out.add(new String(r.value(), StandardCharsets.UTF_8));
        }
        return out;
    }

    /** Offsets of {@code recs} on {@code tp}, in the order they were read. */
    static List<Long> offsetsOn(List<ConsumerRecord<byte[], byte[]>> recs, org.apache.kafka.common.TopicPartition tp) {
        List<Long> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : recs) {
            if (r.topic().equals(tp.topic()) && r.partition() == tp.partition()) out.add(r.offset());
        }
        return out;
    }

    /** The first throwable in {@code t}'s cause chain (t included) that is one of {@code types}, or null. */
    @SafeVarargs
    static Throwable findCause(Throwable t, Class<? extends Throwable>... types) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            for (Class<? extends Throwable> k : types) if (k.isInstance(c)) return c;
            if (c.getCause() == c) break;
        }
        return null;
    }

    /** "Outer: msg <- Cause: msg ..." for a throwable and its causes. */
    static String chain(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (sb.length() > 0) sb.append(" <- ");
            sb.append(c.getClass().getName()).append(": ").append(c.getMessage());
            if (c.getCause() == c) break;
        }
        return sb.toString();
    }

    static String uniqueGroup(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Polls until {@code expected} records arrived or the deadline passes; returns what arrived. */
    static List<ConsumerRecord<byte[], byte[]>> pollAtLeast(KafkaConsumer<byte[], byte[]> c, int expected, Duration max) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        long deadline = System.nanoTime() + max.toNanos();
        while (out.size() < expected && System.nanoTime() < deadline) {
            ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(500));
            for (ConsumerRecord<byte[], byte[]> r : recs) out.add(r);
        }
        return out;
    }

    /** Runs a scenario body and turns the outcome into a process exit code with a clear message. */
    static void run(String scenario, ThrowingRunnable body) {
        long t0 = System.nanoTime();
        int code;
        try {
            body.run();
            log(scenario, "PASS (" + (System.nanoTime() - t0) / 1_000_000 + " ms)");
            code = 0;
        } catch (Mismatch m) {
            System.err.println("[" + scenario + "] FAIL: " + m.getMessage());
            code = 1;
        } catch (Throwable t) {
            System.err.println("[" + scenario + "] FAIL: unexpected " + t);
            Throwable cause = t.getCause();
            while (cause != null) {
                System.err.println("    caused by: " + cause);
                cause = cause.getCause();
            }
            t.printStackTrace(System.err);
            code = 1;
        }
        System.out.flush();
        System.err.flush();
        // Client threads (e.g. a stuck producer) must not keep the JVM alive.
        Runtime.getRuntime().halt(code);
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Exception;
    }
}
