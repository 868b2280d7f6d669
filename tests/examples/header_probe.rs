//! Times producing records with and without a header to a broker
//! (diagnostic): `header_probe 127.0.0.1:PORT TOPIC N`.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (broker, topic, n) = (&args[1], &args[2], args[3].parse::<usize>().unwrap());
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let modes: Vec<bool> = match std::env::var("HEADERS").as_deref() {
        Ok("none") => vec![false, false],
        Ok("only") => vec![true, true],
        _ => vec![false, true],
    };
    for headers in modes {
        let start = Instant::now();
        for i in 0..n {
            let key = format!("k{i}");
            let mut record = BaseRecord::to(topic).key(&key).payload("value");
            if headers {
                record = record.headers(OwnedHeaders::new().insert(Header {
                    key: "faust.source",
                    value: Some(&format!("agent@in/0/{i}/0")),
                }));
            }
            while let Err((_, r)) = producer.send(record) {
                producer.poll(Duration::from_millis(10));
                record = r;
            }
            producer.poll(Duration::ZERO);
        }
        producer.flush(Duration::from_secs(120)).unwrap();
        println!("headers {headers}: {n} records in {:.2?}", start.elapsed());
    }
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("group.id", "probe")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..4 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let start = Instant::now();
    let (mut read, mut with_headers) = (0, 0);
    while read < 2 * n && start.elapsed() < Duration::from_secs(120) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            read += 1;
            if rdkafka::Message::headers(&m).is_some() {
                with_headers += 1;
            }
            if read % 5000 == 0 {
                println!(
                    "  {read} read ({with_headers} with headers) at {:.2?}",
                    start.elapsed()
                );
            }
        }
    }
    println!(
        "read {read} ({with_headers} with headers) in {:.2?}",
        start.elapsed()
    );
}
