//! W3, recovery: a worker rebuilding a RocksDB table from its changelog
//! (cold), then restarting on the store it left (warm).
//!
//! Prepared once: the changelog `bench-w3-accounts-changelog` (4
//! partitions, `cleanup.policy=compact`) holds `events` records over
//! `events / 10` accounts, each account set `10` times to growing
//! [`Totals`], in the form a faust worker writes under exact state: key
//! the account's UTF-8 bytes (codec `str`), value the `Totals` JSON behind
//! the origin frame (see `faust::table::changelog_value`) naming the
//! input event that wrote it. Those events are in `bench-w3-in`, one per
//! changelog record at the offset the frame names, and the app's group
//! (`bench-w3`) has committed every one of them: the state a worker leaves
//! when it has handled its whole input and stopped. Each partition of
//! both topics ends with a one-record batch, so that Tansu's memory engine
//! answers the true end offsets.
//!
//! * faust-rs, cold: a worker with an empty RocksDB folder. Timed from the
//!   call of `faust::worker::run_until` to the first `200` of `GET /ready`
//!   (asked every millisecond): topic declaration, group join, the
//!   recovery of the 4 partitions. The rate is records over that time;
//!   `recovering s` is the part `/ready` answered "recovering". Then a task
//!   in the worker counts the table's keys and sums its counts: they must
//!   be the accounts written and the records written.
//! * faust-rs, warm: the worker stopped (cleanly, `run_until`'s stop
//!   future), started again in the same process on the same folder: the
//!   same span, in seconds, and the same check.
//! * rdkafka: the ceiling: a `BaseConsumer` assigned the 4 partitions at
//!   offset 0 (no group), reading to the end offsets into one RocksDB
//!   database, one `WriteBatch` per batch of up to 4,096 records (key,
//!   unframed value, and the partitions' next offsets), with the consumer
//!   settings faust's changelog reader uses ([`READER_SETTINGS`]). Timed
//!   from creating the consumer to the last batch written.

use std::error::Error;
use std::io::{Read as _, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use faust::prelude::*;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

use crate::Workload;
use crate::env::Env;
use crate::report::{Report, Side};
use crate::w2_stateful::{Payment, ScratchDir, Totals, create_topics, end_offsets, load, splitmix};

/// The input topic the changelog's events came from.
const INPUT: &str = "bench-w3-in";
/// The worker's app id (its consumer group, its changelog's prefix).
const APP_ID: &str = "bench-w3";
/// The table.
const TABLE: &str = "accounts";
/// Partitions of both topics and of the table.
const PARTITIONS: i32 = 4;
/// Times each account is written.
const WRITES_PER_KEY: u64 = 10;
/// Records the plain side writes per `WriteBatch` at most (faust's
/// recovery chunk).
const BATCH: usize = 4096;
/// What faust's changelog reader sets on top of the consumer defaults
/// (`ChangelogReader::consumer` in `faust-rs-runtime/src/transport/kafka.rs`),
/// set on the plain reader too: the same client settings on both sides.
const READER_SETTINGS: &[(&str, &str)] = &[
    ("enable.partition.eof", "true"),
    ("statistics.interval.ms", "0"),
    ("fetch.max.bytes", "67108864"),
    ("max.partition.fetch.bytes", "16777216"),
    ("queued.min.messages", "200000"),
    ("queued.max.messages.kbytes", "131072"),
];
/// How long a side may wait for the worker or the broker.
const DEADLINE: Duration = Duration::from_secs(600);

/// The table the worker recovers.
#[table(
    name = "accounts",
    default,
    partitions = 4,
    help = "count and sum per account"
)]
static ACCOUNTS: Table<String, Totals>;

/// The agent that wrote the changelog (its input is all committed: it
/// handles nothing during the benchmark).
#[agent(topic = "bench-w3-in")]
async fn w3_tally(payment: Payment) -> Result<()> {
    ACCOUNTS.update(&payment.account, |t| {
        t.count += 1;
        t.sum += payment.amount;
    })?;
    Ok(())
}

/// Set by the benchmark once `/ready` said ready: `w3_census` then counts.
static CENSUS_ASKED: AtomicBool = AtomicBool::new(false);
/// `w3_census`'s answer: keys + 1 (0: none yet).
static CENSUS_KEYS: AtomicU64 = AtomicU64::new(0);
/// `w3_census`'s answer: the counts summed.
static CENSUS_COUNTS: AtomicU64 = AtomicU64::new(0);

/// Counts the table's keys and sums its counts when asked: the check
/// that the recovered table is whole (table reads need the worker).
#[task]
async fn w3_census() -> Result<()> {
    while !CENSUS_ASKED.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let items = ACCOUNTS.items()?;
    CENSUS_COUNTS.store(items.iter().map(|(_, t)| t.count).sum(), Ordering::SeqCst);
    CENSUS_KEYS.store(items.len() as u64 + 1, Ordering::SeqCst);
    Ok(())
}

/// The workload, for `workloads()`.
pub(crate) fn workload() -> Workload {
    Workload {
        id: "w3",
        title: "recovery: RocksDB table from its changelog, cold (events/s) and warm",
        prepare,
        sides: &[(Side::Faust, run_faust), (Side::Rdkafka, run_plain)],
        min_ratio: None,
        rounds: false,
    }
}

fn changelog() -> String {
    faust::table::changelog_topic(APP_ID, TABLE)
}

/// Accounts written for `records` records.
fn keys(records: u64) -> u64 {
    (records / WRITES_PER_KEY).max(1)
}

/// Where record `j` goes: its account, partition, and offset there (of
/// the changelog record and of the event that wrote it).
fn layout(records: u64) -> Vec<(i32, i64)> {
    let keys = keys(records);
    let mut next = [0i64; PARTITIONS as usize];
    (0..records)
        .map(|j| {
            let p = faust::partition_for_key(account(j, keys).as_bytes(), PARTITIONS as u32);
            let offset = next[p as usize];
            next[p as usize] += 1;
            (p, offset)
        })
        .collect()
}

/// The account of record `j`: every account once per round of `keys`
/// records, the order rotated from round to round.
fn account(j: u64, keys: u64) -> String {
    let round = j / keys;
    format!("acct-{:06}", (j + splitmix(round)) % keys)
}

/// `value` behind the frame a worker under exact state writes: magic
/// `FA CE 66 73 01`, the input topic's length (big-endian `u16`), the
/// topic, the partition (`i32`) and the offset (`i64`) of the event.
fn framed(topic: &str, partition: i32, offset: i64, value: &[u8]) -> Vec<u8> {
    let mut out = b"\xfa\xcefs\x01".to_vec();
    out.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    out.extend_from_slice(topic.as_bytes());
    out.extend_from_slice(&partition.to_be_bytes());
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(value);
    out
}

fn prepare(env: &Env) -> Result<(), Box<dyn Error>> {
    let records = env.events;
    let keys = keys(records);
    let changelog = changelog();
    create_topics(
        &env.broker,
        &[
            (INPUT, PARTITIONS, &[][..]),
            (&changelog, PARTITIONS, &[("cleanup.policy", "compact")][..]),
        ],
    )?;
    let started = Instant::now();
    let layout = layout(records);
    let totals = |j: u64| {
        let count = j / keys + 1;
        Totals {
            count,
            sum: count * (j % 100 + 1),
        }
    };
    let probe = framed(INPUT, 3, 77, b"{}");
    if faust::table::changelog_origin(&probe) != Some((INPUT, 3, 77))
        || faust::table::changelog_value(&probe) != b"{}"
    {
        return Err(
            "the changelog frame W3 writes is not the one faust reads: update \
                    w3_recovery::framed to faust::table's frame"
                .into(),
        );
    }
    load(&env.broker, &changelog, records, |j| {
        let (p, offset) = layout[j as usize];
        let value = serde_json::to_vec(&totals(j)).expect("totals serialize");
        (
            p,
            account(j, keys).into_bytes(),
            framed(INPUT, p, offset, &value),
        )
    })?;
    load(&env.broker, INPUT, records, |j| {
        let account = account(j, keys);
        let value = serde_json::to_vec(&Payment {
            account: account.clone(),
            amount: j % 100 + 1,
        })
        .expect("a payment serializes");
        (layout[j as usize].0, account.into_bytes(), value)
    })?;
    // The group has handled every event: commit the input's ends.
    let ends = end_offsets(&env.broker, INPUT)?;
    let committer: BaseConsumer = Env::consumer_config(APP_ID, &env.broker).create()?;
    let mut tpl = TopicPartitionList::new();
    for (p, end) in ends.iter().enumerate() {
        tpl.add_partition_offset(INPUT, p as i32, Offset::Offset(*end))?;
    }
    committer.commit(&tpl, CommitMode::Sync)?;
    let changelog_ends = end_offsets(&env.broker, &changelog)?;
    if changelog_ends != ends || changelog_ends.iter().sum::<i64>() != records as i64 {
        return Err(format!(
            "after loading, {changelog} ends at {changelog_ends:?} and {INPUT} at {ends:?}; \
             both must end at the records loaded per partition ({records} in all)"
        )
        .into());
    }
    eprintln!(
        "suite: w3 loaded {records} changelog records over {keys} accounts (and their events) \
         in {:.1?}; ends {ends:?}",
        started.elapsed()
    );
    Ok(())
}

/// What one start of the worker measured.
struct Start {
    /// From `run_until` to `/ready` answering 200.
    to_ready: Duration,
    /// The part of it `/ready` answered "recovering" (zero if never seen).
    recovering: Duration,
}

fn run_faust(env: &Env) -> Result<Report, Box<dyn Error>> {
    let records = env.events;
    let want_keys = keys(records).min(records);
    let dir = ScratchDir::new("w3-faust")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start = |what: &str| -> Result<Start, Box<dyn Error>> {
        CENSUS_ASKED.store(false, Ordering::SeqCst);
        CENSUS_KEYS.store(0, Ordering::SeqCst);
        let port = free_port()?;
        let app = App::bare(APP_ID)
            .broker(env.broker_url())
            .store(format!("rocksdb://{}", dir.0.display()))
            .table(&ACCOUNTS)
            .agent(&w3_tally::AGENT)
            .task(&w3_census::TASK)
            .topic_partitions(PARTITIONS as u32)
            .web_port(port);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let t0 = Instant::now();
        let worker = rt.spawn(faust::worker::run_until(app, async {
            let _ = stopped.await;
        }));
        let measured = wait_ready(port, t0, || worker.is_finished());
        let census = measured.as_ref().ok().map(|_| {
            CENSUS_ASKED.store(true, Ordering::SeqCst);
            let asked = Instant::now();
            while CENSUS_KEYS.load(Ordering::SeqCst) == 0 && asked.elapsed() < DEADLINE {
                if worker.is_finished() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (
                CENSUS_KEYS.load(Ordering::SeqCst).checked_sub(1),
                CENSUS_COUNTS.load(Ordering::SeqCst),
            )
        });
        let _ = stop.send(());
        rt.block_on(worker)?
            .map_err(|e| format!("the {what} worker failed: {e}"))?;
        let measured = measured?;
        match census {
            Some((Some(keys), counts)) if keys == want_keys && counts == records => Ok(measured),
            other => Err(format!(
                "after the {what} start the table holds (keys, counts summed) {other:?}; want \
                 {want_keys} keys whose counts sum to {records}"
            )
            .into()),
        }
    };
    let cold = start("cold")?;
    let warm = start("warm")?;
    drop(rt);
    let recovering_rate = if cold.recovering.is_zero() {
        "—".to_owned()
    } else {
        format!("{:.0}", records as f64 / cold.recovering.as_secs_f64())
    };
    Ok(Report::new(records, cold.to_ready.as_secs_f64())
        .with(
            "cold start-to-ready s",
            format!("{:.2}", cold.to_ready.as_secs_f64()),
        )
        .with(
            "cold recovering s",
            format!("{:.2}", cold.recovering.as_secs_f64()),
        )
        .with("recovering-phase records/s", recovering_rate)
        .with(
            "warm start-to-ready s",
            format!("{:.3}", warm.to_ready.as_secs_f64()),
        )
        .with(
            "warm recovering s",
            format!("{:.3}", warm.recovering.as_secs_f64()),
        ))
}

/// Asks `/ready` on `port` every millisecond until it answers 200.
fn wait_ready(port: u16, t0: Instant, gone: impl Fn() -> bool) -> Result<Start, Box<dyn Error>> {
    let mut recovering_since = None;
    let mut last = String::new();
    loop {
        if let Some((status, body)) = get(port, "/ready") {
            if status == 200 {
                let now = Instant::now();
                return Ok(Start {
                    to_ready: now - t0,
                    recovering: recovering_since.map_or(Duration::ZERO, |s| now - s),
                });
            }
            if body.contains("recovering") {
                recovering_since.get_or_insert_with(Instant::now);
            }
            last = format!("{status} {body}");
        }
        if gone() {
            return Err(
                format!("the worker stopped before /ready said ready (last: {last})").into(),
            );
        }
        if t0.elapsed() > DEADLINE {
            return Err(format!("/ready not ready after {DEADLINE:?} (last: {last})").into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `GET path` on `127.0.0.1:port`: status and body; `None` when nothing
/// answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_owned()))
}

/// A port nothing listens on now.
fn free_port() -> Result<u16, Box<dyn Error>> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn run_plain(env: &Env) -> Result<Report, Box<dyn Error>> {
    let records = env.events;
    let changelog = changelog();
    let ends = end_offsets(&env.broker, &changelog)?;
    let dir = ScratchDir::new("w3-plain")?;
    let db = rocksdb::DB::open_default(&dir.0)?;
    let started = Instant::now();
    let mut config = Env::consumer_config("bench-w3-plain", &env.broker);
    for (k, v) in READER_SETTINGS {
        config.set(*k, *v);
    }
    let consumer: BaseConsumer = config.create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(&changelog, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut next = vec![0i64; PARTITIONS as usize];
    let mut read = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    while next.iter().zip(&ends).any(|(n, e)| n < e) {
        if started.elapsed() > DEADLINE {
            return Err(
                format!("reading {changelog}: at {next:?} of {ends:?} after {DEADLINE:?}").into(),
            );
        }
        batch.clear();
        // A partition's end (`enable.partition.eof`) is not a record.
        let next_record = |timeout| loop {
            match consumer.poll(timeout) {
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => continue,
                other => break other,
            }
        };
        if let Some(m) = next_record(Duration::from_millis(100)) {
            batch.push(m?);
            while batch.len() < BATCH {
                match next_record(Duration::ZERO) {
                    Some(m) => batch.push(m?),
                    None => break,
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let mut writes = rocksdb::WriteBatch::default();
        for m in &batch {
            let key = m.key().ok_or("a changelog record without a key")?;
            match m.payload() {
                Some(v) => writes.put(key, faust::table::changelog_value(v)),
                None => writes.delete(key),
            }
            next[m.partition() as usize] = m.offset() + 1;
        }
        for (p, at) in next.iter().enumerate() {
            writes.put(format!("__offset/{p}"), at.to_be_bytes());
        }
        db.write(writes)?;
        read += batch.len() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    let report = Report::new(read, seconds);
    let keys = db
        .iterator(rocksdb::IteratorMode::Start)
        .filter(|kv| kv.as_ref().is_ok_and(|(k, _)| !k.starts_with(b"__offset/")))
        .count() as u64;
    let want_keys = self::keys(records).min(records);
    if read != records || keys != want_keys {
        return Err(format!(
            "the plain loop read {read} records into {keys} keys; want {records} records and \
             {want_keys} keys"
        )
        .into());
    }
    Ok(report)
}
