//! Proves: transactions (version 1) through librdkafka's transactional producer: a committed
//! transaction over several partitions is visible to read_committed consumers and an aborted one
//! is not (read_uncommitted sees both); a second producer with the same transactional.id fences
//! the first; consume-transform-produce with send_offsets_to_transaction yields each input exactly
//! once and commits the group's offsets atomically; a transaction left open past its timeout is
//! aborted by the coordinator; state survives a broker restart.
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

fn txn_producer(bs: &str, id: &str, extra: &[(&str, &str)]) -> ThreadedProducer<DefaultProducerContext> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bs).set("transactional.id", id).set("linger.ms", "1");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("transactional producer")
}

fn send(p: &ThreadedProducer<DefaultProducerContext>, topic: &str, part: i32, v: &str) {
    p.send(BaseRecord::to(topic).partition(part).key("k").payload(v)).map_err(|(e, _)| e).unwrap();
}

/// Every value in `topic` (all `parts` partitions) visible at the isolation level, read to the end.
fn read_values(bs: &str, topic: &str, parts: i32, committed: bool) -> Vec<String> {
    let c =
        consumer(bs, &[("isolation.level", if committed { "read_committed" } else { "read_uncommitted" })]);
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts {
        tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            out.push(String::from_utf8(m.unwrap().payload().unwrap().to_vec()).unwrap());
        }
    }
    out.sort();
    out
}

async fn create(bs: &str, topic: &str, parts: i32) {
    let admin = create_topic_admin(bs);
    assert!(admin
        .create_topics(&[NewTopic::new(topic, parts, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .unwrap()[0]
        .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_abort_and_isolation_levels() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker_in(dir.path(), &[("group.initial.rebalance.delay.ms", "0")]).await;
    let bs = b.bootstrap();
    create(&bs, "tx", 2).await;
    let p = txn_producer(&bs, "tx-1", &[]);
    let t = Duration::from_secs(20);
    p.init_transactions(t).unwrap();
    p.begin_transaction().unwrap();
    for i in 0..5 {
        send(&p, "tx", i % 2, &format!("committed-{i}"));
    }
    p.commit_transaction(t).unwrap();
    p.begin_transaction().unwrap();
    for i in 0..4 {
        send(&p, "tx", i % 2, &format!("aborted-{i}"));
    }
    p.flush(t).unwrap();
    p.abort_transaction(t).unwrap();
    p.begin_transaction().unwrap();
    send(&p, "tx", 0, "committed-last");
    p.commit_transaction(t).unwrap();

    let committed = read_values(&bs, "tx", 2, true);
    let mut want: Vec<String> = (0..5).map(|i| format!("committed-{i}")).collect();
    want.push("committed-last".into());
    want.sort();
    assert_eq!(committed, want, "read_committed sees exactly the committed records");
    let all = read_values(&bs, "tx", 2, false);
    assert_eq!(all.len(), 10, "read_uncommitted sees aborted records too: {all:?}");
    assert!(all.iter().any(|v| v.starts_with("aborted-")));
    let st = b.state().txns.view(|t| t.get("tx-1").map(|m| m.state.name()));
    assert_eq!(st, Some("CompleteCommit"));

    // An open transaction pins the last stable offset; read_committed waits for it.
    p.begin_transaction().unwrap();
    send(&p, "tx", 1, "pending");
    p.flush(t).unwrap();
    let part = b.state().logs.topic("tx").unwrap().partition(1).unwrap();
    assert!(part.last_stable_offset() < part.high_watermark());
    assert!(!read_values(&bs, "tx", 2, true).contains(&"pending".to_string()));
    p.commit_transaction(t).unwrap();
    assert!(read_values(&bs, "tx", 2, true).contains(&"pending".to_string()));
    drop(p);

    // A restart keeps the coordinator's state and the aborted-transaction index.
    b.shutdown().await.unwrap();
    let b = broker_in(dir.path(), &[]).await;
    assert_eq!(read_values(&b.bootstrap(), "tx", 2, true).len(), 7);
    let p = txn_producer(&b.bootstrap(), "tx-1", &[]);
    p.init_transactions(t).unwrap();
    let epoch_now = b.state().txns.view(|t| t.get("tx-1").map(|m| m.producer_epoch)).unwrap();
    assert!(epoch_now >= 1, "a new incarnation bumps the epoch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_producer_fences_the_first() {
    let b = broker().await;
    let bs = b.bootstrap();
    create(&bs, "fence", 1).await;
    let t = Duration::from_secs(20);
    let a = txn_producer(&bs, "shared-id", &[]);
    a.init_transactions(t).unwrap();
    a.begin_transaction().unwrap();
    send(&a, "fence", 0, "from-a");
    a.flush(t).unwrap();
    let bprod = txn_producer(&bs, "shared-id", &[]);
    bprod.init_transactions(t).unwrap(); // aborts a's open transaction and fences a
                                         // The zombie's old epoch is refused on the partition the abort marker reached.
    {
        use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
        use kafka_protocol::messages::*;
        let pid = b.state().txns.view(|t| t.get("shared-id").map(|m| m.producer_id)).unwrap();
        let mut raw = common::raw::Raw::connect(&bs).await;
        let req = ProduceRequest::default().with_acks(-1).with_timeout_ms(5000).with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(kafka_protocol::protocol::StrBytes::from_static_str("fence")))
                .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(
                    common::raw::batch(&["zombie"], pid, 0, 1, odradek::clock::now_ms()),
                ))]),
        ]);
        let resp: ProduceResponse = raw.request(ApiKey::Produce, 9, &req).await.unwrap();
        assert_eq!(
            resp.responses[0].partition_responses[0].error_code, 47,
            "INVALID_PRODUCER_EPOCH for the fenced epoch"
        );
    }
    bprod.begin_transaction().unwrap();
    send(&bprod, "fence", 0, "from-b");
    bprod.commit_transaction(t).unwrap();
    let r = a.commit_transaction(t);
    let e = r.expect_err("the fenced producer cannot commit");
    assert!(e.rdkafka_error_code().is_some(), "{e}");
    assert_eq!(read_values(&bs, "fence", 1, true), vec!["from-b".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_transform_produce_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker_in(dir.path(), &[("group.initial.rebalance.delay.ms", "0")]).await;
    let bs = b.bootstrap();
    create(&bs, "in", 2).await;
    create(&bs, "out", 2).await;
    let plain = producer(&bs, &[]);
    for i in 0..30 {
        common::send(&plain, "in", Some(i % 2), b"k", format!("{i}").as_bytes()).await;
    }
    let t = Duration::from_secs(20);
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("group.id", "ctp")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    c.subscribe(&["in"]).unwrap();
    let p = txn_producer(&bs, "ctp-tx", &[]);
    p.init_transactions(t).unwrap();
    let mut done = 0;
    let deadline = Instant::now() + Duration::from_secs(40);
    while done < 30 {
        assert!(Instant::now() < deadline, "processed {done} of 30");
        let mut batch: HashMap<i32, i64> = HashMap::new();
        p.begin_transaction().unwrap();
        let mut n = 0;
        while n < 7 {
            match c.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    let v = String::from_utf8(m.payload().unwrap().to_vec()).unwrap();
                    send(&p, "out", m.partition(), &format!("out-{v}"));
                    batch.insert(m.partition(), m.offset() + 1);
                    n += 1;
                }
                Some(Err(e)) => panic!("{e}"),
                None => break,
            }
        }
        let mut offsets = TopicPartitionList::new();
        for (part, off) in &batch {
            offsets.add_partition_offset("in", *part, Offset::Offset(*off)).unwrap();
        }
        p.send_offsets_to_transaction(&offsets, &c.group_metadata().unwrap(), t).unwrap();
        p.commit_transaction(t).unwrap();
        done += n;
    }
    let out = read_values(&bs, "out", 2, true);
    let mut want: Vec<String> = (0..30).map(|i| format!("out-{i}")).collect();
    want.sort();
    assert_eq!(out, want, "each input exactly once in the output");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("in", 0);
    tpl.add_partition("in", 1);
    let committed = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    let offs: Vec<i64> = committed.elements().iter().map(|e| e.offset().to_raw().unwrap()).collect();
    assert_eq!(offs, vec![15, 15], "the group's offsets were committed with the transactions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_transaction_is_aborted_by_the_coordinator() {
    let b = broker().await;
    let bs = b.bootstrap();
    create(&bs, "slow", 1).await;
    let t = Duration::from_secs(20);
    let p = txn_producer(&bs, "slow-tx", &[("transaction.timeout.ms", "1000")]);
    p.init_transactions(t).unwrap();
    p.begin_transaction().unwrap();
    send(&p, "slow", 0, "forgotten");
    p.flush(t).unwrap();
    let part = b.state().logs.topic("slow").unwrap().partition(0).unwrap();
    assert_eq!(part.last_stable_offset(), 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while part.last_stable_offset() == 0 {
        assert!(Instant::now() < deadline, "the coordinator did not abort the expired transaction");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The marker moves the LSO; the Complete record follows it (after the marker's fsync).
    let state = || b.state().txns.view(|t| t.get("slow-tx").map(|m| m.state.name()));
    while state() != Some("CompleteAbort") {
        assert!(Instant::now() < deadline, "the transaction did not reach CompleteAbort: {:?}", state());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(read_values(&bs, "slow", 1, true).is_empty());
    assert!(p.commit_transaction(t).is_err(), "the producer was fenced by the abort");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_admin_apis_describe_what_is_open() {
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::StrBytes;
    let b = broker().await;
    let bs = b.bootstrap();
    create(&bs, "adm-tx", 1).await;
    let t = Duration::from_secs(20);
    let p = txn_producer(&bs, "admin-tx", &[]);
    p.init_transactions(t).unwrap();
    p.begin_transaction().unwrap();
    send(&p, "adm-tx", 0, "open");
    p.flush(t).unwrap();
    let mut raw = common::raw::Raw::connect(&bs).await;
    let l: ListTransactionsResponse = raw
        .request(
            ApiKey::ListTransactions,
            1,
            &ListTransactionsRequest::default()
                .with_state_filters(vec![
                    StrBytes::from_static_str("Ongoing"),
                    StrBytes::from_static_str("Bogus"),
                ])
                .with_duration_filter(-1),
        )
        .await
        .unwrap();
    assert_eq!(l.transaction_states.len(), 1);
    assert_eq!(l.transaction_states[0].transactional_id.0.as_str(), "admin-tx");
    assert_eq!(l.unknown_state_filters.len(), 1);
    let d: DescribeTransactionsResponse = raw
        .request(
            ApiKey::DescribeTransactions,
            0,
            &DescribeTransactionsRequest::default().with_transactional_ids(vec![
                TransactionalId(StrBytes::from_static_str("admin-tx")),
                TransactionalId(StrBytes::from_static_str("nope")),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(d.transaction_states[0].transaction_state.as_str(), "Ongoing");
    assert_eq!(d.transaction_states[0].topics[0].partitions, vec![0]);
    assert!(d.transaction_states[0].transaction_start_time_ms > 0);
    assert_eq!(d.transaction_states[1].error_code, 105, "TRANSACTIONAL_ID_NOT_FOUND");
    let dp: DescribeProducersResponse = raw
        .request(
            ApiKey::DescribeProducers,
            0,
            &DescribeProducersRequest::default().with_topics(vec![
                describe_producers_request::TopicRequest::default()
                    .with_name(TopicName(StrBytes::from_static_str("adm-tx")))
                    .with_partition_indexes(vec![0]),
            ]),
        )
        .await
        .unwrap();
    let prod = &dp.topics[0].partitions[0].active_producers[0];
    assert_eq!(prod.producer_id.0, d.transaction_states[0].producer_id.0);
    assert_eq!(prod.current_txn_start_offset, 0, "the open transaction starts at offset 0");
    p.commit_transaction(t).unwrap();
    let dp: DescribeProducersResponse = raw
        .request(
            ApiKey::DescribeProducers,
            0,
            &DescribeProducersRequest::default().with_topics(vec![
                describe_producers_request::TopicRequest::default()
                    .with_name(TopicName(StrBytes::from_static_str("adm-tx")))
                    .with_partition_indexes(vec![0]),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(dp.topics[0].partitions[0].active_producers[0].current_txn_start_offset, -1);
}

/// A transactional batch (attributes bit 4) built by hand, for producers outside any coordinator.
fn txn_batch(values: &[&str], pid: i64, epoch: i16, seq: i32) -> bytes::Bytes {
    let b = common::raw::batch(values, pid, epoch, seq, odradek::clock::now_ms());
    let mut v = b.to_vec();
    let attrs = i16::from_be_bytes([v[21], v[22]]) | 0x10;
    v[21..23].copy_from_slice(&attrs.to_be_bytes());
    let crc = crc32c::crc32c(&v[21..]);
    v[17..21].copy_from_slice(&crc.to_be_bytes());
    bytes::Bytes::from(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_transaction_is_aborted_with_write_txn_markers_and_leaders_can_verify() {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::StrBytes;
    let b = broker().await;
    let bs = b.bootstrap();
    create(&bs, "hang", 1).await;
    let mut raw = common::raw::Raw::connect(&bs).await;
    // A producer id the coordinator never saw. A produce request can no longer open a
    // transaction for it (the partition is verified against the coordinator, see
    // tests/hostile.rs), so the hanging transaction that operators clean up with
    // WriteTxnMarkers (as left by brokers before that check) is planted in the log directly.
    let ip: InitProducerIdResponse = raw
        .request(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default().with_transactional_id(None).with_transaction_timeout_ms(60000),
        )
        .await
        .unwrap();
    let pid = ip.producer_id.0;
    let req = ProduceRequest::default().with_acks(-1).with_timeout_ms(5000).with_topic_data(vec![
        TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("hang")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(txn_batch(&["stuck"], pid, 0, 0)))]),
    ]);
    let pr: ProduceResponse = raw.request(ApiKey::Produce, 9, &req).await.unwrap();
    assert_eq!(pr.responses[0].partition_responses[0].error_code, 53, "no transactional id: refused");
    let part = b.state().logs.topic("hang").unwrap().partition(0).unwrap();
    assert_eq!(part.high_watermark(), 0);
    part.append(&txn_batch(&["stuck"], pid, 0, 0), odradek::clock::now_ms()).unwrap();
    assert_eq!(part.last_stable_offset(), 0, "the hanging transaction pins the LSO");
    let marker = |epoch: i16| {
        WriteTxnMarkersRequest::default().with_markers(vec![
            write_txn_markers_request::WritableTxnMarker::default()
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_transaction_result(false)
                .with_coordinator_epoch(0)
                .with_topics(vec![write_txn_markers_request::WritableTxnMarkerTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("hang")))
                    .with_partition_indexes(vec![0])]),
        ])
    };
    // Abort it the way kafka-transactions.sh does (WriteTxnMarkers to the leader).
    let w: WriteTxnMarkersResponse = raw.request(ApiKey::WriteTxnMarkers, 1, &marker(0)).await.unwrap();
    assert_eq!(w.markers[0].topics[0].partitions[0].error_code, 0);
    assert_eq!(part.last_stable_offset(), 2, "the LSO moves past the abort marker");
    assert!(read_values(&bs, "hang", 1, true).is_empty(), "the aborted record stays invisible");
    // A marker bumped the epoch to 1 in the partition: an older one is refused.
    let w: WriteTxnMarkersResponse = raw.request(ApiKey::WriteTxnMarkers, 1, &marker(1)).await.unwrap();
    assert_eq!(w.markers[0].topics[0].partitions[0].error_code, 0);
    let w: WriteTxnMarkersResponse = raw.request(ApiKey::WriteTxnMarkers, 1, &marker(0)).await.unwrap();
    assert_eq!(w.markers[0].topics[0].partitions[0].error_code, 47, "INVALID_PRODUCER_EPOCH");

    // AddPartitionsToTxn v4 (partition leaders' batched form) with verify_only.
    let ip: InitProducerIdResponse = raw
        .request(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("verify-tx"))))
                .with_transaction_timeout_ms(60000),
        )
        .await
        .unwrap();
    assert_eq!(ip.error_code, 0);
    let add = |verify: bool, part: i32| {
        AddPartitionsToTxnRequest::default().with_transactions(vec![
            add_partitions_to_txn_request::AddPartitionsToTxnTransaction::default()
                .with_transactional_id(TransactionalId(StrBytes::from_static_str("verify-tx")))
                .with_producer_id(ip.producer_id)
                .with_producer_epoch(ip.producer_epoch)
                .with_verify_only(verify)
                .with_topics(vec![add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("hang")))
                    .with_partitions(vec![part])]),
        ])
    };
    let code_of = |r: &AddPartitionsToTxnResponse| {
        r.results_by_transaction[0].topic_results[0].results_by_partition[0].partition_error_code
    };
    let r: AddPartitionsToTxnResponse =
        raw.request(ApiKey::AddPartitionsToTxn, 5, &add(true, 0)).await.unwrap();
    assert_eq!(code_of(&r), 48, "not in the transaction yet: INVALID_TXN_STATE");
    let r: AddPartitionsToTxnResponse =
        raw.request(ApiKey::AddPartitionsToTxn, 5, &add(false, 0)).await.unwrap();
    assert_eq!(code_of(&r), 0);
    let r: AddPartitionsToTxnResponse =
        raw.request(ApiKey::AddPartitionsToTxn, 5, &add(true, 0)).await.unwrap();
    assert_eq!(code_of(&r), 0, "verified");
    let r: AddPartitionsToTxnResponse =
        raw.request(ApiKey::AddPartitionsToTxn, 5, &add(false, 9)).await.unwrap();
    assert_eq!(code_of(&r), 3, "UNKNOWN_TOPIC_OR_PARTITION");
}
