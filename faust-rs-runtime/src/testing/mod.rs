//! The test driver: run agents with no broker, no sleeps, and virtual time.
//!
//! [`TestDriver`] runs an [`App`] on the in-memory transport and a virtual
//! clock, and polls the app's futures itself, so every test is
//! deterministic:
//!
//! * [`send`](TestDriver::send) puts a record on a topic, as a producer would;
//! * [`run_until_idle`](TestDriver::run_until_idle) processes until nothing
//!   can move without time passing, then commits (it never moves the clock);
//! * [`advance`](TestDriver::advance) moves virtual time, firing timers,
//!   `take` timeouts and retry backoffs on the way;
//! * [`topic`](TestDriver::topic) reads back what landed on any topic —
//!   sinks, dead letters — decoded, with assertions that print what is there
//!   when they fail.
//!
//! ```
//! use faust::prelude::*;
//! use faust::testing::TestDriver;
//!
//! #[faust::agent(topic = "numbers", sink = "doubled")]
//! async fn double(n: u64) -> Result<u64> {
//!     Ok(n * 2)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> faust::Result<()> {
//! let mut t = TestDriver::for_agent(&double::AGENT);
//! t.send("numbers", "a", 21u64).await;
//! t.run_until_idle().await?;
//! t.topic::<u64>("doubled").assert_values(&[42]);
//! # Ok(())
//! # }
//! ```
//!
//! Faust's `agent.test_context()` corresponds to
//! [`TestDriver::for_agent`]: one agent alone.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;

use crate::agent::Event;
use crate::agent::dead_letter::headers as dlq;
use crate::app::App;
use crate::app::registry::AgentDef;
use crate::codec::Payload;
use crate::context::Scope;
use crate::error::{Error, Result};
use crate::table::AnyTable;
use crate::time::Clock;
use crate::topic::IntoPayload;
use crate::transport::memory::{MemoryBroker, MemoryTransport};
use crate::transport::{Headers, Message, OutgoingRecord, RecordMetadata};
use crate::worker::engine::{Engine, Unit, UnitFuture};
use futures_util::FutureExt;

/// Polls without progress after which `run_until_idle` reports a busy loop.
const MAX_ROUNDS: u64 = 50_000_000;

/// Runs an app in memory for tests. See the [module docs](self).
pub struct TestDriver {
    engine: Engine,
    transport: Arc<MemoryTransport>,
    app: App,
    broker: MemoryBroker,
    clock: Clock,
    slots: Vec<Slot>,
    started: bool,
    stopped: Option<String>,
}

struct Slot {
    name: String,
    future: Option<UnitFuture>,
    flag: Arc<WakeFlag>,
}

struct WakeFlag(AtomicBool);

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

impl fmt::Debug for TestDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDriver")
            .field("app", &self.engine.app.id)
            .field("now", &self.clock.elapsed())
            .field(
                "units",
                &self.slots.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .field("stopped", &self.stopped)
            .finish()
    }
}

impl Default for TestDriver {
    fn default() -> Self {
        Self::new()
    }
}

impl TestDriver {
    /// A driver running every agent, task, timer and topic declared in the
    /// test binary, as app `test-app`.
    ///
    /// # Panics
    /// If the app does not start (duplicate names, unknown codecs...), with
    /// the start-up error.
    pub fn new() -> Self {
        Self::with_app(App::new("test-app"))
    }

    /// A driver running one agent alone, like Faust's
    /// `agent.test_context()`.
    ///
    /// # Panics
    /// If the agent does not start, with the start-up error.
    pub fn for_agent(agent: &'static AgentDef) -> Self {
        Self::with_app(App::bare("test-app").agent(agent))
    }

    /// A driver running `app`.
    ///
    /// # Panics
    /// If the app does not start, with the start-up error; use
    /// [`try_with_app`](Self::try_with_app) to test start-up errors.
    pub fn with_app(app: App) -> Self {
        match Self::try_with_app(app) {
            Ok(driver) => driver,
            Err(e) => panic!("TestDriver: the app did not start: {e}"),
        }
    }

    /// A driver running `app`, or the start-up error.
    pub fn try_with_app(app: App) -> Result<Self> {
        let clock = Clock::virtual_clock();
        let broker = MemoryBroker::new(app.settings.topic_partitions, clock.clone());
        let (engine, transport) = Self::engine(app.clone(), &broker, &clock)?;
        Ok(TestDriver {
            engine,
            transport,
            app,
            broker,
            clock,
            slots: Vec::new(),
            started: false,
            stopped: None,
        })
    }

    fn engine(
        app: App,
        broker: &MemoryBroker,
        clock: &Clock,
    ) -> Result<(Engine, Arc<MemoryTransport>)> {
        let transport = Arc::new(MemoryTransport::new(broker.clone()));
        let engine = Engine::build(app, transport.clone(), clock.clone())?;
        // The in-memory transport answers at once.
        engine.declare_topics().now_or_never().unwrap_or(Ok(()))?;
        // Fences an earlier incarnation's transactional producer and aborts
        // what it left open, as a restarted worker does.
        engine.init_transactions()?;
        Ok((engine, transport))
    }

    /// Answers `GET path` (with its query string, if any) from the app's
    /// `#[page]`s, as the worker's web endpoint would, with no server:
    /// the page runs with the app's context and sees its tables.
    ///
    /// A path no page serves answers 404 listing the pages; a parameter
    /// that does not parse answers 400 naming it.
    pub async fn get(&self, path: &str) -> crate::web::Reply {
        crate::web::page::get(self.engine.core.clone(), &self.app.pages, path).await
    }

    /// Commits the finished offsets and writes the tables' stores, as the
    /// worker does every `commit_interval` (and the driver does when
    /// virtual time passes it).
    pub fn commit(&self) {
        self.engine.commit(true);
    }

    /// [`commit`](Self::commit), returning what a worker would only log:
    /// the error of a table store that could not write (a full disk: the
    /// writes wait in memory and the next commit tries again).
    pub fn try_commit(&self) -> Result<()> {
        self.engine.commit(true);
        match self.engine.core.tables.flush_failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Models a rebalance: this app now owns only `partitions` of its
    /// topics (another worker, not modelled, owns the rest). Finishes the
    /// work in flight and commits, flushes the tables' stores, then reads
    /// only `partitions`, each from its committed offset, after bringing
    /// their table partitions up to their changelogs' end; partitions no
    /// longer owned are closed. A handler waiting on something outside
    /// the app stays in flight: its event is read again, and what the
    /// handler writes to a table once it goes on is dropped. Give every
    /// partition back to model the partitions coming home. The app is its
    /// group's leader (leader-only timers run) while it owns partition 0.
    pub async fn rebalance(&mut self, partitions: impl IntoIterator<Item = i32>) -> Result<()> {
        self.run_until_idle().await?;
        self.engine.commit(true);
        if let Some(txn) = &self.engine.core.transactions {
            txn.revoke(|_, _| true);
        }
        // Eager, as a Kafka group: every partition is revoked, also those
        // coming back. An event still in a handler (waiting on something
        // outside the app) finishes as a zombie: its table writes are
        // dropped, and the event is read again from the committed offset.
        self.engine.tracker.revoke_all();
        let tables = self.engine.core.tables.clone();
        let every: Vec<i32> = (0..tables.all().iter().map(|t| t.partitions).max().unwrap_or(0))
            .map(|p| p as i32)
            .collect();
        tables.revoke(&every);
        let partitions: std::collections::BTreeSet<i32> = partitions.into_iter().collect();
        let partitions: Vec<i32> = partitions.into_iter().collect();
        let sensors = self.engine.core.sensors.clone();
        let consumer = self.transport.last_consumer();
        if let Some(consumer) = consumer.as_ref().filter(|_| !sensors.is_empty()) {
            sensors.rebalance(false, consumer.assignment());
        }
        let resume = match &consumer {
            Some(consumer) => {
                consumer.reassign(Some(partitions.iter().copied().collect()));
                Some(consumer.resume_offsets(&partitions))
            }
            None => None,
        };
        // The leader is whoever has partition 0 (of the election topic).
        if let Some(leader) = self.engine.leadership() {
            leader.set(partitions.contains(&0));
        }
        tables.assign(&partitions, &self.broker, resume.as_ref())?;
        if let Some(consumer) = consumer.as_ref().filter(|_| !sensors.is_empty()) {
            sensors.rebalance(true, consumer.assignment());
        }
        self.run_until_idle().await
    }

    /// Stops the app as a crash would — in-flight work is lost, state
    /// in memory is gone — and starts it again on the same broker: it
    /// resumes from the committed offsets and rebuilds its tables from
    /// their changelogs before processing. Virtual time goes on.
    pub async fn restart(&mut self) -> Result<()> {
        self.broker.lift_crash();
        self.slots.clear();
        self.started = false;
        self.stopped = None;
        // The old app goes first, as a crashed process would: its stores
        // are closed without writing what they buffered.
        let (placeholder, _) = Self::engine(App::bare(&self.app.id), &self.broker, &self.clock)?;
        drop(std::mem::replace(&mut self.engine, placeholder));
        (self.engine, self.transport) = Self::engine(self.app.clone(), &self.broker, &self.clock)?;
        self.run_until_idle().await
    }

    /// A view of `table` for assertions: its values in this app.
    pub fn table<T: AnyTable>(&self, table: &'static T) -> TableView<'_, T> {
        TableView {
            driver: self,
            table,
        }
    }

    /// The in-memory broker, to inspect topics and offsets directly.
    pub fn broker(&self) -> &MemoryBroker {
        &self.broker
    }

    /// Virtual time since the driver started.
    pub fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Sends `value` with `key` to `topic`, encoded with the topic's codecs
    /// (or the types' defaults).
    ///
    /// # Panics
    /// If the key or value cannot be encoded.
    pub async fn send<K: IntoPayload, V: IntoPayload>(
        &mut self,
        topic: &str,
        key: K,
        value: V,
    ) -> RecordMetadata {
        let key = self.encode_key(topic, &key.into_payload());
        let value = self.encode_value(topic, &value.into_payload());
        self.send_raw(topic, Some(key), Some(value), Headers::new())
            .await
    }

    /// Sends `value` with no key (partitions are then used in turn).
    ///
    /// # Panics
    /// If the value cannot be encoded.
    pub async fn send_value<V: IntoPayload>(&mut self, topic: &str, value: V) -> RecordMetadata {
        let value = self.encode_value(topic, &value.into_payload());
        self.send_raw(topic, None, Some(value), Headers::new())
            .await
    }

    /// Sends raw bytes: for malformed payloads, tombstones (`value: None`)
    /// and headers.
    pub async fn send_raw(
        &mut self,
        topic: &str,
        key: Option<Bytes>,
        value: Option<Bytes>,
        headers: Headers,
    ) -> RecordMetadata {
        let record = OutgoingRecord {
            topic: Arc::from(topic),
            key,
            value,
            headers,
            ..OutgoingRecord::default()
        };
        match self.broker.append_input(record) {
            Ok(meta) => meta,
            Err(e) => panic!("TestDriver::send to `{topic}`: {e}"),
        }
    }

    fn encode_key<K: Payload>(&self, topic: &str, key: &K) -> Bytes {
        let core = &self.engine.core;
        let settings = core.topic(topic);
        core.codecs
            .for_type::<K>(settings.key_serializer)
            .and_then(|c| c.encode(key))
            .unwrap_or_else(|e| panic!("TestDriver::send to `{topic}`: cannot encode the key: {e}"))
    }

    fn encode_value<V: Payload>(&self, topic: &str, value: &V) -> Bytes {
        let core = &self.engine.core;
        let settings = core.topic(topic);
        core.codecs
            .for_type::<V>(settings.value_serializer)
            .and_then(|c| c.encode(value))
            .unwrap_or_else(|e| {
                panic!("TestDriver::send to `{topic}`: cannot encode the value: {e}")
            })
    }

    /// Processes until every agent waits for input and every task and timer
    /// waits for time to pass, then commits the finished offsets. Virtual
    /// time does not move.
    ///
    /// Returns the error that stopped the app, if one did (an agent with
    /// `on_error = "stop"`, a failing task); later calls return
    /// [`Error::Stopped`].
    pub async fn run_until_idle(&mut self) -> Result<()> {
        loop {
            self.run_until_quiet().await?;
            self.engine.commit(false);
            if let Some(error) = self.engine.lifecycle.take_error() {
                self.stopped = Some(error.to_string());
                self.slots.clear();
                return Err(error);
            }
            // A transaction's commit resolves what tasks and timers wait
            // for: let them go on.
            let woken = self.slots.iter().any(|s| s.flag.0.load(Ordering::Acquire));
            if !self.engine.is_transactional() || !woken {
                return Ok(());
            }
        }
    }

    /// Polls until nothing can move without time passing or a commit.
    async fn run_until_quiet(&mut self) -> Result<()> {
        if let Some(reason) = &self.stopped {
            return Err(Error::Stopped(reason.clone()));
        }
        if !self.started {
            self.started = true;
            self.slots = self
                .engine
                .units()
                .into_iter()
                .map(|Unit { name, future }| Slot {
                    name,
                    future: Some(future),
                    flag: Arc::new(WakeFlag(AtomicBool::new(true))),
                })
                .collect();
        }
        let mut rounds: u64 = 0;
        loop {
            let mut progressed = false;
            for slot in &mut self.slots {
                if !slot.flag.0.swap(false, Ordering::AcqRel) {
                    continue;
                }
                let Some(future) = slot.future.as_mut() else {
                    continue;
                };
                progressed = true;
                let waker = Waker::from(slot.flag.clone());
                let mut cx = Context::from_waker(&waker);
                if let Poll::Ready(()) = future.as_mut().poll(&mut cx) {
                    slot.future = None;
                }
            }
            if self.engine.lifecycle.has_error() {
                self.engine.commit(false);
                let error = self
                    .engine
                    .lifecycle
                    .take_error()
                    .unwrap_or(Error::ShuttingDown);
                self.stopped = Some(error.to_string());
                self.slots.clear();
                return Err(error);
            }
            if !progressed {
                break;
            }
            rounds += 1;
            if rounds > MAX_ROUNDS {
                let busy: Vec<&str> = self
                    .slots
                    .iter()
                    .filter(|s| s.flag.0.load(Ordering::Acquire))
                    .map(|s| s.name.as_str())
                    .collect();
                return Err(Error::config(format!(
                    "run_until_idle: still busy after {MAX_ROUNDS} rounds; these keep waking \
                     themselves: {busy:?} (a loop that never waits on input or time?)"
                )));
            }
            // Let wake-ups from tokio resources land before deciding we're idle.
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    /// Moves virtual time forward by `by`, stopping at every timer,
    /// timeout and backoff deadline on the way to run until idle there.
    pub async fn advance(&mut self, by: Duration) -> Result<()> {
        self.run_until_idle().await?;
        let target = self.clock.elapsed() + by;
        while let Some(next) = self.clock.next_deadline() {
            if next > target {
                break;
            }
            self.clock.advance_to(next);
            self.run_until_idle().await?;
        }
        self.clock.advance_to(target);
        self.run_until_idle().await
    }

    /// Asks `agent` (its `RPC` handle) with `key` and `value`, as
    /// `agent.ask` does from inside an app: sends the request, processes
    /// until idle, and returns the reply, or the agent's error.
    ///
    /// # Errors
    /// The agent failed on the request, its reply does not decode, or no
    /// reply came (the agent is not part of the app, or stopped it).
    pub async fn ask<V: Payload, R: crate::agent::rpc::AgentReply>(
        &mut self,
        agent: &crate::agent::rpc::AgentRef<V, R>,
        key: &str,
        value: V,
    ) -> Result<R> {
        use crate::agent::rpc::{CORRELATION_ID, REPLY_ERROR, REPLY_TO};
        let name = agent.def().name;
        let topic = agent.def().topics.first().copied().unwrap_or_default();
        let reply_topic = format!("{}-driver-replies", self.engine.app.id);
        let id = format!("driver-ask-{}", self.broker.end_offset(&reply_topic, 0));
        self.broker.create_topic(&reply_topic, 1);
        let headers = Headers::new()
            .with(REPLY_TO, reply_topic.clone())
            .with(CORRELATION_ID, id.clone());
        let key = self.encode_key(topic, &key.to_owned());
        let value = self.encode_value(topic, &value);
        self.send_raw(topic, Some(key), Some(value), headers).await;
        self.run_until_idle().await?;
        let reply = self
            .broker
            .records(&reply_topic)
            .into_iter()
            .find(|m| m.key.as_deref() == Some(id.as_bytes()))
            .ok_or_else(|| {
                Error::msg(format!(
                    "TestDriver::ask: agent `{name}` sent no reply (is it part of the app? a \
                     stream agent does not reply)"
                ))
            })?;
        if let Some(error) = reply.headers.get_str(REPLY_ERROR) {
            return Err(Error::msg(format!(
                "agent `{name}` failed on the ask: {error}"
            )));
        }
        R::decode_reply(&self.engine.core.codecs, reply.value.as_deref())
            .map_err(|e| Error::msg(format!("the reply of agent `{name}` does not decode: {e}")))
    }

    /// Every record on `topic`, decoded as values of `T` with string keys.
    ///
    /// # Panics
    /// If a record does not decode as `T`, naming the record and the error.
    pub fn topic<T: Payload>(&self, topic: &str) -> TopicRecords<T> {
        let core = &self.engine.core;
        let settings = core.topic(topic);
        let value_codec = core
            .codecs
            .for_type::<T>(settings.value_serializer)
            .unwrap_or_else(|e| panic!("TestDriver::topic(\"{topic}\"): {e}"));
        let key_codec = core.codecs.for_type::<String>(settings.key_serializer).ok();
        let messages = self.broker.records(topic);
        let mut events = Vec::with_capacity(messages.len());
        for (i, message) in messages.into_iter().enumerate() {
            let value = value_codec
                .decode::<T>(message.value.as_deref())
                .unwrap_or_else(|e| {
                    panic!(
                        "TestDriver::topic(\"{topic}\"): record #{i} (partition {}, offset {}) \
                         does not decode as {}: {e}\n  read raw records with \
                         `t.records(\"{topic}\")`",
                        message.partition,
                        message.offset,
                        std::any::type_name::<T>()
                    )
                });
            let key = message.key.as_ref().map(|k| {
                key_codec
                    .as_ref()
                    .and_then(|c| c.decode::<String>(Some(k)).ok())
                    .unwrap_or_else(|| String::from_utf8_lossy(k).into_owned())
            });
            events.push(Event::new(key, value, Arc::new(message)));
        }
        TopicRecords {
            topic: topic.to_owned(),
            events,
            known_topics: self.broker.topics(),
        }
    }

    /// Every raw record on `topic`, partition by partition.
    pub fn records(&self, topic: &str) -> Vec<Message> {
        self.broker.records(topic)
    }

    /// The dead letters on `topic`, with the failure their headers describe.
    pub fn dead_letters(&self, topic: &str) -> Vec<DeadLetter> {
        self.records(topic).into_iter().map(DeadLetter).collect()
    }

    /// The offset the app has committed for `topic`/`partition`.
    pub fn committed(&self, topic: &str, partition: i32) -> Option<i64> {
        self.broker.committed(self.engine.group(), topic, partition)
    }
}

/// What a table holds, for assertions; see [`TestDriver::table`].
pub struct TableView<'a, T: 'static> {
    driver: &'a TestDriver,
    table: &'static T,
}

impl<T: AnyTable> fmt::Debug for TableView<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableView")
            .field("table", &self.table.def().name)
            .finish_non_exhaustive()
    }
}

impl<T: AnyTable> TableView<'_, T> {
    fn read<R>(&self, what: &str, f: impl FnOnce() -> Result<R>) -> R {
        let scope = Scope::new(self.driver.engine.core.clone());
        match scope.enter(f) {
            Ok(r) => r,
            Err(e) => panic!("TestDriver::table(`{}`).{what}: {e}", self.table.def().name),
        }
    }

    /// The value of `key` (a set table's set; `None` when it has none).
    ///
    /// # Panics
    /// If the table is not part of the app, or a value does not decode.
    pub fn get(&self, key: impl IntoPayload<Payload = T::Key>) -> Option<T::Value> {
        let key = key.into_payload();
        self.read("get", || self.table.lookup(&key))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.read("len", || self.table.count())
    }

    /// True when the table has no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key and value.
    pub fn items(&self) -> Vec<(T::Key, T::Value)> {
        self.read("items", || self.table.entries())
    }
}

/// A record on a dead-letter topic.
#[derive(Clone, Debug)]
pub struct DeadLetter(pub Message);

impl DeadLetter {
    /// The error message.
    pub fn error(&self) -> &str {
        self.0.headers.get_str(dlq::ERROR).unwrap_or("")
    }

    /// The kind of failure: `decode`, `validation`, `handler` or `output`.
    pub fn kind(&self) -> &str {
        self.0.headers.get_str(dlq::ERROR_KIND).unwrap_or("")
    }

    /// The agent that failed.
    pub fn agent(&self) -> &str {
        self.0.headers.get_str(dlq::AGENT).unwrap_or("")
    }

    /// Where the event came from: topic, partition, offset.
    pub fn source(&self) -> (String, i32, i64) {
        let h = &self.0.headers;
        (
            h.get_str(dlq::TOPIC).unwrap_or("").to_owned(),
            h.get_str(dlq::PARTITION)
                .and_then(|p| p.parse().ok())
                .unwrap_or(-1),
            h.get_str(dlq::OFFSET)
                .and_then(|p| p.parse().ok())
                .unwrap_or(-1),
        )
    }

    /// The original value bytes.
    pub fn value(&self) -> Option<&[u8]> {
        self.0.value.as_deref()
    }

    /// The original key bytes.
    pub fn key(&self) -> Option<&[u8]> {
        self.0.key.as_deref()
    }
}

/// What landed on a topic, decoded; see [`TestDriver::topic`].
pub struct TopicRecords<T> {
    topic: String,
    events: Vec<Event<T>>,
    known_topics: Vec<String>,
}

impl<T: fmt::Debug> fmt::Debug for TopicRecords<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopicRecords")
            .field("topic", &self.topic)
            .field("events", &self.events)
            .finish()
    }
}

impl<T> TopicRecords<T> {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when the topic has none.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The records as events (key, value, headers, partition, offset).
    pub fn events(&self) -> &[Event<T>] {
        &self.events
    }

    /// The values, partition by partition, in offset order.
    pub fn values(&self) -> Vec<&T> {
        self.events.iter().map(|e| &e.value).collect()
    }

    /// The values, owned.
    pub fn into_values(self) -> Vec<T> {
        self.events.into_iter().map(|e| e.value).collect()
    }

    /// The keys.
    pub fn keys(&self) -> Vec<Option<&str>> {
        self.events.iter().map(|e| e.key.as_deref()).collect()
    }
}

impl<T: fmt::Debug + PartialEq> TopicRecords<T> {
    /// Asserts the values, in order (partition by partition), and prints
    /// what the topic holds when they differ.
    #[track_caller]
    pub fn assert_values(&self, expected: &[T]) {
        let actual = self.values();
        if actual.len() == expected.len() && actual.iter().zip(expected).all(|(a, e)| *a == e) {
            return;
        }
        panic!("{}", self.mismatch(&format!("values {expected:?}")));
    }

    /// Asserts the values regardless of order.
    #[track_caller]
    pub fn assert_values_unordered(&self, expected: &[T]) {
        let mut remaining: Vec<&T> = self.values();
        let all_found = expected
            .iter()
            .all(|e| match remaining.iter().position(|a| *a == e) {
                Some(i) => {
                    remaining.swap_remove(i);
                    true
                }
                None => false,
            });
        if all_found && remaining.is_empty() {
            return;
        }
        panic!(
            "{}",
            self.mismatch(&format!("values {expected:?} in any order"))
        );
    }

    /// Asserts the number of records.
    #[track_caller]
    pub fn assert_len(&self, expected: usize) {
        if self.len() != expected {
            panic!("{}", self.mismatch(&format!("{expected} records")));
        }
    }

    fn mismatch(&self, expected: &str) -> String {
        let mut out = format!(
            "topic `{}`: expected {expected}, found {} records",
            self.topic,
            self.len()
        );
        for e in &self.events {
            out.push_str(&format!(
                "\n  [{}]@{} key={:?} value={:?}",
                e.partition(),
                e.offset(),
                e.key,
                e.value
            ));
        }
        if self.events.is_empty() {
            out.push_str(&format!(
                "\n  topics that exist: {:?}\n  (did the agent fail? check its dead-letter topic, \
                 and the Result of run_until_idle)",
                self.known_topics
            ));
        }
        out
    }
}
