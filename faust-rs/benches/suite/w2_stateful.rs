//! W2, stateful: a count and a sum per account, kept in RocksDB, every
//! update written to a compacted changelog topic.
//!
//! Input: `bench-w2-in` (4 partitions), `events` JSON payments
//! `{"account":"acct-00042","amount":17}` over [`KEYS`] accounts, keyed by
//! the account and partitioned as Kafka's default partitioner does
//! (murmur2), so an account lives in one partition.
//!
//! * faust-rs: an agent updates `Totals { count, sum }` of the account in
//!   the `#[table]` `totals`, stored with `App::store("rocksdb://DIR")`
//!   (exact state, the default); the worker writes each update to
//!   `bench-w2-totals-changelog` and commits every [`COMMIT_INTERVAL`].
//! * rdkafka: a `BaseConsumer` in a group, batches of up to
//!   [`BATCH`] records (what one `poll` and the following non-blocking
//!   polls return); per record it decodes the JSON, reads the account's
//!   totals from an in-memory cache in front of RocksDB (a `get` only on a
//!   cache miss, i.e. once per account), updates them, puts them in the
//!   batch's `WriteBatch` and produces them to `bench-w2-plain-changelog`;
//!   one `WriteBatch` per batch holds the values and the partitions' next
//!   offsets. Every [`COMMIT_INTERVAL`] it flushes the producer (every
//!   changelog record delivered) and then commits the offsets.
//!
//! Timed on both sides: from the first event received to the first offset
//! commit that covers every input event (which on both sides comes after
//! every changelog record of those events is delivered). Both sides commit
//! on the same interval, so both wait on average half an interval after
//! their last event; the group join before the first event is not timed.
//! The faust side's end is seen by a separate client asking the group's
//! committed offsets every 5 ms.
//!
//! Checked at the end on both sides, outside the timing: the side's
//! changelog, read back, holds for each account its last totals, and
//! their counts sum to the events, their sums to the amounts sent, over
//! every account sent. A wrong total fails the run.

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use faust::prelude::*;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::Workload;
use crate::env::Env;
use crate::report::{Report, Side};

/// The input topic both sides read.
const INPUT: &str = "bench-w2-in";
/// Partitions of every W2 topic (and of the table).
pub(crate) const PARTITIONS: i32 = 4;
/// Distinct accounts in the input.
const KEYS: u64 = 10_000;
/// The faust worker's app id: its consumer group, and its changelog's
/// prefix.
const APP_ID: &str = "bench-w2";
/// The faust table.
const TABLE: &str = "totals";
/// The plain side's consumer group.
const PLAIN_GROUP: &str = "bench-w2-plain";
/// The plain side's changelog topic.
const PLAIN_CHANGELOG: &str = "bench-w2-plain-changelog";
/// How often both sides commit offsets.
const COMMIT_INTERVAL: Duration = Duration::from_millis(200);
/// Records the plain side handles per batch (one `WriteBatch`): the
/// chunk faust's own recovery writes per `WriteBatch`.
const BATCH: usize = 4096;
/// How long a side may go without progress before it gives up.
const STALL: Duration = Duration::from_secs(60);

/// One input event.
#[record]
#[derive(Debug, Clone)]
pub(crate) struct Payment {
    /// The account it is for (also the record key).
    pub(crate) account: String,
    /// Its amount, in cents.
    pub(crate) amount: u64,
}

/// What the table holds per account.
#[record]
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Totals {
    /// Payments counted.
    pub(crate) count: u64,
    /// Their amounts summed, in cents.
    pub(crate) sum: u64,
}

/// The table the faust side counts into.
#[table(
    name = "totals",
    default,
    partitions = 4,
    help = "count and sum per account"
)]
static TOTALS: Table<String, Totals>;

/// When the faust side's agent saw its first event.
static FIRST_EVENT: OnceLock<Instant> = OnceLock::new();

/// The faust side: one update of the table per payment.
#[agent(topic = "bench-w2-in")]
async fn w2_tally(payment: Payment) -> Result<()> {
    FIRST_EVENT.get_or_init(Instant::now);
    TOTALS.update(&payment.account, |t| {
        t.count += 1;
        t.sum += payment.amount;
    })?;
    Ok(())
}

/// The workload, for `workloads()`.
pub(crate) fn workload() -> Workload {
    Workload {
        id: "w2",
        title: "stateful: count+sum per key in RocksDB, changelog",
        prepare,
        sides: &[(Side::Faust, run_faust), (Side::Rdkafka, run_plain)],
        min_ratio: Some(0.6),
        rounds: false,
    }
}

/// Event `i` of the input: account and amount.
fn event(i: u64) -> (String, u64) {
    (format!("acct-{:05}", splitmix(i) % KEYS), i % 100 + 1)
}

/// What the totals must add up to after `events` events.
#[derive(Debug, PartialEq)]
pub(crate) struct Expected {
    /// Sum of the counts: one per event.
    pub(crate) count: u64,
    /// Sum of the sums.
    pub(crate) sum: u64,
    /// Distinct keys.
    pub(crate) keys: usize,
}

fn expected(events: u64) -> Expected {
    let mut keys = HashSet::new();
    let mut sum = 0;
    for i in 0..events {
        let (account, amount) = event(i);
        keys.insert(account);
        sum += amount;
    }
    Expected {
        count: events,
        sum,
        keys: keys.len(),
    }
}

fn prepare(env: &Env) -> Result<(), Box<dyn Error>> {
    let compact = &[("cleanup.policy", "compact")][..];
    create_topics(
        &env.broker,
        &[
            (INPUT, PARTITIONS, &[][..]),
            (
                &faust::table::changelog_topic(APP_ID, TABLE),
                PARTITIONS,
                compact,
            ),
            (PLAIN_CHANGELOG, PARTITIONS, compact),
        ],
    )?;
    let started = Instant::now();
    load(&env.broker, INPUT, env.events, |i| {
        let (account, amount) = event(i);
        let partition = faust::partition_for_key(account.as_bytes(), PARTITIONS as u32);
        let value = serde_json::to_vec(&Payment {
            account: account.clone(),
            amount,
        })
        .expect("a payment serializes");
        (partition, account.into_bytes(), value)
    })?;
    eprintln!(
        "suite: w2 loaded {} events over {KEYS} accounts into {INPUT} in {:.1?}",
        env.events,
        started.elapsed()
    );
    Ok(())
}

fn run_faust(env: &Env) -> Result<Report, Box<dyn Error>> {
    let dir = ScratchDir::new("w2-faust")?;
    let ends = end_offsets(&env.broker, INPUT)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let app = App::bare(APP_ID)
        .broker(env.broker_url())
        .store(format!("rocksdb://{}", dir.0.display()))
        .table(&TOTALS)
        .agent(&w2_tally::AGENT)
        .topic_partitions(PARTITIONS as u32)
        .commit_interval(COMMIT_INTERVAL)
        .web(false);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = rt.spawn(faust::worker::run_until(app, async {
        let _ = stopped.await;
    }));
    let waited = wait_committed(&env.broker, APP_ID, &ends, || worker.is_finished());
    let _ = stop.send(());
    let outcome = rt.block_on(worker)?;
    let end = waited?;
    outcome?;
    let start = *FIRST_EVENT
        .get()
        .ok_or("the faust worker committed every offset but its agent saw no event")?;
    let seconds = end.duration_since(start).as_secs_f64();
    let report = Report::new(env.events, seconds);
    drop(rt);
    let changelog = faust::table::changelog_topic(APP_ID, TABLE);
    let records = verify_changelog(&env.broker, &changelog, &expected(env.events))?;
    Ok(report.with("changelog records", records))
}

/// Waits until `group` has committed `ends` on the input; returns when it
/// saw that. Fails when `gone()` says the worker stopped, or on a stall.
fn wait_committed(
    broker: &str,
    group: &str,
    ends: &[i64],
    gone: impl Fn() -> bool,
) -> Result<Instant, Box<dyn Error>> {
    let probe: BaseConsumer = Env::consumer_config(group, broker).create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(INPUT, p);
    }
    let mut last_sum = -1;
    let mut last_progress = Instant::now();
    loop {
        let committed = probe.committed_offsets(tpl.clone(), Duration::from_secs(10))?;
        let at: Vec<i64> = (0..PARTITIONS)
            .map(
                |p| match committed.find_partition(INPUT, p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o,
                    _ => 0,
                },
            )
            .collect();
        if at.iter().zip(ends).all(|(a, e)| a >= e) {
            return Ok(Instant::now());
        }
        let sum: i64 = at.iter().sum();
        if sum != last_sum {
            last_sum = sum;
            last_progress = Instant::now();
        }
        if gone() {
            return Err(format!(
                "the faust worker stopped with {INPUT} committed at {at:?} of {ends:?}"
            )
            .into());
        }
        if last_progress.elapsed() > STALL {
            return Err(format!(
                "group {group} committed {at:?} of {INPUT}'s ends {ends:?} and made no progress \
                 for {STALL:?}"
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn run_plain(env: &Env) -> Result<Report, Box<dyn Error>> {
    let dir = ScratchDir::new("w2-plain")?;
    let ends = end_offsets(&env.broker, INPUT)?;
    let db = rocksdb::DB::open_default(&dir.0)?;
    let consumer: BaseConsumer = Env::consumer_config(PLAIN_GROUP, &env.broker).create()?;
    consumer.subscribe(&[INPUT])?;
    let producer: BaseProducer<Delivery> =
        Env::producer_config(&env.broker).create_with_context(Delivery::default())?;

    let mut cache: HashMap<String, Totals> = HashMap::new();
    // Next offset of each partition (what a commit says).
    let mut next = vec![0i64; PARTITIONS as usize];
    let mut committed = vec![0i64; PARTITIONS as usize];
    let mut first: Option<Instant> = None;
    let mut last_commit = Instant::now();
    let mut last_progress = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    let end = loop {
        batch.clear();
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            batch.push(m?);
            while batch.len() < BATCH {
                match consumer.poll(Duration::ZERO) {
                    Some(m) => batch.push(m?),
                    None => break,
                }
            }
        }
        if !batch.is_empty() {
            first.get_or_insert_with(Instant::now);
            last_progress = Instant::now();
            let mut writes = rocksdb::WriteBatch::default();
            for m in &batch {
                let payment: Payment = serde_json::from_slice(m.payload().unwrap_or_default())?;
                let totals = match cache.get_mut(&payment.account) {
                    Some(t) => t,
                    None => {
                        let stored = match db.get(payment.account.as_bytes())? {
                            Some(bytes) => serde_json::from_slice(&bytes)?,
                            None => Totals::default(),
                        };
                        cache.entry(payment.account.clone()).or_insert(stored)
                    }
                };
                totals.count += 1;
                totals.sum += payment.amount;
                let value = serde_json::to_vec(totals)?;
                writes.put(payment.account.as_bytes(), &value);
                send(
                    &producer,
                    BaseRecord::to(PLAIN_CHANGELOG)
                        .partition(m.partition())
                        .key(payment.account.as_bytes())
                        .payload(value.as_slice()),
                )?;
                next[m.partition() as usize] = m.offset() + 1;
            }
            for (p, at) in next.iter().enumerate() {
                writes.put(format!("__offset/{p}"), at.to_be_bytes());
            }
            db.write(writes)?;
            producer.poll(Duration::ZERO);
        }
        if last_commit.elapsed() >= COMMIT_INTERVAL && next != committed {
            // Offsets only once their changelog records are on the broker.
            producer.flush(Duration::from_secs(30))?;
            producer.context().check()?;
            let mut tpl = TopicPartitionList::new();
            for (p, at) in next.iter().enumerate() {
                tpl.add_partition_offset(INPUT, p as i32, Offset::Offset(*at))?;
            }
            let done = next.iter().zip(&ends).all(|(a, e)| a >= e);
            let mode = if done {
                CommitMode::Sync
            } else {
                CommitMode::Async
            };
            consumer.commit(&tpl, mode)?;
            committed.clone_from(&next);
            last_commit = Instant::now();
            if done {
                break Instant::now();
            }
        }
        if last_progress.elapsed() > STALL {
            return Err(format!(
                "the plain loop read {INPUT} up to {next:?} of {ends:?} and got nothing for {STALL:?}"
            )
            .into());
        }
    };
    let start = first.ok_or("the plain loop finished without an event")?;
    let report = Report::new(env.events, end.duration_since(start).as_secs_f64());
    drop(consumer);
    drop(producer);
    drop(db);
    let records = verify_changelog(&env.broker, PLAIN_CHANGELOG, &expected(env.events))?;
    Ok(report.with("changelog records", records))
}

/// Reads `topic` (a W2 changelog) back: the last value of each key must
/// add up to `want`. Returns the number of records it read.
fn verify_changelog(broker: &str, topic: &str, want: &Expected) -> Result<u64, Box<dyn Error>> {
    let reader: BaseConsumer = Env::consumer_config("bench-w2-verify", broker).create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    reader.assign(&tpl)?;
    let mut last: HashMap<Vec<u8>, Totals> = HashMap::new();
    let mut records = 0u64;
    let mut idle = Instant::now();
    // One record per event at least; then whatever else arrives within
    // a second (duplicates would show in the totals).
    while records < want.count || idle.elapsed() < Duration::from_secs(1) {
        match reader.poll(Duration::from_millis(100)) {
            Some(m) => {
                let m = m?;
                let key = m.key().ok_or("a changelog record without a key")?.to_vec();
                let value = faust::table::changelog_value(m.payload().unwrap_or_default());
                last.insert(key, serde_json::from_slice(value)?);
                records += 1;
                idle = Instant::now();
            }
            None if idle.elapsed() > Duration::from_secs(30) => {
                return Err(format!(
                    "reading {topic} back: {records} records, then nothing for 30 s; want at \
                     least {} (one per event)",
                    want.count
                )
                .into());
            }
            None => {}
        }
    }
    let got = Expected {
        count: last.values().map(|t| t.count).sum(),
        sum: last.values().map(|t| t.sum).sum(),
        keys: last.len(),
    };
    if got != *want {
        return Err(format!(
            "{topic} holds wrong totals: counts sum to {}, sums to {}, over {} keys; want {}, \
             {}, {} ({records} changelog records read)",
            got.count, got.sum, got.keys, want.count, want.sum, want.keys
        )
        .into());
    }
    Ok(records)
}

// ------------------------------------------------------ shared with W3

/// A topic to create: name, partitions, configs.
pub(crate) type TopicSpec<'a> = (&'a str, i32, &'a [(&'a str, &'a str)]);

/// Creates `topics`. A topic that exists
/// already is an error: it holds an earlier run's records, and the
/// groups' committed offsets.
pub(crate) fn create_topics(broker: &str, topics: &[TopicSpec<'_>]) -> Result<(), Box<dyn Error>> {
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker)
        .create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, partitions, configs)| {
            configs.iter().fold(
                NewTopic::new(name, *partitions, TopicReplication::Fixed(1)),
                |t, (k, v)| t.set(k, v),
            )
        })
        .collect();
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(30)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for result in rt.block_on(admin.create_topics(&new, &options))? {
        match result {
            Ok(_) => {}
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                return Err(format!(
                    "topic {name} already exists on {broker}: it holds an earlier run's records \
                     and offsets; run the suite against a fresh broker (scripts/bench starts one)"
                )
                .into());
            }
            Err((name, code)) => return Err(format!("creating topic {name}: {code}").into()),
        }
    }
    Ok(())
}

/// Produces records `0..n` of `record(i) = (partition, key, value)` to
/// `topic` with faust's producer settings. Each partition's last record
/// goes alone in a batch of its own, after a flush: Tansu's memory engine
/// answers ListOffsets with the last batch's base offset + 1, which is
/// then the true end offset.
pub(crate) fn load(
    broker: &str,
    topic: &str,
    n: u64,
    record: impl Fn(u64) -> (i32, Vec<u8>, Vec<u8>),
) -> Result<(), Box<dyn Error>> {
    let producer: BaseProducer<Delivery> =
        Env::producer_config(broker).create_with_context(Delivery::default())?;
    let mut last = vec![None; PARTITIONS as usize];
    for i in 0..n {
        last[record(i).0 as usize] = Some(i);
    }
    let send_record = |i: u64| {
        let (partition, key, value) = record(i);
        send(
            &producer,
            BaseRecord::to(topic)
                .partition(partition)
                .key(key.as_slice())
                .payload(value.as_slice()),
        )
    };
    for i in 0..n {
        if last.contains(&Some(i)) {
            continue;
        }
        send_record(i)?;
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    for i in last.into_iter().flatten() {
        send_record(i)?;
        producer.flush(Duration::from_secs(30))?;
    }
    producer.context().check()?;
    Ok(())
}

/// Sends `record`, waiting while the producer's queue is full.
pub(crate) fn send(
    producer: &BaseProducer<Delivery>,
    mut record: BaseRecord<'_, [u8], [u8]>,
) -> Result<(), Box<dyn Error>> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

/// A producer context that keeps the first delivery failure.
#[derive(Default)]
pub(crate) struct Delivery {
    failed: AtomicU64,
    first: Mutex<Option<String>>,
}

impl Delivery {
    /// An error if some record was not delivered.
    pub(crate) fn check(&self) -> Result<(), Box<dyn Error>> {
        let failed = self.failed.load(Ordering::Relaxed);
        if failed == 0 {
            return Ok(());
        }
        let first = self.first.lock().map(|f| f.clone()).unwrap_or_default();
        Err(format!("{failed} records were not delivered; the first: {first:?}").into())
    }
}

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result
            && self.failed.fetch_add(1, Ordering::Relaxed) == 0
            && let Ok(mut first) = self.first.lock()
        {
            *first = Some(format!("{}[{}]: {e}", m.topic(), m.partition()));
        }
    }
}

/// The end offset of each partition of `topic`.
pub(crate) fn end_offsets(broker: &str, topic: &str) -> Result<Vec<i64>, Box<dyn Error>> {
    let probe: BaseConsumer = Env::consumer_config("bench-probe", broker).create()?;
    (0..PARTITIONS)
        .map(|p| {
            probe
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .map(|(_, high)| high)
                .map_err(|e| format!("end offset of {topic}[{p}]: {e}").into())
        })
        .collect()
}

/// A folder under the temp dir for one side's RocksDB data, removed when
/// dropped.
pub(crate) struct ScratchDir(pub(crate) PathBuf);

impl ScratchDir {
    pub(crate) fn new(what: &str) -> Result<Self, Box<dyn Error>> {
        let dir = std::env::temp_dir().join(format!("faust-bench-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A well-mixed 64-bit hash: spreads events over keys.
pub(crate) fn splitmix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
