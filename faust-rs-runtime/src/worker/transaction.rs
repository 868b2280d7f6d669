//! Transactions: `processing_guarantee = "exactly_once"`.
//!
//! Every record the app writes — sink records, `Topic::send`, changelog
//! records, dead letters, closed windows, repartitioned records — is held
//! back until the event that wrote it is part of the committable prefix
//! of its input partition. Every `commit_interval` one cycle then writes,
//! in one Kafka transaction, the held records of the events being
//! committed, followed by those events' offsets
//! (`send_offsets_to_transaction`, with the consumer's group metadata, so a
//! member that lost its partitions is fenced), and commits it. Readers
//! with `isolation.level = read_committed` (the app's own consumers and
//! table recovery, under this guarantee) see all of it or none of it.
//!
//! Holding records until their event is committable, rather than writing
//! them as they come, is what keeps a transaction from carrying the output
//! of an event whose offset it does not commit (an event still running, or
//! one ahead of a slower agent reading the same partition): such output
//! would be written again when the event is replayed.
//!
//! A handler attempt that fails drops what it held (its retry or dead
//! letter writes afresh). A transaction that fails is aborted, and the
//! worker stops: restarted, it resumes from the last committed
//! transaction, and its transactional id fences this incarnation.
//!
//! The cycle's broker calls block; the worker runs them on tokio's
//! blocking pool, never on the runtime's threads.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::context::{Pending, Source, with_scope};
use crate::error::{Error, Result};
use crate::transport::{
    AfterDelivery, Delivery, GroupMetadata, OutgoingRecord, Producer, RecordMetadata,
    RecordTooLarge, TransactionalProducer,
};

/// How long a revoke waits for a running cycle to finish.
const REVOKE_WAIT: Duration = Duration::from_secs(60);

/// An input position: topic, partition, offset.
pub(crate) type Position = (Arc<str>, i32, i64);

/// A record waiting for its transaction.
pub(crate) struct Staged {
    record: OutgoingRecord,
    /// Runs once the broker has it (a table notes its changelog offset).
    then: Option<AfterDelivery>,
    /// Resolves the delivery a task or timer awaits.
    reply: Option<tokio::sync::oneshot::Sender<Result<RecordMetadata>>>,
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("topic", &self.record.topic)
            .finish_non_exhaustive()
    }
}

/// An agent (or repartition stage) that holds records: how many, for its
/// backpressure. Per agent: an agent ahead of another on the same
/// partition waits for that one, which must not wait for it in turn.
#[derive(Debug, Default)]
pub(crate) struct Owner {
    held: std::sync::atomic::AtomicUsize,
}

/// The events held records came from: one (a per-event agent), or a
/// stream's batch.
#[derive(Debug)]
pub(crate) enum Positions {
    One(Position),
    Many(Vec<Position>),
}

impl Positions {
    fn iter(&self) -> impl Iterator<Item = &Position> {
        let (one, many) = match self {
            Positions::One(p) => (Some(p), &[][..]),
            Positions::Many(ps) => (None, &ps[..]),
        };
        one.into_iter().chain(many)
    }
}

/// The records of finished events, waiting until every event they came
/// from is committable.
struct Held {
    owner: Arc<Owner>,
    positions: Positions,
    records: Vec<Staged>,
}

/// The transactional cycle of one worker. See the [module docs](self).
pub(crate) struct Transactions {
    producer: Arc<dyn TransactionalProducer>,
    held: Mutex<VecDeque<Held>>,
    /// Records written outside any event (tasks, timers, the window
    /// sweeper): in the next transaction.
    loose: Mutex<Vec<Staged>>,
    /// The offset committed (next to read) of each input partition.
    committed: Mutex<HashMap<(Arc<str>, i32), i64>>,
    /// Set while a cycle runs; a revoke waits for it.
    busy: Mutex<bool>,
    idle: Condvar,
    /// Set once a cycle failed: the worker stops, and commits nothing
    /// more (not even at shutdown).
    failed: std::sync::atomic::AtomicBool,
    /// How many records one [`Owner`] may hold before it waits for a
    /// commit (backpressure: held records are memory).
    limit: usize,
    /// Woken when a cycle released records.
    room: tokio::sync::Notify,
    /// Woken when the held records passed `limit`: commit now.
    wanted: tokio::sync::Notify,
}

impl std::fmt::Debug for Transactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transactions")
            .field("id", &self.producer.id())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Marks a cycle running until dropped.
struct Busy<'a>(&'a Transactions);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        *lock(&self.0.busy) = false;
        self.0.idle.notify_all();
    }
}

impl Transactions {
    /// A cycle over `producer`; agents wait for a commit once `limit`
    /// records are held.
    pub(crate) fn new(producer: Arc<dyn TransactionalProducer>, limit: usize) -> Self {
        Transactions {
            producer,
            held: Mutex::default(),
            loose: Mutex::default(),
            committed: Mutex::default(),
            busy: Mutex::new(false),
            idle: Condvar::new(),
            failed: std::sync::atomic::AtomicBool::new(false),
            limit: limit.max(1),
            room: tokio::sync::Notify::new(),
            wanted: tokio::sync::Notify::new(),
        }
    }

    /// The transactional id.
    pub(crate) fn id(&self) -> &str {
        self.producer.id()
    }

    /// Registers the transactional id (fencing an older incarnation and
    /// aborting what it left open). Blocks.
    pub(crate) fn init(&self) -> Result<()> {
        self.producer
            .init()
            .map_err(|e| self.failed("initialising", e))
    }

    /// Holds what the event(s) at `positions` wrote until all of them are
    /// committable. Called before the events are acked.
    pub(crate) fn hold(&self, owner: &Arc<Owner>, positions: Positions, records: Vec<Staged>) {
        if records.is_empty() {
            return;
        }
        let held = records.len() + owner.held.fetch_add(records.len(), Ordering::AcqRel);
        lock(&self.held).push_back(Held {
            owner: owner.clone(),
            positions,
            records,
        });
        if held > self.limit {
            self.wanted.notify_one();
        }
    }

    /// Waits while `owner` holds more than the limit of records (an
    /// agent's backpressure under transactions); the commit loop hears of
    /// it.
    pub(crate) async fn room(&self, owner: &Owner) {
        loop {
            let room = self.room.notified();
            futures_util::pin_mut!(room);
            room.as_mut().enable();
            if owner.held.load(Ordering::Acquire) <= self.limit {
                return;
            }
            self.wanted.notify_one();
            room.await;
        }
    }

    /// Resolves when agents wait for a commit (the held records passed the
    /// limit before the commit interval did).
    pub(crate) async fn commit_wanted(&self) {
        self.wanted.notified().await;
    }

    /// Counts `released` off their owners, and wakes the waiting agents.
    fn released<'a>(&self, released: impl IntoIterator<Item = &'a Held>) {
        for h in released {
            h.owner.held.fetch_sub(h.records.len(), Ordering::AcqRel);
        }
        self.room.notify_waiters();
    }

    /// Holds what the event at `message` left in `pending`.
    pub(crate) fn hold_event(
        &self,
        owner: &Arc<Owner>,
        message: &crate::transport::Message,
        pending: &Pending,
    ) {
        let records = pending.take_staged();
        if records.is_empty() {
            return;
        }
        self.hold(
            owner,
            Positions::One((message.topic.clone(), message.partition, message.offset)),
            records,
        );
    }

    /// Drops what was held for the events of the partitions `revoked` says
    /// this worker lost: their next owner handles them again. Waits for a
    /// running cycle first, so what it commits is committed before the
    /// partitions move.
    pub(crate) fn revoke(&self, revoked: impl Fn(&str, i32) -> bool) {
        let busy = lock(&self.busy);
        let (_busy, timeout) = self
            .idle
            .wait_timeout_while(busy, REVOKE_WAIT, |busy| *busy)
            .unwrap_or_else(|e| e.into_inner());
        if timeout.timed_out() {
            tracing::warn!(
                "revoke: the transaction cycle still runs after {REVOKE_WAIT:?}; the partitions \
                 move without waiting for it"
            );
        }
        let mut held = lock(&self.held);
        let (lost, kept): (VecDeque<Held>, VecDeque<Held>) = held
            .drain(..)
            .partition(|h| h.positions.iter().any(|(t, p, _)| revoked(t, *p)));
        *held = kept;
        drop(held);
        self.released(&lost);
        let dropped = lost.len();
        if dropped > 0 {
            tracing::debug!(
                dropped,
                "revoke: dropped the held output of uncommitted events"
            );
        }
    }

    /// One cycle: writes the held records of the events up to `offsets`
    /// (and the loose ones) and `offsets` themselves in one transaction,
    /// and commits it. Blocks. On `Err` the transaction was aborted and
    /// the worker must stop.
    pub(crate) fn cycle(
        &self,
        offsets: &[Position],
        group: Option<&GroupMetadata>,
    ) -> Result<usize> {
        *lock(&self.busy) = true;
        let _busy = Busy(self);
        let result = self.run_cycle(offsets, group);
        if result.is_err() {
            self.failed.store(true, Ordering::Release);
        }
        result
    }

    /// Whether a cycle failed: nothing more is committed.
    pub(crate) fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    fn run_cycle(&self, offsets: &[Position], group: Option<&GroupMetadata>) -> Result<usize> {
        let (ready, loose) = self.release(offsets);
        let written = ready.iter().map(|h| h.records.len()).sum::<usize>() + loose.len();
        if written == 0 && offsets.is_empty() {
            return Ok(0);
        }
        let records = ready.into_iter().flat_map(|h| h.records).chain(loose);
        self.producer
            .begin()
            .map_err(|e| self.failed("beginning a transaction", e))?;
        if let Err(e) = self.write(records, offsets, group) {
            if let Err(abort) = self.producer.abort() {
                tracing::warn!(
                    "aborting the failed transaction: {abort} (the broker aborts it when the \
                     transactional id is initialised again, or after transaction.timeout.ms)"
                );
            }
            return Err(e);
        }
        metrics::counter!("faust_transactions_committed_total").increment(1);
        Ok(written)
    }

    /// The held records whose events are all committable now, in the
    /// order their events finished, and the loose ones.
    fn release(&self, offsets: &[Position]) -> (Vec<Held>, Vec<Staged>) {
        let mut committed = lock(&self.committed);
        for (topic, partition, offset) in offsets {
            committed.insert((topic.clone(), *partition), *offset);
        }
        // Runs of one partition are the rule: its offset is looked up once
        // per run.
        let mut last: Option<(Arc<str>, i32, i64)> = None;
        let mut committable = |(topic, partition, offset): &Position| {
            let next = match &last {
                Some((t, p, next)) if Arc::ptr_eq(t, topic) && p == partition => *next,
                _ => {
                    let next = committed
                        .get(&(topic.clone(), *partition))
                        .copied()
                        .unwrap_or(i64::MIN);
                    last = Some((topic.clone(), *partition, next));
                    next
                }
            };
            *offset < next
        };
        // Sorted out without the lock: agents hold records meanwhile.
        let all = std::mem::take(&mut *lock(&self.held));
        let mut ready = Vec::new();
        let mut kept = VecDeque::new();
        for h in all {
            if h.positions.iter().all(&mut committable) {
                h.owner.held.fetch_sub(h.records.len(), Ordering::AcqRel);
                ready.push(h);
            } else {
                kept.push_back(h);
            }
        }
        drop(committed);
        let mut held = lock(&self.held);
        kept.append(&mut held);
        *held = kept;
        drop(held);
        self.room.notify_waiters();
        (ready, std::mem::take(&mut *lock(&self.loose)))
    }

    fn write(
        &self,
        records: impl Iterator<Item = Staged>,
        offsets: &[Position],
        group: Option<&GroupMetadata>,
    ) -> Result<()> {
        let waker = Arc::new(ThreadWaker(std::thread::current())).into();
        let mut cx = std::task::Context::from_waker(&waker);
        let mut first_error = None;
        // A delivery already known (the in-memory broker's) is done at
        // once; the others are waited for after every record is sent.
        let mut waiting = Vec::new();
        for staged in records {
            let mut delivery = self.producer.send(staged.record);
            match std::future::Future::poll(std::pin::Pin::new(&mut delivery), &mut cx) {
                std::task::Poll::Ready(result) => {
                    delivered(result, staged.then, staged.reply, &mut first_error);
                }
                std::task::Poll::Pending => waiting.push((delivery, staged.then, staged.reply)),
            }
        }
        for (delivery, then, reply) in waiting {
            delivered(block_on(delivery, &mut cx), then, reply, &mut first_error);
        }
        if let Some(e) = first_error {
            return Err(self.failed("writing a record", e));
        }
        if !offsets.is_empty() {
            let group = group.ok_or_else(|| {
                self.failed(
                    "committing offsets",
                    Error::config("the consumer has no group metadata"),
                )
            })?;
            self.producer
                .send_offsets(offsets, group)
                .map_err(|e| self.failed("adding the input offsets", e))?;
        }
        self.producer
            .commit()
            .map_err(|e| self.failed("committing", e))
    }

    fn failed(&self, step: &'static str, source: Error) -> Error {
        Error::Transaction {
            id: self.producer.id().to_owned(),
            step,
            source: Box::new(source),
        }
    }

    /// Stages a record written outside any event: in the next transaction.
    fn stage_loose(&self, record: OutgoingRecord, then: Option<AfterDelivery>) -> Delivery {
        let (tx, rx) = tokio::sync::oneshot::channel();
        lock(&self.loose).push(Staged {
            record,
            then,
            reply: Some(tx),
        });
        Delivery::pending(async move {
            rx.await.unwrap_or_else(|_| {
                Err(Error::Transport {
                    what: "writing in a transaction".into(),
                    source: "the worker stopped before the transaction committed".into(),
                })
            })
        })
    }
}

/// What a delivered (or failed) record leads to: its `then`, the reply a
/// task waits for, and the cycle's first error.
fn delivered(
    result: Result<RecordMetadata>,
    then: Option<AfterDelivery>,
    reply: Option<tokio::sync::oneshot::Sender<Result<RecordMetadata>>>,
    first_error: &mut Option<Error>,
) {
    if let (Ok(meta), Some(then)) = (&result, then) {
        then(meta);
    }
    match (&result, reply) {
        (Ok(meta), Some(reply)) => {
            let _ = reply.send(Ok(*meta));
        }
        (Err(e), Some(reply)) => {
            let _ = reply.send(Err(Error::Transport {
                what: "writing in a transaction".into(),
                source: e.to_string().into(),
            }));
        }
        _ => {}
    }
    if let Err(e) = result {
        first_error.get_or_insert(e);
    }
}

/// Waits for a delivery on the calling (blocking) thread, whose waker
/// `cx` holds.
fn block_on(mut delivery: Delivery, cx: &mut std::task::Context<'_>) -> Result<RecordMetadata> {
    loop {
        if let std::task::Poll::Ready(result) =
            std::future::Future::poll(std::pin::Pin::new(&mut delivery), cx)
        {
            return result;
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

struct ThreadWaker(std::thread::Thread);

impl std::task::Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// The app's producer under transactions: records wait, with the event
/// that wrote them, for the transaction that commits that event.
#[derive(Debug)]
pub(crate) struct Staging {
    txn: Arc<Transactions>,
}

impl Staging {
    pub(crate) fn new(txn: Arc<Transactions>) -> Self {
        Staging { txn }
    }

    /// A record over the transactional producer's limit fails now, so the
    /// error policy sees it with its event (a dead letter is slimmed).
    fn too_large(&self, record: &OutgoingRecord) -> Option<Delivery> {
        let max = self.txn.producer.max_record_bytes();
        let size = record.key.as_ref().map_or(0, |k| k.len())
            + record.value.as_ref().map_or(0, |v| v.len());
        (max > 0 && size > max).then(|| {
            Delivery::ready(Err(Error::Transport {
                what: format!("sending to `{}`", record.topic),
                source: Box::new(RecordTooLarge { size, max }),
            }))
        })
    }

    /// Stages `record` with the event the current code handles, or as a
    /// loose record outside any event.
    pub(crate) fn stage(
        &self,
        pending: Option<&Pending>,
        record: OutgoingRecord,
        then: Option<AfterDelivery>,
    ) -> Delivery {
        if let Some(delivery) = self.too_large(&record) {
            return delivery;
        }
        let ready = RecordMetadata {
            partition: record.partition.unwrap_or(-1),
            offset: -1,
        };
        let staged = Staged {
            record,
            then,
            reply: None,
        };
        if let Some(pending) = pending {
            pending.stage(staged);
            return Delivery::ready(Ok(ready));
        }
        // Held with the event: it resolves now, so nothing the event
        // awaits waits for its own transaction.
        let mut staged = Some(staged);
        let with_event = with_scope(|scope| {
            if matches!(scope.source, Source::None) {
                return false;
            }
            if let Some(staged) = staged.take() {
                scope.pending.stage(staged);
            }
            true
        })
        .unwrap_or(false);
        match staged {
            Some(Staged { record, then, .. }) if !with_event => self.txn.stage_loose(record, then),
            _ => Delivery::ready(Ok(ready)),
        }
    }
}

impl Producer for Staging {
    fn send(&self, record: OutgoingRecord) -> Delivery {
        self.stage(None, record, None)
    }
}

/// Refuses `what` (a send that waits for the broker) inside an event
/// under transactions: its record is written when the event's transaction
/// commits, after the handler returns, so waiting would wait forever.
pub(crate) fn refuse_wait(what: &str) -> Result<()> {
    let refused = with_scope(|scope| {
        scope.core.transactions.is_some() && !matches!(scope.source, Source::None)
    })
    .unwrap_or(false);
    if refused {
        return Err(Error::config(format!(
            "`{what}` cannot wait for the broker inside an agent under processing_guarantee = \
             \"exactly_once\": the record is written when the event's transaction commits, after \
             the handler returns; use the sending call that does not wait (`send`, `cast`), or \
             send from a task or timer"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Clock;
    use crate::transport::memory::MemoryBroker;

    fn record(topic: &str, value: &str) -> OutgoingRecord {
        OutgoingRecord {
            topic: Arc::from(topic),
            partition: Some(0),
            value: Some(bytes::Bytes::copy_from_slice(value.as_bytes())),
            ..OutgoingRecord::default()
        }
    }

    fn staged(topic: &str, value: &str) -> Staged {
        Staged {
            record: record(topic, value),
            then: None,
            reply: None,
        }
    }

    fn values(broker: &MemoryBroker, topic: &str) -> Vec<String> {
        broker
            .records(topic)
            .iter()
            .map(|m| String::from_utf8_lossy(m.value.as_deref().unwrap_or_default()).into_owned())
            .collect()
    }

    #[test]
    fn held_records_wait_until_every_event_they_came_from_is_committable() {
        let broker = MemoryBroker::new(1, Clock::virtual_clock());
        let txn = Transactions::new(Arc::new(broker.transactional("t-1")), 100);
        txn.init().unwrap();
        let input: Arc<str> = Arc::from("in");
        let group = GroupMetadata::Memory("g".into());
        // Event 5 of partition 0, and a batch spanning partitions 0 and 1.
        let agent = Arc::new(Owner::default());
        txn.hold(
            &agent,
            Positions::One((input.clone(), 0, 5)),
            vec![staged("out", "a")],
        );
        txn.hold(
            &agent,
            Positions::Many(vec![(input.clone(), 0, 6), (input.clone(), 1, 2)]),
            vec![staged("out", "b")],
        );
        // Offset 5 committable means up to 4: nothing goes out.
        txn.cycle(&[(input.clone(), 0, 5)], Some(&group)).unwrap();
        assert!(values(&broker, "out").is_empty());
        assert_eq!(broker.committed("g", "in", 0), Some(5));
        // Event 5 is in; the batch still waits for partition 1.
        txn.cycle(&[(input.clone(), 0, 7)], Some(&group)).unwrap();
        assert_eq!(values(&broker, "out"), ["a"]);
        txn.cycle(&[(input.clone(), 1, 3)], Some(&group)).unwrap();
        assert_eq!(values(&broker, "out"), ["a", "b"]);
    }

    #[test]
    fn an_agent_holding_more_than_the_limit_waits_for_a_commit_and_the_others_do_not() {
        use futures_util::FutureExt;
        let broker = MemoryBroker::new(1, Clock::virtual_clock());
        let txn = Transactions::new(Arc::new(broker.transactional("t-1")), 2);
        txn.init().unwrap();
        let input: Arc<str> = Arc::from("in");
        let (ahead, behind) = (Arc::new(Owner::default()), Owner::default());
        for offset in 0..3 {
            txn.hold(
                &ahead,
                Positions::One((input.clone(), 0, offset)),
                vec![staged("out", "x")],
            );
        }
        assert!(
            txn.room(&ahead).now_or_never().is_none(),
            "over the limit: it waits"
        );
        assert!(
            txn.room(&behind).now_or_never().is_some(),
            "another agent goes on"
        );
        assert!(
            txn.commit_wanted().now_or_never().is_some(),
            "the commit loop hears of it"
        );
        let group = GroupMetadata::Memory("g".into());
        txn.cycle(&[(input, 0, 3)], Some(&group)).unwrap();
        assert!(
            txn.room(&ahead).now_or_never().is_some(),
            "the commit made room"
        );
        assert_eq!(values(&broker, "out").len(), 3);
    }

    #[test]
    fn a_revoke_drops_what_the_lost_partitions_hold() {
        let broker = MemoryBroker::new(1, Clock::virtual_clock());
        let txn = Transactions::new(Arc::new(broker.transactional("t-1")), 100);
        txn.init().unwrap();
        let input: Arc<str> = Arc::from("in");
        let agent = Arc::new(Owner::default());
        txn.hold(
            &agent,
            Positions::One((input.clone(), 0, 0)),
            vec![staged("out", "p0")],
        );
        txn.hold(
            &agent,
            Positions::One((input.clone(), 1, 0)),
            vec![staged("out", "p1")],
        );
        txn.revoke(|topic, partition| topic == "in" && partition == 1);
        let group = GroupMetadata::Memory("g".into());
        txn.cycle(
            &[(input.clone(), 0, 1), (input.clone(), 1, 1)],
            Some(&group),
        )
        .unwrap();
        assert_eq!(values(&broker, "out"), ["p0"]);
    }

    #[test]
    fn a_newer_producer_with_the_same_id_fences_the_older_and_aborts_its_transaction() {
        let broker = MemoryBroker::new(1, Clock::virtual_clock());
        let old = broker.transactional("t-1");
        old.init().unwrap();
        old.begin().unwrap();
        futures_util::FutureExt::now_or_never(TransactionalProducer::send(
            &old,
            record("out", "zombie"),
        ))
        .unwrap()
        .unwrap();
        // Written, not visible.
        assert_eq!(broker.end_offset("out", 0), 1);
        assert!(values(&broker, "out").is_empty());
        let new = broker.transactional("t-1");
        new.init().unwrap();
        let error = old.commit().unwrap_err().to_string();
        assert!(error.contains("producer fenced"), "{error}");
        new.begin().unwrap();
        futures_util::FutureExt::now_or_never(TransactionalProducer::send(
            &new,
            record("out", "fresh"),
        ))
        .unwrap()
        .unwrap();
        new.commit().unwrap();
        // The zombie's record stays hidden: it was aborted.
        assert_eq!(values(&broker, "out"), ["fresh"]);
    }

    #[test]
    fn a_failed_write_aborts_the_transaction_and_names_the_id_and_step() {
        let broker = MemoryBroker::new(1, Clock::virtual_clock());
        let txn = Transactions::new(Arc::new(broker.transactional("t-9")), 100);
        txn.init().unwrap();
        let input: Arc<str> = Arc::from("in");
        txn.hold(
            &Arc::new(Owner::default()),
            Positions::One((input.clone(), 0, 0)),
            vec![staged("out", "a"), staged("out", "b")],
        );
        broker.crash_after(1);
        let group = GroupMetadata::Memory("g".into());
        let error = txn
            .cycle(&[(input, 0, 1)], Some(&group))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("transactional id `t-9`") && error.contains("writing a record failed"),
            "{error}"
        );
        broker.lift_crash();
        assert!(values(&broker, "out").is_empty());
        assert_eq!(broker.committed("g", "in", 0), None);
    }
}
