//! What the suite runs against and with: the broker, the number of events,
//! the workloads selected, and the Kafka client settings both sides use.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer as _, ThreadedProducer};

/// The variable the parent passes [`Env::run_id`] to its children in.
pub(crate) const RUN_ID_VAR: &str = "FAUST_BENCH_RUN_ID";

/// How long admin and metadata calls wait for the broker.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The suite's environment, from `FAUST_BENCH_*` variables.
#[derive(Debug, Clone)]
pub(crate) struct Env {
    /// `host:port` of the broker (loopback).
    pub(crate) broker: String,
    /// Events each throughput workload loads and processes.
    pub(crate) events: u64,
    /// Workload ids to run (`FAUST_BENCH_ONLY=w1,w3`); empty for all.
    pub(crate) only: Vec<String>,
    /// Set in a child process: the `<workload>/<side>` it runs.
    pub(crate) child_run: Option<String>,
    /// Names this run of the suite (`FAUST_BENCH_RUN_ID`, set by the parent
    /// and inherited by its children): put it in consumer group ids so that
    /// no run resumes from offsets an earlier run committed on the same
    /// broker.
    pub(crate) run_id: String,
    /// Rounds of the workloads that take several (`FAUST_BENCH_ROUNDS`,
    /// default 5): the sides alternate, and each side's median round is
    /// the one reported.
    pub(crate) rounds: usize,
}

impl Env {
    /// Reads the environment.
    pub(crate) fn from_process() -> Result<Self, String> {
        let broker = std::env::var("FAUST_BENCH_BROKER").map_err(|_| {
            "FAUST_BENCH_BROKER is not set: run scripts/bench, or start a broker and set \
             FAUST_BENCH_BROKER=127.0.0.1:PORT"
                .to_owned()
        })?;
        if !(broker.starts_with("127.0.0.1:") || broker.starts_with("localhost:")) {
            return Err(format!(
                "FAUST_BENCH_BROKER={broker:?}: the suite only runs against a loopback broker \
                 (127.0.0.1:PORT)"
            ));
        }
        let events = match std::env::var("FAUST_BENCH_EVENTS") {
            Ok(v) => v.parse().map_err(|_| {
                format!("FAUST_BENCH_EVENTS={v:?} is not a number of events, e.g. 1000000")
            })?,
            Err(_) => 1_000_000,
        };
        let only = std::env::var("FAUST_BENCH_ONLY")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        // The parent makes a fresh id; its children inherit it (`spawn`).
        let run_id = std::env::var(RUN_ID_VAR).unwrap_or_else(|_| {
            let since_epoch = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            format!("{}-{}", since_epoch.as_secs(), std::process::id())
        });
        let rounds = match std::env::var("FAUST_BENCH_ROUNDS") {
            Ok(v) => v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("FAUST_BENCH_ROUNDS={v:?} is not a positive number, e.g. 3")
            })?,
            Err(_) => 9,
        };
        Ok(Env {
            broker,
            events,
            rounds,
            only,
            child_run: std::env::var("FAUST_BENCH_RUN").ok(),
            run_id,
        })
    }

    /// Whether workload `id` is selected.
    pub(crate) fn selected(&self, id: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == id)
    }

    /// The broker as a faust broker URL.
    pub(crate) fn broker_url(&self) -> String {
        format!("kafka://{}", self.broker)
    }

    /// The consumer properties both sides use: faust's defaults, which a
    /// faust worker sets itself.
    pub(crate) fn consumer_config(group: &str, broker: &str) -> rdkafka::ClientConfig {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", broker).set("group.id", group);
        for (k, v) in faust::config::CONSUMER_DEFAULTS {
            c.set(*k, *v);
        }
        c
    }

    /// The producer properties both sides use: faust's defaults.
    pub(crate) fn producer_config(broker: &str) -> rdkafka::ClientConfig {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", broker);
        for (k, v) in faust::config::PRODUCER_DEFAULTS {
            c.set(*k, *v);
        }
        c
    }

    /// Prints the client settings both sides run with.
    pub(crate) fn print_settings(&self) {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "broker 127.0.0.1 ({}), {} events per throughput workload",
            self.broker, self.events
        );
        let _ = writeln!(s, "client settings, both sides (faust::config defaults):");
        for (k, v) in faust::config::CONSUMER_DEFAULTS {
            let _ = writeln!(s, "  consumer {k} = {v}");
        }
        for (k, v) in faust::config::PRODUCER_DEFAULTS {
            let _ = writeln!(s, "  producer {k} = {v}");
        }
        println!("{s}");
    }
}

/// Runs `future` to completion on a small runtime of its own (for the
/// admin client's futures, outside any runtime).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime for the admin client")
        .block_on(future)
}

/// Creates each `(name, partitions)` topic, empty: a topic of that name
/// left by an earlier run is deleted first. Fails, naming the topic, when
/// a topic cannot be created or still holds records afterwards (a broker
/// that does not delete topics: restart it, `scripts/bench` starts a fresh
/// one).
pub(crate) fn create_topics(broker: &str, topics: &[(&str, i32)]) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker)
        .create()
        .map_err(|e| format!("an admin client for {broker}: {e}"))?;
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    let names: Vec<&str> = topics.iter().map(|(name, _)| *name).collect();
    let probe: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker)
        .create()
        .map_err(|e| format!("a metadata client for {broker}: {e}"))?;
    // Delete what is there (errors ignored: mostly "no such topic"), and
    // wait until the metadata no longer lists it.
    let existing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| partitions_of(&probe, name).is_some())
        .collect();
    if !existing.is_empty() {
        let _ = block_on(admin.delete_topics(&existing, &options));
        let deadline = Instant::now() + ADMIN_TIMEOUT;
        while existing
            .iter()
            .any(|name| partitions_of(&probe, name).is_some())
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    let results = block_on(admin.create_topics(&new, &options))
        .map_err(|e| format!("CreateTopics {names:?} on {broker}: {e}"))?;
    for result in results {
        match result {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(format!("CreateTopics {topic} on {broker}: {code}")),
        }
    }
    for (name, partitions) in topics {
        let deadline = Instant::now() + ADMIN_TIMEOUT;
        loop {
            match partitions_of(&probe, name) {
                Some(n) if n == *partitions => break,
                Some(n) => {
                    return Err(format!(
                        "topic {name} on {broker} has {n} partitions, not {partitions}: it was \
                         not deleted before being created again; restart the broker"
                    ));
                }
                None if Instant::now() > deadline => {
                    return Err(format!(
                        "topic {name} was created on {broker} but is not in its metadata after {ADMIN_TIMEOUT:?}"
                    ));
                }
                None => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        for partition in 0..*partitions {
            let (low, high) = probe
                .fetch_watermarks(name, partition, ADMIN_TIMEOUT)
                .map_err(|e| format!("the offsets of {name}/{partition} on {broker}: {e}"))?;
            if high > low {
                return Err(format!(
                    "topic {name} on {broker} still holds records ({name}/{partition}: offsets \
                     {low}..{high}) after it was deleted and created again: the broker does not \
                     delete topics; restart it (scripts/bench starts a fresh one)"
                ));
            }
        }
    }
    Ok(())
}

/// The number of partitions of `topic`, `None` when the broker does not
/// have it.
fn partitions_of(probe: &BaseConsumer, topic: &str) -> Option<i32> {
    let metadata = probe.fetch_metadata(Some(topic), ADMIN_TIMEOUT).ok()?;
    let t = metadata.topics().iter().find(|t| t.name() == topic)?;
    if t.error().is_some() || t.partitions().is_empty() {
        return None;
    }
    Some(t.partitions().len() as i32)
}

/// Writes `n` records `record(i)` = `(key, value)` to `topic`, which has
/// `partitions` partitions, each on the partition faust's (and Kafka's
/// Java client's) partitioner picks for its key, with the producer
/// settings both sides use. Each partition's last record is held back and
/// written alone, after everything else was flushed: so every partition
/// ends with a one-record batch and Tansu's memory engine, whose
/// ListOffsets(LATEST) answers the last batch's base offset + 1, reports
/// the right end offsets.
pub(crate) fn load(
    broker: &str,
    topic: &str,
    partitions: u32,
    n: u64,
    mut record: impl FnMut(u64) -> (String, Vec<u8>),
) -> Result<(), String> {
    let producer: ThreadedProducer<Failures> = Env::producer_config(broker)
        .create_with_context(Failures::default())
        .map_err(|e| format!("a producer for {broker}: {e}"))?;
    let mut last: Vec<Option<(String, Vec<u8>)>> = vec![None; partitions as usize];
    let send = |partition: i32, key: &str, value: &[u8]| -> Result<(), String> {
        let mut r = BaseRecord::to(topic)
            .partition(partition)
            .key(key)
            .payload(value);
        loop {
            match producer.send(r) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The local queue is full: let deliveries drain it.
                    r = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(format!("writing to {topic} on {broker}: {e}")),
            }
        }
    };
    for i in 0..n {
        let (key, value) = record(i);
        let partition = faust::partition_for_key(key.as_bytes(), partitions);
        if let Some((k, v)) = last[partition as usize].replace((key, value)) {
            send(partition, &k, &v)?;
        }
    }
    let flush = || {
        producer
            .flush(Duration::from_secs(120))
            .map_err(|e| format!("flushing the records written to {topic} on {broker}: {e}"))
    };
    flush()?;
    for (partition, held) in last.iter().enumerate() {
        if let Some((k, v)) = held {
            send(partition as i32, k, v)?;
            flush()?;
        }
    }
    let failures = producer.context();
    match failures.count.load(Ordering::Relaxed) {
        0 => Ok(()),
        failed => Err(format!(
            "{failed} of the {n} records written to {topic} on {broker} were not delivered; \
             the first: {}",
            failures.first.lock().map(|f| f.clone()).unwrap_or_default()
        )),
    }
}

/// A producer context that counts failed deliveries and keeps the first
/// error.
#[derive(Default)]
struct Failures {
    count: AtomicU64,
    first: Mutex<String>,
}

impl rdkafka::ClientContext for Failures {}

impl rdkafka::producer::ProducerContext for Failures {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &rdkafka::message::DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result
            && self.count.fetch_add(1, Ordering::Relaxed) == 0
            && let Ok(mut first) = self.first.lock()
        {
            *first = e.to_string();
        }
    }
}
