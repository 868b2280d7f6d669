//! The plain rdkafka side of a broker workload: the loop a careful user
//! writes without faust. One thread polls a `BaseConsumer` (subscribed, in
//! a consumer group), turns each record's value into the output with the
//! workload's function, and hands it to a `ThreadedProducer` keyed like
//! the input. At-least-once like faust: an input offset becomes
//! committable once the output of it and of every earlier record of its
//! partition has been acknowledged by the broker, and the committable
//! offsets are committed (async) every `commit_interval` (faust's default,
//! read from `faust::config::Settings`), and once more at the end.
//!
//! What is timed, as on the faust side ([`crate::faust_side`]): from the
//! first record polled (the consumer group's join is not counted) to the
//! broker's acknowledgement of the last expected output.
//!
//! Both clients use [`Env::consumer_config`] / [`Env::producer_config`]:
//! faust's own client defaults.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, Message as _, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer as _, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::env::Env;
use crate::faust_side::STALL;

/// What the loop does and when it stops.
pub(crate) struct Relay<'a> {
    /// The input topic.
    pub(crate) input: &'a str,
    /// The output topic.
    pub(crate) sink: &'a str,
    /// The consumer group.
    pub(crate) group: &'a str,
    /// The loop stops reading after this many records and returns once
    /// their outputs are acknowledged (`None`: until `stop` is set).
    pub(crate) target: Option<u64>,
    /// Set by another thread to stop the loop (it then waits for the
    /// outputs in flight and commits).
    pub(crate) stop: Option<&'a AtomicBool>,
    /// With the name of the faust side's agent: every output carries the
    /// `faust.source` header a faust worker writes by default
    /// (`agent@topic/partition/offset/0`), so both sides send the same
    /// bytes to the broker.
    pub(crate) origin: Option<&'a str>,
}

/// What the loop did.
#[derive(Debug)]
pub(crate) struct Relayed {
    /// Outputs acknowledged.
    pub(crate) delivered: u64,
    /// First record read to the last output acknowledged.
    pub(crate) span: Duration,
}

impl Relay<'_> {
    /// Runs the loop against `env`'s broker, `transform` turning each
    /// input value into the output value (an `Err` stops the loop, as an
    /// agent without a dead-letter topic stops faust's worker).
    pub(crate) fn run(
        &self,
        env: &Env,
        mut transform: impl FnMut(&[u8]) -> Result<Vec<u8>, String>,
    ) -> Result<Relayed, String> {
        let consumer: BaseConsumer = Env::consumer_config(self.group, &env.broker)
            .create()
            .map_err(|e| format!("a consumer for {}: {e}", env.broker))?;
        consumer
            .subscribe(&[self.input])
            .map_err(|e| format!("subscribing to {}: {e}", self.input))?;
        let producer: ThreadedProducer<Acks> = Env::producer_config(&env.broker)
            .create_with_context(Acks::default())
            .map_err(|e| format!("a producer for {}: {e}", env.broker))?;
        let commit_every = faust::config::Settings::default().commit_interval;
        let mut last_commit = Instant::now();
        let mut consumed = 0u64;
        let mut last_read = Instant::now();
        let mut first_in: Option<Instant> = None;
        loop {
            let stopping = self.stop.is_some_and(|s| s.load(Ordering::Relaxed))
                || self.target.is_some_and(|t| consumed >= t);
            if stopping {
                break;
            }
            if let Some(m) = consumer.poll(Duration::from_millis(100)) {
                let m = m.map_err(|e| format!("reading {}: {e}", self.input))?;
                first_in.get_or_insert_with(Instant::now);
                last_read = Instant::now();
                consumed += 1;
                let out = transform(m.payload().unwrap_or_default()).map_err(|e| {
                    format!(
                        "the record at {}/{}@{}: {e}",
                        self.input,
                        m.partition(),
                        m.offset()
                    )
                })?;
                producer.context().sent(m.partition(), m.offset());
                let opaque = opaque(m.partition(), m.offset());
                let mut record = BaseRecord::with_opaque_to(self.sink, opaque).payload(&out);
                if let Some(key) = m.key() {
                    record = record.key(key);
                }
                if let Some(agent) = self.origin {
                    let origin =
                        format!("{agent}@{}/{}/{}/0", self.input, m.partition(), m.offset());
                    record = record.headers(OwnedHeaders::new_with_capacity(1).insert(Header {
                        key: faust::origin::HEADER,
                        value: Some(origin.as_bytes()),
                    }));
                }
                send(&producer, record, self.sink)?;
            } else if self.target.is_some() && last_read.elapsed() > STALL {
                return Err(format!(
                    "no record came from {} for {STALL:?} ({consumed} of {} read); is the \
                     input loaded?",
                    self.input,
                    self.target.unwrap_or_default()
                ));
            }
            if last_commit.elapsed() >= commit_every {
                commit(&consumer, producer.context(), self.input, CommitMode::Async)?;
                last_commit = Instant::now();
            }
            producer.context().check()?;
        }
        // Every output acknowledged, then the last commit.
        let deadline = Instant::now() + STALL;
        while producer.context().delivered() < consumed {
            producer.context().check()?;
            if Instant::now() > deadline {
                return Err(format!(
                    "{} of {consumed} outputs written to {} were acknowledged within {STALL:?}",
                    producer.context().delivered(),
                    self.sink
                ));
            }
            let _ = producer.flush(Duration::from_millis(100));
        }
        commit(&consumer, producer.context(), self.input, CommitMode::Sync)?;
        let acks = producer.context();
        let last_ack = acks
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_ack;
        let span = match (first_in, last_ack) {
            (Some(first), Some(last)) => last.duration_since(first),
            _ => Duration::ZERO,
        };
        Ok(Relayed {
            delivered: acks.delivered(),
            span,
        })
    }
}

/// Hands `record` to the producer, waiting while its local queue is full.
fn send<'a>(
    producer: &ThreadedProducer<Acks>,
    mut record: BaseRecord<'a, [u8], Vec<u8>, usize>,
    sink: &str,
) -> Result<(), String> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                // Backpressure: the producer's thread drains the queue.
                record = back;
                std::thread::sleep(Duration::from_micros(200));
            }
            Err((e, _)) => return Err(format!("writing to {sink}: {e}")),
        }
    }
}

/// Commits the offsets that became committable since the last commit.
fn commit(
    consumer: &BaseConsumer,
    acks: &Acks,
    topic: &str,
    mode: CommitMode,
) -> Result<(), String> {
    let offsets = acks.committable();
    if offsets.is_empty() {
        return Ok(());
    }
    let mut tpl = TopicPartitionList::new();
    for (partition, offset) in offsets {
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(|e| format!("offset {offset} of {topic}/{partition}: {e}"))?;
    }
    consumer
        .commit(&tpl, mode)
        .map_err(|e| format!("committing offsets of {topic}: {e}"))
}

/// An input position in a delivery opaque: offset above, partition below.
fn opaque(partition: i32, offset: i64) -> usize {
    ((offset as usize) << 16) | (partition as usize & 0xffff)
}

fn from_opaque(opaque: usize) -> (i32, i64) {
    ((opaque & 0xffff) as i32, (opaque >> 16) as i64)
}

/// The producer's context: counts acknowledgements and keeps, per input
/// partition, the offsets whose outputs are in flight, in order, to know
/// the committable offset (the commit watermark).
#[derive(Default)]
struct Acks {
    pending: Mutex<Pending>,
    delivered: AtomicU64,
    error: Mutex<Option<String>>,
}

/// What the delivery callback and the loop share.
#[derive(Default)]
struct Pending {
    partitions: HashMap<i32, Watermark>,
    /// When the latest acknowledgement came.
    last_ack: Option<Instant>,
}

/// One input partition's outputs in flight.
#[derive(Default)]
struct Watermark {
    /// `(input offset, acknowledged)`, in offset order.
    in_flight: VecDeque<(i64, bool)>,
    /// The next offset to commit, when it moved since the last commit.
    committable: Option<i64>,
}

impl Acks {
    fn sent(&self, partition: i32, offset: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .partitions
            .entry(partition)
            .or_default()
            .in_flight
            .push_back((offset, false));
    }

    fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    fn committable(&self) -> Vec<(i32, i64)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .partitions
            .iter_mut()
            .filter_map(|(p, w)| w.committable.take().map(|o| (*p, o)))
            .collect()
    }

    /// The first failed delivery, as an error.
    fn check(&self) -> Result<(), String> {
        match &*self.error.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let (partition, offset) = from_opaque(opaque);
        if let Err((e, _)) = result {
            let mut error = self.error.lock().unwrap_or_else(|e| e.into_inner());
            error.get_or_insert_with(|| {
                format!("the output of input partition {partition} offset {offset}: {e}")
            });
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = pending.partitions.get_mut(&partition) {
            if let Ok(i) = w.in_flight.binary_search_by_key(&offset, |(o, _)| *o) {
                w.in_flight[i].1 = true;
            }
            while let Some((o, true)) = w.in_flight.front().copied() {
                w.in_flight.pop_front();
                w.committable = Some(o + 1);
            }
        }
        pending.last_ack = Some(Instant::now());
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }
}
