package compat;

import static compat.Common.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

/**
 * The Java consumer side of connect-debezium/run.sh (the checks themselves are in
 * connect-debezium/check.py, which reads what this prints):
 *
 *   CdcTool dump BOOTSTRAP TOPIC read_committed|read_uncommitted
 *     reads every partition of TOPIC from the beginning up to its end offsets (the last
 *     stable offset under read_committed) and prints one line per record:
 *     PARTITION \t OFFSET \t KEY \t VALUE   (UTF-8; null as \N; \ \t \n escaped)
 *   CdcTool committed BOOTSTRAP GROUP TOPIC
 *     prints PARTITION \t COMMITTED_OFFSET \t END_OFFSET for each partition of TOPIC
 *     (committed -1 when the group has none)
 */
public final class CdcTool {
    public static void main(String[] args) {
        if (args.length < 3) usage();
        switch (args[0]) {
            case "dump" -> run("java/CdcTool-dump", () -> dump(args[1], args[2], args.length > 3 ? args[3] : "read_committed"));
            case "committed" -> run("java/CdcTool-committed", () -> committed(args[1], args[2], args.length > 3 ? args[3] : null));
            default -> usage();
        }
    }

    static void usage() {
        System.err.println("usage: CdcTool dump BOOTSTRAP TOPIC [ISOLATION] | CdcTool committed BOOTSTRAP GROUP TOPIC");
        System.exit(2);
    }

    static List<TopicPartition> partitions(String bootstrap, String topic) {
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
            List<PartitionInfo> infos = c.partitionsFor(topic, Duration.ofSeconds(20));
            check(infos != null && !infos.isEmpty(), "topic " + topic + " exists");
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : infos) tps.add(new TopicPartition(topic, pi.partition()));
            tps.sort((a, b) -> Integer.compare(a.partition(), b.partition()));
            return tps;
        }
    }

    static void dump(String bootstrap, String topic, String isolation) {
        List<TopicPartition> tps = partitions(bootstrap, topic);
        List<ConsumerRecord<byte[], byte[]>> recs = readToEnd(bootstrap, isolation, tps, Duration.ofSeconds(60), null);
        StringBuilder out = new StringBuilder();
        for (ConsumerRecord<byte[], byte[]> r : recs) {
            out.append(r.partition()).append('\t').append(r.offset()).append('\t')
               .append(escape(r.key())).append('\t').append(escape(r.value())).append('\n');
        }
        System.out.print(out);
        System.out.flush();
    }

    static void committed(String bootstrap, String group, String topic) throws Exception {
        check(topic != null, "a topic is given");
        List<TopicPartition> tps = partitions(bootstrap, topic);
        Map<TopicPartition, Long> ends;
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
            ends = c.endOffsets(tps);
        }
        try (Admin admin = admin(bootstrap)) {
            Map<TopicPartition, OffsetAndMetadata> got = admin
                .listConsumerGroupOffsets(Map.of(group, new ListConsumerGroupOffsetsSpec().topicPartitions(tps)))
                .partitionsToOffsetAndMetadata(group).get();
            for (TopicPartition tp : tps) {
                OffsetAndMetadata om = got.get(tp);
                System.out.println(tp.partition() + "\t" + (om == null ? -1 : om.offset()) + "\t" + ends.get(tp));
            }
        }
    }

    static String escape(byte[] b) {
        if (b == null) return "\\N";
        String s = new String(b, StandardCharsets.UTF_8);
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n");
    }
}
