//! Produce keyed records to a running broker and read them back from every partition.
//!
//! `cargo run --example produce_consume -- 127.0.0.1:9092 [topic]`
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let topic = args.next().unwrap_or_else(|| "orders".into());
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", &bootstrap).set("acks", "all").create()?;
    for i in 0..10 {
        let key = format!("customer-{}", i % 3);
        let value = format!("order {i}");
        let d = producer
            .send(FutureRecord::to(&topic).key(&key).payload(&value), Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)?;
        println!("{key} -> partition {} offset {}", d.partition, d.offset);
    }
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", &bootstrap).set("group.id", "example").create()?;
    let md = consumer.fetch_metadata(Some(&topic), Duration::from_secs(5))?;
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition_offset(&topic, p.id(), Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut idle = 0;
    while idle < 5 {
        match consumer.poll(Duration::from_millis(200)) {
            Some(m) => {
                let m = m?;
                idle = 0;
                println!(
                    "partition {} offset {}: {} = {}",
                    m.partition(),
                    m.offset(),
                    String::from_utf8_lossy(m.key().unwrap_or_default()),
                    String::from_utf8_lossy(m.payload().unwrap_or_default())
                );
            }
            None => idle += 1,
        }
    }
    Ok(())
}
