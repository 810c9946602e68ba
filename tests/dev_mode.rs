//! Proves: `--dev` runs the real binary on temporary storage with working defaults (auto-create,
//! replication factor 3 accepted and clamped to 1, min.insync.replicas not enforced), starts fast,
//! and removes its temporary data at exit; the embedded builder offers the same profile.
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_binary_accepts_replication_factor_three() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_odradek"))
        .args(["--dev", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
    let startup = started.elapsed();
    let bs = format!("127.0.0.1:{port}");
    let admin = create_topic_admin(&bs);
    let r = admin
        .create_topics(
            &[NewTopic::new("rf3", 2, TopicReplication::Fixed(3)).set("min.insync.replicas", "2")],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    let p = producer(&bs, &[("acks", "all")]);
    assert_eq!(send(&p, "rf3", Some(1), b"k", b"v").await, (1, 0));
    // SIGTERM: clean stop, temp dir removed.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("DEVELOPMENT MODE"), "the mode is announced");
    let dir = log.split("data_dir=").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().to_string();
    assert!(!std::path::Path::new(&dir).exists(), "temporary data dir {dir} removed at exit");
    eprintln!("exec to accepting connections: {:.1} ms", startup.as_secs_f64() * 1000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_dev_replication_factor_three_is_refused_and_min_isr_enforced() {
    let b = broker().await;
    let admin = create_topic_admin(&b.bootstrap());
    let r = admin
        .create_topics(&[NewTopic::new("rf3", 1, TopicReplication::Fixed(3))], &AdminOptions::new())
        .await
        .unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().1, rdkafka::types::RDKafkaErrorCode::InvalidReplicationFactor);
    let r = admin
        .create_topics(
            &[NewTopic::new("isr2", 1, TopicReplication::Fixed(1)).set("min.insync.replicas", "2")],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    assert!(r[0].is_ok());
    // NOT_ENOUGH_REPLICAS is retriable, so clients retry until they time out; check the code itself.
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::*;
    let mut raw = common::raw::Raw::connect(&b.bootstrap()).await;
    let req = ProduceRequest::default().with_acks(-1).with_timeout_ms(1000).with_topic_data(vec![
        TopicProduceData::default()
            .with_name(TopicName(kafka_protocol::protocol::StrBytes::from_static_str("isr2")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(common::raw::batch(&["v"], -1, -1, -1, odradek::clock::now_ms())))]),
    ]);
    let resp: ProduceResponse = raw.request(ApiKey::Produce, 9, &req).await.unwrap();
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 19, "NOT_ENOUGH_REPLICAS");
    let p1 = producer(&b.bootstrap(), &[("acks", "1")]);
    assert_eq!(
        send(&p1, "isr2", Some(0), b"k", b"v").await,
        (0, 0),
        "acks=1 is not bound by min.insync.replicas"
    );
    let dev = odradek::Broker::builder().dev(true).start().await.unwrap();
    let admin = create_topic_admin(&dev.bootstrap());
    let r = admin
        .create_topics(&[NewTopic::new("rf3", 1, TopicReplication::Fixed(3))], &AdminOptions::new())
        .await
        .unwrap();
    assert!(r[0].is_ok());
}

#[test]
fn log_dirs_in_server_properties_is_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("kafka-logs");
    let props = dir.path().join("server.properties");
    std::fs::write(&props, format!("log.dirs={}\n", data.display())).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_odradek"))
        .args(["--config", props.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !data.join("meta.properties").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(data.join("meta.properties").exists(), "the broker keeps its data in log.dirs");
    // Several log dirs (JBOD) cannot be honoured: the start stops with the reason.
    std::fs::write(&props, "log.dirs=/tmp/a,/tmp/b\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_odradek"))
        .args(["--config", props.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("one directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
