//! W5, end-to-end latency at a fixed input rate.
//!
//! In one child process: a producer thread sends [`RATE`] records a second
//! for [`DURATION`] to its side's input topic, each stamped with the time it was handed
//! to the producer (µs since the epoch, in the JSON value); the worker (a
//! faust agent with a sink, or the plain rdkafka loop) decodes each,
//! encodes it again and sends it to its sink; a reader thread reads the
//! sink (assigned its partitions, no group) and records receive time minus
//! send time. Reported: p50, p99 and max of those, over every timed record
//! (sorted, no histogram).
//!
//! Before the timed records, warm-up records go through until the reader
//! has seen one on every sink partition: so the latencies include neither
//! the consumer group's join nor the first connections.
//!
//! Both sides run with faust's client defaults (producers: `linger.ms=5`,
//! so batching adds up to 5 ms at the input and at the sink; consumers:
//! `fetch.wait.max.ms=50`). The reader alone, an instrument and the same
//! on both sides, fetches with `fetch.wait.max.ms=`[`READER_FETCH_WAIT_MS`]
//! so that it adds little of its own. The faust worker also commits every
//! `commit_interval` (2.8 s), which the latencies include.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use faust::prelude::*;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseRecord, Producer as _, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::env::{self, Env};
use crate::faust_side::{Progress, Worker};
use crate::plain_side::Relay;
use crate::report::{Report, Side};

/// Input records per second, during the timed part.
pub(crate) const RATE: u64 = 5_000;
/// How long the timed part sends for.
pub(crate) const DURATION: Duration = Duration::from_secs(20);
/// The sink reader's `fetch.wait.max.ms`.
pub(crate) const READER_FETCH_WAIT_MS: u32 = 10;
/// How long the warm-up may take (the group's join included).
const WARMUP_LIMIT: Duration = Duration::from_secs(120);
/// How long to wait, after the last send, for the last timed record.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// The faust side's input. Each side has its own: the input is written
/// while the side runs, and a side reading the other's input would first
/// read through all of it.
const FAUST_INPUT: &str = "bench-w5-in-faust";
/// The plain side's input.
const PLAIN_INPUT: &str = "bench-w5-in-rdkafka";
/// The faust side's sink.
const FAUST_SINK: &str = "bench-w5-out-faust";
/// The plain side's sink.
const PLAIN_SINK: &str = "bench-w5-out-rdkafka";
/// Partitions of every W5 topic.
const PARTITIONS: i32 = 4;

/// A timed record (or a warm-up one).
#[record]
#[derive(Debug, Clone)]
pub(crate) struct Ping {
    /// Its number (warm-up records count on from `u64::MAX / 2`).
    pub(crate) seq: u64,
    /// When it was handed to the producer, µs since the epoch.
    pub(crate) sent_us: u64,
    /// A warm-up record, not timed.
    pub(crate) warmup: bool,
}

/// The plain side's (and the reader's) view of a [`Ping`].
#[derive(Serialize, Deserialize)]
struct PlainPing {
    seq: u64,
    sent_us: u64,
    warmup: bool,
}

/// The faust side's agent: every ping to the sink.
#[agent(topic = "bench-w5-in-faust", sink = "bench-w5-out-faust")]
pub(crate) async fn relay(ping: Ping) -> Result<Ping> {
    Ok(ping)
}

/// The workload.
pub(crate) fn workload() -> crate::Workload {
    crate::Workload {
        id: "w5",
        title: "end-to-end latency at a fixed input rate",
        prepare,
        sides: &[(Side::Faust, faust), (Side::Rdkafka, plain)],
        min_ratio: None,
        rounds: false,
    }
}

fn prepare(env: &Env) -> Result<(), Box<dyn std::error::Error>> {
    env::create_topics(
        &env.broker,
        &[
            (FAUST_INPUT, PARTITIONS),
            (PLAIN_INPUT, PARTITIONS),
            (FAUST_SINK, PARTITIONS),
            (PLAIN_SINK, PARTITIONS),
        ],
    )?;
    Ok(())
}

fn faust(env: &Env) -> Result<Report, Box<dyn std::error::Error>> {
    // The progress sensor only serves to see the worker's assignment here.
    let progress = Progress::new(FAUST_SINK, u64::MAX);
    let app = App::bare(format!("bench-w5-faust-{}", env.run_id))
        .broker(env.broker_url())
        .topic_partitions(PARTITIONS as u32)
        .agent(&relay::AGENT);
    let worker = Worker::start(app, &progress)?;
    let measured = measure(env, FAUST_INPUT, FAUST_SINK);
    let stopped = worker.stop();
    let report = measured?;
    stopped?;
    Ok(report)
}

fn plain(env: &Env) -> Result<Report, Box<dyn std::error::Error>> {
    let stop = AtomicBool::new(false);
    let group = format!("bench-w5-rdkafka-{}", env.run_id);
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            Relay {
                input: PLAIN_INPUT,
                sink: PLAIN_SINK,
                group: &group,
                target: None,
                stop: Some(&stop),
                origin: Some("relay"),
            }
            .run(env, |value| {
                let ping: PlainPing =
                    serde_json::from_slice(value).map_err(|e| format!("not a ping: {e}"))?;
                serde_json::to_vec(&ping).map_err(|e| format!("encoding the ping: {e}"))
            })
        });
        let measured = measure(env, PLAIN_INPUT, PLAIN_SINK);
        stop.store(true, Ordering::Relaxed);
        let relayed = worker
            .join()
            .map_err(|_| "the plain loop's thread panicked".to_owned())?;
        let report = measured?;
        relayed?;
        Ok(report)
    })
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}

/// What the sink reader saw.
#[derive(Default)]
struct Seen {
    /// Latency of each timed record by `seq`, µs (0: not seen yet).
    latencies: Mutex<Vec<u64>>,
    /// Timed records seen more than once, or with a `seq` out of range.
    extra: AtomicU64,
    /// Warm-up records seen, per sink partition.
    warm: [AtomicU64; PARTITIONS as usize],
    /// Timed records seen.
    timed: AtomicU64,
    /// Undecodable records.
    bad: AtomicU64,
}

/// Warms the worker reading `input` and writing `sink` up, sends the
/// timed records at [`RATE`] to `input` and reads them back from `sink`.
fn measure(env: &Env, input: &str, sink: &str) -> Result<Report, String> {
    let total = RATE * DURATION.as_secs();
    let seen = Seen {
        latencies: Mutex::new(vec![0; total as usize]),
        ..Seen::default()
    };
    let stop = AtomicBool::new(false);
    let producer: ThreadedProducer<rdkafka::producer::DefaultProducerContext> =
        Env::producer_config(&env.broker)
            .create()
            .map_err(|e| format!("a producer for {}: {e}", env.broker))?;
    let send = |seq: u64, warmup: bool| -> Result<(), String> {
        let key = format!("k{}", seq % 64);
        let value = serde_json::to_vec(&PlainPing {
            seq,
            sent_us: now_us(),
            warmup,
        })
        .map_err(|e| format!("encoding a ping: {e}"))?;
        producer
            .send(BaseRecord::to(input).key(&key).payload(&value))
            .map_err(|(e, _)| format!("writing to {input}: {e}"))
    };
    std::thread::scope(|s| {
        let reader = s.spawn(|| read(env, sink, &seen, &stop));
        let result = (|| {
            // Warm-up: a record every 100 ms until one came through on
            // each sink partition.
            let started = Instant::now();
            let mut seq = u64::MAX / 2;
            while seen.warm.iter().any(|w| w.load(Ordering::Relaxed) == 0) {
                if reader.is_finished() {
                    return Err("the sink reader stopped during the warm-up".to_owned());
                }
                if started.elapsed() > WARMUP_LIMIT {
                    return Err(format!(
                        "warm-up records sent to {input} did not all come out of {sink} within \
                         {WARMUP_LIMIT:?} (seen per partition: {:?}); did the worker join its \
                         group?",
                        seen.warm
                            .iter()
                            .map(|w| w.load(Ordering::Relaxed))
                            .collect::<Vec<_>>()
                    ));
                }
                for _ in 0..4 {
                    send(seq, true)?;
                    seq += 1;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            // The timed records, each at its due time.
            let gap = Duration::from_secs(1) / RATE as u32;
            let start = Instant::now();
            for i in 0..total {
                let due = start + gap * i as u32;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                send(i, false)?;
            }
            let sent_for = start.elapsed();
            let drain = Instant::now();
            while seen.timed.load(Ordering::Relaxed) < total && drain.elapsed() < DRAIN_LIMIT {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(sent_for)
        })();
        stop.store(true, Ordering::Relaxed);
        let read = reader
            .join()
            .map_err(|_| "the sink reader's thread panicked".to_owned())?;
        let sent_for = result?;
        read?;
        let _ = producer.flush(Duration::from_secs(10));
        let mut latencies =
            std::mem::take(&mut *seen.latencies.lock().unwrap_or_else(|e| e.into_inner()));
        latencies.retain(|us| *us > 0);
        latencies.sort_unstable();
        let received = latencies.len() as u64;
        if received < total {
            return Err(format!(
                "{received} of {total} timed records came out of {sink} within {DRAIN_LIMIT:?} \
                 of the last send"
            ));
        }
        let bad = seen.bad.load(Ordering::Relaxed);
        if bad > 0 {
            return Err(format!("{bad} records on {sink} were not pings"));
        }
        let extra = seen.extra.load(Ordering::Relaxed);
        if extra > 0 {
            return Err(format!(
                "{extra} timed records came out of {sink} twice, or were not sent by this run"
            ));
        }
        let at = |q: f64| latencies[((received as f64 - 1.0) * q).round() as usize];
        let ms = |us: u64| format!("{:.1}", us as f64 / 1000.0);
        Ok(Report::new(received, sent_for.as_secs_f64())
            .with("p50 ms", ms(at(0.50)))
            .with("p99 ms", ms(at(0.99)))
            .with("max ms", ms(at(1.0))))
    })
}

/// Reads every partition of `sink` from its start until `stop`.
fn read(env: &Env, sink: &str, seen: &Seen, stop: &AtomicBool) -> Result<(), String> {
    let mut config = Env::consumer_config(&format!("bench-w5-reader-{}", env.run_id), &env.broker);
    config.set("fetch.wait.max.ms", READER_FETCH_WAIT_MS.to_string());
    let consumer: BaseConsumer = config
        .create()
        .map_err(|e| format!("the sink reader for {}: {e}", env.broker))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(sink, p, Offset::Beginning)
            .map_err(|e| format!("assigning {sink}/{p}: {e}"))?;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| format!("assigning {sink}: {e}"))?;
    while !stop.load(Ordering::Relaxed) {
        let Some(m) = consumer.poll(Duration::from_millis(50)) else {
            continue;
        };
        let received = now_us();
        let m = m.map_err(|e| format!("reading {sink}: {e}"))?;
        match serde_json::from_slice::<PlainPing>(m.payload().unwrap_or_default()) {
            Ok(p) if p.warmup => {
                if let Some(w) = seen.warm.get(m.partition() as usize) {
                    w.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(p) => {
                let mut latencies = seen.latencies.lock().unwrap_or_else(|e| e.into_inner());
                match latencies.get_mut(p.seq as usize) {
                    Some(at @ 0) => {
                        // At least 1 µs: 0 stands for "not seen".
                        *at = received.saturating_sub(p.sent_us).max(1);
                        seen.timed.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        seen.extra.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Err(_) => {
                seen.bad.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}
