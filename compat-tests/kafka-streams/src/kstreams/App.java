package kstreams;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.LocalTime;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.ThreadMetadata;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TaskMetadata;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams application under test, one JVM per instance (run.sh starts it in the
 * background, kills it with SIGKILL or stops it with SIGTERM).
 *
 *   orders (key order id, value "customer,amount")
 *     -> selectKey(customer) -> groupByKey ("by-customer" repartition topic)
 *     -> aggregate into the persistent RocksDB key-value store "totals-store" (value "count,sum",
 *        changelog <app id>-totals-store-changelog) -> its changes to "customer-totals"
 *   orders join payments (both keyed by order id) within 10 s (grace 1 h, so nothing in this test
 *     is ever dropped as late) -> "order-payments", value "order value|payment value"
 *
 * Every 200 ms the instance writes what the driver and run.sh look at into STATUS_FILE
 * (key=value lines, replaced atomically): the KafkaStreams state, its active and standby tasks
 * (from metadataForLocalThreads), how many order records the join side and the aggregator saw,
 * how many records were restored per store, the consumer client id.
 *
 *   usage: App BOOTSTRAP APPLICATION_ID CLIENT_ID STATE_DIR STATUS_FILE SESSION_TIMEOUT_MS MAX_SECONDS
 */
public final class App {
    static final String ORDERS = "orders";
    static final String PAYMENTS = "payments";
    static final String TOTALS = "customer-totals";
    static final String JOINED = "order-payments";
    static final String STORE = "totals-store";
    static final String REPARTITION_NAME = "by-customer";
    static final String JOIN_NAME = "order-payment";
    static final String JOIN_STORE = "order-payment-store";
    static final Duration JOIN_WINDOW = Duration.ofSeconds(10);
    static final Duration JOIN_GRACE = Duration.ofHours(1);

    static final AtomicLong ordersSeen = new AtomicLong();
    static final AtomicLong aggregated = new AtomicLong();
    static final Map<String, AtomicLong> restored = new ConcurrentHashMap<>();
    static final Map<String, AtomicLong> restoreDone = new ConcurrentHashMap<>();
    static final AtomicReference<String> state = new AtomicReference<>("CREATED");
    static final AtomicReference<String> error = new AtomicReference<>("");

    private App() {}

    static void log(String clientId, String msg) {
        System.out.println(LocalTime.now() + " [app " + clientId + "] " + msg);
        System.out.flush();
    }

    static Topology topology() {
        Serde<String> s = Serdes.String();
        StreamsBuilder b = new StreamsBuilder();
        KStream<String, String> orders = b.stream(ORDERS, Consumed.with(s, s).withName("orders-source"));
        KStream<String, String> payments = b.stream(PAYMENTS, Consumed.with(s, s).withName("payments-source"));

        orders.selectKey((orderId, v) -> v.substring(0, v.indexOf(',')), Named.as("key-by-customer"))
              .groupByKey(Grouped.with(REPARTITION_NAME, s, s))
              .aggregate(() -> "0,0",
                         (customer, v, agg) -> {
                             aggregated.incrementAndGet();
                             int c = agg.indexOf(',');
                             long count = Long.parseLong(agg.substring(0, c)) + 1;
                             long sum = Long.parseLong(agg.substring(c + 1)) + Long.parseLong(v.substring(v.indexOf(',') + 1));
                             return count + "," + sum;
                         },
                         Named.as("totals"),
                         Materialized.<String, String>as(Stores.persistentKeyValueStore(STORE))
                                     .withKeySerde(s).withValueSerde(s))
              .toStream(Named.as("totals-changes"))
              .to(TOTALS, Produced.with(s, s).withName("totals-sink"));

        orders.peek((k, v) -> ordersSeen.incrementAndGet(), Named.as("count-orders"))
              .join(payments, (o, p) -> o + "|" + p,
                    JoinWindows.ofTimeDifferenceAndGrace(JOIN_WINDOW, JOIN_GRACE),
                    StreamJoined.with(s, s, s).withName(JOIN_NAME).withStoreName(JOIN_STORE))
              .to(JOINED, Produced.with(s, s).withName("joined-sink"));
        return b.build();
    }

    static Properties config(String bootstrap, String appId, String clientId, String stateDir, int sessionMs) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.CLIENT_ID_CONFIG, clientId);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
        // no record cache: every input record gives exactly one aggregate update downstream
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        // default 30 s; purge the repartition topic soon after each commit
        p.put(StreamsConfig.REPARTITION_PURGE_INTERVAL_MS_CONFIG, 500);
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        // 6 s (the broker's group.min.session.timeout.ms) for an instance that gets SIGKILLed,
        // instead of the 45 s default; longer for the one that must leave with LeaveGroup
        p.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), sessionMs);
        p.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1000);
        // the open transaction of a SIGKILLed instance is aborted by the coordinator after this
        // (EOS default 10 s)
        p.put(StreamsConfig.producerPrefix(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG), 6000);
        String extra = System.getenv("KSTREAMS_EXTRA");   // k=v,k=v for experiments
        if (extra != null && !extra.isEmpty()) {
            for (String kv : extra.split(",")) p.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
        }
        return p;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 7) {
            System.err.println("usage: App BOOTSTRAP APPLICATION_ID CLIENT_ID STATE_DIR STATUS_FILE SESSION_TIMEOUT_MS MAX_SECONDS");
            System.exit(2);
        }
        String bootstrap = args[0], appId = args[1], clientId = args[2], stateDir = args[3];
        Path status = Path.of(args[4]);
        int sessionMs = Integer.parseInt(args[5]);
        long maxSeconds = Long.parseLong(args[6]);

        // safety net: never outlive the test run (run.sh's cleanup is the normal way out)
        Thread watchdog = new Thread(() -> {
            try { Thread.sleep(maxSeconds * 1000); } catch (InterruptedException e) { return; }
            log(clientId, "max lifetime " + maxSeconds + " s reached; halting");
            Runtime.getRuntime().halt(3);
        }, "watchdog");
        watchdog.setDaemon(true);
        watchdog.start();

        Topology topology = topology();
        log(clientId, "pid " + ProcessHandle.current().pid() + ", topology:\n" + topology.describe());
        Properties props = config(bootstrap, appId, clientId, stateDir, sessionMs);
        StreamsConfig sc = new StreamsConfig(props);
        log(clientId, "group.protocol=" + sc.getString(StreamsConfig.GROUP_PROTOCOL_CONFIG)
                + " processing.guarantee=" + sc.getString(StreamsConfig.PROCESSING_GUARANTEE_CONFIG));
        KafkaStreams streams = new KafkaStreams(topology, props);
        streams.setStateListener((now, before) -> {
            state.set(now.name());
            log(clientId, "state " + before + " -> " + now);
        });
        streams.setUncaughtExceptionHandler(e -> {
            error.set(e.getClass().getName() + ": " + String.valueOf(e.getMessage()).replace('\n', ' '));
            log(clientId, "UNCAUGHT " + e);
            e.printStackTrace(System.out);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setGlobalStateRestoreListener(new StateRestoreListener() {
            @Override
            public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
                log(clientId, "restore start " + store + " " + tp + " offsets " + start + ".." + end);
            }

            @Override
            public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long n) {
                restored.computeIfAbsent(store, k -> new AtomicLong()).addAndGet(n);
            }

            @Override
            public void onRestoreEnd(TopicPartition tp, String store, long total) {
                restoreDone.computeIfAbsent(store, k -> new AtomicLong()).incrementAndGet();
                log(clientId, "restore end " + store + " " + tp + ": " + total + " records");
            }
        });

        Thread writer = new Thread(() -> {
            String last = "";
            while (true) {
                try {
                    String now = statusText(streams, sc);
                    Path tmp = status.resolveSibling(status.getFileName() + ".tmp");
                    Files.writeString(tmp, now);
                    Files.move(tmp, status, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    String tasks = now.lines().filter(l -> l.startsWith("active=")).findFirst().orElse("");
                    if (!tasks.equals(last)) {
                        log(clientId, "tasks " + tasks);
                        last = tasks;
                    }
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                } catch (Exception e) {
                    log(clientId, "status write failed: " + e);
                }
            }
        }, "status-writer");
        writer.setDaemon(true);

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log(clientId, "SIGTERM: closing with LEAVE_GROUP");
            boolean ok = streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                                                   .withTimeout(Duration.ofSeconds(20)));
            log(clientId, "closed: " + ok + ", state " + streams.state());
        }, "closer"));

        streams.start();
        writer.start();
        Thread.currentThread().join();   // until SIGTERM/SIGKILL (or the watchdog)
    }

    static String statusText(KafkaStreams streams, StreamsConfig sc) {
        TreeSet<String> active = new TreeSet<>(), standby = new TreeSet<>(), consumers = new TreeSet<>();
        try {
            for (ThreadMetadata t : streams.metadataForLocalThreads()) {
                for (TaskMetadata m : t.activeTasks()) active.add(m.taskId().toString());
                for (TaskMetadata m : t.standbyTasks()) standby.add(m.taskId().toString());
                consumers.add(t.consumerClientId());
            }
        } catch (RuntimeException e) {
            // not running (yet / any more)
        }
        Map<String, String> out = new TreeMap<>();
        out.put("pid", String.valueOf(ProcessHandle.current().pid()));
        out.put("state", streams.state().name());
        out.put("active", String.join(",", active));
        out.put("standby", String.join(",", standby));
        out.put("consumer", String.join(",", consumers));
        out.put("orders_seen", String.valueOf(ordersSeen.get()));
        out.put("aggregated", String.valueOf(aggregated.get()));
        out.put("group_protocol", sc.getString(StreamsConfig.GROUP_PROTOCOL_CONFIG));
        out.put("error", error.get());
        for (var e : restored.entrySet()) out.put("restored." + e.getKey(), String.valueOf(e.getValue().get()));
        for (var e : restoreDone.entrySet()) out.put("restore_done." + e.getKey(), String.valueOf(e.getValue().get()));
        StringBuilder sb = new StringBuilder();
        for (var e : out.entrySet()) sb.append(e.getKey()).append('=').append(e.getValue()).append('\n');
        return sb.toString();
    }
}
