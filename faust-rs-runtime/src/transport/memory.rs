//! The in-memory transport: a broker that lives in the process.
//!
//! [`MemoryBroker`] keeps each topic as partitions of append-only logs,
//! partitions keys with Kafka's murmur2 like a real producer, stores
//! committed offsets per consumer group, and wakes readers when records
//! arrive. It backs the test driver (on a virtual clock) and `memory://`
//! workers. Topics are created on first use with the default partition
//! count, like a broker with `auto.create.topics.enable`.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::table::ChangelogRead;
use crate::time::Clock;
use crate::transport::{
    BoxFuture, Consumer, Delivery, GroupMember, Message, OutgoingRecord, Producer, RecordMetadata,
    RecordTooLarge, TopicSpec, TransactionalProducer, Transport, partition_for_key,
};

/// An in-process broker. Cloning gives another handle to the same broker.
#[derive(Clone, Debug)]
pub struct MemoryBroker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    notify: tokio::sync::Notify,
    clock: Clock,
    round_robin: AtomicU64,
    /// Largest key + value accepted; 0 means no limit.
    max_record_bytes: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, Default)]
struct State {
    default_partitions: u32,
    topics: HashMap<Arc<str>, Vec<Vec<Arc<Message>>>>,
    committed: HashMap<(String, Arc<str>, i32), i64>,
    /// Records handed to table recovery, by topic.
    changelog_reads: HashMap<Arc<str>, u64>,
    /// Writes taken: records appended and offsets committed.
    writes: u64,
    /// A crash point: no write is taken once `writes` reaches it.
    crash_at: Option<u64>,
    /// Transactional producers, by transactional id.
    transactions: HashMap<String, TxnLog>,
    /// Offsets of records whose transaction is still open, by partition:
    /// readers stop before the first (the last stable offset).
    undecided: HashMap<(Arc<str>, i32), std::collections::BTreeSet<i64>>,
    /// Records of aborted transactions: readers skip them.
    aborted: std::collections::HashSet<(Arc<str>, i32, i64)>,
}

/// One transactional id: its producer epoch and its open transaction.
#[derive(Debug, Default)]
struct TxnLog {
    epoch: u64,
    open: Option<OpenTxn>,
}

/// What an open transaction wrote: records (already in the logs, hidden)
/// and offsets (applied at commit).
#[derive(Debug, Default)]
struct OpenTxn {
    records: Vec<(Arc<str>, i32, i64)>,
    offsets: Vec<(String, Arc<str>, i32, i64)>,
}

impl State {
    /// Where `topic`/`partition`'s readers stop: before the first record
    /// of an open transaction, or at the end of `log`.
    fn stable_end(&self, topic: &Arc<str>, partition: i32, log_len: usize) -> usize {
        self.undecided
            .get(&(topic.clone(), partition))
            .and_then(|open| open.first())
            .map_or(log_len, |first| (*first as usize).min(log_len))
    }

    /// Whether the record at `offset` belongs to an aborted transaction.
    fn is_aborted(&self, message: &Message) -> bool {
        !self.aborted.is_empty()
            && self
                .aborted
                .contains(&(message.topic.clone(), message.partition, message.offset))
    }

    /// What a `read_committed` reader sees of `topic`/`partition`'s `log`
    /// from `from`, at most `max` records looked at: those before the last
    /// stable offset, aborted ones left out; and the offset to read next.
    fn visible<'a>(
        &'a self,
        topic: &Arc<str>,
        partition: i32,
        log: &'a [Arc<Message>],
        from: i64,
        max: usize,
    ) -> (impl Iterator<Item = &'a Arc<Message>> + 'a, usize) {
        let stable = self.stable_end(topic, partition, log.len());
        let start = from.clamp(0, stable as i64) as usize;
        let end = start.saturating_add(max).min(stable);
        let seen = log[start..end].iter().filter(|m| !self.is_aborted(m));
        (seen, end)
    }

    /// Aborts `log`'s open transaction: its records stay hidden forever.
    fn abort_open(&mut self, id: &str) {
        let Some(open) = self.transactions.get_mut(id).and_then(|t| t.open.take()) else {
            return;
        };
        for (topic, partition, offset) in open.records {
            if let Some(set) = self.undecided.get_mut(&(topic.clone(), partition)) {
                set.remove(&offset);
            }
            self.aborted.insert((topic, partition, offset));
        }
    }

    /// The write a crash point stops, or counts it.
    fn take_write(&mut self) -> bool {
        if self.crash_at.is_some_and(|at| self.writes >= at) {
            return false;
        }
        self.writes += 1;
        true
    }
}

/// What a write meets after the crash point.
#[derive(Debug)]
struct Crashed;

impl fmt::Display for Crashed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the worker crashed here (MemoryBroker::crash_after)")
    }
}

impl std::error::Error for Crashed {}

impl MemoryBroker {
    /// A broker whose topics get `default_partitions` partitions when
    /// created on first use, and whose records are stamped by `clock`.
    pub fn new(default_partitions: u32, clock: Clock) -> Self {
        MemoryBroker {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    default_partitions: default_partitions.max(1),
                    ..State::default()
                }),
                notify: tokio::sync::Notify::new(),
                clock,
                round_robin: AtomicU64::new(0),
                max_record_bytes: std::sync::atomic::AtomicUsize::new(0),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates `topic` with `partitions` partitions; an existing topic keeps
    /// its partitions. Returns the topic's partition count.
    pub fn create_topic(&self, topic: &str, partitions: u32) -> u32 {
        let mut state = self.lock();
        Self::ensure(&mut state, topic, partitions.max(1))
    }

    fn ensure(state: &mut State, topic: &str, partitions: u32) -> u32 {
        if let Some(parts) = state.topics.get(topic) {
            return parts.len() as u32;
        }
        state
            .topics
            .insert(Arc::from(topic), vec![Vec::new(); partitions as usize]);
        partitions
    }

    /// The partition count of `topic`, if it exists.
    pub fn partitions(&self, topic: &str) -> Option<u32> {
        self.lock().topics.get(topic).map(|p| p.len() as u32)
    }

    /// Every topic's name, sorted.
    pub fn topics(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().topics.keys().map(|t| t.to_string()).collect();
        names.sort();
        names
    }

    /// Rejects records whose key and value together exceed `bytes`, like a
    /// broker's `message.max.bytes` (0: no limit, the default).
    pub fn set_max_record_bytes(&self, bytes: usize) {
        self.inner.max_record_bytes.store(bytes, Ordering::Relaxed);
    }

    /// Appends `record`, choosing the partition from the key (murmur2) when
    /// the record names none, round-robin when it has no key.
    pub fn append(&self, record: OutgoingRecord) -> Result<RecordMetadata> {
        self.append_record(record, true)
    }

    /// Appends a test's input: not a write of the worker's, so a crash
    /// point neither counts nor stops it.
    pub(crate) fn append_input(&self, record: OutgoingRecord) -> Result<RecordMetadata> {
        self.append_record(record, false)
    }

    fn append_record(&self, record: OutgoingRecord, worker: bool) -> Result<RecordMetadata> {
        self.append_in(record, worker, None)
    }

    /// Appends `record`; with `txn`, as a write of that transactional id's
    /// open transaction (hidden from readers until it commits).
    fn append_in(
        &self,
        record: OutgoingRecord,
        worker: bool,
        txn: Option<(&str, u64)>,
    ) -> Result<RecordMetadata> {
        let max = self.inner.max_record_bytes.load(Ordering::Relaxed);
        let size = record.key.as_ref().map_or(0, |k| k.len())
            + record.value.as_ref().map_or(0, |v| v.len());
        if max > 0 && size > max {
            return Err(Error::Transport {
                what: format!("sending to `{}`", record.topic),
                source: Box::new(RecordTooLarge { size, max }),
            });
        }
        let meta = {
            let mut state = self.lock();
            if let Some((id, epoch)) = txn {
                check_open(&state, id, epoch)?;
            }
            if worker && !state.take_write() {
                return Err(Error::Transport {
                    what: format!("sending to `{}`", record.topic),
                    source: Box::new(Crashed),
                });
            }
            let default = state.default_partitions;
            let count = Self::ensure(&mut state, &record.topic, default);
            let partition = match (record.partition, &record.key) {
                (Some(p), _) => p.rem_euclid(count as i32),
                (None, Some(key)) => partition_for_key(key, count),
                (None, None) => {
                    (self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % u64::from(count))
                        as i32
                }
            };
            let timestamp = record
                .timestamp
                .unwrap_or_else(|| self.inner.clock.wall_ms());
            let Some(topic) = state
                .topics
                .get_key_value(&*record.topic)
                .map(|(t, _)| t.clone())
            else {
                return Err(Error::config(format!("topic `{}` vanished", record.topic)));
            };
            let Some(offset) = state
                .topics
                .get(&topic)
                .and_then(|parts| parts.get(partition as usize))
                .map(|log| log.len() as i64)
            else {
                return Err(Error::config(format!(
                    "topic `{topic}` has no partition {partition} ({count} partitions)"
                )));
            };
            if let Some((id, _)) = txn {
                state
                    .undecided
                    .entry((topic.clone(), partition))
                    .or_default()
                    .insert(offset);
                if let Some(open) = state.transactions.get_mut(id).and_then(|t| t.open.as_mut()) {
                    open.records.push((topic.clone(), partition, offset));
                }
            }
            let Some(log) = state
                .topics
                .get_mut(&topic)
                .and_then(|parts| parts.get_mut(partition as usize))
            else {
                return Err(Error::config(format!("topic `{topic}` vanished")));
            };
            log.push(Arc::new(Message {
                topic,
                partition,
                offset,
                timestamp,
                key: record.key,
                value: record.value,
                headers: record.headers,
            }));
            RecordMetadata { partition, offset }
        };
        self.inner.notify.notify_waiters();
        Ok(meta)
    }

    /// Up to `max` records of `topic`/`partition` from `offset` on.
    pub fn read(&self, topic: &str, partition: i32, offset: i64, max: usize) -> Vec<Message> {
        let state = self.lock();
        let Some((name, log)) = state
            .topics
            .get_key_value(topic)
            .and_then(|(name, p)| p.get(partition as usize).map(|log| (name, log)))
        else {
            return Vec::new();
        };
        let (seen, _) = state.visible(name, partition, log, offset, max);
        seen.map(|m| Message::clone(m)).collect()
    }

    /// Every record of `topic`, partition by partition.
    pub fn records(&self, topic: &str) -> Vec<Message> {
        let state = self.lock();
        state
            .topics
            .get_key_value(topic)
            .map(|(name, parts)| {
                parts
                    .iter()
                    .enumerate()
                    .flat_map(|(p, log)| state.visible(name, p as i32, log, 0, usize::MAX).0)
                    .map(|m| Message::clone(m))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A transactional producer with `id` on this broker.
    pub(crate) fn transactional(&self, id: &str) -> MemoryTransactional {
        MemoryTransactional {
            broker: self.clone(),
            id: id.to_owned(),
            epoch: AtomicU64::new(0),
        }
    }

    /// The offset the next record of `topic`/`partition` will get.
    pub fn end_offset(&self, topic: &str, partition: i32) -> i64 {
        self.lock()
            .topics
            .get(topic)
            .and_then(|p| p.get(partition as usize))
            .map_or(0, |log| log.len() as i64)
    }

    /// Stores `offset` (the next offset to read) as `group`'s position.
    pub fn commit(&self, group: &str, topic: &Arc<str>, partition: i32, offset: i64) {
        let mut state = self.lock();
        if !state.take_write() {
            return;
        }
        state
            .committed
            .insert((group.to_owned(), topic.clone(), partition), offset);
    }

    /// Writes the worker made so far: records appended and offsets
    /// committed (one per partition), and under transactions each
    /// transaction's offsets and its commit; a test's inputs do not count.
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }

    /// A crash point for fault tests: after `writes` more writes, the
    /// broker takes nothing (appends fail, commits are lost), as if the
    /// worker had died between those two steps. Run the app until it
    /// stops, then [`TestDriver::restart`](crate::testing::TestDriver::restart)
    /// it, which lifts the crash point.
    pub fn crash_after(&self, writes: u64) {
        let mut state = self.lock();
        state.crash_at = Some(state.writes + writes);
    }

    /// Takes writes again.
    pub fn lift_crash(&self) {
        self.lock().crash_at = None;
    }

    /// `group`'s committed position in `topic`/`partition`.
    pub fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        self.lock()
            .committed
            .get(&(group.to_owned(), Arc::from(topic), partition))
            .copied()
    }

    /// Where `group` resumes each of `topics` in `partitions`: its
    /// committed offset, or 0 (this broker keeps every record).
    pub(crate) fn resume_offsets(
        &self,
        group: &str,
        topics: &[Arc<str>],
        partitions: &[i32],
    ) -> crate::table::store::SourceOffsets {
        let mut resume = crate::table::store::SourceOffsets::new();
        for topic in topics {
            for &partition in partitions {
                let offset = self.committed(group, topic, partition).unwrap_or(0);
                resume.insert((topic.clone(), partition), offset);
            }
        }
        resume
    }

    /// How many records of `topic` table recovery has read so far (a warm
    /// restart reads only the changelog's tail).
    pub fn changelog_records_read(&self, topic: &str) -> u64 {
        self.lock().changelog_reads.get(topic).copied().unwrap_or(0)
    }

    /// A consumer for `group` reading `topics`, each partition from the
    /// group's committed offset (or the start).
    pub fn consumer(&self, group: &str, topics: Vec<Arc<str>>) -> MemoryConsumer {
        MemoryConsumer {
            broker: self.clone(),
            group: group.to_owned(),
            topics,
            positions: Mutex::new(HashMap::new()),
            assigned: Mutex::new(None),
            commits: true,
        }
    }

    /// A consumer of every partition of `topic` from its current end on,
    /// in no group: what it reads is never committed.
    pub fn tail(&self, topic: &str) -> MemoryConsumer {
        let topic: Arc<str> = Arc::from(topic);
        let state = self.lock();
        let positions = state
            .topics
            .get(&topic)
            .map(|parts| {
                parts
                    .iter()
                    .enumerate()
                    .map(|(p, log)| ((topic.clone(), p as i32), log.len() as i64))
                    .collect()
            })
            .unwrap_or_default();
        drop(state);
        MemoryConsumer {
            broker: self.clone(),
            group: String::new(),
            topics: vec![topic],
            positions: Mutex::new(positions),
            assigned: Mutex::new(None),
            commits: false,
        }
    }

    /// A [`Producer`] that appends to this broker.
    pub fn producer(&self) -> Arc<dyn Producer> {
        Arc::new(MemoryProducer(self.clone()))
    }
}

#[derive(Debug)]
struct MemoryProducer(MemoryBroker);

impl Producer for MemoryProducer {
    fn send(&self, record: OutgoingRecord) -> Delivery {
        Delivery::ready(self.0.append(record))
    }
}

/// Reads a set of topics for one consumer group, partition by partition in
/// offset order.
#[derive(Debug)]
pub struct MemoryConsumer {
    broker: MemoryBroker,
    group: String,
    topics: Vec<Arc<str>>,
    positions: Mutex<HashMap<(Arc<str>, i32), i64>>,
    /// The partitions it reads; `None`: all.
    assigned: Mutex<Option<std::collections::BTreeSet<i32>>>,
    /// Whether `store` commits for its group (not for a tail).
    commits: bool,
}

impl MemoryConsumer {
    /// Where its group resumes its topics in `partitions`.
    pub(crate) fn resume_offsets(&self, partitions: &[i32]) -> crate::table::store::SourceOffsets {
        self.broker
            .resume_offsets(&self.group, &self.topics, partitions)
    }

    /// The topic partitions it reads now (for the sensors).
    pub(crate) fn assignment(&self) -> Vec<(&str, i32)> {
        let assigned = self
            .assigned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        partitions_of(&self.broker, &self.topics, assigned.as_ref())
    }

    /// Reads only `partitions` from now on (`None`: all), each from its
    /// committed offset, as after a rebalance.
    pub(crate) fn reassign(&self, partitions: Option<std::collections::BTreeSet<i32>>) {
        *self.assigned.lock().unwrap_or_else(|e| e.into_inner()) = partitions;
        self.positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        // A poll parked on "nothing new" may now have records to read.
        self.broker.inner.notify.notify_waiters();
    }

    /// Waits for records and returns up to `max_per_partition` from each
    /// partition that has some.
    pub async fn poll(&self, max_per_partition: usize) -> Vec<Arc<Message>> {
        loop {
            let broker = self.broker.clone();
            let notified = broker.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let batch = self.try_poll(max_per_partition);
            if !batch.is_empty() {
                return batch;
            }
            notified.await;
        }
    }

    /// Returns what is available now without waiting.
    pub fn try_poll(&self, max_per_partition: usize) -> Vec<Arc<Message>> {
        let mut batch = Vec::new();
        let state = self.broker.lock();
        let mut positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        let assigned = self.assigned.lock().unwrap_or_else(|e| e.into_inner());
        for topic in &self.topics {
            let Some((name, parts)) = state.topics.get_key_value(&**topic) else {
                continue;
            };
            for (p, log) in parts.iter().enumerate() {
                if assigned.as_ref().is_some_and(|a| !a.contains(&(p as i32))) {
                    continue;
                }
                let key = (name.clone(), p as i32);
                let pos = match positions.get(&key) {
                    Some(pos) => *pos,
                    None => {
                        let start = state
                            .committed
                            .get(&(self.group.clone(), name.clone(), p as i32))
                            .copied()
                            .unwrap_or(0);
                        positions.insert(key.clone(), start);
                        start
                    }
                };
                let (seen, end) = state.visible(name, p as i32, log, pos, max_per_partition);
                batch.extend(seen.cloned());
                if end as i64 > pos {
                    positions.insert(key, end as i64);
                }
            }
        }
        batch
    }
}

/// The partitions of `topics` on `broker`, all or those in `only`.
fn partitions_of<'a>(
    broker: &MemoryBroker,
    topics: &'a [Arc<str>],
    only: Option<&std::collections::BTreeSet<i32>>,
) -> Vec<(&'a str, i32)> {
    let mut all = Vec::new();
    for topic in topics {
        let count = broker.partitions(topic).unwrap_or(0) as i32;
        all.extend(
            (0..count)
                .filter(|p| only.is_none_or(|o| o.contains(p)))
                .map(|p| (&**topic, p)),
        );
    }
    all
}

/// The in-memory broker as a worker's transport.
#[derive(Debug)]
pub(crate) struct MemoryTransport {
    broker: MemoryBroker,
    /// The consumer it made last, for the test driver's rebalances.
    consumer: Mutex<Option<Arc<MemoryConsumer>>>,
}

impl MemoryTransport {
    pub(crate) fn new(broker: MemoryBroker) -> Self {
        MemoryTransport {
            broker,
            consumer: Mutex::new(None),
        }
    }

    /// The consumer it made last.
    pub(crate) fn last_consumer(&self) -> Option<Arc<MemoryConsumer>> {
        self.consumer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Transport for MemoryTransport {
    fn producer(&self) -> Arc<dyn Producer> {
        self.broker.producer()
    }

    fn ensure_topics<'a>(&'a self, topics: &'a [TopicSpec]) -> BoxFuture<'a, Result<()>> {
        for topic in topics {
            let count = self.broker.create_topic(&topic.name, topic.partitions);
            if count != topic.partitions {
                return Box::pin(std::future::ready(Err(partition_mismatch(
                    &topic.name,
                    count,
                    topic.partitions,
                ))));
            }
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn consumer(&self, member: GroupMember) -> Result<Arc<dyn Consumer>> {
        // One consumer holds every partition: recover all of them first.
        let tables = &member.tables;
        let partitions: Vec<i32> =
            (0..tables.all().iter().map(|t| t.partitions).max().unwrap_or(0))
                .map(|p| p as i32)
                .collect();
        let resume = self
            .broker
            .resume_offsets(&member.group, &member.topics, &partitions);
        tables.assign(&partitions, &self.broker, Some(&resume))?;
        if let Some(leader) = &member.leader {
            leader.set(true);
        }
        if !member.sensors.is_empty() {
            let assigned = partitions_of(&self.broker, &member.topics, None);
            member.sensors.rebalance(true, assigned);
        }
        let consumer = Arc::new(self.broker.consumer(&member.group, member.topics));
        *self.consumer.lock().unwrap_or_else(|e| e.into_inner()) = Some(consumer.clone());
        Ok(consumer)
    }

    fn tail(&self, topic: &str) -> Result<Arc<dyn Consumer>> {
        Ok(Arc::new(self.broker.tail(topic)))
    }

    fn changelog_reader(&self, _app_id: &str) -> Result<Box<dyn ChangelogRead + Send + Sync>> {
        Ok(Box::new(self.broker.clone()))
    }

    fn describe(&self) -> String {
        "memory:// (in-process, no Kafka protocol)".to_owned()
    }

    fn flush(&self, _timeout: std::time::Duration) -> BoxFuture<'_, Result<()>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn transactional(&self, id: &str) -> Result<Arc<dyn TransactionalProducer>> {
        Ok(Arc::new(self.broker.transactional(id)))
    }
}

/// A transactional producer on the in-memory broker: Kafka's model, with
/// the crash points of [`MemoryBroker::crash_after`]. Its records take
/// their offsets as they are written and stay hidden from readers (which
/// stop before the first of them, like `read_committed` readers at the
/// last stable offset) until the commit; an abort hides them for good.
/// Each record, the offsets and the commit are one write each.
#[derive(Debug)]
pub(crate) struct MemoryTransactional {
    broker: MemoryBroker,
    id: String,
    /// The epoch `init` got; a newer `init` of the same id fences this one.
    epoch: AtomicU64,
}

/// What a fenced or crashed transactional call meets.
#[derive(Debug, thiserror::Error)]
enum TxnError {
    #[error(
        "producer fenced: transactional id `{0}` was initialised again by a newer producer \
         (another worker, or this one restarted)"
    )]
    Fenced(String),
    #[error("no transaction is open for transactional id `{0}`")]
    NotOpen(String),
}

fn txn_error(what: &str, source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Transport {
        what: what.to_owned(),
        source: Box::new(source),
    }
}

/// Checks that `id` has an open transaction at `epoch`.
fn check_open(state: &State, id: &str, epoch: u64) -> Result<()> {
    let log = state.transactions.get(id);
    if log.is_none_or(|l| l.epoch != epoch) {
        return Err(txn_error(
            "writing in a transaction",
            TxnError::Fenced(id.to_owned()),
        ));
    }
    if log.is_some_and(|l| l.open.is_none()) {
        return Err(txn_error(
            "writing in a transaction",
            TxnError::NotOpen(id.to_owned()),
        ));
    }
    Ok(())
}

impl MemoryTransactional {
    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn current(&self, state: &State, what: &str) -> Result<()> {
        match state.transactions.get(&self.id) {
            Some(log) if log.epoch == self.epoch() => Ok(()),
            _ => Err(txn_error(what, TxnError::Fenced(self.id.clone()))),
        }
    }
}

impl TransactionalProducer for MemoryTransactional {
    fn id(&self) -> &str {
        &self.id
    }

    fn init(&self) -> Result<()> {
        let mut state = self.broker.lock();
        state.abort_open(&self.id);
        let log = state.transactions.entry(self.id.clone()).or_default();
        log.epoch += 1;
        self.epoch.store(log.epoch, Ordering::Release);
        drop(state);
        self.broker.inner.notify.notify_waiters();
        Ok(())
    }

    fn begin(&self) -> Result<()> {
        let mut state = self.broker.lock();
        self.current(&state, "beginning a transaction")?;
        if let Some(log) = state.transactions.get_mut(&self.id) {
            log.open.get_or_insert_with(OpenTxn::default);
        }
        Ok(())
    }

    fn send(&self, record: OutgoingRecord) -> Delivery {
        Delivery::ready(
            self.broker
                .append_in(record, true, Some((&self.id, self.epoch()))),
        )
    }

    fn send_offsets(
        &self,
        offsets: &[(Arc<str>, i32, i64)],
        group: &crate::transport::GroupMetadata,
    ) -> Result<()> {
        let crate::transport::GroupMetadata::Memory(group) = group else {
            return Err(Error::config(
                "a Kafka consumer's group on the in-memory broker",
            ));
        };
        let mut state = self.broker.lock();
        check_open(&state, &self.id, self.epoch())?;
        if !state.take_write() {
            return Err(txn_error("adding offsets to a transaction", Crashed));
        }
        if let Some(open) = state
            .transactions
            .get_mut(&self.id)
            .and_then(|t| t.open.as_mut())
        {
            for (topic, partition, offset) in offsets {
                open.offsets
                    .push((group.clone(), topic.clone(), *partition, *offset));
            }
        }
        Ok(())
    }

    fn commit(&self) -> Result<()> {
        let mut state = self.broker.lock();
        check_open(&state, &self.id, self.epoch())?;
        if !state.take_write() {
            return Err(txn_error("committing a transaction", Crashed));
        }
        let Some(open) = state
            .transactions
            .get_mut(&self.id)
            .and_then(|t| t.open.take())
        else {
            return Ok(());
        };
        for (topic, partition, offset) in open.records {
            if let Some(set) = state.undecided.get_mut(&(topic, partition)) {
                set.remove(&offset);
            }
        }
        for (group, topic, partition, offset) in open.offsets {
            state.committed.insert((group, topic, partition), offset);
        }
        drop(state);
        self.broker.inner.notify.notify_waiters();
        Ok(())
    }

    fn abort(&self) -> Result<()> {
        let mut state = self.broker.lock();
        self.current(&state, "aborting a transaction")?;
        if state.crash_at.is_some_and(|at| state.writes >= at) {
            return Err(txn_error("aborting a transaction", Crashed));
        }
        state.abort_open(&self.id);
        drop(state);
        self.broker.inner.notify.notify_waiters();
        Ok(())
    }

    fn max_record_bytes(&self) -> usize {
        self.broker.inner.max_record_bytes.load(Ordering::Relaxed)
    }
}

impl Consumer for MemoryConsumer {
    fn poll(&self, max: usize) -> BoxFuture<'_, Vec<Arc<Message>>> {
        Box::pin(MemoryConsumer::poll(self, max))
    }

    fn store(&self, offsets: &[(Arc<str>, i32, i64)]) {
        if !self.commits {
            return;
        }
        for (topic, partition, offset) in offsets {
            self.broker.commit(&self.group, topic, *partition, *offset);
        }
    }

    fn commit(&self, _sync: bool) -> Result<()> {
        Ok(())
    }

    fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        Some(self.broker.end_offset(topic, partition))
    }

    fn assigned_partitions(&self) -> Option<Vec<(Arc<str>, i32)>> {
        Some(
            MemoryConsumer::assignment(self)
                .into_iter()
                .map(|(topic, partition)| (Arc::from(topic), partition))
                .collect(),
        )
    }

    fn group_metadata(&self) -> Option<crate::transport::GroupMetadata> {
        self.commits
            .then(|| crate::transport::GroupMetadata::Memory(self.group.clone()))
    }
}

impl ChangelogRead for MemoryBroker {
    fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        // A read_committed reader's end: the last stable offset.
        let state = self.lock();
        let end = state
            .topics
            .get_key_value(topic)
            .and_then(|(name, parts)| {
                parts
                    .get(partition as usize)
                    .map(|log| state.stable_end(name, partition, log.len()))
            })
            .unwrap_or(0);
        Ok((0, end as i64))
    }

    fn read(
        &self,
        specs: &[crate::table::ReadSpec],
        apply: &mut dyn FnMut(&Message) -> Result<()>,
    ) -> Result<u64> {
        let mut records = 0;
        for (topic, partition, from, end) in specs {
            let mut offset = *from;
            while offset < *end {
                let batch = self.read(topic, *partition, offset, 10_000);
                let Some(last) = batch.last() else {
                    break;
                };
                offset = last.offset + 1;
                for message in batch.iter().filter(|m| m.offset < *end) {
                    apply(message)?;
                    records += 1;
                    *self
                        .lock()
                        .changelog_reads
                        .entry(topic.clone())
                        .or_default() += 1;
                }
            }
        }
        Ok(records)
    }
}

/// The error for a topic that exists with another partition count.
pub(crate) fn partition_mismatch(topic: &str, actual: u32, wanted: u32) -> Error {
    Error::config(format!(
        "topic `{topic}` exists with {actual} partitions but the app declares {wanted}; \
         tables and keys stay co-partitioned only if they match: declare `partitions = \
         {actual}`, or recreate the topic (faust never deletes topics)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn record(topic: &str, key: &str, value: &str) -> OutgoingRecord {
        OutgoingRecord {
            topic: Arc::from(topic),
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            ..OutgoingRecord::default()
        }
    }

    #[test]
    fn same_key_goes_to_same_partition_in_order() {
        let broker = MemoryBroker::new(4, Clock::virtual_clock());
        let a = broker.append(record("t", "k", "1")).unwrap();
        let b = broker.append(record("t", "k", "2")).unwrap();
        assert_eq!(a.partition, b.partition);
        assert_eq!((a.offset, b.offset), (0, 1));
        assert_eq!(broker.partitions("t"), Some(4));
    }

    #[test]
    fn consumer_resumes_from_committed_offset() {
        let broker = MemoryBroker::new(1, Clock::virtual_clock());
        for i in 0..5 {
            broker.append(record("t", "k", &i.to_string())).unwrap();
        }
        broker.commit("g", &Arc::from("t"), 0, 3);
        let c = broker.consumer("g", vec![Arc::from("t")]);
        let got: Vec<i64> = c.try_poll(100).iter().map(|m| m.offset).collect();
        assert_eq!(got, [3, 4]);
        assert!(c.try_poll(100).is_empty());
    }
}
