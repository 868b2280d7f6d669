//! Table recovery benchmarks (issue 4): how fast a worker gets its tables
//! back from their changelogs, and what it costs in memory.
//!
//! ```text
//! cargo bench --workspace --bench tables
//! BENCH_KEYS=1000000 cargo bench --workspace --bench tables          # a smaller big table
//! BENCH_CASES=rocksdb,warm cargo bench --workspace --bench tables    # some cases only
//! BENCH_CONSUMER=fetch.wait.max.ms=10 cargo bench --workspace --bench tables
//! ```
//!
//! Knobs (environment):
//!
//! * `BENCH_RECORDS` (default 1,000,000): records in the history changelog;
//! * `BENCH_HISTORY_KEYS` (default 100,000): distinct keys among them (each
//!   key is written `BENCH_RECORDS / BENCH_HISTORY_KEYS` times);
//! * `BENCH_APPEND` (default 1,000): records appended for the warm restart
//!   with new data;
//! * `BENCH_KEYS` (default 10,000,000; 0 skips the case): distinct keys of
//!   the big table;
//! * `BENCH_RUNS` (default 3): runs of each cold and warm case (median);
//! * `BENCH_CASES` (default all): a comma list of `raw`, `memory`,
//!   `rocksdb`, `warm`, `big`;
//! * `BENCH_ROCKSDB_BLOCK_CACHE`, `BENCH_ROCKSDB_WRITE_BUFFER` (bytes):
//!   the app's `rocksdb_block_cache` / `rocksdb_write_buffer` (default:
//!   faust's, 64 MiB each);
//! * `BENCH_CONSUMER` (`key=value,...`): librdkafka properties for the
//!   app's consumers (the changelog reader takes them over its own) and
//!   for the raw reader;
//! * `BENCH_DIR`: where the RocksDB folders go (default: the temp dir);
//! * `BENCH_LOG=1`: the children log (recovery progress) to stderr;
//! * `BENCH_WRAP` (a command): runs each child under it, e.g.
//!   `BENCH_WRAP="valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p"`
//!   (for profiling only: the figures are then meaningless).
//!
//! Needs the test broker, Tansu 0.6 (`scripts/tansu install`, ~10 min once;
//! the bench never installs it). Each phase starts a fresh Tansu through
//! `scripts/tansu start DIR PORT memory` on a free loopback port and stops
//! it afterwards. The `memory://` engine is fast but has two faults
//! (../shared/BROKERS.md), which the data is laid out around:
//!
//! * ListOffsets(LATEST) answers the last batch's base offset + 1: the
//!   loader writes everything, flushes, then writes one last record per
//!   partition and flushes again, so every partition's last batch holds
//!   one record and the end offset the app reads is right;
//! * a fetch from inside a batch skips the rest of it: cold rebuilds read
//!   from offset 0, and a warm rebuild resumes one past a partition's last
//!   record, which starts a batch.
//!
//! The changelog topic is created by the bench (admin API, 8 partitions,
//! `cleanup.policy=compact`; Tansu's memory engine never compacts, so the
//! whole history is read), named as the app expects:
//! `<app id>-<table>-changelog`. Keys are JSON strings (the table is a
//! `Table<String, u64>`), values JSON numbers; each record goes to the
//! partition `faust::partition_for_key` gives its key, as a worker's write
//! would.
//!
//! What runs, each in a child process (this binary again, `BENCH_ROLE=...`)
//! so its peak RSS (VmHWM, whole life) and CPU time are its own:
//!
//! * history phase: a changelog of `BENCH_RECORDS` records over
//!   `BENCH_HISTORY_KEYS` keys;
//!   * `raw`: a plain librdkafka consumer with the changelog reader's
//!     settings reads it all (the broker's and client's ceiling);
//!   * `memory`: `faust::table::rebuild(&app)` into the memory store;
//!   * `rocksdb`: `rebuild` into an empty RocksDB folder (cold);
//!   * `warm`: `rebuild` again on that folder with nothing new (the time a
//!     restarted worker needs to be ready: open the stores, read the
//!     offsets they hold and the changelogs' end offsets): once right after
//!     the cold rebuild (`first`: it finds what the rebuild left on disk,
//!     write-ahead log included), then `BENCH_RUNS` times more (`again`);
//!     then once after `BENCH_APPEND` new records;
//! * big phase (`big`): a changelog of `BENCH_KEYS` distinct keys, rebuilt
//!   into an empty RocksDB folder: time and peak RSS.
//!
//! records/s = records / `RebuildReport::elapsed` (from connecting and
//! opening the stores to the last record written and the stores closed).
//! The table also gives each child's whole life (spawn to exit), peak RSS,
//! CPU time and the broker's CPU time meanwhile, the size of the RocksDB
//! folder and of its write-ahead log after the cold rebuild, and a summary
//! against the issue's targets.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{
    BoxError, Broker, client, cpu_seconds, env_u64, median, overrides, report_fields, self_peak_kb,
    settings_line, thousands, vm_field_kb,
};
use faust::config::RocksDbSettings;
use faust::prelude::*;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer};
use rdkafka::{Message as _, Offset, TopicPartitionList};

/// The table every case rebuilds.
#[table(name = "bench", partitions = 8)]
static BENCH: Table<String, u64>;

const TABLE: &str = "bench";
const PARTITIONS: i32 = 8;
/// The app of the history phase, and of the big one.
const HISTORY_APP: &str = "bench-history";
const BIG_APP: &str = "bench-big";

/// How long one child may take.
const CHILD_TIMEOUT: Duration = Duration::from_secs(3600);

/// The loader's settings (before timing; only needs to be fast).
const LOADER_SETTINGS: &[(&str, &str)] = &[
    ("enable.idempotence", "false"),
    ("acks", "1"),
    ("linger.ms", "20"),
    ("batch.num.messages", "10000"),
    ("queue.buffering.max.messages", "1000000"),
];

/// What faust's changelog reader sets over `CONSUMER_DEFAULTS`
/// (transport/kafka.rs, `ChangelogReader::consumer`); the raw reader uses
/// the same, so the two read alike.
const CHANGELOG_READER_SETTINGS: &[(&str, &str)] = &[
    ("enable.partition.eof", "true"),
    ("fetch.max.bytes", "67108864"),
    ("max.partition.fetch.bytes", "16777216"),
    ("queued.min.messages", "200000"),
    ("queued.max.messages.kbytes", "131072"),
];

// ---------------------------------------------------------------------------
// Children.

/// The app a child rebuilds: the one table, the broker, the store.
fn bench_app(app_id: &str, broker: &str, store: &str) -> App {
    let mut app = App::bare(app_id)
        .table(&BENCH)
        .broker(format!("kafka://{broker}"))
        .topic_partitions(PARTITIONS as u32)
        .store(store);
    let mut rocks = RocksDbSettings::default();
    if let Some(n) = env_u64("BENCH_ROCKSDB_BLOCK_CACHE") {
        rocks.block_cache = n;
    }
    if let Some(n) = env_u64("BENCH_ROCKSDB_WRITE_BUFFER") {
        rocks.write_buffer = n;
    }
    app = app.rocksdb(rocks);
    for (k, v) in overrides("BENCH_CONSUMER") {
        app = app.consumer_config(k, v);
    }
    app
}

/// `faust::table::rebuild` of the app in `BENCH_APP`, store `BENCH_STORE`.
fn rebuild_child() -> ExitCode {
    if std::env::var_os("BENCH_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter("info")
            .init();
    }
    let app = bench_app(
        &std::env::var("BENCH_APP").unwrap_or_default(),
        &std::env::var("BENCH_BROKER").unwrap_or_default(),
        &std::env::var("BENCH_STORE").unwrap_or_default(),
    );
    match faust::table::rebuild(&app) {
        Ok(report) => {
            println!(
                "BENCH_REBUILD records={} partitions={} elapsed_s={:.6}",
                report.records,
                report.partitions,
                report.elapsed.as_secs_f64()
            );
            report_self();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rebuild failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A plain librdkafka consumer with the changelog reader's settings reads
/// every partition of `BENCH_TOPIC` from 0 to its end.
fn raw_child() -> ExitCode {
    match raw_read(
        &std::env::var("BENCH_BROKER").unwrap_or_default(),
        &std::env::var("BENCH_TOPIC").unwrap_or_default(),
    ) {
        Ok((records, bytes, elapsed)) => {
            println!(
                "BENCH_REBUILD records={records} partitions={PARTITIONS} elapsed_s={:.6} bytes={bytes}",
                elapsed.as_secs_f64()
            );
            report_self();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("raw read failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn raw_read(broker: &str, topic: &str) -> std::result::Result<(u64, u64, Duration), BoxError> {
    let started = Instant::now();
    let mut config = client(broker, faust::config::CONSUMER_DEFAULTS);
    for (k, v) in CHANGELOG_READER_SETTINGS {
        config.set(*k, *v);
    }
    for (k, v) in overrides("BENCH_CONSUMER") {
        config.set(k, v);
    }
    config.set("group.id", "bench-raw");
    let consumer: BaseConsumer = config.create()?;
    let mut open: HashMap<i32, i64> = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        let (_, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        if high > 0 {
            tpl.add_partition_offset(topic, p, Offset::Offset(0))?;
            open.insert(p, high);
        }
    }
    consumer.assign(&tpl)?;
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut idle = Duration::ZERO;
    while !open.is_empty() {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                idle = Duration::ZERO;
                records += 1;
                bytes +=
                    (m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len)) as u64;
                if open
                    .get(&m.partition())
                    .is_some_and(|end| m.offset() >= end - 1)
                {
                    open.remove(&m.partition());
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => return Err(e.into()),
            None => {
                idle += Duration::from_millis(200);
                if idle > Duration::from_secs(30) {
                    return Err(format!("no record for 30 s; partitions left: {open:?}").into());
                }
            }
        }
    }
    Ok((records, bytes, started.elapsed()))
}

/// Prints this process's peak RSS and CPU time for the parent.
fn report_self() {
    println!(
        "BENCH_CHILD vmhwm_kb={} cpu_s={:.3}",
        self_peak_kb(),
        cpu_seconds("self").unwrap_or(f64::NAN)
    );
}

// ---------------------------------------------------------------------------
// The broker and the data.

/// Creates the changelog topic of `app_id`'s table as a worker would
/// (compacted), through the admin API.
fn create_changelog(broker: &Broker, app_id: &str) -> std::result::Result<String, BoxError> {
    let name = faust::table::changelog_topic(app_id, TABLE);
    let admin: AdminClient<DefaultClientContext> = client(&broker.address(), &[]).create()?;
    let topic = NewTopic::new(&name, PARTITIONS, TopicReplication::Fixed(1))
        .set("cleanup.policy", "compact");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = rt.block_on(admin.create_topics([&topic], &options))?;
    for result in results {
        if let Err((topic, code)) = result {
            return Err(format!("creating {topic} failed: {code}").into());
        }
    }
    Ok(name)
}

/// A changelog record: key (a JSON string), value (a JSON number), and the
/// partition a worker writes that key to.
struct Record {
    key: Vec<u8>,
    value: Vec<u8>,
    partition: i32,
}

impl Record {
    fn new(key: &str, value: u64) -> Record {
        let key = serde_json::to_vec(key).expect("a string encodes");
        let partition = faust::partition_for_key(&key, PARTITIONS as u32);
        Record {
            key,
            value: value.to_string().into_bytes(),
            partition,
        }
    }
}

/// Bytes of key and value of a typical record.
fn record_size(key: &str, value: u64) -> usize {
    let r = Record::new(key, value);
    r.key.len() + r.value.len()
}

fn history_key(i: u64) -> String {
    format!("key-{i:07}")
}

fn big_key(i: u64) -> String {
    format!("k{i:09}")
}

/// For each partition, the first of `candidates` that lands on it.
fn key_per_partition(candidates: impl Iterator<Item = u64>, key: fn(u64) -> String) -> Vec<u64> {
    let mut found: Vec<Option<u64>> = vec![None; PARTITIONS as usize];
    for i in candidates {
        let p = Record::new(&key(i), 0).partition as usize;
        if found[p].is_none() {
            found[p] = Some(i);
            if found.iter().all(Option::is_some) {
                break;
            }
        }
    }
    found.into_iter().flatten().collect()
}

/// Writes `bulk` into `topic`, flushes, then writes `last` (one record per
/// partition, each a batch of its own: Tansu's memory engine then answers
/// the right end offset) and flushes. Returns records/s.
fn load(
    broker: &str,
    topic: &str,
    bulk: impl Iterator<Item = Record>,
    last: impl Iterator<Item = Record>,
) -> std::result::Result<(u64, f64), BoxError> {
    let producer: ThreadedProducer<DefaultProducerContext> =
        client(broker, LOADER_SETTINGS).create()?;
    let started = Instant::now();
    let mut n = 0u64;
    for r in bulk {
        send(&producer, topic, &r)?;
        n += 1;
    }
    producer.flush(Duration::from_secs(600))?;
    for r in last {
        send(&producer, topic, &r)?;
        n += 1;
    }
    producer.flush(Duration::from_secs(60))?;
    Ok((n, n as f64 / started.elapsed().as_secs_f64()))
}

/// Enqueues `r`, waiting for room when the local queue is full.
fn send(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    r: &Record,
) -> std::result::Result<(), BoxError> {
    let mut record = BaseRecord::to(topic)
        .partition(r.partition)
        .key(&r.key[..])
        .payload(&r.value[..]);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(2));
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

/// Records `from..to` of the history: key `i % keys`, value `i`; the last
/// of each partition (one per partition, keys chosen to land there) in a
/// batch of its own.
fn load_history(
    broker: &str,
    topic: &str,
    from: u64,
    to: u64,
    keys: u64,
) -> std::result::Result<(u64, f64), BoxError> {
    let lasts = key_per_partition(0..keys, history_key);
    let bulk_end = to - lasts.len() as u64;
    load(
        broker,
        topic,
        (from..bulk_end).map(|i| Record::new(&history_key(i % keys), i)),
        lasts
            .iter()
            .enumerate()
            .map(|(j, k)| Record::new(&history_key(*k), bulk_end + j as u64)),
    )
}

/// `keys` distinct keys, value `i`; the highest key of each partition last.
fn load_big(broker: &str, topic: &str, keys: u64) -> std::result::Result<(u64, f64), BoxError> {
    let lasts = key_per_partition((0..keys).rev(), big_key);
    let is_last = |i: &u64| lasts.contains(i);
    load(
        broker,
        topic,
        (0..keys)
            .filter(|i| !is_last(i))
            .map(|i| Record::new(&big_key(i), i)),
        lasts.iter().map(|i| Record::new(&big_key(*i), *i)),
    )
}

// ---------------------------------------------------------------------------
// Running children.

/// One child's run.
#[derive(Debug, Clone)]
struct Row {
    case: String,
    records: u64,
    partitions: u64,
    elapsed_s: f64,
    /// Spawn to exit, seen from the parent.
    wall_s: f64,
    rss_mb: f64,
    cpu_s: f64,
    broker_cpu_s: f64,
}

impl Row {
    fn rate(&self) -> f64 {
        self.records as f64 / self.elapsed_s
    }
}

/// Runs this binary as `role` with `env`; its report as a [`Row`].
fn run_child(
    case: &str,
    role: &str,
    broker: &Broker,
    env: &[(&str, String)],
) -> std::result::Result<Row, BoxError> {
    let cpu0 = broker.cpu();
    let started = Instant::now();
    // `BENCH_WRAP="valgrind --tool=callgrind"` runs the child under a
    // profiler (its figures are then meaningless).
    let wrap = std::env::var("BENCH_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words).arg(std::env::current_exe()?);
            c
        }
        None => Command::new(std::env::current_exe()?),
    };
    command
        .env("BENCH_ROLE", role)
        .env("BENCH_BROKER", broker.address())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn()?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > CHILD_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{case}: the child ran past {CHILD_TIMEOUT:?}").into());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall_s = started.elapsed().as_secs_f64();
    let broker_cpu_s = broker.cpu() - cpu0;
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut out)?;
    }
    if !status.success() {
        return Err(format!("{case}: the child exited with {status}").into());
    }
    let fields = report_fields(&out);
    let field = |k: &str| -> std::result::Result<f64, BoxError> {
        fields
            .get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("{case}: the child reported no `{k}`").into())
    };
    let row = Row {
        case: case.to_owned(),
        records: field("records")? as u64,
        partitions: field("partitions")? as u64,
        elapsed_s: field("elapsed_s")?,
        wall_s,
        rss_mb: field("vmhwm_kb")? / 1024.0,
        cpu_s: field("cpu_s")?,
        broker_cpu_s,
    };
    eprintln!(
        "  {:<34} {:>10} records in {:>8.3} s = {:>9.0} records/s, peak RSS {:>6.1} MB",
        row.case,
        thousands(row.records),
        row.elapsed_s,
        row.rate(),
        row.rss_mb
    );
    Ok(row)
}

fn rebuild_env(app: &str, store: &str) -> Vec<(&'static str, String)> {
    vec![
        ("BENCH_APP", app.to_owned()),
        ("BENCH_STORE", store.to_owned()),
    ]
}

fn rocks_url(dir: &Path) -> String {
    format!("rocksdb://{}", dir.display())
}

/// Fails unless a child read what was expected.
fn expect(row: &Row, records: u64) -> std::result::Result<(), BoxError> {
    if row.records != records {
        return Err(format!(
            "{}: read {} records, expected {records}",
            row.case, row.records
        )
        .into());
    }
    Ok(())
}

/// Bytes under `path`, and of them in RocksDB write-ahead logs (`NNN.log`),
/// which the next open replays.
fn dir_size(path: &Path) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir(path) else {
        return (0, 0);
    };
    let mut sizes = (0, 0);
    for e in entries.flatten() {
        match e.metadata() {
            Ok(m) if m.is_dir() => {
                let (all, wal) = dir_size(&e.path());
                sizes.0 += all;
                sizes.1 += wal;
            }
            Ok(m) => {
                sizes.0 += m.len();
                if e.file_name().to_string_lossy().ends_with(".log") {
                    sizes.1 += m.len();
                }
            }
            Err(_) => {}
        }
    }
    sizes
}

fn store_note(what: &str, dir: &Path) -> String {
    let (all, wal) = dir_size(dir);
    format!(
        "{what} store folder holds {:.1} MB, {:.1} MB of it write-ahead log",
        all as f64 / 1e6,
        wal as f64 / 1e6
    )
}

// ---------------------------------------------------------------------------
// The parent.

fn main() -> ExitCode {
    match std::env::var("BENCH_ROLE").as_deref() {
        Ok("rebuild") => rebuild_child(),
        Ok("raw") => raw_child(),
        _ => match parent() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tables bench: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// What one summary line compares.
struct Target {
    what: String,
    measured: String,
    target: &'static str,
    met: Option<bool>,
}

#[allow(clippy::too_many_lines)]
fn parent() -> std::result::Result<(), BoxError> {
    let records = env_u64("BENCH_RECORDS").unwrap_or(1_000_000);
    let history_keys = env_u64("BENCH_HISTORY_KEYS").unwrap_or(100_000).max(1);
    let append = env_u64("BENCH_APPEND").unwrap_or(1_000);
    let big_keys = env_u64("BENCH_KEYS").unwrap_or(10_000_000);
    let runs = env_u64("BENCH_RUNS").unwrap_or(3).max(1) as usize;
    let cases: Vec<String> = std::env::var("BENCH_CASES")
        .unwrap_or_else(|_| "raw,memory,rocksdb,warm,big".into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    let on = |c: &str| cases.iter().any(|x| x == c);
    if records < 2 * PARTITIONS as u64 || append < 2 * PARTITIONS as u64 {
        return Err("BENCH_RECORDS and BENCH_APPEND must be at least 16".into());
    }
    Broker::check_installed()?;
    let base = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("faust-bench-tables-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    let result = phases(
        &base,
        records,
        history_keys,
        append,
        big_keys,
        runs,
        &cases,
        &on,
    );
    let _ = std::fs::remove_dir_all(&base);
    result
}

#[allow(clippy::too_many_arguments)]
fn phases(
    base: &Path,
    records: u64,
    history_keys: u64,
    append: u64,
    big_keys: u64,
    runs: usize,
    cases: &[String],
    on: &dyn Fn(&str) -> bool,
) -> std::result::Result<(), BoxError> {
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
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_total = vm_field_kb(&meminfo, "MemTotal:").unwrap_or(0) / 1024;
    let mem_avail = vm_field_kb(&meminfo, "MemAvailable:").unwrap_or(0) / 1024;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let rocks = bench_app("x", "x", "memory://").settings().rocksdb.clone();

    println!("Table recovery benchmarks (issue 4)");
    println!("command : cargo bench --workspace --bench tables");
    println!(
        "          (BENCH_RECORDS={records} BENCH_HISTORY_KEYS={history_keys} BENCH_APPEND={append} \
         BENCH_KEYS={big_keys} BENCH_RUNS={runs} BENCH_CASES={})",
        cases.join(",")
    );
    println!(
        "machine : nproc={nproc}, {cpu_model}, {mem_total} MiB RAM ({mem_avail} MiB available), \
         load average at start {}",
        load.trim()
    );
    println!(
        "broker  : Tansu 0.6.0 (scripts/tansu), memory:// engine, a fresh broker per phase on a free loopback port"
    );
    println!(
        "table   : Table<String, u64> `{TABLE}`, {PARTITIONS} partitions; changelog created compacted by the bench"
    );
    println!(
        "rocksdb : block cache {} MiB, write buffer {} MiB, compression {}, max open files {}",
        rocks.block_cache >> 20,
        rocks.write_buffer >> 20,
        rocks.compression,
        rocks.max_open_files
    );
    println!();

    let mut rows: Vec<Row> = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    let mut notes: Vec<String> = Vec::new();

    let history = ["raw", "memory", "rocksdb", "warm"].iter().any(|c| on(c));
    if history {
        let broker = Broker::start("history")?;
        let topic = create_changelog(&broker, HISTORY_APP)?;
        eprintln!("history: loading {} records...", thousands(records));
        let (loaded, rate) = load_history(&broker.address(), &topic, 0, records, history_keys)?;
        let note = format!(
            "history : `{topic}`: {} records over {} keys (~{} B key+value), loaded at {rate:.0} records/s; broker RSS {:.0} MB",
            thousands(loaded),
            thousands(history_keys),
            record_size(&history_key(0), records / 2),
            broker.rss_mb()
        );
        eprintln!("{note}");
        notes.push(note);

        if on("raw") {
            let mut v = Vec::new();
            for run in 1..=runs {
                let row = run_child(
                    &format!("raw librdkafka read, run {run}"),
                    "raw",
                    &broker,
                    &[("BENCH_TOPIC", topic.clone())],
                )?;
                expect(&row, loaded)?;
                v.push(row.rate());
                rows.push(row);
            }
            targets.push(Target {
                what: format!(
                    "raw librdkafka read of {} records: records/s",
                    thousands(loaded)
                ),
                measured: format!("{:.0}", median(v)),
                target: "(reference)",
                met: None,
            });
        }
        if on("memory") {
            let mut v = Vec::new();
            let mut rss = Vec::new();
            for run in 1..=runs {
                let row = run_child(
                    &format!("cold rebuild, memory, run {run}"),
                    "rebuild",
                    &broker,
                    &rebuild_env(HISTORY_APP, "memory://"),
                )?;
                expect(&row, loaded)?;
                v.push(row.rate());
                rss.push(row.rss_mb);
                rows.push(row);
            }
            targets.push(Target {
                what: format!(
                    "cold rebuild of {} records -> memory: records/s",
                    thousands(loaded)
                ),
                measured: format!("{:.0} ({:.0} MB RSS)", median(v), median(rss)),
                target: "(report)",
                met: None,
            });
        }
        let warm_dir = base.join("history-rocks");
        if on("rocksdb") || on("warm") {
            let mut v = Vec::new();
            let mut rss = Vec::new();
            let cold_runs = if on("rocksdb") { runs } else { 1 };
            for run in 1..=cold_runs {
                let _ = std::fs::remove_dir_all(&warm_dir);
                let row = run_child(
                    &format!("cold rebuild, RocksDB, run {run}"),
                    "rebuild",
                    &broker,
                    &rebuild_env(HISTORY_APP, &rocks_url(&warm_dir)),
                )?;
                expect(&row, loaded)?;
                v.push(row.rate());
                rss.push(row.rss_mb);
                rows.push(row);
            }
            let rate = median(v);
            notes.push(store_note(
                "rocksdb : after the cold rebuild, the history's",
                &warm_dir,
            ));
            if on("rocksdb") {
                targets.push(Target {
                    what: format!(
                        "cold rebuild of {} records -> RocksDB: records/s",
                        thousands(loaded)
                    ),
                    measured: format!("{rate:.0} ({:.0} MB RSS)", median(rss)),
                    target: ">= 300,000",
                    met: Some(rate >= 300_000.0),
                });
            }
        }
        if on("warm") {
            // The first restart finds what the cold rebuild left (its
            // write-ahead log included); the later ones a settled folder.
            let mut first = None;
            let mut again = Vec::new();
            for run in 0..=runs {
                let case = if run == 0 {
                    "warm restart, nothing new, first".to_owned()
                } else {
                    format!("warm restart, nothing new, again {run}")
                };
                let row = run_child(
                    &case,
                    "rebuild",
                    &broker,
                    &rebuild_env(HISTORY_APP, &rocks_url(&warm_dir)),
                )?;
                expect(&row, 0)?;
                if run == 0 {
                    first = Some(row.clone());
                } else {
                    again.push(row.clone());
                }
                rows.push(row);
            }
            let what = format!(
                "warm restart ({} keys, {} records), nothing new",
                thousands(history_keys),
                thousands(loaded)
            );
            if let Some(first) = first {
                targets.push(Target {
                    what: format!("{what}, first: ready in s"),
                    measured: format!("{:.3} (process {:.3})", first.elapsed_s, first.wall_s),
                    target: "< 1",
                    met: Some(first.elapsed_s < 1.0),
                });
            }
            let t = median(again.iter().map(|r| r.elapsed_s).collect());
            targets.push(Target {
                what: format!("{what}, again: ready in s"),
                measured: format!(
                    "{t:.3} (process {:.3})",
                    median(again.iter().map(|r| r.wall_s).collect())
                ),
                target: "< 1",
                met: Some(t < 1.0),
            });
            let (appended, _) = load_history(
                &broker.address(),
                &topic,
                records,
                records + append,
                history_keys,
            )?;
            let row = run_child(
                &format!("warm restart, +{} records", thousands(appended)),
                "rebuild",
                &broker,
                &rebuild_env(HISTORY_APP, &rocks_url(&warm_dir)),
            )?;
            expect(&row, appended)?;
            targets.push(Target {
                what: format!(
                    "warm restart after {} new records: ready in s",
                    thousands(appended)
                ),
                measured: format!("{:.3} (process {:.3})", row.elapsed_s, row.wall_s),
                target: "< 1",
                met: Some(row.elapsed_s < 1.0),
            });
            rows.push(row);
        }
        drop(broker);
        let _ = std::fs::remove_dir_all(&warm_dir);
    }

    if on("big") && big_keys >= PARTITIONS as u64 {
        let broker = Broker::start("big")?;
        let topic = create_changelog(&broker, BIG_APP)?;
        eprintln!("big: loading {} distinct keys...", thousands(big_keys));
        let (loaded, rate) = load_big(&broker.address(), &topic, big_keys)?;
        let note = format!(
            "big     : `{topic}`: {} distinct keys (~{} B key+value), loaded at {rate:.0} records/s; broker RSS {:.0} MB",
            thousands(loaded),
            record_size(&big_key(0), big_keys / 2),
            broker.rss_mb()
        );
        eprintln!("{note}");
        notes.push(note);
        let dir = base.join("big-rocks");
        let row = run_child(
            &format!("{} keys -> RocksDB", thousands(loaded)),
            "rebuild",
            &broker,
            &rebuild_env(BIG_APP, &rocks_url(&dir)),
        )?;
        expect(&row, loaded)?;
        notes.push(store_note("big     : after the rebuild, its", &dir));
        targets.push(Target {
            what: format!(
                "{} keys -> RocksDB: peak RSS MB (time, rate)",
                thousands(loaded)
            ),
            measured: format!(
                "{:.1} ({:.1} s, {:.0}/s)",
                row.rss_mb,
                row.elapsed_s,
                row.rate()
            ),
            target: "< 500",
            met: Some(row.rss_mb < 500.0),
        });
        rows.push(row);
        drop(broker);
        let _ = std::fs::remove_dir_all(&dir);
    }

    println!(
        "{:<36} {:>10} {:>5} {:>9} {:>10} {:>8} {:>8} {:>7} {:>8}",
        "case", "records", "parts", "time s", "records/s", "proc s", "RSS MB", "CPU s", "brk CPU"
    );
    for r in &rows {
        println!(
            "{:<36} {:>10} {:>5} {:>9.3} {:>10.0} {:>8.3} {:>8.1} {:>7.2} {:>8.2}",
            r.case,
            thousands(r.records),
            r.partitions,
            r.elapsed_s,
            r.rate(),
            r.wall_s,
            r.rss_mb,
            r.cpu_s,
            r.broker_cpu_s
        );
    }
    println!();
    println!(
        "{:<68} {:>28} {:>11} {:>4}",
        "target", "measured (median)", "target", "met"
    );
    for t in &targets {
        println!(
            "{:<68} {:>28} {:>11} {:>4}",
            t.what,
            t.measured,
            t.target,
            match t.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            }
        );
    }
    println!();
    for note in &notes {
        println!("{note}");
    }
    println!(
        "measured: time s  = RebuildReport::elapsed: `faust::table::rebuild(&app)` from connecting and opening"
    );
    println!(
        "          the stores to the last record written and the stores closed (warm: open the stores, read the"
    );
    println!(
        "          offsets they hold and the changelogs' end offsets); warm `first` = the first restart after the"
    );
    println!(
        "          cold rebuild (it finds what that left on disk), `again` = the restarts after it;"
    );
    println!(
        "          proc s = the child process from spawn to exit (start, rebuild, closing the stores);"
    );
    println!(
        "          RSS MB = VmHWM of the child (whole life); CPU s = its user+sys; brk CPU = Tansu's CPU meanwhile"
    );
    println!("client settings:");
    println!(
        "  changelog reader (faust, and the raw reader): {} + {}",
        settings_line(faust::config::CONSUMER_DEFAULTS),
        settings_line(CHANGELOG_READER_SETTINGS)
    );
    let extra = overrides("BENCH_CONSUMER");
    if !extra.is_empty() {
        let line: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("  consumer overrides (BENCH_CONSUMER): {}", line.join(" "));
    }
    println!(
        "  loader: {} (explicit partition = partition_for_key)",
        settings_line(LOADER_SETTINGS)
    );
    Ok(())
}
