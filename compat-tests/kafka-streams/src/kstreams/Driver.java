package kstreams;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;

/**
 * Produces the input of the Streams application (App) and checks what it wrote, exactly.
 * One subcommand per run.sh step; a failed check throws Mismatch and the JVM exits 1.
 *
 *   setup BOOTSTRAP
 *   eos-aggregate BOOTSTRAP APP_ID LEDGER
 *   join BOOTSTRAP APP_ID LEDGER
 *   internal-topics BOOTSTRAP APP_ID
 *   repartition-purge BOOTSTRAP APP_ID LEDGER
 *   produce BOOTSTRAP LEDGER BATCH N SPREAD_MS       (N orders spread over SPREAD_MS)
 *   kill-in-txn BOOTSTRAP APP_ID PID TXN_FILE              (SIGKILL PID inside an open transaction)
 *   restore-check BOOTSTRAP APP_ID LEDGER STATUS_FILE TXN_FILE
 *   wait-tasks BOOTSTRAP APP_ID TIMEOUT_S STATUS_FILE...
 *   progress BOOTSTRAP APP_ID LEDGER BATCH N STATUS_FILE...
 *
 * The ledger file holds every order ever acked to `orders` ("order id,customer,amount"), so each
 * check computes the expected per-customer totals over everything produced in the run.
 */
public final class Driver {
    static final int PARTITIONS = 4;
    static final int CUSTOMERS = 20;
    static final Set<String> ALL_TASKS = Set.of("0_0", "0_1", "0_2", "0_3", "1_0", "1_1", "1_2", "1_3");

    static final class Mismatch extends RuntimeException {
        Mismatch(String m) { super(m); }
    }

    static void check(boolean ok, String what) { if (!ok) throw new Mismatch(what); }

    static void checkEq(Object exp, Object got, String what) {
        if (!java.util.Objects.equals(exp, got)) throw new Mismatch(what + ": expected <" + exp + "> but got <" + got + ">");
    }

    static String label = "kafka-streams";

    static void log(String msg) {
        System.out.println(LocalTime.now() + " [" + label + "] " + msg);
        System.out.flush();
    }

    record Order(String id, String customer, long amount) {}

    public static void main(String[] args) {
        if (args.length < 2) {
            System.err.println("usage: Driver COMMAND BOOTSTRAP ...");
            System.exit(2);
        }
        String cmd = args[0];
        label = "kafka-streams/" + cmd;
        int code;
        long t0 = System.nanoTime();
        try {
            switch (cmd) {
                case "setup" -> setup(args[1]);
                case "eos-aggregate" -> eosAggregate(args[1], args[2], Path.of(args[3]));
                case "join" -> join(args[1], args[2], Path.of(args[3]));
                case "internal-topics" -> internalTopics(args[1], args[2]);
                case "repartition-purge" -> repartitionPurge(args[1], args[2], Path.of(args[3]));
                case "produce" -> produce(args[1], Path.of(args[2]), args[3], Integer.parseInt(args[4]), Long.parseLong(args[5]));
                case "kill-in-txn" -> killInTxn(args[1], args[2], Long.parseLong(args[3]), Path.of(args[4]));
                case "restore-check" -> restoreCheck(args[1], args[2], Path.of(args[3]), Path.of(args[4]), Path.of(args[5]));
                case "wait-tasks" -> waitTasks(args[1], args[2], Integer.parseInt(args[3]), paths(args, 4));
                case "progress" -> progress(args[1], args[2], Path.of(args[3]), args[4], Integer.parseInt(args[5]), paths(args, 6));
                default -> throw new IllegalArgumentException("unknown command " + cmd);
            }
            log("ok (" + (System.nanoTime() - t0) / 1_000_000 + " ms)");
            code = 0;
        } catch (Mismatch m) {
            System.err.println(LocalTime.now() + " [" + label + "] FAIL: " + m.getMessage());
            code = 1;
        } catch (Throwable t) {
            System.err.println(LocalTime.now() + " [" + label + "] FAIL: unexpected " + t);
            t.printStackTrace(System.err);
            code = 1;
        }
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(code);
    }

    static List<Path> paths(String[] args, int from) {
        List<Path> out = new ArrayList<>();
        for (int i = from; i < args.length; i++) out.add(Path.of(args[i]));
        return out;
    }

    // ---------------------------------------------------------------- clients

    static Admin admin(String bs) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bs);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "kstreams-driver-admin");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        return Admin.create(p);
    }

    static KafkaProducer<String, String> producer(String bs) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bs);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "kstreams-driver-producer");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 20000);
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> consumer(String bs, String isolation) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bs);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "kstreams-driver-consumer");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        return new KafkaConsumer<>(p);
    }

    static List<TopicPartition> partitions(String topic, int n) {
        List<TopicPartition> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new TopicPartition(topic, i));
        return out;
    }

    /** Everything on tps from the beginning up to the end offsets taken first (LSO for read_committed). */
    static List<ConsumerRecord<String, String>> readAll(String bs, String isolation, List<TopicPartition> tps, Duration max) {
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        try (KafkaConsumer<String, String> c = consumer(bs, isolation)) {
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> ends = c.endOffsets(tps);
            long deadline = System.nanoTime() + max.toNanos();
            while (true) {
                boolean done = true;
                for (TopicPartition tp : tps) if (c.position(tp) < ends.get(tp)) done = false;
                if (done) return out;
                check(System.nanoTime() < deadline, isolation + " read of " + tps + " did not reach " + ends + " within " + max.toSeconds() + " s");
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(300))) out.add(r);
            }
        }
    }

    // ---------------------------------------------------------------- ledger, producing

    static List<Order> ledger(Path f) throws IOException {
        List<Order> out = new ArrayList<>();
        if (!Files.exists(f)) return out;
        for (String l : Files.readAllLines(f)) {
            if (l.isBlank()) continue;
            String[] p = l.split(",");
            out.add(new Order(p[0], p[1], Long.parseLong(p[2])));
        }
        return out;
    }

    static List<Order> newOrders(String batch, int n) {
        Random rnd = new Random(batch.hashCode() * 31L + n);
        List<Order> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new Order(batch + "-" + i, String.format("c%02d", rnd.nextInt(CUSTOMERS)), 1 + rnd.nextInt(999)));
        }
        return out;
    }

    /**
     * Sends the orders (timestamp ts, or the producer's clock when null), spread over spreadMs,
     * appending each acked one to the ledger; fails unless every one was acked.
     */
    static void send(String bs, Path ledger, List<Order> orders, long spreadMs, Long ts) throws Exception {
        long gap = orders.isEmpty() ? 0 : spreadMs / orders.size();
        AtomicReference<Exception> failure = new AtomicReference<>();
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        try (BufferedWriter w = Files.newBufferedWriter(ledger, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
             KafkaProducer<String, String> p = producer(bs)) {
            long start = System.nanoTime();
            for (int i = 0; i < orders.size(); i++) {
                Order o = orders.get(i);
                ProducerRecord<String, String> r = new ProducerRecord<>(App.ORDERS, null, ts, o.id(), o.customer() + "," + o.amount());
                fs.add(p.send(r, (md, e) -> {
                    if (e != null) { failure.compareAndSet(null, e); return; }
                    synchronized (w) {
                        try { w.write(o.id() + "," + o.customer() + "," + o.amount() + "\n"); } catch (IOException io) { failure.compareAndSet(null, io); }
                    }
                }));
                if (gap > 0) {
                    long due = start + (i + 1) * gap * 1_000_000L;
                    long wait = (due - System.nanoTime()) / 1_000_000L;
                    if (wait > 0) Thread.sleep(wait);
                    if (i % 100 == 99) log("sent " + (i + 1) + "/" + orders.size());
                }
            }
            p.flush();
            for (Future<RecordMetadata> f : fs) f.get();
            synchronized (w) { w.flush(); }
        }
        if (failure.get() != null) throw failure.get();
    }

    static void produce(String bs, Path ledger, String batch, int n, long spreadMs) throws Exception {
        send(bs, ledger, newOrders(batch, n), spreadMs, null);
        log("batch " + batch + ": " + n + " orders acked over ~" + spreadMs + " ms");
    }

    // ---------------------------------------------------------------- setup

    static void setup(String bs) throws Exception {
        try (Admin a = admin(bs)) {
            a.createTopics(List.of(new NewTopic(App.ORDERS, PARTITIONS, (short) 1),
                                   new NewTopic(App.PAYMENTS, PARTITIONS, (short) 1),
                                   new NewTopic(App.TOTALS, 2, (short) 1),
                                   new NewTopic(App.JOINED, 2, (short) 1))).all().get();
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof org.apache.kafka.common.errors.TopicExistsException) {
                throw new Mismatch("the input/output topics exist already: run.sh needs a fresh broker (" + e.getCause().getMessage() + ")");
            }
            throw e;
        }
        try (Admin a = admin(bs)) {
            Map<String, TopicDescription> d = a.describeTopics(List.of(App.ORDERS, App.PAYMENTS, App.TOTALS, App.JOINED)).allTopicNames().get();
            checkEq(PARTITIONS, d.get(App.ORDERS).partitions().size(), "partitions of " + App.ORDERS);
            checkEq(PARTITIONS, d.get(App.PAYMENTS).partitions().size(), "partitions of " + App.PAYMENTS);
        }
        log("topics " + App.ORDERS + ", " + App.PAYMENTS + " (" + PARTITIONS + " partitions), " + App.TOTALS + ", " + App.JOINED + " (2)");
    }

    // ---------------------------------------------------------------- aggregate checks

    /**
     * Reads customer-totals with read_committed until every customer's last value is the expected
     * "count,sum" of the ledger (bounded), then checks the whole history exactly: customer c's
     * updates are counts 1..n_c, each once, in offset order, and the sum steps are c's order amounts
     * (as a multiset). Nothing else may follow. Then the store's changelog topic (read_committed):
     * the last value of every key is the same total.
     */
    static void checkTotals(String bs, String appId, List<Order> ledger, Duration max) {
        Map<String, List<Long>> amounts = new TreeMap<>();
        for (Order o : ledger) amounts.computeIfAbsent(o.customer(), k -> new ArrayList<>()).add(o.amount());
        Map<String, String> expected = new TreeMap<>();
        for (var e : amounts.entrySet()) expected.put(e.getKey(), e.getValue().size() + "," + e.getValue().stream().mapToLong(Long::longValue).sum());

        List<TopicPartition> tps = partitions(App.TOTALS, 2);
        Map<String, List<String>> seen = new TreeMap<>();
        int records = 0;
        try (KafkaConsumer<String, String> c = consumer(bs, "read_committed")) {
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.nanoTime() + max.toNanos();
            while (true) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(300))) {
                    seen.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(r.value());
                    records++;
                }
                Map<String, String> last = new TreeMap<>();
                for (var e : seen.entrySet()) last.put(e.getKey(), e.getValue().get(e.getValue().size() - 1));
                if (last.equals(expected)) break;
                if (System.nanoTime() > deadline) {
                    List<String> diff = new ArrayList<>();
                    for (String k : new TreeSet<String>() {{ addAll(expected.keySet()); addAll(last.keySet()); }}) {
                        if (!java.util.Objects.equals(expected.get(k), last.get(k))) diff.add(k + ": expected " + expected.get(k) + ", last seen " + last.get(k));
                    }
                    throw new Mismatch("read_committed " + App.TOTALS + " did not reach the ledger's totals (" + ledger.size()
                            + " orders) within " + max.toSeconds() + " s; " + records + " updates read; differing: " + diff);
                }
            }
            // nothing more may come: no duplicate update after the final one
            long quiet = System.nanoTime() + 1_000_000_000L;
            while (System.nanoTime() < quiet) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    throw new Mismatch("extra update after the final totals: " + r.key() + "=" + r.value() + " at " + r.topic() + "-" + r.partition() + "@" + r.offset());
                }
            }
        }
        for (var e : amounts.entrySet()) {
            String cust = e.getKey();
            List<String> ups = seen.get(cust);
            checkEq(e.getValue().size(), ups.size(), "number of read_committed updates of " + cust + " (one per order: no duplicate, none lost)");
            List<Long> steps = new ArrayList<>();
            long prev = 0;
            for (int i = 0; i < ups.size(); i++) {
                String[] cs = ups.get(i).split(",");
                checkEq((long) (i + 1), Long.parseLong(cs[0]), cust + ": count of update #" + (i + 1) + " (" + ups.subList(Math.max(0, i - 2), i + 1) + ")");
                long sum = Long.parseLong(cs[1]);
                steps.add(sum - prev);
                prev = sum;
            }
            List<Long> a = new ArrayList<>(e.getValue()), b = new ArrayList<>(steps);
            a.sort(null);
            b.sort(null);
            checkEq(a, b, cust + ": sum increments vs the customer's order amounts");
        }
        log("read_committed " + App.TOTALS + ": " + records + " updates, exactly one per order; " + expected.size() + " customers' totals exact");

        int uncommitted = readAll(bs, "read_uncommitted", tps, Duration.ofSeconds(20)).size();
        log("read_uncommitted view of " + App.TOTALS + ": " + uncommitted + " records (" + (uncommitted - records) + " from aborted transactions)");
        check(uncommitted >= records, "read_uncommitted sees fewer records (" + uncommitted + ") than read_committed (" + records + ")");

        String changelog = appId + "-" + App.STORE + "-changelog";
        Map<String, String> cl = new TreeMap<>();
        List<ConsumerRecord<String, String>> recs = readAll(bs, "read_committed", partitions(changelog, PARTITIONS), Duration.ofSeconds(20));
        for (ConsumerRecord<String, String> r : recs) cl.put(r.key(), r.value());
        checkEq(expected, cl, "last value per key in " + changelog + " (read_committed, " + recs.size() + " records)");
        log(changelog + ": " + recs.size() + " records, last value per customer = the totals");
    }

    static void eosAggregate(String bs, String appId, Path ledger) throws Exception {
        produce(bs, ledger, "eos", 400, 0);
        checkTotals(bs, appId, ledger(ledger), Duration.ofSeconds(40));
    }

    // ---------------------------------------------------------------- join

    static int partitionOf(String key) {
        return Utils.toPositive(Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % PARTITIONS;
    }

    /**
     * Orders and payments with explicit timestamps around t0; the join window is +-10 s
     * (inclusive). Cases, 8 order ids each: payment +3 s, -7 s, +10 s (boundary), two payments
     * (+1 s, +2 s) -> joined; payment +10.001 s, -15 s, no payment, payment without order -> not.
     * Last, per partition, a sentinel pair at t0+20 s: once its result is there, every earlier
     * record of that partition was processed, so the result set must then be exactly the
     * expected one (and each result's timestamp is the later of the two inputs').
     */
    static void join(String bs, String appId, Path ledgerPath) throws Exception {
        long t0 = System.currentTimeMillis() / 1000 * 1000;
        Random rnd = new Random(7);
        List<Object[]> orders = new ArrayList<>();    // Order, ts
        List<Object[]> pays = new ArrayList<>();      // key, value, ts
        Map<String, Integer> expected = new TreeMap<>();  // key|value|ts -> count
        long[][] cases = {
            {3000}, {-7000}, {10000}, {1000, 2000},    // joined
            {10001}, {-15000}, {}, {Long.MIN_VALUE},    // not joined (MIN_VALUE: payment without an order)
        };
        for (int c = 0; c < cases.length; c++) {
            for (int i = 0; i < 8; i++) {
                String id = "join" + c + "-" + i;
                Order o = new Order(id, String.format("c%02d", rnd.nextInt(CUSTOMERS)), 1 + rnd.nextInt(999));
                boolean orphan = cases[c].length == 1 && cases[c][0] == Long.MIN_VALUE;
                if (!orphan) orders.add(new Object[] {o, t0});
                int k = 0;
                for (long d : cases[c]) {
                    long pts = orphan ? t0 : t0 + d;
                    String pv = "pay-" + id + "-" + (k++);
                    pays.add(new Object[] {id, pv, pts});
                    if (!orphan && Math.abs(d) <= 10000) expected.merge(id + "|" + o.customer() + "," + o.amount() + "|" + pv + "|" + Math.max(t0, pts), 1, Integer::sum);
                }
            }
        }
        // sentinels, one per partition, produced after everything else
        List<Object[]> sentinelOrders = new ArrayList<>(), sentinelPays = new ArrayList<>();
        Set<Integer> covered = new HashSet<>();
        for (int i = 0; covered.size() < PARTITIONS; i++) {
            String id = "join-sentinel-" + i;
            if (!covered.add(partitionOf(id))) continue;
            Order o = new Order(id, String.format("c%02d", rnd.nextInt(CUSTOMERS)), 1 + rnd.nextInt(999));
            sentinelOrders.add(new Object[] {o, t0 + 20000});
            String pv = "pay-" + id;
            sentinelPays.add(new Object[] {id, pv, t0 + 20000});
            expected.merge(id + "|" + o.customer() + "," + o.amount() + "|" + pv + "|" + (t0 + 20000), 1, Integer::sum);
        }
        int expectedCount = expected.values().stream().mapToInt(Integer::intValue).sum();

        sendRound(bs, ledgerPath, orders, pays);
        sendRound(bs, ledgerPath, sentinelOrders, sentinelPays);
        log((orders.size() + sentinelOrders.size()) + " orders, " + (pays.size() + sentinelPays.size()) + " payments produced; expecting "
                + expectedCount + " join results");

        Map<String, Integer> got = new TreeMap<>();
        int n = 0;
        Set<String> sentinelsSeen = new HashSet<>();
        List<TopicPartition> tps = partitions(App.JOINED, 2);
        try (KafkaConsumer<String, String> c = consumer(bs, "read_committed")) {
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
            while (sentinelsSeen.size() < PARTITIONS || n < expectedCount) {
                if (System.nanoTime() > deadline) {
                    throw new Mismatch("join results: " + n + " of " + expectedCount + " after 40 s (sentinels seen " + sentinelsSeen + "); got " + got);
                }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(300))) {
                    got.merge(r.key() + "|" + r.value() + "|" + r.timestamp(), 1, Integer::sum);
                    n++;
                    if (r.key().startsWith("join-sentinel-")) sentinelsSeen.add(r.key());
                }
            }
            long quiet = System.nanoTime() + 1_000_000_000L;
            while (System.nanoTime() < quiet) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    got.merge(r.key() + "|" + r.value() + "|" + r.timestamp(), 1, Integer::sum);
                    n++;
                }
            }
        }
        if (!got.equals(expected)) {
            List<String> missing = new ArrayList<>(), extra = new ArrayList<>();
            for (var e : expected.entrySet()) if (!e.getValue().equals(got.get(e.getKey()))) missing.add(e.getKey() + " x" + e.getValue() + " (got " + got.get(e.getKey()) + ")");
            for (var e : got.entrySet()) if (!expected.containsKey(e.getKey())) extra.add(e.getKey() + " x" + e.getValue());
            throw new Mismatch("join results (key|order|payment|timestamp) differ: missing/wrong count " + missing + "; unexpected " + extra);
        }
        log("read_committed " + App.JOINED + ": exactly the " + expectedCount + " expected pairs (window +-10 s inclusive, timestamps = later input), none outside the window");
    }

    /** Orders ({Order, ts}) and payments ({key, value, ts}), all acked, then the orders into the ledger. */
    static void sendRound(String bs, Path ledgerPath, List<Object[]> orders, List<Object[]> pays) throws Exception {
        try (KafkaProducer<String, String> p = producer(bs)) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (Object[] x : orders) {
                Order o = (Order) x[0];
                fs.add(p.send(new ProducerRecord<>(App.ORDERS, null, (Long) x[1], o.id(), o.customer() + "," + o.amount())));
            }
            for (Object[] x : pays) fs.add(p.send(new ProducerRecord<>(App.PAYMENTS, null, (Long) x[2], (String) x[0], (String) x[1])));
            p.flush();
            for (Future<RecordMetadata> f : fs) f.get();
        }
        try (BufferedWriter w = Files.newBufferedWriter(ledgerPath, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            for (Object[] x : orders) {
                Order o = (Order) x[0];
                w.write(o.id() + "," + o.customer() + "," + o.amount() + "\n");
            }
        }
    }

    // ---------------------------------------------------------------- internal topics

    static Map<String, ConfigEntry> configs(Admin a, String topic) throws Exception {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config c = a.describeConfigs(List.of(r)).all().get().get(r);
        Map<String, ConfigEntry> out = new TreeMap<>();
        for (ConfigEntry e : c.entries()) out.put(e.name(), e);
        return out;
    }

    /** Topic configs Streams sets when it creates its internal topics (name -> value), per topic. */
    static Map<String, Map<String, String>> expectedInternal(String appId) {
        Map<String, Map<String, String>> m = new TreeMap<>();
        m.put(appId + "-" + App.REPARTITION_NAME + "-repartition",
              Map.of("cleanup.policy", "delete", "retention.ms", "-1", "segment.bytes", "52428800", "message.timestamp.type", "CreateTime"));
        m.put(appId + "-" + App.STORE + "-changelog",
              Map.of("cleanup.policy", "compact", "message.timestamp.type", "CreateTime"));
        // the join's window stores keep duplicates, so their changelogs are not compacted:
        // delete only, retention = before + after + grace, plus
        // windowstore.changelog.additional.retention.ms (1 day)
        String winRetention = String.valueOf(2 * App.JOIN_WINDOW.toMillis() + App.JOIN_GRACE.toMillis() + 86_400_000L);
        for (String side : new String[] {"this", "other"}) {
            m.put(appId + "-" + App.JOIN_STORE + "-" + side + "-join-store-changelog",
                  Map.of("cleanup.policy", "delete", "retention.ms", winRetention, "message.timestamp.type", "CreateTime"));
        }
        return m;
    }

    static void internalTopics(String bs, String appId) throws Exception {
        Map<String, Map<String, String>> exp = expectedInternal(appId);
        try (Admin a = admin(bs)) {
            Set<String> names = new TreeSet<>();
            for (String t : a.listTopics().names().get()) if (t.startsWith(appId + "-")) names.add(t);
            checkEq(exp.keySet(), names, "topics named " + appId + "-*");
            Map<String, TopicDescription> d = a.describeTopics(names).allTopicNames().get();
            for (String t : names) {
                checkEq(PARTITIONS, d.get(t).partitions().size(), "partitions of " + t);
                // replication.factor -1 (Streams' default): the broker's default.replication.factor
                checkEq(1, d.get(t).partitions().get(0).replicas().size(), "replicas of " + t + "-0");
                check(!d.get(t).isInternal(), t + " is flagged internal in Metadata (only the broker's own topics are)");
                Map<String, ConfigEntry> cfg = configs(a, t);
                List<String> overrides = new ArrayList<>();
                for (ConfigEntry ce : cfg.values()) if (ce.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG) overrides.add(ce.name() + "=" + ce.value());
                log(t + ": " + PARTITIONS + " partitions, overrides " + overrides);
                for (var e : exp.get(t).entrySet()) {
                    ConfigEntry ce = cfg.get(e.getKey());
                    check(ce != null, t + ": no config " + e.getKey() + " in DescribeConfigs");
                    checkEq(e.getValue(), ce.value(), t + ": " + e.getKey());
                    checkEq(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, ce.source(), t + ": source of " + e.getKey());
                }
                checkEq(new TreeSet<>(exp.get(t).keySet()), new TreeSet<>(overrides.stream().map(s -> s.substring(0, s.indexOf('='))).toList()),
                        t + ": the set of topic-level overrides");
            }
            ConsumerGroupDescription g = a.describeConsumerGroups(List.of(appId)).all().get().get(appId);
            checkEq(GroupType.CLASSIC, g.type(), "type of group " + appId);
            checkEq("stream", g.partitionAssignor(), "assignor (protocol) of group " + appId);
            log("group " + appId + ": " + g.type() + ", protocol " + g.partitionAssignor() + ", state " + g.groupState() + ", " + g.members().size() + " member(s)");
        }
    }

    // ---------------------------------------------------------------- repartition purge

    /**
     * Streams deletes the records of its repartition topic below the committed offsets
     * (DeleteRecords, every repartition.purge.interval.ms = 500 ms here). Produces 100 orders, then
     * waits (bounded) until
     * every partition that holds records has a log start offset (ListOffsets EARLIEST) above 0
     * and equal to the group's committed offset for it, and a consumer seeking to the beginning
     * starts there.
     */
    static void repartitionPurge(String bs, String appId, Path ledger) throws Exception {
        produce(bs, ledger, "purge", 100, 0);
        String topic = appId + "-" + App.REPARTITION_NAME + "-repartition";
        List<TopicPartition> tps = partitions(topic, PARTITIONS);
        try (Admin a = admin(bs)) {
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            Map<TopicPartition, Long> earliest, latest;
            Map<TopicPartition, OffsetAndMetadata> committed;
            while (true) {
                earliest = offsets(a, tps, OffsetSpec.earliest());
                latest = offsets(a, tps, OffsetSpec.latest());
                committed = a.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get();
                boolean ok = true;
                int nonEmpty = 0;
                for (TopicPartition tp : tps) {
                    if (latest.get(tp) == 0) continue;
                    nonEmpty++;
                    OffsetAndMetadata c = committed.get(tp);
                    if (earliest.get(tp) == 0 || c == null || c.offset() != earliest.get(tp)) ok = false;
                }
                if (ok && nonEmpty > 0) break;
                if (System.nanoTime() > deadline) {
                    Map<TopicPartition, Long> com = new HashMap<>();
                    for (TopicPartition tp : tps) com.put(tp, committed.get(tp) == null ? null : committed.get(tp).offset());
                    throw new Mismatch("repartition topic " + topic + " not purged to the committed offsets within 30 s: earliest "
                            + new TreeMap<>(strKeys(earliest)) + ", latest " + new TreeMap<>(strKeys(latest)) + ", committed " + new TreeMap<>(strKeys(com)));
                }
                Thread.sleep(300);
            }
            for (TopicPartition tp : tps) {
                log(tp + ": log start " + earliest.get(tp) + " = committed " + (committed.get(tp) == null ? null : committed.get(tp).offset())
                        + ", end " + latest.get(tp));
            }
        }
        try (KafkaConsumer<String, String> c = consumer(bs, "read_committed")) {
            c.assign(tps);
            c.seekToBeginning(tps);
            try (Admin a = admin(bs)) {
                Map<TopicPartition, Long> earliest = offsets(a, tps, OffsetSpec.earliest());
                for (TopicPartition tp : tps) {
                    long pos = c.position(tp);
                    check(pos >= earliest.get(tp), tp + ": seekToBeginning position " + pos + " below the log start " + earliest.get(tp));
                }
            }
        }
    }

    static Map<String, Long> strKeys(Map<TopicPartition, Long> m) {
        Map<String, Long> out = new HashMap<>();
        for (var e : m.entrySet()) out.put(e.getKey().toString(), e.getValue());
        return out;
    }

    static Map<TopicPartition, Long> offsets(Admin a, Collection<TopicPartition> tps, OffsetSpec spec) throws Exception {
        Map<TopicPartition, OffsetSpec> q = new HashMap<>();
        for (TopicPartition tp : tps) q.put(tp, spec);
        Map<TopicPartition, Long> out = new HashMap<>();
        for (var e : a.listOffsets(q).all().get().entrySet()) out.put(e.getKey(), e.getValue().offset());
        return out;
    }

    // ---------------------------------------------------------------- kill-restore

    static Map<String, String> status(Path f) throws IOException {
        Map<String, String> m = new TreeMap<>();
        if (!Files.exists(f)) return m;
        for (String l : Files.readAllLines(f)) {
            int i = l.indexOf('=');
            if (i > 0) m.put(l.substring(0, i), l.substring(i + 1));
        }
        return m;
    }

    static long num(Map<String, String> st, String key) {
        String v = st.get(key);
        return v == null || v.isEmpty() ? 0 : Long.parseLong(v);
    }

    /**
     * SIGKILLs the instance PID while its Streams producer has a transaction open on the broker:
     * polls ListTransactions (state filter ONGOING) for a transactional id of APP_ID and
     * DescribeTransactions until one has partitions and started under 80 ms ago (a commit every
     * 200 ms: well before its EndTxn), then kills. Afterwards the transaction must still be
     * ONGOING (nobody is left to end it); its id, producer id and epoch go to TXN_FILE.
     */
    static void killInTxn(String bs, String appId, long pid, Path txnFile) throws Exception {
        ProcessHandle victim = ProcessHandle.of(pid).orElseThrow(() -> new Mismatch("no process " + pid));
        try (Admin a = admin(bs)) {
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            int polls = 0;
            TransactionDescription open = null;
            String id = null;
            while (open == null) {
                check(System.nanoTime() < deadline, "no open transaction of " + appId + " seen within 20 s (" + polls + " polls)");
                check(victim.isAlive(), "instance " + pid + " died before the kill");
                polls++;
                List<String> ids = new ArrayList<>();
                for (TransactionListing l : a.listTransactions(new ListTransactionsOptions().filterStates(List.of(TransactionState.ONGOING))).all().get()) {
                    check(l.state() == TransactionState.ONGOING, "ListTransactions filtered on ONGOING returned " + l);
                    if (l.transactionalId().startsWith(appId + "-")) ids.add(l.transactionalId());
                }
                if (ids.isEmpty()) { Thread.sleep(3); continue; }
                for (var e : a.describeTransactions(ids).all().get().entrySet()) {
                    TransactionDescription d = e.getValue();
                    long age = System.currentTimeMillis() - d.transactionStartTimeMs().orElse(0);
                    if (d.state() == TransactionState.ONGOING && !d.topicPartitions().isEmpty() && age < 80) {
                        open = d;
                        id = e.getKey();
                        break;
                    }
                }
            }
            check(victim.destroyForcibly(), "SIGKILL to " + pid + " not sent");
            victim.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
            log("SIGKILLed instance " + pid + " inside transaction " + id + " (producer id " + open.producerId() + ", epoch "
                    + open.producerEpoch() + ", " + open.topicPartitions().size() + " partitions) after " + polls + " polls");
            TransactionDescription after = a.describeTransactions(List.of(id)).all().get().get(id);
            check(after.state() == TransactionState.ONGOING && after.producerId() == open.producerId(),
                  "right after the kill the transaction is not the open one any more (raced with its EndTxn?): " + after);
            Files.writeString(txnFile, id + " " + open.producerId() + " " + open.producerEpoch() + "\n");
        }
    }

    static void restoreCheck(String bs, String appId, Path ledger, Path statusFile, Path txnFile) throws Exception {
        String changelog = appId + "-" + App.STORE + "-changelog";
        String[] killed = Files.readString(txnFile).trim().split(" ");
        try (Admin a = admin(bs)) {
            // the coordinator aborts it once transaction.timeout.ms (6 s) has passed (Kafka checks
            // every transaction.abort.timed.out.transaction.cleanup.interval.ms, 10 s)
            long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
            TransactionDescription d;
            while (true) {
                d = a.describeTransactions(List.of(killed[0])).all().get().get(killed[0]);
                if (d.state() != TransactionState.ONGOING && d.state() != TransactionState.PREPARE_ABORT) break;
                check(System.nanoTime() < deadline, "the SIGKILLed instance's transaction " + killed[0] + " not aborted within 40 s: " + d);
                Thread.sleep(300);
            }
            log("the SIGKILLed instance's transaction after its timeout: " + d);
            checkEq(TransactionState.COMPLETE_ABORT, d.state(), "state of the timed-out transaction " + killed[0]);
            checkEq(Long.parseLong(killed[1]), d.producerId(), "producer id of " + killed[0]);
            check(d.producerEpoch() > Integer.parseInt(killed[2]), "epoch of " + killed[0] + " not bumped by the timeout abort: " + d.producerEpoch() + " (was " + killed[2] + ")");
            ConfigEntry cp = configs(a, changelog).get("cleanup.policy");
            check(cp != null, changelog + ": no cleanup.policy in DescribeConfigs");
            checkEq("compact", cp.value(), changelog + ": cleanup.policy");
            log(changelog + ": cleanup.policy=" + cp.value() + " (" + cp.source() + ")");
        }
        // long bound: the SIGKILLed instance's open transaction is only aborted after its
        // transaction.timeout.ms (6 s) plus the coordinator's check interval
        checkTotals(bs, appId, ledger(ledger), Duration.ofSeconds(60));
        Map<String, String> st = status(statusFile);
        long restored = num(st, "restored." + App.STORE);
        check(restored > 0, "the restarted instance restored no " + App.STORE + " records from " + changelog + " (status " + st + ")");
        checkEq(String.valueOf(PARTITIONS), st.get("restore_done." + App.STORE), "changelog partitions whose restore completed");
        log("restarted instance restored " + restored + " " + App.STORE + " records from " + changelog + " (" + PARTITIONS + " partitions)");
    }

    // ---------------------------------------------------------------- rebalance

    static Set<TopicPartition> taskPartitions(String appId, String task) {
        int p = Integer.parseInt(task.substring(2));
        if (task.startsWith("0_")) return Set.of(new TopicPartition(App.ORDERS, p), new TopicPartition(App.PAYMENTS, p));
        return Set.of(new TopicPartition(appId + "-" + App.REPARTITION_NAME + "-repartition", p));
    }

    static Set<String> tasksOf(Map<String, String> st) {
        String a = st.getOrDefault("active", "");
        return a.isEmpty() ? Set.of() : new TreeSet<>(List.of(a.split(",")));
    }

    /**
     * Waits (bounded) until the instances behind the status files are all RUNNING and their
     * active tasks are disjoint, each non-empty and together all 8 tasks, and the group as the
     * broker describes it (DescribeGroups) is Stable with exactly those members (by client id),
     * each assigned exactly the partitions of its instance's tasks.
     */
    static void waitTasks(String bs, String appId, int timeoutS, List<Path> statusFiles) throws Exception {
        long deadline = System.nanoTime() + timeoutS * 1_000_000_000L;
        String why = "";
        try (Admin a = admin(bs)) {
            while (true) {
                why = splitProblem(a, appId, statusFiles);
                if (why == null) break;
                check(System.nanoTime() < deadline, "task assignment not settled within " + timeoutS + " s: " + why);
                Thread.sleep(300);
            }
        }
        for (Path f : statusFiles) {
            Map<String, String> st = status(f);
            log(f.getFileName() + " (" + st.get("consumer") + "): active tasks " + tasksOf(st));
        }
    }

    static String splitProblem(Admin a, String appId, List<Path> statusFiles) throws Exception {
        Set<String> union = new TreeSet<>();
        Map<String, Set<TopicPartition>> wantByConsumer = new TreeMap<>();
        for (Path f : statusFiles) {
            Map<String, String> st = status(f);
            if (!"RUNNING".equals(st.get("state"))) return f.getFileName() + " state " + st.get("state") + " " + st.getOrDefault("error", "");
            Set<String> t = tasksOf(st);
            if (t.isEmpty()) return f.getFileName() + " has no active task";
            for (String x : t) if (!union.add(x)) return "task " + x + " active on two instances";
            Set<TopicPartition> parts = new HashSet<>();
            for (String x : t) parts.addAll(taskPartitions(appId, x));
            wantByConsumer.put(st.get("consumer"), parts);
        }
        if (!union.equals(ALL_TASKS)) return "active tasks together " + union + ", not " + new TreeSet<>(ALL_TASKS);
        ConsumerGroupDescription g = a.describeConsumerGroups(List.of(appId)).all().get().get(appId);
        if (g.groupState() != GroupState.STABLE) return "group state " + g.groupState();
        if (g.members().size() != statusFiles.size()) return "group has " + g.members().size() + " members, not " + statusFiles.size();
        checkEq("stream", g.partitionAssignor(), "assignor of group " + appId);
        for (MemberDescription m : g.members()) {
            Set<TopicPartition> want = wantByConsumer.get(m.clientId());
            if (want == null) return "group member with client id " + m.clientId() + " is none of " + wantByConsumer.keySet();
            Set<TopicPartition> have = new HashSet<>(m.assignment().topicPartitions());
            if (!have.equals(want)) return "member " + m.clientId() + " assigned " + have + " in DescribeGroups, its tasks need " + want;
        }
        return null;
    }

    /**
     * Produces N orders (batch BATCH) while the instances run, checks the totals exactly, and that
     * every instance kept processing: its join-side counter moved if it owns a 0_x task, its
     * aggregator counter if it owns a 1_x task; together the counters moved at least N each.
     */
    static void progress(String bs, String appId, Path ledger, String batch, int n, List<Path> statusFiles) throws Exception {
        List<Map<String, String>> before = new ArrayList<>();
        for (Path f : statusFiles) before.add(status(f));
        produce(bs, ledger, batch, n, 0);
        checkTotals(bs, appId, ledger(ledger), Duration.ofSeconds(40));
        Thread.sleep(400);   // > the status files' 200 ms refresh
        long sumSeen = 0, sumAgg = 0;
        for (int i = 0; i < statusFiles.size(); i++) {
            Map<String, String> st = status(statusFiles.get(i));
            Set<String> t = tasksOf(st);
            long seen = num(st, "orders_seen") - num(before.get(i), "orders_seen");
            long agg = num(st, "aggregated") - num(before.get(i), "aggregated");
            log(statusFiles.get(i).getFileName() + " tasks " + t + ": +" + seen + " orders at the join, +" + agg + " aggregated");
            if (t.stream().anyMatch(x -> x.startsWith("0_"))) check(seen > 0, statusFiles.get(i).getFileName() + " owns " + t + " but processed no order");
            if (t.stream().anyMatch(x -> x.startsWith("1_"))) check(agg > 0, statusFiles.get(i).getFileName() + " owns " + t + " but aggregated nothing");
            sumSeen += seen;
            sumAgg += agg;
        }
        check(sumSeen >= n, "orders seen by the instances together: " + sumSeen + " < " + n);
        check(sumAgg >= n, "orders aggregated by the instances together: " + sumAgg + " < " + n);
    }
}
