package compat;

import static compat.Common.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;

/**
 * Used by restart/run.sh across broker restarts on one data dir.
 *
 *   Durability BOOTSTRAP produce STATE_FILE        create a topic, write records, cut
 *                                                  partition 0 with deleteRecords, save
 *                                                  everything that was acked
 *   Durability BOOTSTRAP verify  STATE_FILE APPEND check the topic (id, partitions,
 *                                                  config), low watermark and every acked
 *                                                  record, then append APPEND more records
 *                                                  and add them to the state file
 */
public final class Durability {
    static final String NAME = "java/Durability";
    static final int PARTITIONS = 3;
    static final String RETENTION = "86400001";
    static final long CUT = 10; // deleteRecords(partition 0, before 10)

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        if (args.length < 3) {
            System.err.println("usage: Durability BOOTSTRAP produce|verify STATE_FILE [APPEND]");
            System.exit(2);
        }
        String mode = args[1];
        Path state = Path.of(args[2]);
        int append = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        run(NAME + "/" + mode, () -> {
            if (mode.equals("produce")) produce(bootstrap, state);
            else verify(bootstrap, state, append);
        });
    }

    /** State file: "topic NAME ID", then "rec PARTITION OFFSET KEY_B64 VALUE_B64" lines. */
    static void produce(String bootstrap, Path state) throws Exception {
        String topic = uniqueTopic("java-durable");
        String topicId;
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1).configs(Map.of("retention.ms", RETENTION)))).all().get();
            topicId = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).topicId().toString();
        }
        List<String> lines = new ArrayList<>();
        lines.add("topic " + topic + " " + topicId);
        // partition 0 gets at least CUT records so that the deleteRecords cut is meaningful
        lines.addAll(write(bootstrap, topic, 0, 300, true));
        try (Admin admin = admin(bootstrap)) {
            long lw = admin.deleteRecords(Map.of(new TopicPartition(topic, 0), RecordsToDelete.beforeOffset(CUT)))
                    .lowWatermarks().get(new TopicPartition(topic, 0)).get().lowWatermark();
            checkEq(CUT, lw, "deleteRecords low watermark");
        }
        Files.write(state, lines, StandardCharsets.UTF_8);
        log(NAME, "wrote " + (lines.size() - 1) + " records to " + topic + " (id " + topicId + ")");
    }

    static List<String> write(String bootstrap, String topic, int start, int n, boolean forcePartition0) throws Exception {
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        List<byte[]> keys = new ArrayList<>(), vals = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, null)) {
            for (int i = start; i < start + n; i++) {
                byte[] k = utf8("dk-" + i), v = utf8("durable-value-" + i + "-" + "d".repeat(i % 17));
                keys.add(k);
                vals.add(v);
                Integer part = (forcePartition0 && i - start < 2 * CUT) ? Integer.valueOf(0) : null;
                fs.add(p.send(new ProducerRecord<>(topic, part, k, v)));
            }
            p.flush();
        }
        List<String> lines = new ArrayList<>();
        Base64.Encoder b64 = Base64.getEncoder();
        for (int i = 0; i < n; i++) {
            RecordMetadata md = fs.get(i).get();
            lines.add("rec " + md.partition() + " " + md.offset() + " " + b64.encodeToString(keys.get(i)) + " " + b64.encodeToString(vals.get(i)));
        }
        return lines;
    }

    static void verify(String bootstrap, Path state, int append) throws Exception {
        List<String> lines = Files.readAllLines(state, StandardCharsets.UTF_8);
        String[] head = lines.get(0).split(" ");
        String topic = head[1], topicId = head[2];
        Map<TopicPartition, TreeMap<Long, String[]>> expected = new HashMap<>();
        for (String l : lines.subList(1, lines.size())) {
            String[] f = l.split(" ");
            expected.computeIfAbsent(new TopicPartition(topic, Integer.parseInt(f[1])), k -> new TreeMap<>())
                    .put(Long.parseLong(f[2]), new String[] {f[3], f[4]});
        }
        try (Admin admin = admin(bootstrap)) {
            TopicDescription td = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            checkEq(PARTITIONS, td.partitions().size(), "partitions of " + topic + " after restart");
            checkEq(topicId, td.topicId().toString(), "topic id of " + topic + " after restart");
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Config cfg = admin.describeConfigs(List.of(res)).all().get().get(res);
            check(cfg.get("retention.ms") != null, "retention.ms missing after restart");
            checkEq(RETENTION, cfg.get("retention.ms").value(), "retention.ms after restart");
        }
        int total = 0;
        Base64.Decoder d = Base64.getDecoder();
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < PARTITIONS; p++) tps.add(new TopicPartition(topic, p));
            Map<TopicPartition, Long> begin = c.beginningOffsets(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            checkEq(CUT, begin.get(tps.get(0)), "log start offset of partition 0 (deleteRecords) after restart");
            int want = 0;
            for (TopicPartition tp : tps) {
                TreeMap<Long, String[]> exp = expected.getOrDefault(tp, new TreeMap<>());
                long n = exp.isEmpty() ? 0 : exp.lastKey() + 1;
                checkEq(n, end.get(tp), "end offset of " + tp + " after restart");
                if (tp.partition() != 0) checkEq(0L, begin.get(tp), "log start offset of " + tp + " after restart");
                want += exp.tailMap(begin.get(tp)).size();
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            List<ConsumerRecord<byte[], byte[]>> got = pollAtLeast(c, want, Duration.ofSeconds(30));
            checkEq(want, got.size(), "records readable after restart");
            for (ConsumerRecord<byte[], byte[]> r : got) {
                TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                String[] e = expected.getOrDefault(tp, new TreeMap<>()).get(r.offset());
                check(e != null, "record at " + tp + "@" + r.offset() + " was never acked");
                checkEq(d.decode(e[0]), r.key(), "key at " + tp + "@" + r.offset() + " after restart");
                checkEq(d.decode(e[1]), r.value(), "value at " + tp + "@" + r.offset() + " after restart");
            }
            total = got.size();
        }
        log(NAME, "all " + total + " readable acked records intact after restart");
        if (append > 0) {
            int start = lines.size() - 1 + 1000; // distinct keys
            List<String> more = write(bootstrap, topic, start, append, false);
            // offsets continue where the recovered log ended
            for (String l : more) {
                String[] f = l.split(" ");
                TopicPartition tp = new TopicPartition(topic, Integer.parseInt(f[1]));
                TreeMap<Long, String[]> exp = expected.computeIfAbsent(tp, k -> new TreeMap<>());
                long next = exp.isEmpty() ? 0 : exp.lastKey() + 1;
                checkEq(next, Long.parseLong(f[2]), "offset of a record appended after restart on " + tp);
                exp.put(next, new String[] {f[3], f[4]});
            }
            List<String> all = new ArrayList<>(lines);
            all.addAll(more);
            Files.write(state, all, StandardCharsets.UTF_8);
            log(NAME, "appended " + append + " records after restart");
        }
    }

}
