//! Streams: what a stream agent iterates.
//!
//! A stream agent receives a [`Stream<T>`] of the decoded values of its
//! topics and loops over it:
//!
//! ```
//! use faust::prelude::*;
//! use std::time::Duration;
//!
//! #[agent(topic = "clicks")]
//! async fn clicks(mut stream: Stream<String>) -> Result<()> {
//!     while let Some(batch) = stream.take(100, Duration::from_secs(1)).next().await {
//!         println!("{} clicks", batch.len());
//!     }
//!     Ok(())
//! }
//! # fn main() {}
//! ```
//!
//! Acknowledgement follows Faust: an event is acked when the agent asks for
//! the next one (or the next batch), after every record it sent meanwhile
//! has been delivered. A record that does not decode never reaches the
//! agent: it goes to the agent's error policy (dead letter or stop) and the
//! stream moves on.
//!
//! Combinators ([`filter`](Stream::filter), [`map`](Stream::map),
//! [`enumerate`](Stream::enumerate), [`events`](Stream::events),
//! [`echo`](Stream::echo), [`join`](Stream::join) and
//! [`left_join`](Stream::left_join) with a table, [`noack`](Stream::noack)
//! for manual acks) return new streams over the same events;
//! [`take`](Stream::take) batches them; [`emit`](Stream::emit) sends to the
//! agent's sinks. Repartitioning (Faust's `group_by` and `through`) is an
//! option of `#[agent]`, since it needs a topic of its own.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::{Either, select};

use crate::agent::ack::{Completions, Envelope, Inbox, ManualAck};
use crate::agent::runner::AgentRuntime;
use crate::agent::{Event, Failure};
use crate::codec::Payload;
use crate::context::{Cursor, Pending};
use crate::error::{Error, Result};
use crate::transport::{Message, OutgoingRecord};

/// What a stream agent's function is started with; built by the runtime.
#[doc(hidden)]
pub struct StreamSource {
    agent: Arc<AgentRuntime>,
    inbox: Inbox,
    control: Arc<StreamControl>,
}

impl fmt::Debug for StreamSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSource")
            .field("agent", &self.agent.name)
            .finish_non_exhaustive()
    }
}

impl StreamSource {
    pub(crate) fn new(agent: Arc<AgentRuntime>, inbox: Inbox) -> Self {
        let control = Arc::new(StreamControl {
            cursor: Arc::new(Cursor::new(agent.name.clone())),
            transactions: agent.core.transactions.clone(),
            held: agent.held.clone(),
            ..StreamControl::default()
        });
        StreamSource {
            agent,
            inbox,
            control,
        }
    }

    pub(crate) fn control(&self) -> Arc<StreamControl> {
        self.control.clone()
    }
}

/// State shared by a stream and the runtime: what to ack, what was sent,
/// and why the stream stopped.
#[derive(Debug, Default)]
pub(crate) struct StreamControl {
    pending: Pending,
    /// Events to ack once what was sent while handling them is delivered.
    to_ack: Arc<Mutex<Vec<Envelope>>>,
    completions: Mutex<Completions>,
    stop: Mutex<Option<Error>>,
    current_key: Mutex<Option<Bytes>>,
    want_keys: AtomicBool,
    /// `noack()`: the agent acks events itself.
    manual: AtomicBool,
    finished: AtomicBool,
    /// Partition and time of the event handed out last.
    cursor: Arc<Cursor>,
    /// Under `exactly_once`: where released events' writes wait, and the
    /// agent's count of them.
    transactions: Option<Arc<crate::worker::transaction::Transactions>>,
    held: Arc<crate::worker::transaction::Owner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl StreamControl {
    /// Where the stream is (the event handed out last), shared with the
    /// scope.
    pub(crate) fn cursor(&self) -> Arc<Cursor> {
        self.cursor.clone()
    }

    pub(crate) fn pending(&self) -> &Pending {
        &self.pending
    }

    /// True once the stream's queue was closed and fully read.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    pub(crate) fn take_stop(&self) -> Option<Error> {
        lock(&self.stop).take()
    }

    fn set_stop(&self, error: Error) {
        lock(&self.stop).get_or_insert(error);
    }

    /// The events handed out so far are done: each is acked once what was
    /// sent while handling it is delivered (in the background).
    fn release(&self) {
        let mut completions = lock(&self.completions);
        let mut to_ack = lock(&self.to_ack);
        if let Some(txn) = &self.transactions {
            // What was written since the last release waits for every
            // event released now (or, with manual acks, the one handed out
            // last) to be committable.
            let staged = self.pending.take_staged();
            if !staged.is_empty() {
                let mut positions: Vec<_> = to_ack
                    .iter()
                    .map(|e| {
                        (
                            e.message.topic.clone(),
                            e.message.partition,
                            e.message.offset,
                        )
                    })
                    .collect();
                if positions.is_empty() {
                    positions.extend(self.cursor.position());
                }
                txn.hold(
                    &self.held,
                    crate::worker::transaction::Positions::Many(positions),
                    staged,
                );
            }
        }
        completions.push_deliveries(&self.pending);
        for envelope in to_ack.drain(..) {
            completions.push_ack(envelope);
        }
    }

    /// Waits until fewer than `max` released events wait for the broker.
    async fn wait_below(&self, max: usize) -> Result<()> {
        std::future::poll_fn(|cx| lock(&self.completions).poll_below(cx, max)).await
    }

    /// Resolves when a delivery fails; acks along the way.
    async fn delivery_failure(&self) -> Error {
        std::future::poll_fn(|cx| match lock(&self.completions).poll_progress(cx) {
            std::task::Poll::Ready(Some(e)) => std::task::Poll::Ready(e),
            _ => std::task::Poll::Pending,
        })
        .await
    }

    /// Waits until every released event is delivered and acked.
    async fn drain(&self) -> Result<()> {
        std::future::poll_fn(|cx| match lock(&self.completions).poll_progress(cx) {
            std::task::Poll::Ready(Some(e)) => std::task::Poll::Ready(Err(e)),
            std::task::Poll::Ready(None) => std::task::Poll::Ready(Ok(())),
            std::task::Poll::Pending => std::task::Poll::Pending,
        })
        .await
    }
}

struct Item<T> {
    value: T,
    key: Option<String>,
    message: Arc<Message>,
    /// The event's time: its record's timestamp field, else its Kafka
    /// timestamp.
    timestamp: i64,
    /// The event and the handle to ack it.
    envelope: Envelope,
}

impl<T> Item<T> {
    /// The same event carrying `f(value)`.
    fn map_value<U>(self, f: impl FnOnce(T) -> U) -> Item<U> {
        Item {
            value: f(self.value),
            key: self.key,
            message: self.message,
            timestamp: self.timestamp,
            envelope: self.envelope,
        }
    }
}

/// A stream's items, boxed.
type BoxedItems<T> = Pin<Box<dyn futures_core::Stream<Item = Item<T>> + Send>>;

/// The events of a stream agent's topics, decoded as `T`.
pub struct Stream<T> {
    inner: BoxedItems<T>,
    agent: Arc<AgentRuntime>,
    control: Arc<StreamControl>,
}

impl<T> fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("agent", &self.agent.name)
            .finish_non_exhaustive()
    }
}

impl<T: Payload> Stream<T> {
    /// The stream over `source`; records that do not decode go to the
    /// agent's error policy.
    pub(crate) fn from_source(source: StreamSource) -> Self {
        let StreamSource {
            agent,
            inbox,
            control,
        } = source;
        let state = (inbox, agent.clone(), control.clone());
        let inner = futures_util::stream::unfold(state, |(mut inbox, agent, control)| async move {
            loop {
                let Some(envelope) = inbox.next().await else {
                    control
                        .finished
                        .store(inbox.is_finished(), Ordering::Release);
                    return None;
                };
                if envelope.is_revoked() {
                    continue;
                }
                crate::agent::runner::AgentCounts::add(&agent.counts.events);
                let message = envelope.message.clone();
                let codecs = agent.input(&message.topic);
                let want_key = control.want_keys.load(Ordering::Relaxed);
                let decoded =
                    codecs
                        .value
                        .decode::<T>(message.value.as_deref())
                        .and_then(|value| {
                            let key = match (&codecs.key, &message.key) {
                                (Some(codec), Some(bytes)) if want_key => {
                                    Some(codec.decode::<String>(Some(bytes))?)
                                }
                                _ => None,
                            };
                            Ok((value, key))
                        });
                match decoded {
                    Ok((value, key)) => {
                        // With manual acks the agent acks it; otherwise the
                        // next `next()` does.
                        if !control.manual.load(Ordering::Relaxed) {
                            lock(&control.to_ack).push(envelope.clone());
                        }
                        let timestamp = value.event_time().unwrap_or(message.timestamp);
                        // Now, not when the item leaves the stream: the
                        // combinators (a join's table lookup) see its partition.
                        control.cursor.set(&envelope, timestamp);
                        let item = Item {
                            value,
                            key,
                            message,
                            timestamp,
                            envelope,
                        };
                        return Some((item, (inbox, agent, control)));
                    }
                    Err(e) => {
                        // The agent never sees it: acked once it is written
                        // to the dead-letter topic.
                        lock(&control.to_ack).push(envelope.clone());
                        if let Err(stop) = agent
                            .fail(&message, Failure::Decode(e), 1, &control.pending)
                            .await
                        {
                            control.set_stop(stop);
                            return None;
                        }
                    }
                }
            }
        });
        Stream {
            inner: Box::pin(inner),
            agent,
            control,
        }
    }
}

impl<T: Send + 'static> Stream<T> {
    /// The next item, acking released events as their deliveries land.
    /// At the end of the stream, waits for every delivery.
    async fn next_item(&mut self) -> Option<Item<T>> {
        let control = self.control.clone();
        // Ahead of the broker by `max_ahead` events: wait for it first.
        if let Err(e) = control.wait_below(self.agent.core.max_ahead).await {
            control.set_stop(self.agent.delivery_failed(e));
            return None;
        }
        self.agent.room(&self.agent.held).await;
        let next = {
            let item = self.inner.next();
            let failure = control.delivery_failure();
            futures_util::pin_mut!(item, failure);
            // The completions first: with a backlog the stream is always
            // ready, and `select` polls its first future first.
            match select(failure, item).await {
                Either::Left((e, _)) => {
                    control.set_stop(self.agent.delivery_failed(e));
                    return None;
                }
                Either::Right((item, _)) => item,
            }
        };
        let Some(item) = next else {
            self.control.release();
            if let Err(e) = self.control.drain().await {
                self.control.set_stop(self.agent.delivery_failed(e));
            }
            return None;
        };
        *lock(&self.control.current_key) = item.message.key.clone();
        Some(item)
    }

    /// The next value. The previous one is acked once what was sent while
    /// handling it is delivered. `None` when the worker stops.
    pub async fn next(&mut self) -> Option<T> {
        if !self.finish_previous().await {
            return None;
        }
        self.control.release();
        self.next_item().await.map(|item| item.value)
    }

    /// What the events handed out so far leave for windowed tables (see
    /// `AgentRuntime::finish_event`); late events a table dead-letters go
    /// to the dead-letter topic as the event handed out last. `false` when
    /// that fails and the stream must stop.
    async fn finish_previous(&mut self) -> bool {
        if !self.agent.core.tables.has_windows() {
            return true;
        }
        let late = crate::window::finish(&self.control.pending).await;
        let last = lock(&self.control.to_ack)
            .last()
            .map(|envelope| envelope.message.clone());
        for event in late {
            let Some(message) = &last else { break };
            if let Err(stop) = self
                .agent
                .dead_letter_late(message, &event, &self.control.pending)
                .await
            {
                self.control.set_stop(stop);
                return false;
            }
        }
        true
    }

    /// Batches: each `next()` of the result waits for a first value, then
    /// collects up to `max` values or until `within` has passed since that
    /// first value, whichever comes first (on the app's clock, so virtual
    /// time in tests). Like Faust's `stream.take(max, within)`.
    ///
    /// A batch may hold events of several partitions, and a table write
    /// goes to the partition of the event handed out last: update tables
    /// with `next()`, one event at a time, unless every event of a batch
    /// has the table's key.
    pub fn take(&mut self, max: usize, within: Duration) -> Take<'_, T> {
        Take {
            stream: self,
            max: max.max(1),
            within,
        }
    }

    /// The stream with its items passed through `f` (which keeps each
    /// item's envelope), on the same agent and control.
    fn adapt<U, S>(self, f: impl FnOnce(BoxedItems<T>) -> S) -> Stream<U>
    where
        S: futures_core::Stream<Item = Item<U>> + Send + 'static,
    {
        Stream {
            inner: Box::pin(f(self.inner)),
            agent: self.agent,
            control: self.control,
        }
    }

    /// Only the values for which `keep` is true; the others are acked as
    /// they are skipped.
    pub fn filter(self, mut keep: impl FnMut(&T) -> bool + Send + 'static) -> Stream<T> {
        self.adapt(|inner| inner.filter(move |item| std::future::ready(keep(&item.value))))
    }

    /// Each value passed through `f`.
    pub fn map<U: Send + 'static>(self, mut f: impl FnMut(T) -> U + Send + 'static) -> Stream<U> {
        self.adapt(|inner| inner.map(move |item| item.map_value(&mut f)))
    }

    /// Each value with its position in the stream, from 0.
    pub fn enumerate(self) -> Stream<(usize, T)> {
        self.adapt(|inner| {
            inner
                .enumerate()
                .map(|(i, item)| item.map_value(|value| (i, value)))
        })
    }

    /// Each value as an [`Event`] with its key (decoded as a string),
    /// headers, topic, partition, offset and timestamp.
    pub fn events(self) -> Stream<Event<T>> {
        self.control.want_keys.store(true, Ordering::Relaxed);
        self.adapt(|inner| {
            inner.map(|item| {
                let (key, message) = (item.key.clone(), item.message.clone());
                item.map_value(|value| Event::new(key, value, message))
            })
        })
    }

    /// The same stream, each event also sent on, as it is (key, value,
    /// headers), to each of `topics` (Faust's `stream.echo`). An event is
    /// acked once its copies are on the broker.
    pub fn echo(self, topics: &[&str]) -> Stream<T> {
        let topics: Vec<Arc<str>> = topics.iter().map(|t| Arc::from(*t)).collect();
        let producer = self.agent.core.producer.clone();
        let pending = self.control.pending.clone();
        self.adapt(|inner| {
            inner.inspect(move |item| {
                for topic in &topics {
                    pending.push(producer.send(OutgoingRecord {
                        topic: topic.clone(),
                        partition: None,
                        key: item.message.key.clone(),
                        value: item.message.value.clone(),
                        headers: item.message.headers.clone(),
                        timestamp: Some(item.message.timestamp),
                    }));
                }
            })
        })
    }

    /// The events with manual acks (Faust's `stream.noack()`): each is
    /// acked only when the agent calls [`Event::ack`] on it, so its offset,
    /// and every later one of its partition, waits until then. For the
    /// rare agent that must finish work elsewhere before an event counts
    /// as done.
    pub fn noack(self) -> Stream<Event<T>> {
        self.control.manual.store(true, Ordering::Relaxed);
        self.control.want_keys.store(true, Ordering::Relaxed);
        let to_ack = self.control.to_ack.clone();
        self.adapt(|inner| {
            inner.map(move |item| {
                let (key, message) = (item.key.clone(), item.message.clone());
                let ack = ManualAck::new(item.envelope.clone(), to_ack.clone());
                item.map_value(|value| Event::new(key, value, message).with_manual_ack(ack))
            })
        })
    }

    /// Each event with its match in `table`, found under `key(value)`;
    /// events without one are skipped (and acked). A stream-table join:
    /// the table is a [`GlobalTable`](crate::table::GlobalTable) (`&*RATES`),
    /// or a [`Table`](crate::Table) co-partitioned with the stream (the
    /// key is the events' key, or the stream is regrouped by it).
    pub fn join<K, V>(
        self,
        table: &'static crate::Table<K, V>,
        mut key: impl FnMut(&T) -> K + Send + 'static,
    ) -> Stream<(T, V)>
    where
        K: Payload,
        V: Payload,
    {
        let name = table.name();
        self.adapt(|inner| {
            inner.filter_map(move |item| {
                let found = lookup(table, &key(&item.value), name);
                std::future::ready(found.map(|v| item.map_value(|value| (value, v))))
            })
        })
    }

    /// Each event with its match in `table` under `key(value)`, or `None`
    /// (a left join); see [`join`](Self::join).
    pub fn left_join<K, V>(
        self,
        table: &'static crate::Table<K, V>,
        mut key: impl FnMut(&T) -> K + Send + 'static,
    ) -> Stream<(T, Option<V>)>
    where
        K: Payload,
        V: Payload,
    {
        let name = table.name();
        self.map(move |value| {
            let found = lookup(table, &key(&value), name);
            (value, found)
        })
    }

    /// Sends `value` to the agent's sinks, keyed like the most recent
    /// event. The event is acked only once the broker has it.
    pub async fn emit<U: Payload>(&mut self, value: U) -> Result<()> {
        let key = lock(&self.control.current_key).clone();
        let core = &self.agent.core;
        for (topic, serializer) in &self.agent.sink_topics {
            let bytes = core.codecs.for_type::<U>(*serializer)?.encode(&value)?;
            let mut record = OutgoingRecord {
                topic: topic.clone(),
                key: key.clone(),
                value: Some(bytes),
                ..OutgoingRecord::default()
            };
            crate::context::stamp_origin(&mut record.headers);
            self.control.pending.push(core.producer.send(record));
        }
        Ok(())
    }
}

/// `key`'s value in `table`; a lookup that fails (a value that does not
/// decode) is logged and counts as no match.
fn lookup<K: Payload, V: Payload>(table: &crate::Table<K, V>, key: &K, name: &str) -> Option<V> {
    match table.get(key) {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(
                table = name,
                "join lookup failed: {e}; the event has no match"
            );
            None
        }
    }
}

/// Batches of a [`Stream`]; see [`Stream::take`].
pub struct Take<'a, T> {
    stream: &'a mut Stream<T>,
    max: usize,
    within: Duration,
}

impl<T> fmt::Debug for Take<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Take")
            .field("max", &self.max)
            .field("within", &self.within)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Take<'_, T> {
    /// The next batch; `None` when the worker stops.
    pub async fn next(&mut self) -> Option<Vec<T>> {
        if !self.stream.finish_previous().await {
            return None;
        }
        self.stream.control.release();
        let first = self.stream.next_item().await?;
        let clock = self.stream.agent.core.clock.clone();
        let deadline = clock.elapsed() + self.within;
        let mut batch = vec![first.value];
        while batch.len() < self.max {
            let next = self.stream.next_item();
            let timeout = clock.sleep_until(deadline);
            futures_util::pin_mut!(next);
            match select(next, timeout).await {
                Either::Left((Some(item), _)) => batch.push(item.value),
                Either::Left((None, _)) | Either::Right(_) => break,
            }
        }
        Some(batch)
    }
}
