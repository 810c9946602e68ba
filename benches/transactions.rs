//! Transaction benchmarks against an embedded broker with librdkafka's transactional producer:
//! (BaseProducer: a ThreadedProducer polls every 100 ms and would time that instead.)
//! small transactions per second (10 records of 100 B, 1 and 4 partitions), and consume
//! throughput with read_committed versus read_uncommitted. Prints figures; not a test.
//!
//! `cargo bench --bench transactions`
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

fn main() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let broker = rt.block_on(odradek::Broker::builder().start()).unwrap();
    let bs = broker.bootstrap();
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &bs).create().unwrap();
    for parts in [1, 4] {
        let topic = format!("txbench-{parts}");
        rt.block_on(admin.create_topics(
            &[NewTopic::new(&topic, parts, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .unwrap();
        let p: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &bs)
            .set("transactional.id", format!("bench-{parts}"))
            .set("linger.ms", "0")
            .create()
            .unwrap();
        p.init_transactions(Duration::from_secs(10)).unwrap();
        let payload = vec![b'x'; 100];
        let n = 300;
        let start = Instant::now();
        let (mut t_send, mut t_commit) = (Duration::ZERO, Duration::ZERO);
        for i in 0..n {
            let t0 = Instant::now();
            p.begin_transaction().unwrap();
            for r in 0..10 {
                p.send(BaseRecord::<(), [u8]>::to(&topic).partition((i * 10 + r) % parts).payload(&payload))
                    .map_err(|(e, _)| e)
                    .unwrap();
            }
            p.flush(Duration::from_secs(10)).unwrap();
            let t1 = Instant::now();
            p.commit_transaction(Duration::from_secs(10)).unwrap();
            t_send += t1 - t0;
            t_commit += t1.elapsed();
        }
        if std::env::var("TXBENCH_PHASES").is_ok() {
            println!(
                "  phases: begin+send+flush {:.2} ms, commit {:.2} ms",
                t_send.as_secs_f64() * 1000.0 / n as f64,
                t_commit.as_secs_f64() * 1000.0 / n as f64
            );
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "transactions of 10 x 100 B over {parts} partition(s): {:.0} commits/s ({:.2} ms each)",
            n as f64 / secs,
            secs * 1000.0 / n as f64
        );
    }
    // Consume cost: the same log read both ways.
    let topic = "txbench-1";
    for level in ["read_uncommitted", "read_committed"] {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bs)
            .set("group.id", "txbench")
            .set("isolation.level", level)
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Beginning).unwrap();
        c.assign(&tpl).unwrap();
        let start = Instant::now();
        let mut n = 0;
        while n < 3000 && start.elapsed() < Duration::from_secs(30) {
            if let Some(Ok(_)) = c.poll(Duration::from_millis(100)) {
                n += 1;
            }
        }
        println!(
            "consume {n} transactional records with {level}: {:.0} records/s",
            n as f64 / start.elapsed().as_secs_f64()
        );
    }
    rt.block_on(broker.shutdown()).unwrap();
}
