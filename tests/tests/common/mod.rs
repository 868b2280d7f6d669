//! What the real-broker suites (`real_broker.rs`, `real_broker_tables.rs`)
//! share: the broker switch, plain rdkafka clients (a producer that
//! remembers where each record landed, a reader of whole topics, admin and
//! group look-ups) and worker processes with their logs.
//!
//! Each suite uses its own subset.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{Offset, TopicPartitionList};

/// The workers' consumer session timeout (the broker's minimum): how long
/// a killed worker stays in the group.
pub(crate) const SESSION_TIMEOUT: Duration = Duration::from_secs(6);

// ---------------------------------------------------------------- clients

/// The broker under test, or `None` (and a note) when the suite is off.
pub(crate) fn broker() -> Option<String> {
    match std::env::var("FAUST_TEST_BROKER") {
        Ok(addr) if !addr.trim().is_empty() => Some(addr.trim().to_owned()),
        _ => {
            println!("skipped: set FAUST_TEST_BROKER=127.0.0.1:PORT to run the real-broker suite");
            None
        }
    }
}

pub(crate) fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4");
    config
}

/// A consumer that reads with fast fetches (see `../shared/BROKERS.md`)
/// and never commits; its group (named after `test`) is never joined.
pub(crate) fn reader_config(bootstrap: &str, test: &str) -> ClientConfig {
    let mut config = client_config(bootstrap);
    config
        .set("group.id", format!("real-broker-reader-{test}"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("fetch.wait.max.ms", "50")
        .set("fetch.queue.backoff.ms", "5");
    config
}

/// Waits until the broker's metadata has `topic`; returns its partition count.
pub(crate) fn wait_for_topic(
    client: &BaseConsumer,
    topic: &str,
    within: Duration,
) -> Result<i32, String> {
    let deadline = Instant::now() + within;
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        match client.fetch_metadata(Some(topic), Duration::from_secs(2)) {
            Ok(metadata) => match metadata.topics().first() {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                    return Ok(t.partitions().len() as i32);
                }
                Some(t) => last = format!("metadata error {:?}", t.error()),
                None => last = "not in metadata".to_owned(),
            },
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("topic {topic} not there after {within:?}: {last}"))
}

/// Runs an admin future on a runtime of its own (the tests are not async).
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

pub(crate) fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    client_config(bootstrap)
        .create()
        .unwrap_or_else(|e| panic!("admin client for {bootstrap}: {e}"))
}

/// Creates `name` with `partitions` partitions and `config`, and waits
/// until the broker's metadata shows it.
pub(crate) fn create_topic(bootstrap: &str, name: &str, partitions: i32, config: &[(&str, &str)]) {
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in config {
        topic = topic.set(k, v);
    }
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = block_on(admin(bootstrap).create_topics([&topic], &options))
        .unwrap_or_else(|e| panic!("CreateTopics {name}: {e}"));
    for result in results {
        if let Err((topic, code)) = result {
            panic!("CreateTopics {topic}: {code}");
        }
    }
    let probe: BaseConsumer = reader_config(bootstrap, "create-topic")
        .create()
        .expect("metadata client");
    let found =
        wait_for_topic(&probe, name, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found, partitions, "partitions of the new topic {name}");
}

/// `(partition, committed offset, end offset)` of consumer group `group`
/// on `topic` (`None`: nothing committed); empty when the topic is not
/// there.
pub(crate) fn group_offsets(
    bootstrap: &str,
    group: &str,
    topic: &str,
) -> Vec<(i32, Option<i64>, i64)> {
    let mut config = client_config(bootstrap);
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false");
    let Ok(client) = config.create::<BaseConsumer>() else {
        return Vec::new();
    };
    let Ok(partitions) = wait_for_topic(&client, topic, Duration::from_secs(5)) else {
        return Vec::new();
    };
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition(topic, p);
    }
    let committed = client.committed_offsets(list, Duration::from_secs(5));
    (0..partitions)
        .map(|p| {
            let at = committed
                .as_ref()
                .ok()
                .and_then(|c| c.find_partition(topic, p))
                .and_then(|e| e.offset().to_raw())
                .filter(|o| *o >= 0);
            let end = client
                .fetch_watermarks(topic, p, Duration::from_secs(5))
                .map(|(_, high)| high)
                .unwrap_or(-1);
            (p, at, end)
        })
        .collect()
}

/// The end offset (one past the last record) of each partition of `topic`.
pub(crate) fn end_offsets(client: &BaseConsumer, topic: &str, partitions: i32) -> Vec<i64> {
    // A loaded broker answers late now and then: three tries.
    (0..partitions)
        .map(|p| {
            let mut tries = 0;
            loop {
                tries += 1;
                match client.fetch_watermarks(topic, p, Duration::from_secs(10)) {
                    Ok((_, high)) => break high,
                    Err(e) if tries >= 3 => {
                        panic!("end offset of {topic}[{p}], {tries} tries: {e}")
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(500)),
                }
            }
        })
        .collect()
}

/// Consumer group `group` as the broker describes it: state and each
/// member's client id and assignment. `probe` names the test asking.
/// (Tansu 0.6's SQLite engine fails DescribeGroups: the answer is then
/// "cannot describe".)
pub(crate) fn describe_group(bootstrap: &str, group: &str, probe: &str) -> String {
    let mut config = client_config(bootstrap);
    config.set("group.id", format!("real-broker-reader-{probe}"));
    let Ok(client) = config.create::<BaseConsumer>() else {
        return "no client".to_owned();
    };
    match client.fetch_group_list(Some(group), Duration::from_secs(5)) {
        Err(e) => format!("cannot describe group {group}: {e}"),
        Ok(list) => list
            .groups()
            .iter()
            .map(|g| {
                let members: Vec<String> = g
                    .members()
                    .iter()
                    .map(|m| {
                        format!(
                            "{} ({}): {}",
                            m.id(),
                            m.client_id(),
                            decode_assignment(m.assignment().unwrap_or_default())
                        )
                    })
                    .collect();
                format!(
                    "group {} state {} protocol {}, members [{}]",
                    g.name(),
                    g.state(),
                    g.protocol(),
                    members.join("; ")
                )
            })
            .collect::<Vec<_>>()
            .join(" | "),
    }
}

/// A consumer-protocol assignment (`version, [topic, [partition]]`) as
/// `topic[0,1] topic2[3]`, or its length when it does not parse.
pub(crate) fn decode_assignment(bytes: &[u8]) -> String {
    match parse_assignment(bytes) {
        Some(topics) if topics.is_empty() => "nothing".to_owned(),
        Some(topics) => topics
            .iter()
            .map(|(topic, parts)| {
                let parts: Vec<String> = parts.iter().map(i32::to_string).collect();
                format!("{topic}[{}]", parts.join(","))
            })
            .collect::<Vec<_>>()
            .join(" "),
        None => format!("{} bytes", bytes.len()),
    }
}

/// A consumer-protocol assignment: `(topic, partitions)`; an empty one
/// (a member with nothing assigned) is empty.
pub(crate) fn parse_assignment(bytes: &[u8]) -> Option<Vec<(String, Vec<i32>)>> {
    fn take<const N: usize>(b: &mut &[u8]) -> Option<[u8; N]> {
        let (head, rest) = b.split_first_chunk::<N>()?;
        *b = rest;
        Some(*head)
    }
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let mut b = bytes;
    let b = &mut b;
    take::<2>(b)?;
    let topics = i32::from_be_bytes(take::<4>(b)?);
    let mut out = Vec::new();
    for _ in 0..topics.max(0) {
        let len = i16::from_be_bytes(take::<2>(b)?).max(0) as usize;
        let (name, rest) = b.split_at_checked(len)?;
        *b = rest;
        let n = i32::from_be_bytes(take::<4>(b)?);
        let mut parts = Vec::new();
        for _ in 0..n.max(0) {
            parts.push(i32::from_be_bytes(take::<4>(b)?));
        }
        out.push((String::from_utf8_lossy(name).into_owned(), parts));
    }
    Some(out)
}

pub(crate) fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Tansu 0.6: when a member's session expires, the rebalance keeps the
/// group's generation and SyncGroup can hand the leader a stale
/// assignment, leaving partitions with no owner. A member that joins and
/// leaves starts rebalances that bump the generation; Apache Kafka needs
/// no such nudge.
/// Joins consumer group `group` (subscribed to `topic`) with a plain
/// consumer that commits nothing, until it is given partitions (or 60 s
/// pass), then leaves: two rebalances.
pub(crate) fn nudge_group(bootstrap: &str, group: &str, topic: &str) {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", group)
        .set("client.id", "nudge")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set(
            "session.timeout.ms",
            SESSION_TIMEOUT.as_millis().to_string(),
        )
        .create()
        .expect("nudge consumer");
    consumer.subscribe(&[topic]).expect("nudge subscription");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        // Polling drives the join; the records it reads are dropped.
        let _ = consumer.poll(Duration::from_millis(100));
        if consumer.assignment().is_ok_and(|a| a.count() > 0) {
            break;
        }
    }
    consumer.unsubscribe();
    // Dropping the consumer closes it: LeaveGroup.
}

// ---------------------------------------------------------------- producing

/// A producer to one topic that remembers where the broker put each
/// record, by a tag it hands out per record.
pub(crate) struct TaggedProducer {
    pub(crate) topic: String,
    producer: BaseProducer<Delivered>,
    next_tag: u64,
    sent: u64,
}

/// Delivery reports: producer tag -> (partition, offset), and failures.
#[derive(Default)]
struct Delivered {
    at: Mutex<HashMap<u64, (i32, i64)>>,
    failed: Mutex<Vec<String>>,
}

impl ClientContext for Delivered {}

impl ProducerContext for Delivered {
    type DeliveryOpaque = Box<u64>;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: Box<u64>) {
        match result {
            Ok(message) => {
                let mut at = self.at.lock().unwrap_or_else(|e| e.into_inner());
                at.insert(*tag, (message.partition(), message.offset()));
            }
            Err((e, _)) => {
                let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
                failed.push(format!("record {tag}: {e}"));
            }
        }
    }
}

impl TaggedProducer {
    /// An idempotent producer to `topic`.
    pub(crate) fn new(bootstrap: &str, topic: &str) -> TaggedProducer {
        Self::with_properties(bootstrap, topic, &[])
    }

    /// [`new`](Self::new) with more client `properties` (e.g.
    /// `security.protocol`).
    pub(crate) fn with_properties(
        bootstrap: &str,
        topic: &str,
        properties: &[(&str, &str)],
    ) -> TaggedProducer {
        let producer = client_config_with(bootstrap, properties)
            .set("linger.ms", "5")
            .set("enable.idempotence", "true")
            .set("queue.buffering.max.messages", "1000000")
            .set("message.max.bytes", "8388608")
            .create_with_context(Delivered::default())
            .unwrap_or_else(|e| panic!("producer for {bootstrap}: {e}"));
        TaggedProducer {
            topic: topic.to_owned(),
            producer,
            next_tag: 0,
            sent: 0,
        }
    }

    /// Sends one record; returns its tag (for [`positions`](Self::positions)).
    pub(crate) fn send(&mut self, partition: i32, key: Option<&[u8]>, value: Option<&[u8]>) -> u64 {
        let tag = self.next_tag;
        self.next_tag += 1;
        let mut record: BaseRecord<'_, [u8], [u8], Box<u64>> =
            BaseRecord::with_opaque_to(&self.topic, Box::new(tag)).partition(partition);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(value) = value {
            record = record.payload(value);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    self.producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => panic!("producing to {}: {e}", self.topic),
            }
        }
        self.sent += 1;
        tag
    }

    /// Serves delivery reports without waiting.
    pub(crate) fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    /// Waits until every record sent is acknowledged.
    pub(crate) fn flush(&mut self) -> Result<(), String> {
        self.producer
            .flush(Duration::from_secs(120))
            .map_err(|e| format!("flushing the producer to {}: {e}", self.topic))?;
        let failed = self
            .producer
            .context()
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if !failed.is_empty() {
            return Err(format!(
                "{} records to {} failed: {:?}",
                failed.len(),
                self.topic,
                &failed[..failed.len().min(5)]
            ));
        }
        let acked = self.acked() as u64;
        if acked != self.sent {
            return Err(format!(
                "{acked} of {} records to {} acknowledged",
                self.sent, self.topic
            ));
        }
        Ok(())
    }

    /// Records acknowledged so far.
    pub(crate) fn acked(&self) -> usize {
        self.producer
            .context()
            .at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Producer tag -> (partition, offset).
    pub(crate) fn positions(&self) -> HashMap<u64, (i32, i64)> {
        self.producer
            .context()
            .at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

// ---------------------------------------------------------------- reading

/// A record read back from a topic.
pub(crate) struct Record {
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Record {
    pub(crate) fn key_str(&self) -> String {
        String::from_utf8_lossy(self.key.as_deref().unwrap_or_default()).into_owned()
    }

    pub(crate) fn value_str(&self) -> String {
        String::from_utf8_lossy(self.value.as_deref().unwrap_or_default()).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// Reads every partition of one topic from the beginning (no group
/// membership, nothing committed).
pub(crate) struct Reader {
    consumer: BaseConsumer,
    pub(crate) partitions: i32,
}

impl Reader {
    /// `None` while the topic does not exist yet (a worker creates it).
    pub(crate) fn try_open(bootstrap: &str, topic: &str, test: &str) -> Option<Reader> {
        Self::try_open_with(bootstrap, topic, test, &[])
    }

    /// [`try_open`](Self::try_open) with more client properties, e.g.
    /// `isolation.level`.
    pub(crate) fn try_open_with(
        bootstrap: &str,
        topic: &str,
        test: &str,
        properties: &[(&str, &str)],
    ) -> Option<Reader> {
        let mut config = reader_config(bootstrap, test);
        for (k, v) in properties {
            config.set(*k, *v);
        }
        let consumer: BaseConsumer = config.create().expect("reader");
        let partitions = wait_for_topic(&consumer, topic, Duration::from_secs(2)).ok()?;
        let mut assignment = TopicPartitionList::new();
        for p in 0..partitions {
            assignment
                .add_partition_offset(topic, p, Offset::Beginning)
                .expect("partition offset");
        }
        consumer.assign(&assignment).expect("assign");
        Some(Reader {
            consumer,
            partitions,
        })
    }

    /// Hands each record read within `wait` (and then while more are ready,
    /// up to 10,000) to `each`; returns how many.
    pub(crate) fn read(&self, wait: Duration, mut each: impl FnMut(Record)) -> usize {
        let mut n = 0;
        let mut timeout = wait;
        while let Some(result) = self.consumer.poll(timeout) {
            timeout = Duration::ZERO;
            match result {
                Ok(m) => {
                    let headers = m
                        .headers()
                        .map(|hs| {
                            hs.iter()
                                .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                                .collect()
                        })
                        .unwrap_or_default();
                    each(Record {
                        partition: m.partition(),
                        offset: m.offset(),
                        key: m.key().map(<[u8]>::to_vec),
                        value: m.payload().map(<[u8]>::to_vec),
                        headers,
                    });
                    n += 1;
                    if n >= 10_000 {
                        break;
                    }
                }
                Err(e) => println!("reader: {e}"),
            }
        }
        n
    }

    /// The consumer, e.g. for watermarks.
    pub(crate) fn consumer(&self) -> &BaseConsumer {
        &self.consumer
    }
}

// ---------------------------------------------------------------- workers

/// Where worker logs go: kept for failed tests only.
pub(crate) fn log_dir() -> PathBuf {
    let dir = std::env::temp_dir().join("faust-rs-real-broker");
    std::fs::create_dir_all(&dir).expect("log directory");
    dir
}

/// A worker process (`BINARY worker`), its output in a log file; killed
/// when dropped, its log deleted unless the test is failing.
pub(crate) struct WorkerProcess {
    pub(crate) label: String,
    child: Child,
    pub(crate) log: PathBuf,
    stopped: bool,
    pub(crate) started: Instant,
}

impl WorkerProcess {
    /// Starts `binary worker` against `bootstrap`, logging to `log`, with
    /// the suite's client settings and then `env` (which wins).
    pub(crate) fn start(
        binary: &str,
        bootstrap: &str,
        label: &str,
        log: PathBuf,
        env: &[(String, String)],
    ) -> WorkerProcess {
        let out = File::create(&log).expect("worker log");
        let err = out.try_clone().expect("worker log");
        let started = Instant::now();
        let child = Command::new(binary)
            .arg("worker")
            .env_remove("FAUST_TEST_BROKER")
            .env_remove("FAUST_TEST_WORKER_LOGLEVEL")
            .env("NO_COLOR", "1")
            .env("FAUST_BROKER", format!("kafka://{bootstrap}"))
            .env(
                "FAUST_LOGLEVEL",
                std::env::var("FAUST_TEST_WORKER_LOGLEVEL").unwrap_or_else(|_| "info".to_owned()),
            )
            // Fast reads (see ../shared/BROKERS.md), and a short session so
            // a killed member leaves the group quickly.
            .env("FAUST_CONSUMER__FETCH_WAIT_MAX_MS", "50")
            .env("FAUST_CONSUMER__FETCH_QUEUE_BACKOFF_MS", "5")
            .env(
                "FAUST_CONSUMER__SESSION_TIMEOUT_MS",
                SESSION_TIMEOUT.as_millis().to_string(),
            )
            .env("FAUST_CONSUMER__HEARTBEAT_INTERVAL_MS", "1000")
            // Tansu 0.6's SQLite engine slows every fetch down once records
            // with headers pile up (40,000 records: 1.4 s to read without,
            // 63 s with one header each, and slow for every topic after):
            // no `faust.source` on outputs. Changelogs carry their origin in
            // the value, so exact state holds all the same.
            .env("FAUST_ORIGIN_HEADERS", "false")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        WorkerProcess {
            label: label.to_owned(),
            child,
            log,
            stopped: false,
            started,
        }
    }

    /// Whether it was not stopped (by the test, or by exiting).
    pub(crate) fn running(&self) -> bool {
        !self.stopped
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and wait for it.
    pub(crate) fn kill(&mut self) {
        self.stopped = true;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait up to `within` for it to exit (SIGKILL after).
    pub(crate) fn terminate(&mut self, within: Duration) -> ExitStatus {
        self.stopped = true;
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().expect("wait for worker");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `Some(status)` if a worker that should run has exited.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        if self.stopped {
            return None;
        }
        let status = self.child.try_wait().ok().flatten()?;
        self.stopped = true;
        Some(status)
    }

    /// The whole log so far.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let text = self.log_text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// The last `lines` lines of each worker's log, each under a heading, for
/// a failure message.
pub(crate) fn log_tails<'a>(
    workers: impl IntoIterator<Item = &'a WorkerProcess>,
    lines: usize,
) -> String {
    let mut logs = String::new();
    for worker in workers {
        logs.push_str(&format!(
            "\n---- worker {} ({}), last lines:\n{}",
            worker.label,
            worker.log.display(),
            worker.log_tail(lines)
        ));
    }
    logs
}

/// `worker X exited unexpectedly: STATUS` for each worker that should run
/// and has exited, joined; `None` when all still run.
pub(crate) fn exited_workers(workers: &mut [WorkerProcess]) -> Option<String> {
    let dead: Vec<String> = workers
        .iter_mut()
        .filter_map(|w| {
            let status = w.exited()?;
            Some(format!("worker {} exited unexpectedly: {status}", w.label))
        })
        .collect();
    (!dead.is_empty()).then(|| dead.join("; "))
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Logs are kept for failed tests only.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

// ---------------------------------------------------------------- own broker

/// A Tansu broker of the test's own (SQLite engine, in a folder of its
/// own, on a free loopback port), started with `scripts/tansu`, for tests
/// that stop and restart the broker; stopped when dropped.
pub(crate) struct OwnBroker {
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
    script: PathBuf,
    /// The port it tells clients (its own unless a front stands before it).
    advertised: u16,
    /// More `tansu broker` arguments, e.g. `--authentication`.
    args: Vec<String>,
}

impl OwnBroker {
    /// Starts one in `log_dir()/NAME-broker`. Only with the suite on (the
    /// shared broker's `FAUST_TEST_BROKER` is set: Tansu is installed).
    pub(crate) fn start(name: &str) -> Option<OwnBroker> {
        broker()?;
        let script = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/tansu"));
        let dir = log_dir().join(format!("{name}-broker"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("broker directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let broker = OwnBroker {
            dir,
            port,
            script,
            advertised: port,
            args: Vec::new(),
        };
        broker.up();
        Some(broker)
    }

    /// From the next [`up`](Self::up) on: tells clients `advertised` as
    /// its port (where a front, such as a TLS terminator, listens) and
    /// runs with `args` too (e.g. `--authentication`).
    pub(crate) fn reconfigure(&mut self, advertised: u16, args: &[&str]) {
        self.advertised = advertised;
        self.args = args.iter().map(|a| (*a).to_owned()).collect();
    }

    /// Runs `tansu ARGS` (e.g. `user create ...`; pass `--broker`) in its
    /// folder; fails the test with the output unless it succeeds.
    pub(crate) fn tansu(&self, args: &[&str]) {
        let out = Command::new("bash")
            .arg(&self.script)
            .arg("run")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("run scripts/tansu");
        assert!(
            out.status.success(),
            "tansu {} failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `127.0.0.1:PORT`.
    pub(crate) fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker (again) on the same port and data.
    pub(crate) fn up(&self) {
        let status = Command::new("bash")
            .arg(&self.script)
            .arg("start")
            .arg(&self.dir)
            .arg(self.port.to_string())
            .arg("sqlite")
            .args(&self.args)
            .env("TANSU_ADVERTISED_PORT", self.advertised.to_string())
            .status()
            .expect("run scripts/tansu");
        assert!(
            status.success(),
            "scripts/tansu start {} {} sqlite {} failed: {status}; its log: {}",
            self.dir.display(),
            self.port,
            self.args.join(" "),
            std::fs::read_to_string(self.dir.join("tansu.log")).unwrap_or_default()
        );
    }

    /// Stops the broker with `signal` (`TERM` or `KILL`) and waits until it
    /// has exited and its port is closed.
    pub(crate) fn down(&self, signal: &str) {
        let pid_file = self.dir.join("tansu.pid");
        let Ok(pid) = std::fs::read_to_string(&pid_file) else {
            return;
        };
        let pid = pid.trim().to_owned();
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(&pid)
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z")
        {
            assert!(
                Instant::now() < deadline,
                "the test's broker (pid {pid}) did not exit within 20 s of SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(pid_file);
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.down("KILL");
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A process's resident memory now and at its peak, in bytes, from
/// `/proc/PID/status` (`VmRSS`, `VmHWM`); `None` once it has exited.
pub(crate) fn memory_of(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// A well-mixed 64-bit hash of `i` (SplitMix64's finaliser): spreads
/// events over keys and picks the fault points from a seed.
pub(crate) fn splitmix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// [`client_config`] plus `properties` (e.g. `security.protocol`).
pub(crate) fn client_config_with(bootstrap: &str, properties: &[(&str, &str)]) -> ClientConfig {
    let mut config = client_config(bootstrap);
    for (k, v) in properties {
        config.set(*k, *v);
    }
    config
}
