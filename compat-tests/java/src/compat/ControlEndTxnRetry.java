package compat;

import static compat.Common.*;

import java.time.Duration;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * A fault rule closes the connection after EndTxn(commit) was applied and before its answer:
 * the commit happened but the producer cannot know. The Java producer reconnects and retries
 * EndTxn; the coordinator recognises the retry, so commitTransaction succeeds, the three
 * records are read by read_committed exactly once, the rule fired exactly once, and the next
 * transaction of the same producer commits too (it was not fenced).
 */
public final class ControlEndTxnRetry {
    static final String NAME = "java/ControlEndTxnRetry";

    public static void main(String[] args) {
        run(NAME, ControlEndTxnRetry::body);
    }

    static void body() throws Exception {
        ControlApi cluster = ControlApi.fromEnv().newCluster("{}");
        String bootstrap = cluster.bootstrap;
        String topic = uniqueTopic("java-control-endtxn");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        String txnId = "java-control-endtxn-" + System.nanoTime();
        String rule = cluster.addFault("{\"match\":{\"api_key\":26,\"transactional_id\":\"" + txnId
                + "\"},\"action\":{\"type\":\"close_after\"},\"times\":1}");
        long ruleId = ControlApi.num(rule, "id");
        Properties extra = new Properties();
        extra.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, extra)) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < 3; i++) p.send(new ProducerRecord<>(topic, 0, utf8("k"), utf8("t1-" + i)));
            p.commitTransaction();
            String fired = cluster.on("GET", "/faults/" + ruleId, null, 200);
            checkEq(1L, ControlApi.num(fired, "fired"), "times the close-after-EndTxn rule fired");
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, utf8("k"), utf8("t2-0")));
            p.commitTransaction();
        }
        cluster.waitFor("{\"for\":\"transaction\",\"transactional_id\":\"" + txnId + "\",\"state\":\"CompleteCommit\"}");
        var recs = readToEnd(bootstrap, "read_committed", List.of(tp), Duration.ofSeconds(20), null);
        checkEq(List.of("t1-0", "t1-1", "t1-2", "t2-0"), valuesOn(recs, tp), "records read_committed sees (each once)");
        cluster.delete();
    }
}
