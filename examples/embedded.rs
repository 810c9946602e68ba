//! A broker embedded in a test process: start it on an ephemeral port in a temp dir, point a real
//! client at it, and let it stop when dropped.
//!
//! `cargo run --example embedded`
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let broker = odradek::Broker::builder().set("num.partitions", "1").start().await?;
    let bootstrap = broker.bootstrap();
    println!("embedded broker at {bootstrap}");

    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", &bootstrap).create()?;
    let d = producer
        .send(
            FutureRecord::to("example").key("k").payload("hello from an embedded broker"),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)?;
    println!("delivered to partition {} at offset {}", d.partition, d.offset);

    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", &bootstrap).set("group.id", "example").create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("example", 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    loop {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m?;
            println!("read back: {}", String::from_utf8_lossy(m.payload().unwrap_or_default()));
            break;
        }
    }
    broker.shutdown().await?;
    Ok(())
}
