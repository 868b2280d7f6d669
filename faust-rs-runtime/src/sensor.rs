//! Sensors: your code called at each step of the worker's work (Python
//! Faust's `faust.Sensor`).
//!
//! A [`Sensor`] has one method per step — a record read, an event handled,
//! a record sent, a table read or written, a commit, a failed event, a
//! rebalance — each a no-op unless you override it. Register sensors with
//! [`App::sensor`](crate::App::sensor) (as many as you like; each hears
//! every step, in the order they were added). They run in the worker and
//! in the [test driver](crate::testing), so what a sensor does can be
//! tested without a broker.
//!
//! Each method takes a small borrowed struct ([`MessageIn`], [`EventOut`],
//! ...): read what you need and copy out what you keep. The structs are
//! `#[non_exhaustive]`, so fields can be added without breaking your code.
//!
//! | method | when | Faust's |
//! | --- | --- | --- |
//! | [`on_message_in`](Sensor::on_message_in) | a record was read from a topic, before any agent sees it | `on_message_in` |
//! | [`on_event_out`](Sensor::on_event_out) | a per-event agent is done with an event (retries and error policy included), with how long it took and how it ended | `on_stream_event_out` |
//! | [`on_error`](Sensor::on_error) | an event failed: it is retried, dead-lettered, or stops the worker | — |
//! | [`on_send_initiated`](Sensor::on_send_initiated) | a record goes to the producer: sinks, `Topic::send`, changelogs, dead letters, replies | `on_send_initiated` |
//! | [`on_send_completed`](Sensor::on_send_completed) / [`on_send_error`](Sensor::on_send_error) | the broker took it, or did not | `on_send_completed` / `on_send_error` |
//! | [`on_table_get`](Sensor::on_table_get) / [`on_table_set`](Sensor::on_table_set) | a table key was read / written or deleted | `on_table_get` / `on_table_set`, `on_table_del` |
//! | [`on_commit`](Sensor::on_commit) | offsets were committed (only commits that moved some partition) | `on_commit_completed` |
//! | [`on_partitions_revoked`](Sensor::on_partitions_revoked) / [`on_partitions_assigned`](Sensor::on_partitions_assigned) | the consumer group took partitions away / gave some | `on_rebalance_start` / `on_rebalance_end` |
//!
//! Sensors are called inline, on the thread doing the work, and some hooks
//! (message in, table get) fire for every record: keep them quick, and send
//! anything slow (a network call) to a channel or task of your own. A
//! sensor is never called while the runtime holds a lock. Without sensors
//! the cost is one branch per step.
//!
//! What the driver reports: [`TestDriver::run_until_idle`] commits (one
//! `on_commit` when offsets moved); the driver's start assigns every
//! partition (`on_partitions_assigned`), and
//! [`TestDriver::rebalance`] revokes what the app held and assigns the
//! partitions it is given. Reads a test makes through
//! [`TestDriver::table`] are table gets too.
//!
//! [`TestDriver::run_until_idle`]: crate::testing::TestDriver::run_until_idle
//! [`TestDriver::rebalance`]: crate::testing::TestDriver::rebalance
//! [`TestDriver::table`]: crate::testing::TestDriver::table
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use faust::prelude::*;
//! use faust::sensor::{EventOut, Outcome, Sensor};
//! use faust::testing::TestDriver;
//!
//! /// Counts events that took longer than `limit` or failed.
//! #[derive(Default)]
//! struct SlowEvents {
//!     limit: Duration,
//!     slow: AtomicU64,
//!     failed: AtomicU64,
//! }
//!
//! impl Sensor for SlowEvents {
//!     fn on_event_out(&self, event: &EventOut<'_>) {
//!         if event.duration > self.limit {
//!             self.slow.fetch_add(1, Ordering::Relaxed);
//!         }
//!         if event.outcome != Outcome::Ok {
//!             self.failed.fetch_add(1, Ordering::Relaxed);
//!         }
//!     }
//! }
//!
//! #[agent(topic = "numbers")]
//! async fn check(n: u64) -> Result<()> {
//!     if n == 0 {
//!         return Err(faust::Error::msg("zero"));
//!     }
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> faust::Result<()> {
//! // A sensor you want to read afterwards: keep an `Arc` of it.
//! let sensor = Arc::new(SlowEvents::default());
//! let app = App::bare("sensed")
//!     .agent(&check::AGENT)
//!     .configure_agent("check", faust::AgentOptions::new().dead_letter("numbers-dlq"))
//!     .sensor(sensor.clone());
//! let mut t = TestDriver::with_app(app);
//! t.send("numbers", "a", 1u64).await;
//! t.send("numbers", "b", 0u64).await;
//! t.run_until_idle().await?;
//! assert_eq!(sensor.failed.load(Ordering::Relaxed), 1);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::transport::{Delivery, OutgoingRecord, Producer};

/// Hooks into the worker's work; every method does nothing unless you
/// override it. See the [module docs](self) for when each is called.
pub trait Sensor: Send + Sync + 'static {
    /// A record was read from a topic (before any agent sees it).
    fn on_message_in(&self, message: &MessageIn<'_>) {
        let _ = message;
    }

    /// A per-event agent is done with an event: it was handled, or failed
    /// for good and was dead-lettered, or stopped the worker. Called once
    /// per event and agent, retries included in the duration.
    fn on_event_out(&self, event: &EventOut<'_>) {
        let _ = event;
    }

    /// Whether this sensor reads [`EventOut::duration`] (the default).
    /// Timing each event takes two clock reads, a measurable part of a
    /// light handler's time: when no installed sensor reads durations,
    /// events are timed only for the `faust_handler_seconds` sample (one
    /// in 16), and `duration` is zero in the others.
    fn wants_durations(&self) -> bool {
        true
    }

    /// An event failed: `error.action` says what happens next.
    fn on_error(&self, error: &EventError<'_>) {
        let _ = error;
    }

    /// A record is handed to the producer.
    fn on_send_initiated(&self, send: &SendInitiated<'_>) {
        let _ = send;
    }

    /// The broker has a record.
    fn on_send_completed(&self, send: &SendCompleted<'_>) {
        let _ = send;
    }

    /// A record could not be written (after the client's own retries).
    fn on_send_error(&self, send: &SendError<'_>) {
        let _ = send;
    }

    /// A table key was read.
    fn on_table_get(&self, get: &TableGet<'_>) {
        let _ = get;
    }

    /// A table key was written (`value: None`: deleted).
    fn on_table_set(&self, set: &TableSet<'_>) {
        let _ = set;
    }

    /// Offsets were committed.
    fn on_commit(&self, commit: &Commit<'_>) {
        let _ = commit;
    }

    /// The consumer group took these partitions from this worker.
    fn on_partitions_revoked(&self, partitions: &Partitions<'_>) {
        let _ = partitions;
    }

    /// The consumer group gave these partitions to this worker.
    fn on_partitions_assigned(&self, partitions: &Partitions<'_>) {
        let _ = partitions;
    }
}

/// A shared sensor is a sensor: register an `Arc` and keep a clone to read
/// what it recorded.
impl<S: Sensor + ?Sized> Sensor for Arc<S> {
    fn on_message_in(&self, message: &MessageIn<'_>) {
        (**self).on_message_in(message);
    }
    fn on_event_out(&self, event: &EventOut<'_>) {
        (**self).on_event_out(event);
    }
    fn wants_durations(&self) -> bool {
        (**self).wants_durations()
    }
    fn on_error(&self, error: &EventError<'_>) {
        (**self).on_error(error);
    }
    fn on_send_initiated(&self, send: &SendInitiated<'_>) {
        (**self).on_send_initiated(send);
    }
    fn on_send_completed(&self, send: &SendCompleted<'_>) {
        (**self).on_send_completed(send);
    }
    fn on_send_error(&self, send: &SendError<'_>) {
        (**self).on_send_error(send);
    }
    fn on_table_get(&self, get: &TableGet<'_>) {
        (**self).on_table_get(get);
    }
    fn on_table_set(&self, set: &TableSet<'_>) {
        (**self).on_table_set(set);
    }
    fn on_commit(&self, commit: &Commit<'_>) {
        (**self).on_commit(commit);
    }
    fn on_partitions_revoked(&self, partitions: &Partitions<'_>) {
        (**self).on_partitions_revoked(partitions);
    }
    fn on_partitions_assigned(&self, partitions: &Partitions<'_>) {
        (**self).on_partitions_assigned(partitions);
    }
}

/// A record read from a topic; see [`Sensor::on_message_in`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct MessageIn<'a> {
    /// The topic it was read from.
    pub topic: &'a str,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// How an agent was done with an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler succeeded (perhaps after retries).
    Ok,
    /// It failed for good and went to the dead-letter topic.
    DeadLettered,
    /// It failed for good and stops the worker (`on_error = "stop"`, or a
    /// dead letter that could not be written).
    Stopped,
}

/// An event an agent is done with; see [`Sensor::on_event_out`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct EventOut<'a> {
    /// The agent's name.
    pub agent: &'a str,
    /// The event's topic.
    pub topic: &'a str,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The handler's time, retries, backoffs and dead letter included, on
    /// the app's clock (virtual under the test driver, where only time the
    /// driver moves counts: a retry's backoff does). Zero for events left
    /// untimed when no sensor [wants durations](Sensor::wants_durations).
    pub duration: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

/// What happens to an event that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorAction {
    /// It is tried again after this backoff.
    Retry(Duration),
    /// It goes to the agent's dead-letter topic.
    DeadLetter,
    /// It stops the worker.
    Stop,
}

/// An event that failed; see [`Sensor::on_error`].
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct EventError<'a> {
    /// The agent's name.
    pub agent: &'a str,
    /// The event's topic.
    pub topic: &'a str,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Which attempt failed (1 for the first).
    pub attempt: u32,
    /// The failure's kind, as in the dead letter's `faust.error.kind`
    /// header: `decode`, `validation`, `handler`, `output`, `late`.
    pub kind: &'static str,
    /// The error.
    pub error: &'a dyn fmt::Display,
    /// What happens next.
    pub action: ErrorAction,
}

impl fmt::Debug for EventError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventError")
            .field("agent", &self.agent)
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("offset", &self.offset)
            .field("attempt", &self.attempt)
            .field("kind", &self.kind)
            .field("error", &format_args!("{}", self.error))
            .field("action", &self.action)
            .finish()
    }
}

/// A record handed to the producer; see [`Sensor::on_send_initiated`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct SendInitiated<'a> {
    /// The topic it goes to.
    pub topic: &'a str,
    /// The partition asked for (`None`: by key).
    pub partition: Option<i32>,
    /// Bytes of key (0 without one).
    pub key_size: usize,
    /// Bytes of value (0 for a tombstone).
    pub value_size: usize,
}

/// A record the broker has; see [`Sensor::on_send_completed`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct SendCompleted<'a> {
    /// Its topic.
    pub topic: &'a str,
    /// The partition it landed in.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
}

/// A record that could not be written; see [`Sensor::on_send_error`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct SendError<'a> {
    /// The topic it was for.
    pub topic: &'a str,
    /// Why.
    pub error: &'a Error,
}

/// A table read; see [`Sensor::on_table_get`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct TableGet<'a> {
    /// The table's name.
    pub table: &'a str,
    /// The key, encoded with the table's key codec.
    pub key: &'a [u8],
}

/// A table write; see [`Sensor::on_table_set`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct TableSet<'a> {
    /// The table's name.
    pub table: &'a str,
    /// The table (and changelog) partition written.
    pub partition: i32,
    /// The key, encoded.
    pub key: &'a [u8],
    /// The value, encoded; `None`: the key was deleted.
    pub value: Option<&'a [u8]>,
}

/// A commit; see [`Sensor::on_commit`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Commit<'a> {
    offsets: &'a [(Arc<str>, i32, i64)],
}

impl<'a> Commit<'a> {
    /// Each partition committed, as topic, partition and the next offset to
    /// read (Kafka's committed offset: one past the last event handled).
    pub fn offsets(&self) -> impl Iterator<Item = (&'a str, i32, i64)> + 'a {
        self.offsets.iter().map(|(t, p, o)| (&**t, *p, *o))
    }
}

/// Partitions of a rebalance; see [`Sensor::on_partitions_assigned`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Partitions<'a> {
    /// Topic and partition, sorted.
    pub partitions: &'a [(&'a str, i32)],
}

/// The app's sensors, shared by everything that reports to them.
#[derive(Clone, Default)]
pub(crate) struct Sensors {
    list: Arc<[Arc<dyn Sensor>]>,
    /// Some sensor reads events' durations.
    durations: bool,
}

impl fmt::Debug for Sensors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sensors({})", self.list.len())
    }
}

impl Sensors {
    pub(crate) fn new(sensors: &[Arc<dyn Sensor>]) -> Self {
        Sensors {
            list: sensors.iter().cloned().collect(),
            durations: sensors.iter().any(|s| s.wants_durations()),
        }
    }

    /// Whether there are none: callers skip building what a hook needs.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether some sensor reads [`EventOut::duration`]: every event is
    /// timed then.
    #[inline]
    pub(crate) fn wants_durations(&self) -> bool {
        self.durations
    }

    /// Calls `hook` on each sensor.
    #[inline]
    pub(crate) fn each(&self, hook: impl Fn(&dyn Sensor)) {
        for sensor in self.list.iter() {
            hook(&**sensor);
        }
    }

    pub(crate) fn commit(&self, offsets: &[(Arc<str>, i32, i64)]) {
        if offsets.is_empty() {
            return;
        }
        self.each(|s| s.on_commit(&Commit { offsets }));
    }

    /// Reports a rebalance of `partitions` (sorted here).
    pub(crate) fn rebalance(&self, assigned: bool, mut partitions: Vec<(&str, i32)>) {
        partitions.sort_unstable();
        partitions.dedup();
        let partitions = Partitions {
            partitions: &partitions,
        };
        self.each(|s| {
            if assigned {
                s.on_partitions_assigned(&partitions);
            } else {
                s.on_partitions_revoked(&partitions);
            }
        });
    }

    /// Wraps `producer` so its sends are reported; `producer` itself when
    /// there are no sensors.
    pub(crate) fn producer(&self, producer: Arc<dyn Producer>) -> Arc<dyn Producer> {
        if self.is_empty() {
            return producer;
        }
        Arc::new(SensedProducer {
            inner: producer,
            sensors: self.clone(),
        })
    }

    /// Reports `record` going out, and wraps its delivery to report how it
    /// ended.
    pub(crate) fn sending(
        &self,
        record: OutgoingRecord,
        send: impl FnOnce(OutgoingRecord) -> Delivery,
    ) -> Delivery {
        let topic = record.topic.clone();
        self.each(|s| {
            s.on_send_initiated(&SendInitiated {
                topic: &topic,
                partition: record.partition,
                key_size: record.key.as_ref().map_or(0, |k| k.len()),
                value_size: record.value.as_ref().map_or(0, |v| v.len()),
            })
        });
        send(record).sensed(self, topic)
    }

    pub(crate) fn delivered(
        &self,
        topic: &str,
        result: &Result<crate::transport::RecordMetadata, Error>,
    ) {
        match result {
            Ok(meta) => self.each(|s| {
                s.on_send_completed(&SendCompleted {
                    topic,
                    partition: meta.partition,
                    offset: meta.offset,
                })
            }),
            Err(error) => self.each(|s| s.on_send_error(&SendError { topic, error })),
        }
    }
}

/// A producer whose sends the sensors hear of.
#[derive(Debug)]
struct SensedProducer {
    inner: Arc<dyn Producer>,
    sensors: Sensors,
}

impl Producer for SensedProducer {
    fn send(&self, record: OutgoingRecord) -> Delivery {
        self.sensors.sending(record, |r| self.inner.send(r))
    }
}

/// A transactional producer whose sends the sensors hear of.
#[derive(Debug)]
pub(crate) struct SensedTransactional {
    pub(crate) inner: Arc<dyn crate::transport::TransactionalProducer>,
    pub(crate) sensors: Sensors,
}

impl crate::transport::TransactionalProducer for SensedTransactional {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn init(&self) -> crate::error::Result<()> {
        self.inner.init()
    }
    fn begin(&self) -> crate::error::Result<()> {
        self.inner.begin()
    }
    fn send(&self, record: OutgoingRecord) -> Delivery {
        self.sensors.sending(record, |r| self.inner.send(r))
    }
    fn send_offsets(
        &self,
        offsets: &[(Arc<str>, i32, i64)],
        group: &crate::transport::GroupMetadata,
    ) -> crate::error::Result<()> {
        self.inner.send_offsets(offsets, group)
    }
    fn commit(&self) -> crate::error::Result<()> {
        self.inner.commit()
    }
    fn abort(&self) -> crate::error::Result<()> {
        self.inner.abort()
    }
    fn max_record_bytes(&self) -> usize {
        self.inner.max_record_bytes()
    }
}
