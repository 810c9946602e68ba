package compat;

import static compat.Common.*;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeProducersResult.PartitionProducerState;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TransactionalIdNotFoundException;

/**
 * Transaction admin APIs (kafka-transactions.sh list / describe / describe-producers):
 * ListTransactions, DescribeTransactions, DescribeProducers, observed while a transaction over
 * two partitions is open (2 records on partition 0 in one batch, 1 on partition 1) and after
 * it committed.
 *
 * Open: listTransactions lists the transactional.id as ONGOING (also with filterStates(ONGOING),
 * filterProducerIds(pid), filterOnTransactionalIdPattern(id); not with filterStates(COMPLETE_COMMIT)
 * or filterOnDuration(60 s)); describeTransactions: ONGOING, timeout 30000, both partitions, a
 * start time within the last minute; describeProducers on each partition: the producer id and
 * epoch, last sequence 1 / 0, current transaction start offset 0. Committed: COMPLETE_COMMIT,
 * no partitions, no current transaction start offset. An unknown id -> TransactionalIdNotFoundException.
 */
public final class TxnAdmin {
    static final String NAME = "java/TxnAdmin";

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        run(NAME, () -> body(bootstrap));
    }

    static TransactionListing listed(Admin admin, ListTransactionsOptions opts, String txnId) throws Exception {
        Collection<TransactionListing> all = admin.listTransactions(opts).all().get();
        for (TransactionListing l : all) if (l.transactionalId().equals(txnId)) return l;
        return null;
    }

    static ProducerState producerOn(Admin admin, TopicPartition tp, long pid) throws Exception {
        Map<TopicPartition, PartitionProducerState> m = admin.describeProducers(List.of(tp)).all().get();
        check(m.get(tp) != null, "describeProducers returned nothing for " + tp + ": " + m);
        for (ProducerState s : m.get(tp).activeProducers()) if (s.producerId() == pid) return s;
        throw new Mismatch("describeProducers(" + tp + ") does not list producer " + pid + ": " + m.get(tp).activeProducers());
    }

    static void body(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-txn-admin");
        TopicPartition tp0 = new TopicPartition(topic, 0), tp1 = new TopicPartition(topic, 1);
        String txnId = "java-txn-admin-" + UUID.randomUUID();
        Properties extra = new Properties();
        extra.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        extra.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 30000);
        extra.put(ProducerConfig.LINGER_MS_CONFIG, 50); // the two records of partition 0 share a batch
        try (Admin admin = admin(bootstrap); KafkaProducer<byte[], byte[]> p = producer(bootstrap, extra)) {
            admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
            p.initTransactions();
            p.beginTransaction();
            long before = System.currentTimeMillis();
            p.send(new ProducerRecord<>(topic, 0, utf8("k"), utf8("v0")));
            p.send(new ProducerRecord<>(topic, 0, utf8("k"), utf8("v1")));
            p.send(new ProducerRecord<>(topic, 1, utf8("k"), utf8("v2")));
            p.flush();

            // --- open transaction
            Map<String, TransactionDescription> d = admin.describeTransactions(List.of(txnId)).all().get();
            TransactionDescription td = d.get(txnId);
            check(td != null, "describeTransactions(" + txnId + ") returned " + d);
            checkEq(TransactionState.ONGOING, td.state(), "describeTransactions state while open");
            checkEq(30000L, td.transactionTimeoutMs(), "describeTransactions transactionTimeoutMs");
            checkEq(Set.of(tp0, tp1), td.topicPartitions(), "describeTransactions topicPartitions while open");
            check(td.producerId() >= 0, "describeTransactions producerId " + td.producerId());
            checkEq(0, td.producerEpoch(), "describeTransactions producerEpoch (first initTransactions)");
            check(td.transactionStartTimeMs().isPresent(), "describeTransactions has no transactionStartTimeMs while open: " + td);
            long start = td.transactionStartTimeMs().getAsLong();
            check(start >= before - 60_000 && start <= System.currentTimeMillis() + 5_000,
                    "transactionStartTimeMs " + start + " is not around now (" + before + ")");
            long pid = td.producerId();
            log(NAME, "describeTransactions while open: " + td);

            TransactionListing l = listed(admin, new ListTransactionsOptions(), txnId);
            check(l != null, "listTransactions() does not list " + txnId + ": " + admin.listTransactions().all().get());
            checkEq(TransactionState.ONGOING, l.state(), "listTransactions state while open");
            checkEq(pid, l.producerId(), "listTransactions producerId");
            check(listed(admin, new ListTransactionsOptions().filterStates(List.of(TransactionState.ONGOING)), txnId) != null,
                    "listTransactions(filterStates ONGOING) misses " + txnId);
            check(listed(admin, new ListTransactionsOptions().filterStates(List.of(TransactionState.COMPLETE_COMMIT)), txnId) == null,
                    "listTransactions(filterStates COMPLETE_COMMIT) lists the open " + txnId);
            check(listed(admin, new ListTransactionsOptions().filterProducerIds(List.of(pid)), txnId) != null,
                    "listTransactions(filterProducerIds " + pid + ") misses " + txnId);
            check(listed(admin, new ListTransactionsOptions().filterProducerIds(List.of(pid + 1_000_000)), txnId) == null,
                    "listTransactions(filterProducerIds of another id) lists " + txnId);
            check(listed(admin, new ListTransactionsOptions().filterOnDuration(60_000), txnId) == null,
                    "listTransactions(filterOnDuration 60 s) lists " + txnId + ", open for less than a second");
            Collection<TransactionListing> byPattern = admin.listTransactions(new ListTransactionsOptions().filterOnTransactionalIdPattern(txnId)).all().get();
            checkEq(1, byPattern.size(), "listTransactions(filterOnTransactionalIdPattern <the id>) count: " + byPattern);
            checkEq(txnId, byPattern.iterator().next().transactionalId(), "listTransactions(filterOnTransactionalIdPattern) id");

            ProducerState s0 = producerOn(admin, tp0, pid), s1 = producerOn(admin, tp1, pid);
            log(NAME, "describeProducers while open: " + s0 + " / " + s1);
            checkEq(0, s0.producerEpoch(), "describeProducers epoch on " + tp0);
            checkEq(1, s0.lastSequence(), "describeProducers lastSequence on " + tp0 + " (2 records)");
            checkEq(0, s1.lastSequence(), "describeProducers lastSequence on " + tp1 + " (1 record)");
            checkEq(java.util.OptionalLong.of(0), s0.currentTransactionStartOffset(), "describeProducers currentTransactionStartOffset on " + tp0);
            checkEq(java.util.OptionalLong.of(0), s1.currentTransactionStartOffset(), "describeProducers currentTransactionStartOffset on " + tp1);

            // --- committed
            p.commitTransaction();
            td = admin.describeTransactions(List.of(txnId)).all().get().get(txnId);
            checkEq(TransactionState.COMPLETE_COMMIT, td.state(), "describeTransactions state after commit");
            checkEq(Set.of(), td.topicPartitions(), "describeTransactions topicPartitions after commit");
            checkEq(pid, td.producerId(), "describeTransactions producerId after commit");
            l = listed(admin, new ListTransactionsOptions(), txnId);
            check(l != null, "listTransactions() does not list " + txnId + " after the commit");
            checkEq(TransactionState.COMPLETE_COMMIT, l.state(), "listTransactions state after commit");
            s0 = producerOn(admin, tp0, pid);
            checkEq(java.util.OptionalLong.empty(), s0.currentTransactionStartOffset(),
                    "describeProducers currentTransactionStartOffset on " + tp0 + " after commit");
            log(NAME, "after commit: " + td + "; " + s0);

            // --- unknown id
            try {
                TransactionDescription none = admin.describeTransactions(List.of(txnId + "-none")).all().get().get(txnId + "-none");
                throw new Mismatch("describeTransactions of an unknown transactional.id returned " + none);
            } catch (java.util.concurrent.ExecutionException e) {
                check(findCause(e, TransactionalIdNotFoundException.class) != null,
                        "describeTransactions of an unknown id failed with " + chain(e) + ", expected TransactionalIdNotFoundException");
            }
        }
    }
}
