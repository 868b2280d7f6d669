//! W1, the stateless workload, against a real Kafka-protocol broker: one
//! faust-rs worker next to a plain rdkafka consume-then-produce loop doing
//! the same work on the same data with the same client settings.
//!
//! ```text
//! cargo bench -p faust-rs-tests --bench kafka_pipeline
//! BENCH_EVENTS=500000 BENCH_RUNS=5 cargo bench -p faust-rs-tests --bench kafka_pipeline
//! ```
//!
//! Needs the test broker, Tansu 0.6 (`scripts/tansu install`, ~10 min once;
//! the bench never installs it). It starts Tansu on a free loopback port
//! with the `memory://` engine (fast; its known faults only touch consumers
//! that resume mid-log, and every run here reads from offset 0 with a new
//! group, see ../shared/BROKERS.md), and stops it at the end.
//!
//! What runs:
//!
//! * input: `BENCH_EVENTS` (default 200,000) JSON records
//!   `{"id","account","amount","currency"}`, keyed by account, produced
//!   once before any timing into `bench-faust-in` and `bench-plain-in`
//!   (4 partitions each, identical data);
//! * work per record, both sides: decode the JSON, validate
//!   (`0 <= amount <= 1,000,000`; a failure goes to a dead-letter topic,
//!   none fails here), transform to `{"id","account","cents","currency",
//!   "large"}`, send it to the side's sink topic with the input's key, and
//!   commit the input offset only after the output is acknowledged
//!   (offsets kept by hand, committed every 2.8 s and at shutdown);
//! * faust-rs: a `#[faust::record(validate)]` input, a per-event
//!   `#[faust::agent]` with a sink and a dead letter, run by
//!   `faust::worker::run` with the framework's default client settings;
//! * plain: `StreamConsumer` + `FutureProducer` with the same properties,
//!   `serde_json`, validation and transform by hand, deliveries awaited in
//!   order before an offset counts as finished.
//!
//! Each side runs in a child process (this binary again, `BENCH_ROLE=faust`
//! or `plain`) so its peak RSS is its own; the child is stopped with SIGINT
//! once its sink holds all records. Sides alternate, `BENCH_RUNS` (default
//! 3) runs each, new consumer group per run; the median is reported.
//!
//! What is measured: a plain consumer in this process reads both sink
//! topics. A run's window starts at the producer timestamp (CreateTime,
//! set by the side's producer when it sends its first output, right after
//! it decoded its first input) of the run's earliest output, and ends when
//! the reader has seen all N outputs (so all were delivered).
//! events/s = N / window. Process start, connecting, topic declaration and
//! the consumer-group join come before the first output and are reported
//! apart ("start→1st out").

use std::collections::{HashMap, VecDeque};
use std::io::Read as _;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use faust::prelude::*;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DefaultProducerContext, DeliveryFuture, FutureProducer, FutureRecord,
    ThreadedProducer,
};
use rdkafka::{Message as _, Offset, TopicPartitionList};

/// Copied from `faust-rs-runtime/src/transport/kafka.rs` (`CONSUMER_DEFAULTS`,
/// plus the `group.id`/`client.id` it sets): the faust worker gets no
/// overrides and uses its own defaults; the plain loop uses these.
const CONSUMER_SETTINGS: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("auto.offset.reset", "earliest"),
    ("enable.partition.eof", "false"),
    ("fetch.wait.max.ms", "100"),
    ("fetch.queue.backoff.ms", "10"),
];

/// Copied from `PRODUCER_DEFAULTS` in `faust-rs-runtime/src/transport/kafka.rs`.
const PRODUCER_SETTINGS: &[(&str, &str)] = &[
    ("partitioner", "murmur2_random"),
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("linger.ms", "5"),
    ("batch.num.messages", "10000"),
    ("queue.buffering.max.messages", "500000"),
];

/// The faust worker's default `commit_interval`; the plain loop uses it too.
const COMMIT_INTERVAL: Duration = Duration::from_millis(2800);

/// The loader's settings (before timing; only needs to be fast).
const LOADER_SETTINGS: &[(&str, &str)] = &[
    ("partitioner", "murmur2_random"),
    ("enable.idempotence", "false"),
    ("acks", "1"),
    ("linger.ms", "20"),
    ("batch.num.messages", "10000"),
    ("queue.buffering.max.messages", "1000000"),
];

/// The sink reader's settings: short fetch waits, so the end of a run is
/// seen within a few milliseconds.
const READER_SETTINGS: &[(&str, &str)] = &[
    ("group.id", "bench-sink-reader"),
    ("enable.auto.commit", "false"),
    ("enable.partition.eof", "false"),
    ("fetch.wait.max.ms", "10"),
    ("fetch.queue.backoff.ms", "1"),
];

const PARTITIONS: i32 = 4;
const FAUST_IN: &str = "bench-faust-in";
const FAUST_OUT: &str = "bench-faust-out";
const FAUST_DLQ: &str = "bench-faust-dlq";
const PLAIN_IN: &str = "bench-plain-in";
const PLAIN_OUT: &str = "bench-plain-out";
const PLAIN_DLQ: &str = "bench-plain-dlq";

/// How long one run may take before the bench gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------
// The faust-rs side.

/// A payment to settle (faust side).
#[record(validate)]
#[derive(Debug, Clone)]
struct Payment {
    /// Unique id.
    id: u64,
    /// Who pays.
    account: String,
    /// Amount in currency units.
    #[validate(range(min = 0.0, max = 1000000.0))]
    amount: f64,
    /// ISO currency code.
    currency: String,
}

/// A settled payment (faust side).
#[record]
#[derive(Debug, Clone)]
struct Settled {
    /// The payment's id.
    id: u64,
    /// Who paid.
    account: String,
    /// Amount in cents.
    cents: u64,
    /// ISO currency code.
    currency: String,
    /// At least 1,000 units.
    large: bool,
}

/// Decode, validate, transform, send to the sink.
#[agent(
    topic = "bench-faust-in",
    sink = "bench-faust-out",
    dead_letter = "bench-faust-dlq"
)]
async fn settle(payment: Payment) -> Result<Settled> {
    Ok(Settled {
        id: payment.id,
        cents: (payment.amount * 100.0).round() as u64,
        large: payment.amount >= 1000.0,
        account: payment.account,
        currency: payment.currency,
    })
}

fn faust_child(broker: &str, run: &str) -> ExitCode {
    let app = App::bare(format!("bench-faust-{run}"))
        .agent(&settle::AGENT)
        .broker(format!("kafka://{broker}"))
        .topic_partitions(PARTITIONS as u32);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(faust::worker::run(app));
    drop(rt);
    report_self();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faust worker failed: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------
// The plain rdkafka side.

/// The input record (plain side).
#[derive(serde::Deserialize)]
struct PaymentIn {
    id: u64,
    account: String,
    amount: f64,
    currency: String,
}

/// The output record (plain side).
#[derive(serde::Serialize)]
struct SettledOut {
    id: u64,
    account: String,
    cents: u64,
    currency: String,
    large: bool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn plain_child(broker: &str, run: &str) -> ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(plain_loop(broker, &format!("bench-plain-{run}")));
    drop(rt);
    report_self();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plain loop failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn plain_loop(broker: &str, group: &str) -> std::result::Result<(), BoxError> {
    let mut cc = client(broker, CONSUMER_SETTINGS);
    cc.set("group.id", group).set("client.id", group);
    let consumer: StreamConsumer = cc.create()?;
    consumer.subscribe(&[PLAIN_IN])?;
    let producer: FutureProducer = client(broker, PRODUCER_SETTINGS).create()?;

    // Outputs in flight, in consumption order, with the input they came from.
    let mut inflight: VecDeque<(DeliveryFuture, i32, i64)> = VecDeque::new();
    // Per partition: one past the last input whose output is acknowledged.
    let mut finished: HashMap<i32, i64> = HashMap::new();
    let mut ticker = tokio::time::interval(COMMIT_INTERVAL);
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = ticker.tick() => commit(&consumer, &mut finished, CommitMode::Async),
            delivered = async { (&mut inflight.front_mut().expect("non-empty").0).await },
                if !inflight.is_empty() =>
            {
                let (_, partition, offset) = inflight.pop_front().expect("non-empty");
                check_delivery(delivered)?;
                finished.insert(partition, offset + 1);
            }
            message = consumer.recv() => {
                let m = match message {
                    Ok(m) => m,
                    Err(e) => {
                        eprintln!("plain loop: reading failed: {e}");
                        continue;
                    }
                };
                let key = m.key();
                let payload = m.payload().unwrap_or_default();
                let (topic, value, error) = match serde_json::from_slice::<PaymentIn>(payload) {
                    Ok(p) if (0.0..=1_000_000.0).contains(&p.amount) => {
                        let out = SettledOut {
                            id: p.id,
                            cents: (p.amount * 100.0).round() as u64,
                            large: p.amount >= 1000.0,
                            account: p.account,
                            currency: p.currency,
                        };
                        (PLAIN_OUT, serde_json::to_vec(&out)?, None)
                    }
                    Ok(_) => (PLAIN_DLQ, payload.to_vec(), Some("amount out of range".to_owned())),
                    Err(e) => (PLAIN_DLQ, payload.to_vec(), Some(e.to_string())),
                };
                let delivery = send(&producer, topic, key, &value, error.as_deref()).await?;
                inflight.push_back((delivery, m.partition(), m.offset()));
            }
        }
    }
    while let Some((delivery, partition, offset)) = inflight.pop_front() {
        check_delivery(delivery.await)?;
        finished.insert(partition, offset + 1);
    }
    commit(&consumer, &mut finished, CommitMode::Sync);
    Ok(())
}

/// Enqueues one record; waits for room when the local queue is full.
async fn send(
    producer: &FutureProducer,
    topic: &str,
    key: Option<&[u8]>,
    value: &[u8],
    error: Option<&str>,
) -> std::result::Result<DeliveryFuture, BoxError> {
    loop {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).payload(value);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(error) = error {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: "faust.error",
                value: Some(error),
            }));
        }
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

fn check_delivery<Canceled>(
    delivered: std::result::Result<
        rdkafka::producer::future_producer::OwnedDeliveryResult,
        Canceled,
    >,
) -> std::result::Result<(), BoxError> {
    match delivered {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) => Err(e.into()),
        Err(_) => Err("producer closed before the broker answered".into()),
    }
}

fn commit(consumer: &StreamConsumer, finished: &mut HashMap<i32, i64>, mode: CommitMode) {
    if finished.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for (partition, offset) in finished.drain() {
        let _ = tpl.add_partition_offset(PLAIN_IN, partition, Offset::Offset(offset));
    }
    if let Err(e) = consumer.commit(&tpl, mode) {
        eprintln!("plain loop: commit failed: {e}");
    }
}

// ---------------------------------------------------------------------------
// Shared helpers.

fn client(broker: &str, settings: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", broker);
    config.set_log_level(RDKafkaLogLevel::Warning);
    for (k, v) in settings {
        config.set(*k, *v);
    }
    config
}

/// Prints this process's peak RSS and CPU time for the parent.
fn report_self() {
    let hwm = vm_hwm_kb(&std::fs::read_to_string("/proc/self/status").unwrap_or_default());
    let cpu = cpu_seconds("self").unwrap_or(f64::NAN);
    println!("BENCH_CHILD vmhwm_kb={} cpu_s={cpu:.3}", hwm.unwrap_or(0));
}

fn vm_hwm_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU seconds of `/proc/<pid>` (USER_HZ = 100 on Linux).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------
// The parent: broker, data, runs, table.

fn main() -> ExitCode {
    let role = std::env::var("BENCH_ROLE").unwrap_or_default();
    let broker = std::env::var("BENCH_BROKER").unwrap_or_default();
    let run = std::env::var("BENCH_RUN").unwrap_or_default();
    match role.as_str() {
        "faust" => faust_child(&broker, &run),
        "plain" => plain_child(&broker, &run),
        _ => match parent() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kafka_pipeline: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Tansu, started through the project's script; stopped on drop.
struct Broker {
    script: String,
    dir: std::path::PathBuf,
    port: u16,
}

impl Broker {
    fn start() -> std::result::Result<Broker, BoxError> {
        let script = format!("{}/../scripts/tansu", env!("CARGO_MANIFEST_DIR"));
        let root = std::env::var("TANSU_ROOT").unwrap_or_else(|_| {
            format!(
                "{}/.cache/faust-rs/tansu",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        if !std::path::Path::new(&format!("{root}/bin/tansu")).exists() {
            return Err(format!(
                "Tansu is not installed in {root}: run `scripts/tansu install` first (~10 min)"
            )
            .into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("faust-bench-{}", std::process::id()));
        let status = Command::new("bash")
            .arg(&script)
            .arg("start")
            .arg(&dir)
            .arg(port.to_string())
            .arg("memory")
            .status()?;
        let broker = Broker { script, dir, port };
        if !status.success() {
            return Err(format!("`scripts/tansu start` failed ({status})").into());
        }
        Ok(broker)
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> String {
        std::fs::read_to_string(self.dir.join("tansu.pid"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    fn create_topic(&self, name: &str) -> std::result::Result<(), BoxError> {
        let out = Command::new("bash")
            .arg(&self.script)
            .args([
                "topic",
                &self.port.to_string(),
                name,
                &PARTITIONS.to_string(),
            ])
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "creating topic {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("stop")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn make_payload(i: u64) -> (String, Vec<u8>) {
    const CURRENCIES: [&str; 3] = ["EUR", "USD", "GBP"];
    let account = format!("acct-{:04}", i % 1000);
    let amount = (i.wrapping_mul(7919) % 500_000) as f64 / 100.0;
    let value = serde_json::json!({
        "id": i,
        "account": account,
        "amount": amount,
        "currency": CURRENCIES[(i % 3) as usize],
    });
    (account, serde_json::to_vec(&value).expect("json"))
}

fn preload(broker: &str, n: u64) -> std::result::Result<(f64, usize), BoxError> {
    let producer: ThreadedProducer<DefaultProducerContext> =
        client(broker, LOADER_SETTINGS).create()?;
    let data: Vec<(String, Vec<u8>)> = (0..n).map(make_payload).collect();
    let bytes: usize = data.iter().map(|(_, v)| v.len()).sum();
    let started = Instant::now();
    for topic in [FAUST_IN, PLAIN_IN] {
        for (key, value) in &data {
            let mut record = BaseRecord::to(topic)
                .key(key.as_bytes())
                .payload(value.as_slice());
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err((e, _)) => return Err(e.into()),
                }
            }
        }
    }
    use rdkafka::producer::Producer as _;
    producer.flush(Duration::from_secs(120))?;
    let rate = (2 * n) as f64 / started.elapsed().as_secs_f64();
    Ok((rate, bytes / n.max(1) as usize))
}

/// What the sink reader saw of one topic.
#[derive(Debug, Default)]
struct SinkCount {
    count: u64,
    /// Count at which the current run completes.
    target: u64,
    min_create_ms: Option<i64>,
    max_create_ms: Option<i64>,
    first_seen_ms: Option<f64>,
    done_ms: Option<f64>,
}

type Shared = Arc<(Mutex<SinkCount>, Condvar)>;

/// A plain consumer reading both sink topics from the beginning, counting.
struct SinkReader {
    sides: HashMap<&'static str, Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SinkReader {
    fn start(broker: &str) -> std::result::Result<SinkReader, BoxError> {
        let consumer: BaseConsumer = client(broker, READER_SETTINGS).create()?;
        let mut tpl = TopicPartitionList::new();
        for topic in [FAUST_OUT, PLAIN_OUT] {
            for p in 0..PARTITIONS {
                tpl.add_partition_offset(topic, p, Offset::Beginning)?;
            }
        }
        consumer.assign(&tpl)?;
        let mut sides: HashMap<&'static str, Shared> = HashMap::new();
        sides.insert(FAUST_OUT, Arc::default());
        sides.insert(PLAIN_OUT, Arc::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let sides = sides.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) else {
                        continue;
                    };
                    let Some(shared) = sides.get(m.topic()) else {
                        continue;
                    };
                    let seen = now_ms();
                    let (lock, done) = &**shared;
                    let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
                    s.count += 1;
                    if let Some(ts) = m.timestamp().to_millis() {
                        s.min_create_ms = Some(s.min_create_ms.map_or(ts, |t| t.min(ts)));
                        s.max_create_ms = Some(s.max_create_ms.map_or(ts, |t| t.max(ts)));
                    }
                    s.first_seen_ms.get_or_insert(seen);
                    if s.count == s.target {
                        s.done_ms = Some(seen);
                        done.notify_all();
                    }
                }
            })
        };
        Ok(SinkReader {
            sides,
            stop,
            thread: Some(thread),
        })
    }

    /// Starts a run of `n` records on `topic`; returns the count before it.
    fn arm(&self, topic: &str, n: u64) -> u64 {
        let mut s = self.sides[topic]
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let base = s.count;
        *s = SinkCount {
            count: base,
            target: base + n,
            ..SinkCount::default()
        };
        base
    }

    /// Waits until the current run on `topic` is complete.
    fn wait(&self, topic: &str, timeout: Duration) -> Option<SinkCount> {
        let (lock, done) = &*self.sides[topic];
        let s = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (s, _) = done
            .wait_timeout_while(s, timeout, |s| s.done_ms.is_none())
            .unwrap_or_else(|e| e.into_inner());
        s.done_ms.map(|_| SinkCount {
            count: s.count,
            target: s.target,
            min_create_ms: s.min_create_ms,
            max_create_ms: s.max_create_ms,
            first_seen_ms: s.first_seen_ms,
            done_ms: s.done_ms,
        })
    }

    fn count(&self, topic: &str) -> u64 {
        self.sides[topic]
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .count
    }
}

impl Drop for SinkReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A child process running one side; killed on drop if still running.
struct Worker(Child);

impl Worker {
    fn spawn(role: &str, broker: &str, run: usize) -> std::result::Result<Worker, BoxError> {
        let child = Command::new(std::env::current_exe()?)
            .env("BENCH_ROLE", role)
            .env("BENCH_BROKER", broker)
            .env("BENCH_RUN", run.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        Ok(Worker(child))
    }

    /// SIGINT, then waits for a graceful exit; returns its report line.
    fn stop(mut self) -> std::result::Result<(u64, f64), BoxError> {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status()?;
        let deadline = Instant::now() + Duration::from_secs(40);
        let status = loop {
            if let Some(status) = self.0.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                return Err(format!("child {pid} did not stop within 40 s of SIGINT").into());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        if let Some(mut stdout) = self.0.stdout.take() {
            stdout.read_to_string(&mut out)?;
        }
        if !status.success() {
            return Err(format!("child {pid} exited with {status}").into());
        }
        let line = out
            .lines()
            .find(|l| l.starts_with("BENCH_CHILD"))
            .ok_or("child printed no report")?;
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(name))
                .unwrap_or("0")
                .to_owned()
        };
        Ok((
            field("vmhwm_kb=").parse().unwrap_or(0),
            field("cpu_s=").parse().unwrap_or(f64::NAN),
        ))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[derive(Debug, Clone)]
struct RunResult {
    side: &'static str,
    run: usize,
    rate: f64,
    window_s: f64,
    produce_span_s: f64,
    startup_s: f64,
    rss_mb: f64,
    cpu_s: f64,
    broker_cpu_s: f64,
    extra: u64,
    window_from: &'static str,
}

fn run_side(
    side: &'static str,
    run: usize,
    n: u64,
    broker: &Broker,
    reader: &SinkReader,
) -> std::result::Result<RunResult, BoxError> {
    let sink = if side == "faust" {
        FAUST_OUT
    } else {
        PLAIN_OUT
    };
    let base = reader.arm(sink, n);
    let broker_cpu0 = cpu_seconds(&broker.pid()).unwrap_or(f64::NAN);
    let spawned_ms = now_ms();
    let worker = Worker::spawn(side, &broker.address(), run)?;
    let seen = reader.wait(sink, RUN_TIMEOUT).ok_or_else(|| {
        format!(
            "{side} run {run}: only {} of {n} outputs within {RUN_TIMEOUT:?}",
            reader.count(sink) - base
        )
    })?;
    let broker_cpu = cpu_seconds(&broker.pid()).unwrap_or(f64::NAN) - broker_cpu0;
    let (vmhwm_kb, cpu_s) = worker.stop()?;
    // Anything past N (a duplicate) shows up here.
    std::thread::sleep(Duration::from_millis(300));
    let extra = reader.count(sink) - seen.target;
    let done = seen.done_ms.unwrap_or(f64::NAN);
    let first_seen = seen.first_seen_ms.unwrap_or(done);
    // The producer timestamp, unless the broker rewrote it.
    let (start, window_from) = match seen.min_create_ms {
        Some(ts) if (first_seen - ts as f64).abs() < 5000.0 => (ts as f64, "CreateTime"),
        _ => (first_seen, "first seen"),
    };
    let window_s = (done - start) / 1000.0;
    let produce_span_s = match (seen.min_create_ms, seen.max_create_ms) {
        (Some(a), Some(b)) => (b - a) as f64 / 1000.0,
        _ => f64::NAN,
    };
    Ok(RunResult {
        side,
        run,
        rate: n as f64 / window_s,
        window_s,
        produce_span_s,
        startup_s: (start - spawned_ms) / 1000.0,
        rss_mb: vmhwm_kb as f64 / 1024.0,
        cpu_s,
        broker_cpu_s: broker_cpu,
        extra,
        window_from,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn settings_line(settings: &[(&str, &str)]) -> String {
    settings
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn parent() -> std::result::Result<(), BoxError> {
    let n: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(200_000);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    println!("W1 stateless pipeline: faust-rs worker vs plain rdkafka loop");
    println!("command : cargo bench -p faust-rs-tests --bench kafka_pipeline");
    println!(
        "          (this process: {})",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    println!(
        "machine : nproc={nproc}, {cpu_model}, load average at start {}",
        load.trim()
    );

    let broker = Broker::start()?;
    println!(
        "broker  : Tansu 0.6.0 on {} with the memory:// engine (throughput only: every run reads from offset 0 with a new group)",
        broker.address()
    );
    for topic in [
        FAUST_IN, FAUST_OUT, FAUST_DLQ, PLAIN_IN, PLAIN_OUT, PLAIN_DLQ,
    ] {
        broker.create_topic(topic)?;
    }
    let (load_rate, avg_bytes) = preload(&broker.address(), n)?;
    println!(
        "data    : {n} JSON records (~{avg_bytes} B) per input topic, {PARTITIONS} partitions, loaded into {FAUST_IN} and {PLAIN_IN} at {load_rate:.0} records/s"
    );
    let reader = SinkReader::start(&broker.address())?;
    println!("runs    : {runs} per side, alternating, each in its own process; median reported");
    println!();

    let mut results = Vec::new();
    for run in 1..=runs {
        let order: [&'static str; 2] = if run % 2 == 1 {
            ["plain", "faust"]
        } else {
            ["faust", "plain"]
        };
        for side in order {
            let r = run_side(side, run, n, &broker, &reader)?;
            eprintln!(
                "  run {run} {side:<5}: {:>9.0} events/s ({:.3} s)",
                r.rate, r.window_s
            );
            results.push(r);
        }
    }
    drop(reader);

    println!(
        "{:<4} {:<6} {:>11} {:>9} {:>12} {:>14} {:>12} {:>10} {:>13} {:>6}",
        "run",
        "side",
        "events/s",
        "window s",
        "produce span",
        "start→1st out",
        "peak RSS MB",
        "CPU s",
        "broker CPU s",
        "extra"
    );
    for side in ["plain", "faust"] {
        for r in results.iter().filter(|r| r.side == side) {
            println!(
                "{:<4} {:<6} {:>11.0} {:>9.3} {:>12.3} {:>14.2} {:>12.1} {:>10.2} {:>13.2} {:>6}",
                r.run,
                r.side,
                r.rate,
                r.window_s,
                r.produce_span_s,
                r.startup_s,
                r.rss_mb,
                r.cpu_s,
                r.broker_cpu_s,
                r.extra
            );
        }
    }
    let side_median = |side: &str, f: fn(&RunResult) -> f64| {
        median(results.iter().filter(|r| r.side == side).map(f).collect())
    };
    let plain = side_median("plain", |r| r.rate);
    let faust = side_median("faust", |r| r.rate);
    println!();
    println!(
        "{:<22} {:>12} {:>13} {:>10}",
        "median", "events/s", "peak RSS MB", "CPU s"
    );
    println!(
        "{:<22} {:>12.0} {:>13.1} {:>10.2}",
        "plain rdkafka loop",
        plain,
        side_median("plain", |r| r.rss_mb),
        side_median("plain", |r| r.cpu_s)
    );
    println!(
        "{:<22} {:>12.0} {:>13.1} {:>10.2}",
        "faust-rs worker",
        faust,
        side_median("faust", |r| r.rss_mb),
        side_median("faust", |r| r.cpu_s)
    );
    let ratio = faust / plain;
    println!(
        "ratio faust-rs / plain: {ratio:.3} (issue 3 target >= 0.8, issue 8 target >= 0.9): {}",
        if ratio >= 0.8 {
            "meets 0.8"
        } else {
            "BELOW 0.8"
        }
    );
    println!();
    println!("measured: events/s = N / window; window = the run's earliest output CreateTime");
    println!(
        "          (window starts at: {}) to the moment a plain reader in the bench process has seen",
        results
            .iter()
            .map(|r| r.window_from)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "          all N outputs. produce span = last - first output CreateTime. start→1st out ="
    );
    println!(
        "          process spawn to first output (connect, topics, group join, first fetch), not in the window."
    );
    println!(
        "          CPU s = the side's process user+sys over its whole life; broker CPU s = Tansu's during the run;"
    );
    println!(
        "          extra = outputs beyond N (duplicates). Peak RSS = VmHWM of the side's process."
    );
    println!(
        "client settings, both sides (faust: its transport defaults, no overrides; plain: the same set):"
    );
    println!(
        "  consumer: {} group.id=client.id=<per run>",
        settings_line(CONSUMER_SETTINGS)
    );
    println!("  producer: {}", settings_line(PRODUCER_SETTINGS));
    println!(
        "  commit every {:?} (faust's default commit_interval), offsets committed only after delivery",
        COMMIT_INTERVAL
    );
    println!(
        "  faust: 1 worker, per-event agent, concurrency 1, queue_capacity 4096, multi-thread tokio ({nproc} workers)"
    );
    println!(
        "  plain: one task: recv -> serde_json -> validate -> transform -> send_result; deliveries awaited in order"
    );
    println!("loader  : {}", settings_line(LOADER_SETTINGS));
    println!("reader  : {}", settings_line(READER_SETTINGS));
    drop(broker);
    Ok(())
}
