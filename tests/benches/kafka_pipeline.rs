//! W1, the stateless workload, against a real Kafka-protocol broker: one
//! faust-rs worker next to a plain rdkafka consume-then-produce loop doing
//! the same work on the same data with the same client settings.
//!
//! ```text
//! cargo bench -p faust-rs-tests --bench kafka_pipeline
//! BENCH_EVENTS=500000 BENCH_RUNS=5 cargo bench -p faust-rs-tests --bench kafka_pipeline
//! BENCH_SIDES=faust cargo bench -p faust-rs-tests --bench kafka_pipeline   # one side only
//! BENCH_RUNTIME=current_thread cargo bench -p faust-rs-tests --bench kafka_pipeline
//! BENCH_CONSUMER=queued.min.messages=10000 cargo bench -p faust-rs-tests --bench kafka_pipeline
//! ```
//!
//! `BENCH_CONSUMER` / `BENCH_PRODUCER` (`key=value,...`) add librdkafka
//! properties to both sides.
//!
//! Needs the test broker, Tansu 0.6 (`scripts/tansu install`, ~10 min once;
//! the bench never installs it). Every run starts a fresh Tansu through
//! `scripts/tansu start DIR PORT memory` on a free loopback port and stops it
//! afterwards. The `memory://` engine is fast; its known faults only touch
//! consumers that resume mid-log or ask for the end offset, and every run
//! here reads its input from offset 0 with a new group (../shared/BROKERS.md).
//!
//! What runs:
//!
//! * input: `BENCH_EVENTS` (default 200,000) JSON records
//!   `{"id","account","amount","currency"}` keyed by account, written into
//!   `bench-in` (4 partitions) by a fast loader, after 2,000 warm-up ones;
//! * work per record, both sides: decode the JSON, validate
//!   (`0 <= amount <= 1,000,000`; a failure goes to `bench-dlq`, none fails
//!   here), transform to `{"id","account","cents","currency","large"}`,
//!   send it to `bench-out` with the input's key, and count the input
//!   offset as finished only once the broker acknowledged the output
//!   (offsets kept by hand, committed every 2.8 s and at shutdown);
//! * faust-rs: a `#[faust::record(validate)]` input, a per-event
//!   `#[faust::agent]` with a sink and a dead letter, run by
//!   `faust::worker::run` with the framework's default client settings;
//! * plain: `StreamConsumer` + `FutureProducer` with the same properties,
//!   `serde_json`, validation and transform by hand, deliveries awaited in
//!   order before an offset counts as finished.
//!
//! Each side runs in a child process (this binary again, `BENCH_ROLE=faust`
//! or `plain`), so its peak RSS and CPU time are its own. Sides alternate,
//! `BENCH_RUNS` (default 3) runs each; the median is reported.
//!
//! One run: a fresh broker; the side starts and processes the warm-up
//! records (so its group is joined, its idempotent producer has its id and
//! knows the sink's partitions: left in the window, librdkafka's producer-id
//! retry timer alone costs 0.25-1 s); the side is frozen with SIGSTOP while
//! the N timed records are loaded (so the loader does not compete with it),
//! then resumed with SIGCONT, and stopped with SIGINT once the sink holds
//! everything.
//!
//! What is measured: a plain consumer in the bench process reads the sink.
//! The window starts at the producer timestamp (CreateTime) of the earliest
//! timed output — set by the side's producer when it sends it, right after
//! the side read its first timed input — and ends when the reader has seen
//! all N timed outputs (so all were delivered). events/s = N / window. The
//! table also gives the produce span (first to last timed output timestamp),
//! the side's CPU time in the window, its peak RSS (VmHWM, whole life), the
//! broker's CPU time in the window, and for the plain side the reader's lag
//! behind its last acknowledgement.

use std::collections::{HashMap, VecDeque};
use std::io::Read as _;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::{
    BoxError, Broker, client, cpu_seconds, median, overrides, report_fields, self_peak_kb,
    settings_line,
};
use faust::prelude::*;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DefaultProducerContext, DeliveryFuture, FutureProducer, FutureRecord,
    ThreadedProducer,
};
use rdkafka::{Message as _, Offset, TopicPartitionList};

/// The plain loop's client properties: faust's own defaults (the faust
/// worker gets no overrides), plus the `group.id`/`client.id` it sets.
const CONSUMER_SETTINGS: &[(&str, &str)] = faust::config::CONSUMER_DEFAULTS;

/// The plain loop's producer properties: faust's own defaults.
const PRODUCER_SETTINGS: &[(&str, &str)] = faust::config::PRODUCER_DEFAULTS;

/// The faust worker's default `commit_interval`; the plain loop uses it too.
fn commit_interval() -> Duration {
    faust::config::Settings::default().commit_interval
}

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
/// Both sides use the same topic names: each run has a broker of its own.
const INPUT: &str = "bench-in";
const SINK: &str = "bench-out";
const DLQ: &str = "bench-dlq";

/// How long one run may take before the bench gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Records each side processes before the timed ones: its group is joined,
/// its producer has its id and knows the sink's partitions.
const WARMUP: u64 = 2000;

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
#[agent(topic = "bench-in", sink = "bench-out", dead_letter = "bench-dlq")]
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
    let mut app = App::bare(format!("bench-faust-{run}"))
        .agent(&settle::AGENT)
        .broker(format!("kafka://{broker}"))
        .topic_partitions(PARTITIONS as u32);
    for (k, v) in overrides("BENCH_CONSUMER") {
        app = app.consumer_config(k, v);
    }
    for (k, v) in overrides("BENCH_PRODUCER") {
        app = app.producer_config(k, v);
    }
    let rt = runtime();
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

fn plain_child(broker: &str, run: &str) -> ExitCode {
    let rt = runtime();
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
    for (k, v) in overrides("BENCH_CONSUMER") {
        cc.set(k, v);
    }
    cc.set("group.id", group).set("client.id", group);
    let consumer: StreamConsumer = cc.create()?;
    consumer.subscribe(&[INPUT])?;
    let mut pc = client(broker, PRODUCER_SETTINGS);
    for (k, v) in overrides("BENCH_PRODUCER") {
        pc.set(k, v);
    }
    let producer: FutureProducer = pc.create()?;

    // Outputs in flight, in consumption order, with the input they came from.
    let mut inflight: VecDeque<(DeliveryFuture, i32, i64)> = VecDeque::new();
    // Per partition: one past the last input whose output is acknowledged.
    let mut finished: HashMap<i32, i64> = HashMap::new();
    let mut ticker = tokio::time::interval(commit_interval());
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    // Wall-clock ms of the last output acknowledged.
    let mut last_ack_ms = 0.0;
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
                last_ack_ms = now_ms();
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
                        (SINK, serde_json::to_vec(&out)?, None)
                    }
                    Ok(_) => (DLQ, payload.to_vec(), Some("amount out of range".to_owned())),
                    Err(e) => (DLQ, payload.to_vec(), Some(e.to_string())),
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
    println!("BENCH_SELF last_ack_ms={last_ack_ms:.1}");
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
        let _ = tpl.add_partition_offset(INPUT, partition, Offset::Offset(offset));
    }
    if let Err(e) = consumer.commit(&tpl, mode) {
        eprintln!("plain loop: commit failed: {e}");
    }
}

// ---------------------------------------------------------------------------
// Shared helpers.

/// The children's tokio runtime: multi-thread (one worker per core), or
/// current-thread with `BENCH_RUNTIME=current_thread` (a diagnostic: it
/// shows what the hand-off between tasks on different threads costs).
fn runtime() -> tokio::runtime::Runtime {
    let mut builder = match std::env::var("BENCH_RUNTIME").as_deref() {
        Ok("current_thread") => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build().expect("tokio runtime")
}

/// Prints this process's peak RSS for the parent.
fn report_self() {
    println!("BENCH_CHILD vmhwm_kb={}", self_peak_kb());
}

/// CPU seconds of every thread of `pid`, by thread id, with its name.
fn thread_cpu(pid: u32) -> HashMap<String, (String, f64)> {
    let mut threads = HashMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for entry in dir.flatten() {
        let tid = entry.file_name().to_string_lossy().into_owned();
        let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if let Some(cpu) = cpu_seconds(&format!("{pid}/task/{tid}")) {
            threads.insert(tid, (name.trim().to_owned(), cpu));
        }
    }
    threads
}

/// The busiest threads between two [`thread_cpu`] snapshots, as
/// `name cpu_s` (threads of one name summed).
fn busiest(
    before: &HashMap<String, (String, f64)>,
    after: &HashMap<String, (String, f64)>,
) -> String {
    let mut by_thread: Vec<(String, f64)> = after
        .iter()
        .map(|(tid, (name, cpu))| {
            let base = before.get(tid).map_or(0.0, |(_, c)| *c);
            (format!("{name}#{tid}"), cpu - base)
        })
        .filter(|(_, cpu)| *cpu >= 0.01)
        .collect();
    by_thread.sort_by(|a, b| b.1.total_cmp(&a.1));
    by_thread
        .iter()
        .take(5)
        .map(|(name, cpu)| format!("{} {cpu:.2}", name.split('#').next().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------
// The parent: a broker per run, data, the side, the reader, the table.

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

/// Record `i` of the input: `(key, JSON value)`.
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

/// Produces `data` into the input topic; returns records/s.
fn preload(broker: &str, data: &[(String, Vec<u8>)]) -> std::result::Result<f64, BoxError> {
    use rdkafka::producer::Producer as _;
    let producer: ThreadedProducer<DefaultProducerContext> =
        client(broker, LOADER_SETTINGS).create()?;
    let started = Instant::now();
    for (key, value) in data {
        let mut record = BaseRecord::to(INPUT)
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
    producer.flush(Duration::from_secs(120))?;
    Ok(data.len() as f64 / started.elapsed().as_secs_f64())
}

/// What the sink reader has seen.
#[derive(Debug, Default, Clone)]
struct SinkCount {
    count: u64,
    /// Earliest and latest producer timestamp of the timed records.
    min_create_ms: Option<i64>,
    max_create_ms: Option<i64>,
    /// When the warm-up, then the timed records, were all seen.
    warm_ms: Option<f64>,
    done_ms: Option<f64>,
}

/// A plain consumer, in a thread of its own, reading the sink from the
/// beginning and counting: the first `warm` records are the warm-up, the
/// next `n` the timed ones.
struct SinkReader {
    shared: Arc<(Mutex<SinkCount>, Condvar)>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SinkReader {
    fn start(broker: &str, warm: u64, n: u64) -> std::result::Result<SinkReader, BoxError> {
        let consumer: BaseConsumer = client(broker, READER_SETTINGS).create()?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(SINK, p, Offset::Beginning)?;
        }
        consumer.assign(&tpl)?;
        let shared: Arc<(Mutex<SinkCount>, Condvar)> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = shared.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) else {
                        continue;
                    };
                    let seen = now_ms();
                    let (lock, changed) = &*shared;
                    let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
                    s.count += 1;
                    if s.count > warm
                        && let Some(ts) = m.timestamp().to_millis()
                    {
                        s.min_create_ms = Some(s.min_create_ms.map_or(ts, |t| t.min(ts)));
                        s.max_create_ms = Some(s.max_create_ms.map_or(ts, |t| t.max(ts)));
                    }
                    if s.count == warm {
                        s.warm_ms = Some(seen);
                        changed.notify_all();
                    }
                    if s.count == warm + n {
                        s.done_ms = Some(seen);
                        changed.notify_all();
                    }
                }
            })
        };
        Ok(SinkReader {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// Waits until `done(state)`; the state then, or `None` on timeout.
    fn wait(&self, timeout: Duration, done: impl Fn(&SinkCount) -> bool) -> Option<SinkCount> {
        let (lock, changed) = &*self.shared;
        let s = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (s, _) = changed
            .wait_timeout_while(s, timeout, |s| !done(s))
            .unwrap_or_else(|e| e.into_inner());
        done(&s).then(|| s.clone())
    }

    fn count(&self) -> u64 {
        self.shared
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

/// Sends `signal` (`INT`, `STOP`, `CONT`) to `pid`.
fn signal(pid: u32, signal: &str) -> std::result::Result<(), BoxError> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()?;
    if !status.success() {
        return Err(format!("kill -{signal} {pid} failed").into());
    }
    Ok(())
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

    /// SIGINT, then waits for a graceful exit; returns the `k=v` fields of
    /// its `BENCH_*` report lines.
    fn stop(mut self) -> std::result::Result<HashMap<String, String>, BoxError> {
        let pid = self.0.id();
        signal(pid, "INT")?;
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
        let fields = report_fields(&out);
        if !fields.contains_key("vmhwm_kb") {
            return Err(format!("child {pid} printed no report").into());
        }
        Ok(fields)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill")
                .args(["-CONT", &self.0.id().to_string()])
                .status();
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// One run of one side.
#[derive(Debug, Clone)]
struct RunResult {
    side: &'static str,
    run: usize,
    load_rate: f64,
    rate: f64,
    window_s: f64,
    produce_span_s: f64,
    /// Plain side only: from its last acknowledgement to the reader seeing
    /// the last record.
    reader_lag_s: f64,
    warmup_s: f64,
    rss_mb: f64,
    cpu_s: f64,
    broker_cpu_s: f64,
    extra: u64,
    /// The side's busiest threads in the window, with their CPU seconds.
    threads: String,
}

fn run_side(
    side: &'static str,
    run: usize,
    warmup: &[(String, Vec<u8>)],
    data: &[(String, Vec<u8>)],
) -> std::result::Result<RunResult, BoxError> {
    let (w, n) = (warmup.len() as u64, data.len() as u64);
    let broker = Broker::start(&format!("{side}{run}"))?;
    for topic in [INPUT, SINK, DLQ] {
        broker.create_topic(topic, PARTITIONS)?;
    }
    let reader = SinkReader::start(&broker.address(), w, n)?;
    let spawned_ms = now_ms();
    let worker = Worker::spawn(side, &broker.address(), run)?;
    let pid = worker.0.id();
    // Warm-up: group joined, producer id acquired, sink partitions known.
    preload(&broker.address(), warmup)?;
    let warm = reader
        .wait(RUN_TIMEOUT, |s| s.warm_ms.is_some())
        .ok_or_else(|| {
            format!("{side} run {run}: warm-up did not complete within {RUN_TIMEOUT:?}")
        })?;
    // Frozen while the timed input is loaded: the loader does not compete
    // with it, and it starts on a full topic.
    signal(pid, "STOP")?;
    let load_rate = preload(&broker.address(), data);
    let side_cpu0 = cpu_seconds(&pid.to_string()).unwrap_or(f64::NAN);
    let threads0 = thread_cpu(pid);
    let broker_cpu0 = cpu_seconds(&broker.pid()).unwrap_or(f64::NAN);
    signal(pid, "CONT")?;
    let load_rate = load_rate?;
    let seen = reader
        .wait(RUN_TIMEOUT, |s| s.done_ms.is_some())
        .ok_or_else(|| {
            format!(
                "{side} run {run}: only {} of {n} outputs within {RUN_TIMEOUT:?}",
                reader.count().saturating_sub(w)
            )
        })?;
    let broker_cpu = cpu_seconds(&broker.pid()).unwrap_or(f64::NAN) - broker_cpu0;
    let side_cpu = cpu_seconds(&pid.to_string()).unwrap_or(f64::NAN) - side_cpu0;
    let threads = busiest(&threads0, &thread_cpu(pid));
    let report = worker.stop()?;
    // Anything past N (a duplicate) shows up here.
    std::thread::sleep(Duration::from_millis(300));
    let extra = reader.count() - w - n;
    drop(reader);
    drop(broker);

    let field = |k: &str| report.get(k).and_then(|v| v.parse::<f64>().ok());
    let done = seen.done_ms.unwrap_or(f64::NAN);
    let start = seen
        .min_create_ms
        .ok_or("the sink records carry no timestamp")? as f64;
    let window_s = (done - start) / 1000.0;
    Ok(RunResult {
        side,
        run,
        load_rate,
        rate: n as f64 / window_s,
        window_s,
        produce_span_s: match (seen.min_create_ms, seen.max_create_ms) {
            (Some(a), Some(b)) => (b - a) as f64 / 1000.0,
            _ => f64::NAN,
        },
        reader_lag_s: match field("last_ack_ms") {
            Some(a) if a > 0.0 => (done - a) / 1000.0,
            _ => f64::NAN,
        },
        warmup_s: (warm.warm_ms.unwrap_or(f64::NAN) - spawned_ms) / 1000.0,
        rss_mb: field("vmhwm_kb").unwrap_or(0.0) / 1024.0,
        cpu_s: side_cpu,
        broker_cpu_s: broker_cpu,
        extra,
        threads,
    })
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
    // `BENCH_SIDES=faust` (or `plain`) runs one side only, e.g. under a profiler.
    let only = std::env::var("BENCH_SIDES")
        .ok()
        .filter(|s| s == "faust" || s == "plain");
    Broker::check_installed()?;
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
    let runtime = match std::env::var("BENCH_RUNTIME").as_deref() {
        Ok("current_thread") => "current-thread runtime".to_owned(),
        _ => format!("multi-thread runtime ({nproc} workers)"),
    };
    let data: Vec<(String, Vec<u8>)> = (0..n).map(make_payload).collect();
    let warmup: Vec<(String, Vec<u8>)> = (n..n + WARMUP).map(make_payload).collect();
    let avg_bytes = data.iter().map(|(_, v)| v.len()).sum::<usize>() / data.len().max(1);

    println!("W1 stateless pipeline: faust-rs worker vs plain rdkafka loop");
    println!("command : cargo bench -p faust-rs-tests --bench kafka_pipeline");
    println!(
        "          (this process: {}; BENCH_EVENTS={n} BENCH_RUNS={runs})",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    println!(
        "machine : nproc={nproc}, {cpu_model}, load average at start {}",
        load.trim()
    );
    println!(
        "broker  : Tansu 0.6.0 (scripts/tansu), memory:// engine, a fresh broker on a free loopback port for every run"
    );
    println!(
        "          (memory engine: fine for throughput: every run reads its input from offset 0 with a new group)"
    );
    println!(
        "data    : {n} timed JSON records (~{avg_bytes} B, keyed by account) in `{INPUT}` ({PARTITIONS} partitions), after {WARMUP} warm-up ones"
    );
    println!(
        "runs    : {runs} per side, alternating, each side in its own process; median reported"
    );
    println!();

    let mut results = Vec::new();
    for run in 1..=runs {
        let order: [&'static str; 2] = if run % 2 == 1 {
            ["plain", "faust"]
        } else {
            ["faust", "plain"]
        };
        for side in order
            .into_iter()
            .filter(|s| only.as_deref().is_none_or(|o| o == *s))
        {
            let r = run_side(side, run, &warmup, &data)?;
            eprintln!(
                "  run {run} {side:<5}: {:>9.0} events/s ({:.3} s)",
                r.rate, r.window_s
            );
            results.push(r);
        }
    }

    println!(
        "{:<4} {:<6} {:>10} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>9} {:>6}",
        "run",
        "side",
        "events/s",
        "window s",
        "prod s",
        "lag s",
        "warm-up s",
        "RSS MB",
        "CPU s",
        "brk CPU",
        "load/s",
        "extra"
    );
    for side in ["plain", "faust"] {
        for r in results.iter().filter(|r| r.side == side) {
            println!(
                "{:<4} {:<6} {:>10.0} {:>9.3} {:>8.3} {:>8.3} {:>9.2} {:>8.1} {:>8.2} {:>8.2} {:>9.0} {:>6}",
                r.run,
                r.side,
                r.rate,
                r.window_s,
                r.produce_span_s,
                r.reader_lag_s,
                r.warmup_s,
                r.rss_mb,
                r.cpu_s,
                r.broker_cpu_s,
                r.load_rate,
                r.extra
            );
        }
    }
    println!();
    println!("busiest threads of each side in the window (CPU s):");
    for side in ["plain", "faust"] {
        for r in results.iter().filter(|r| r.side == side) {
            println!("{:<4} {:<6} {}", r.run, r.side, r.threads);
        }
    }
    let side_median = |side: &str, f: fn(&RunResult) -> f64| {
        median(results.iter().filter(|r| r.side == side).map(f).collect())
    };
    let plain = side_median("plain", |r| r.rate);
    let faust = side_median("faust", |r| r.rate);
    println!();
    println!(
        "{:<20} {:>10} {:>12} {:>14}",
        "median", "events/s", "peak RSS MB", "CPU µs/event"
    );
    for (name, side) in [
        ("plain rdkafka loop", "plain"),
        ("faust-rs worker", "faust"),
    ] {
        println!(
            "{:<20} {:>10.0} {:>12.1} {:>14.2}",
            name,
            side_median(side, |r| r.rate),
            side_median(side, |r| r.rss_mb),
            side_median(side, |r| r.cpu_s) * 1e6 / n as f64
        );
    }
    let ratio = faust / plain;
    println!(
        "ratio faust-rs / plain: {ratio:.3}  (issue 3 target >= 0.8: {}; issue 8 target >= 0.9)",
        if ratio >= 0.8 { "met" } else { "NOT met" }
    );
    println!();
    println!(
        "measured: each run: fresh broker; the side starts and processes {WARMUP} warm-up records (group joined,"
    );
    println!(
        "          producer id acquired, sink partitions known); it is frozen (SIGSTOP) while the N timed records"
    );
    println!(
        "          are loaded, then resumed (SIGCONT). window = earliest producer timestamp (CreateTime) of the N"
    );
    println!(
        "          timed outputs, i.e. right after the side read its first timed input, until a plain reader in the"
    );
    println!(
        "          bench process has seen all N (so all were delivered). events/s = N / window."
    );
    println!(
        "          prod s    = last - first timed output timestamp (processing, without the delivery tail)"
    );
    println!(
        "          lag s     = plain only: its last acknowledgement to the reader seeing the last record"
    );
    println!(
        "          warm-up s = process spawn to all warm-up outputs seen (start, topics, group join, producer id)"
    );
    println!(
        "          RSS MB    = VmHWM of the side's process (whole life); CPU s = its user+sys CPU in the window;"
    );
    println!(
        "          brk CPU   = Tansu's CPU in the window; load/s = loader records/s; extra = outputs beyond N"
    );
    println!(
        "client settings, both sides (faust: its transport defaults, no overrides; plain: the same properties):"
    );
    println!(
        "  consumer: {} group.id=client.id=<per run>",
        settings_line(CONSUMER_SETTINGS)
    );
    println!("  producer: {}", settings_line(PRODUCER_SETTINGS));
    for (var, what) in [
        ("BENCH_CONSUMER", "consumer"),
        ("BENCH_PRODUCER", "producer"),
    ] {
        let extra = overrides(var);
        if !extra.is_empty() {
            let line: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("  {what} overrides ({var}), both sides: {}", line.join(" "));
        }
    }
    println!(
        "  offsets: kept by hand, committed every {:?} (faust's default commit_interval) and at shutdown,",
        commit_interval()
    );
    println!("           only past inputs whose output the broker acknowledged");
    println!(
        "  faust: 1 worker, per-event agent, concurrency 1, queue_capacity {}, tokio {runtime}",
        faust::config::Settings::default().queue_capacity
    );
    println!(
        "  plain: one task (block_on, tokio {runtime}): recv -> serde_json -> validate -> transform -> send_result; deliveries awaited in order"
    );
    println!("loader  : {}", settings_line(LOADER_SETTINGS));
    println!("reader  : {}", settings_line(READER_SETTINGS));
    Ok(())
}
