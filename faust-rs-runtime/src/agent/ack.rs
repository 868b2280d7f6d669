//! Acknowledgement: which offsets of a partition may be committed.
//!
//! Every record read is tracked with the number of agents that consume its
//! topic. An agent acks a record when it has finished with it and every
//! record it produced has been acknowledged by the broker. The committable
//! offset of a partition is one past the end of its contiguous prefix of
//! fully acked records: with `concurrency = N` records finish out of order,
//! and the commit never moves past a gap.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// Acks of one topic partition.
#[derive(Debug)]
pub(crate) struct PartitionAcks {
    topic: Arc<str>,
    partition: i32,
    state: Mutex<AckState>,
    /// Set when the partition was revoked: its records are no longer ours.
    revoked: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct AckState {
    /// Tracked offsets in order, with how many consumers still owe an ack.
    in_flight: VecDeque<(i64, u32)>,
    /// One past the last offset of the finished prefix.
    committable: Option<i64>,
    /// What was last handed to the committer.
    reported: Option<i64>,
}

impl PartitionAcks {
    fn lock(&self) -> MutexGuard<'_, AckState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts tracking `offset`, read for `consumers` agents. Offsets must
    /// be tracked in increasing order (gaps are fine).
    #[cfg(test)]
    pub(crate) fn track(&self, offset: i64, consumers: u32) {
        self.track_all([offset], consumers);
    }

    /// Starts tracking each of `offsets` (increasing), read for `consumers`
    /// agents, under one lock.
    pub(crate) fn track_all(&self, offsets: impl IntoIterator<Item = i64>, consumers: u32) {
        let mut state = self.lock();
        for offset in offsets {
            if state
                .in_flight
                .back()
                .is_some_and(|(last, _)| offset <= *last)
            {
                // The partition was rewound (reassigned after a rebalance, or
                // sought): what was in flight belongs to an older read.
                tracing::debug!(topic = %self.topic, partition = self.partition, offset,
                    "offsets restarted; forgetting the older in-flight records");
                state.in_flight.clear();
                state.committable = None;
            }
            if consumers == 0 && state.in_flight.is_empty() {
                state.committable = Some(offset + 1);
            } else {
                state.in_flight.push_back((offset, consumers));
            }
        }
    }

    /// The partition was revoked from this worker.
    fn mark_revoked(&self) {
        self.revoked
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// True once the partition was revoked from this worker.
    pub(crate) fn is_revoked(&self) -> bool {
        self.revoked.load(std::sync::atomic::Ordering::Acquire)
    }

    /// One consumer is done with `offset`.
    pub(crate) fn ack(&self, offset: i64) {
        let mut state = self.lock();
        let front_matches = state.in_flight.front().is_some_and(|(o, _)| *o == offset);
        let index = if front_matches {
            Some(0)
        } else {
            state
                .in_flight
                .binary_search_by_key(&offset, |(o, _)| *o)
                .ok()
        };
        let Some(index) = index else {
            return;
        };
        if let Some((_, owed)) = state.in_flight.get_mut(index) {
            *owed = owed.saturating_sub(1);
        }
        while let Some((o, 0)) = state.in_flight.front().copied() {
            state.in_flight.pop_front();
            state.committable = Some(o + 1);
        }
    }

    /// The committable offset if it moved since the last call.
    fn take_committable(&self) -> Option<i64> {
        let mut state = self.lock();
        match state.committable {
            Some(c) if state.reported != Some(c) => {
                state.reported = Some(c);
                Some(c)
            }
            _ => None,
        }
    }
}

type PartitionKey = (Arc<str>, i32);

/// Where a partition's reading stands.
#[derive(Debug, Clone)]
pub(crate) struct Position {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    /// The next offset to read.
    pub(crate) read: Option<i64>,
    /// The offset last handed to the commit.
    pub(crate) committed: Option<i64>,
}

/// The acks of every partition a worker reads.
#[derive(Debug, Default)]
pub(crate) struct OffsetTracker {
    partitions: Mutex<HashMap<PartitionKey, Arc<PartitionAcks>>>,
}

impl OffsetTracker {
    /// The ack state of `topic`/`partition`, created on first use.
    pub(crate) fn partition(&self, topic: &Arc<str>, partition: i32) -> Arc<PartitionAcks> {
        let mut parts = self.partitions.lock().unwrap_or_else(|e| e.into_inner());
        parts
            .entry((topic.clone(), partition))
            .or_insert_with(|| {
                Arc::new(PartitionAcks {
                    topic: topic.clone(),
                    partition,
                    state: Mutex::new(AckState::default()),
                    revoked: std::sync::atomic::AtomicBool::new(false),
                })
            })
            .clone()
    }

    /// Records of `topic`/`partition` read but not finished yet.
    pub(crate) fn in_flight(&self, topic: &str, partition: i32) -> usize {
        let parts = self.partitions.lock().unwrap_or_else(|e| e.into_inner());
        parts
            .get(&(Arc::<str>::from(topic), partition))
            .map_or(0, |p| p.lock().in_flight.len())
    }

    /// Forgets `topic`/`partition` (the group gave it to another worker) and
    /// returns its committable offset if it moved since the last commit.
    /// Records of it still in flight are skipped by the agents.
    pub(crate) fn revoke(&self, topic: &str, partition: i32) -> Option<i64> {
        let mut parts = self.partitions.lock().unwrap_or_else(|e| e.into_inner());
        let key = (Arc::<str>::from(topic), partition);
        let acks = parts.remove(&key)?;
        acks.mark_revoked();
        acks.take_committable()
    }

    /// Forgets every partition, as an eager rebalance revokes them all
    /// (the test driver's); their records still in flight are skipped, and
    /// what a handler still running for one writes to a table is dropped.
    pub(crate) fn revoke_all(&self) {
        let mut parts = self.partitions.lock().unwrap_or_else(|e| e.into_inner());
        for (_, acks) in parts.drain() {
            acks.mark_revoked();
        }
    }

    /// Where each partition read since it was assigned stands (for the
    /// status page).
    pub(crate) fn positions(&self) -> Vec<Position> {
        let parts = self.partitions.lock().unwrap_or_else(|e| e.into_inner());
        parts
            .values()
            .map(|p| {
                let state = p.lock();
                let read = state.in_flight.back().map(|(o, _)| o + 1);
                Position {
                    topic: p.topic.clone(),
                    partition: p.partition,
                    read: read.or(state.committable),
                    committed: state.reported,
                }
            })
            .collect()
    }

    /// `(topic, partition, offset)` for every partition whose committable
    /// offset moved since the last call.
    pub(crate) fn take_committable(&self) -> Vec<(Arc<str>, i32, i64)> {
        let parts = self.partitions.lock().unwrap_or_else(|e| e.into_inner());
        parts
            .values()
            .filter_map(|p| {
                p.take_committable()
                    .map(|o| (p.topic.clone(), p.partition, o))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acks() -> Arc<PartitionAcks> {
        OffsetTracker::default().partition(&Arc::from("t"), 0)
    }

    /// The record at `offset` of partition 0 of `t`.
    fn message(offset: i64) -> Arc<crate::transport::Message> {
        Arc::new(crate::transport::Message {
            topic: Arc::from("t"),
            partition: 0,
            offset,
            timestamp: 0,
            key: None,
            value: None,
            headers: crate::transport::Headers::new(),
        })
    }

    /// Queues in `done` a delivery that completes when the returned sender
    /// sends.
    fn push_held_delivery(done: &mut Completions, offset: i64) -> tokio::sync::oneshot::Sender<()> {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        done.queue
            .push_back(Step::Deliver(crate::transport::Delivery::pending(
                async move {
                    let _ = rx.await;
                    Ok(crate::transport::RecordMetadata {
                        partition: 0,
                        offset,
                    })
                },
            )));
        tx
    }

    #[test]
    fn commit_waits_for_the_gap() {
        let p = acks();
        for o in 0..4 {
            p.track(o, 1);
        }
        p.ack(1);
        p.ack(2);
        assert_eq!(p.take_committable(), None);
        p.ack(0);
        assert_eq!(p.take_committable(), Some(3));
        assert_eq!(p.take_committable(), None);
        p.ack(3);
        assert_eq!(p.take_committable(), Some(4));
    }

    #[test]
    fn every_consumer_must_ack() {
        let p = acks();
        p.track(10, 2);
        p.ack(10);
        assert_eq!(p.take_committable(), None);
        p.ack(10);
        assert_eq!(p.take_committable(), Some(11));
    }

    #[test]
    fn a_rewound_partition_starts_a_fresh_read() {
        let p = acks();
        p.track(10, 1);
        p.track(11, 1);
        p.track(5, 1); // reassigned from an older committed offset
        p.ack(5);
        assert_eq!(p.take_committable(), Some(6));
    }

    #[test]
    fn an_event_waiting_for_the_broker_holds_its_offset_not_its_record() {
        let p = acks();
        p.track(3, 1);
        let message = message(3);
        let mut done = Completions::default();
        let tx = push_held_delivery(&mut done, 0);
        done.push_ack(Envelope::new(message.clone(), p.clone()));
        assert_eq!(
            Arc::strong_count(&message),
            1,
            "the record is freed once handled, not kept until its output is delivered"
        );
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(done.poll_progress(&mut cx).is_pending());
        assert_eq!(p.take_committable(), None, "not delivered yet");
        tx.send(()).unwrap();
        assert!(matches!(
            done.poll_progress(&mut cx),
            std::task::Poll::Ready(None)
        ));
        assert_eq!(p.take_committable(), Some(4), "acked once delivered");
    }

    #[test]
    fn an_agent_held_at_the_bound_goes_on_a_quarter_below_it() {
        let p = acks();
        let mut done = Completions::default();
        let mut deliver = Vec::new();
        for offset in 0..8 {
            p.track(offset, 1);
            deliver.push(push_held_delivery(&mut done, offset));
            done.push_ack(Envelope::new(message(offset), p.clone()));
        }
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(
            done.poll_below(&mut cx, 8).is_pending(),
            "8 waiting, bound 8"
        );
        let mut delivered = 0;
        for tx in deliver {
            tx.send(()).expect("the delivery waits");
            delivered += 1;
            let waiting = 8 - delivered;
            let ready = done.poll_below(&mut cx, 8).is_ready();
            assert_eq!(ready, waiting < 6, "{waiting} waiting: goes on below 6");
            if ready {
                break;
            }
        }
        assert_eq!(delivered, 3);
        assert_eq!(p.take_committable(), Some(3));
        // Under the bound again: it goes on at once, below 8.
        assert!(done.poll_below(&mut cx, 8).is_ready());
    }

    #[test]
    fn offsets_may_have_gaps() {
        let p = acks();
        p.track(5, 1);
        p.track(9, 1);
        p.ack(9);
        p.ack(5);
        assert_eq!(p.take_committable(), Some(10));
    }

    /// The watermark held to a reference model (acks owed per offset in a
    /// `BTreeMap`) for arbitrary offsets, consumer counts, ack orders and
    /// commit times.
    mod properties {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::*;

        /// The reference: what each tracked offset still owes, and what was
        /// last reported to the committer.
        #[derive(Debug, Default)]
        struct Model {
            owed: BTreeMap<i64, u32>,
            reported: Option<i64>,
        }

        impl Model {
            /// One past the last offset of the fully acked prefix.
            fn committable(&self) -> Option<i64> {
                self.owed
                    .iter()
                    .take_while(|(_, owed)| **owed == 0)
                    .last()
                    .map(|(offset, _)| offset + 1)
            }

            /// The first tracked offset a consumer has not acked yet.
            fn first_owed(&self) -> Option<i64> {
                self.owed
                    .iter()
                    .find(|(_, owed)| **owed > 0)
                    .map(|(offset, _)| *offset)
            }

            /// What `take_committable` answers now; records it as reported.
            fn take(&mut self) -> Option<i64> {
                let now = self.committable();
                if now == self.reported {
                    return None;
                }
                self.reported = now;
                now
            }
        }

        /// One partition's reads and acks.
        #[derive(Debug, Clone)]
        struct Script {
            /// The offsets read: increasing, with gaps.
            offsets: Vec<i64>,
            /// How many consumers each offset is read for.
            consumers: u32,
            /// Each consumer's ack of each offset, in some order.
            steps: Vec<AckStep>,
        }

        /// One ack, with what happens around it.
        #[derive(Debug, Clone)]
        struct AckStep {
            /// The offset one consumer acks.
            offset: i64,
            /// How many offsets past the acked one are read (tracked in one
            /// `track_all`) before the ack, if not read yet: reading runs
            /// ahead of the acks.
            read_ahead: usize,
            /// An offset never read, acked just before: must change nothing.
            stray: Option<i64>,
            /// Whether the committer asks for the committable offset after
            /// the ack.
            take: bool,
        }

        /// Offsets from anywhere in `0..1_000_000` with gaps of 1 to 5, read
        /// for 1 to 4 consumers, every ack in an arbitrary order.
        fn script() -> impl Strategy<Value = Script> {
            (
                0i64..1_000_000,
                prop::collection::vec(1i64..=5, 1..40),
                1u32..=4,
            )
                .prop_flat_map(|(first, gaps, consumers)| {
                    let offsets: Vec<i64> = gaps
                        .iter()
                        .scan(first, |next, gap| {
                            let offset = *next;
                            *next += gap;
                            Some(offset)
                        })
                        .collect();
                    let acks: Vec<i64> = offsets
                        .iter()
                        .flat_map(|&o| std::iter::repeat_n(o, consumers as usize))
                        .collect();
                    let last = offsets[offsets.len() - 1];
                    let around = (
                        0usize..4,
                        prop::option::weighted(0.2, first - 3..=last + 3),
                        any::<bool>(),
                    );
                    let around = prop::collection::vec(around, acks.len());
                    (
                        Just(offsets),
                        Just(consumers),
                        Just(acks).prop_shuffle(),
                        around,
                    )
                })
                .prop_map(|(offsets, consumers, acks, around)| {
                    let steps = acks
                        .into_iter()
                        .zip(around)
                        .map(|(offset, (read_ahead, stray, take))| AckStep {
                            offset,
                            read_ahead,
                            stray: stray.filter(|s| offsets.binary_search(s).is_err()),
                            take,
                        })
                        .collect();
                    Script {
                        offsets,
                        consumers,
                        steps,
                    }
                })
        }

        /// A partition's acks playing a script, beside the model.
        #[derive(Debug)]
        struct Run {
            acks: Arc<PartitionAcks>,
            model: Model,
            script: Script,
            /// How many of the script's offsets were read so far.
            read: usize,
            /// The next step.
            next: usize,
        }

        impl Run {
            fn new(acks: Arc<PartitionAcks>, script: Script) -> Run {
                Run {
                    acks,
                    model: Model::default(),
                    script,
                    read: 0,
                    next: 0,
                }
            }

            /// Reads the script's offsets up to (not including) index `upto`.
            fn read_upto(&mut self, upto: usize) {
                let upto = upto.min(self.script.offsets.len());
                if upto <= self.read {
                    return;
                }
                let offsets = &self.script.offsets[self.read..upto];
                let consumers = self.script.consumers;
                self.acks.track_all(offsets.iter().copied(), consumers);
                for &offset in offsets {
                    self.model.owed.insert(offset, consumers);
                }
                self.read = upto;
            }

            /// Plays the next step; whether the committer asks after it, or
            /// `None` once the script is done.
            fn step(&mut self) -> Option<bool> {
                let step = self.script.steps.get(self.next).cloned()?;
                self.next += 1;
                let index = self
                    .script
                    .offsets
                    .binary_search(&step.offset)
                    .expect("the script acks offsets it reads");
                self.read_upto(index + 1 + step.read_ahead);
                if let Some(stray) = step.stray {
                    self.acks.ack(stray);
                }
                self.acks.ack(step.offset);
                if let Some(owed) = self.model.owed.get_mut(&step.offset) {
                    *owed -= 1;
                }
                Some(step.take)
            }

            /// One past the script's last offset.
            fn end(&self) -> i64 {
                self.script.offsets[self.script.offsets.len() - 1] + 1
            }
        }

        /// Holds what `take_committable` answered to the model and to the
        /// watermark's promises, and records it as reported.
        fn check_take(got: Option<i64>, model: &mut Model) -> Result<(), TestCaseError> {
            let before = model.reported;
            let first_owed = model.first_owed();
            let first_done = model.owed.values().next().is_some_and(|owed| *owed == 0);
            prop_assert_eq!(got, model.take(), "owed: {:?}", model.owed);
            if let Some(committable) = got {
                prop_assert!(
                    first_done,
                    "{committable} committable before the first offset is fully acked"
                );
                prop_assert!(
                    before.is_none_or(|b| committable > b),
                    "the committable offset moved back from {before:?} to {committable}"
                );
                if let Some(owed) = first_owed {
                    prop_assert!(
                        committable <= owed,
                        "{committable} committable past {owed}, not fully acked"
                    );
                }
            }
            Ok(())
        }

        proptest! {
            #[test]
            fn the_commit_never_passes_an_offset_not_fully_acked(script in script()) {
                let mut run = Run::new(acks(), script);
                while let Some(take) = run.step() {
                    if take {
                        check_take(run.acks.take_committable(), &mut run.model)?;
                    }
                }
                check_take(run.acks.take_committable(), &mut run.model)?;
                prop_assert_eq!(run.model.reported, Some(run.end()), "all acked");
                prop_assert_eq!(run.acks.take_committable(), None, "reported once");
                prop_assert!(run.acks.lock().in_flight.is_empty());
            }

            #[test]
            fn nothing_is_committable_before_the_first_offset_is_fully_acked(
                mut script in script(),
            ) {
                let first = script.offsets[0];
                let held = script
                    .steps
                    .iter()
                    .rposition(|step| step.offset == first)
                    .expect("every offset is acked");
                script.steps.remove(held);
                let mut run = Run::new(acks(), script);
                while let Some(take) = run.step() {
                    if take {
                        prop_assert_eq!(run.acks.take_committable(), None);
                    }
                }
                run.read_upto(usize::MAX);
                prop_assert_eq!(run.acks.take_committable(), None, "{} still owes an ack", first);
                run.acks.ack(first);
                prop_assert_eq!(run.acks.take_committable(), Some(run.end()));
            }

            #[test]
            fn the_tracker_reports_each_partition_that_moved(
                scripts in (script(), script()),
                order in prop::collection::vec(any::<bool>(), 0..200),
            ) {
                let tracker = OffsetTracker::default();
                let topic: Arc<str> = Arc::from("t");
                let mut runs = [
                    Run::new(tracker.partition(&topic, 0), scripts.0),
                    Run::new(tracker.partition(&topic, 1), scripts.1),
                ];
                let mut order = order.into_iter();
                loop {
                    let pick = usize::from(order.next().unwrap_or(false));
                    let Some(take) = runs[pick].step().or_else(|| runs[1 - pick].step()) else {
                        break;
                    };
                    if take {
                        let mut got = tracker.take_committable();
                        got.sort_by_key(|(_, partition, _)| *partition);
                        let want: Vec<(Arc<str>, i32, i64)> = (0..2)
                            .filter_map(|p| {
                                runs[p].model.take().map(|o| (topic.clone(), p as i32, o))
                            })
                            .collect();
                        prop_assert_eq!(got, want);
                    }
                }
                let mut got = tracker.take_committable();
                got.sort_by_key(|(_, partition, _)| *partition);
                for (p, run) in runs.iter_mut().enumerate() {
                    if run.model.take().is_some() {
                        prop_assert!(got.contains(&(topic.clone(), p as i32, run.end())));
                    }
                    prop_assert_eq!(run.model.reported, Some(run.end()));
                    prop_assert_eq!(tracker.in_flight("t", p as i32), 0);
                }
            }
        }
    }
}

/// Records of one partition handed to an agent in one go.
#[derive(Clone, Debug)]
pub(crate) struct Batch {
    pub(crate) acks: Arc<PartitionAcks>,
    pub(crate) messages: Vec<Arc<crate::transport::Message>>,
}

impl Batch {
    pub(crate) fn into_envelopes(self) -> impl Iterator<Item = Envelope> {
        let acks = self.acks;
        self.messages
            .into_iter()
            .map(move |message| Envelope::new(message, acks.clone()))
    }
}

/// An agent's end of its queue: batches in, one record at a time out.
#[derive(Debug)]
pub(crate) struct Inbox {
    rx: async_channel::Receiver<Batch>,
    current: std::vec::IntoIter<Arc<crate::transport::Message>>,
    acks: Option<Arc<PartitionAcks>>,
}

impl Inbox {
    pub(crate) fn new(rx: async_channel::Receiver<Batch>) -> Self {
        Inbox {
            rx,
            current: Vec::new().into_iter(),
            acks: None,
        }
    }

    /// The next record; `None` once the queue is closed and drained.
    pub(crate) async fn next(&mut self) -> Option<Envelope> {
        loop {
            if let (Some(message), Some(acks)) = (self.current.next(), &self.acks) {
                return Some(Envelope::new(message, acks.clone()));
            }
            let batch = self.rx.recv().await.ok()?;
            self.acks = Some(batch.acks);
            self.current = batch.messages.into_iter();
        }
    }

    /// True once the queue is closed and everything in it was handed out.
    pub(crate) fn is_finished(&self) -> bool {
        self.rx.is_closed() && self.rx.is_empty() && self.current.len() == 0
    }

    /// The batches, for agents that take them concurrently.
    pub(crate) fn into_batches(self) -> async_channel::Receiver<Batch> {
        self.rx
    }
}

/// A record handed to an agent, with the handle to ack it.
#[derive(Clone, Debug)]
pub(crate) struct Envelope {
    pub(crate) message: Arc<crate::transport::Message>,
    acks: Arc<PartitionAcks>,
}

impl Envelope {
    pub(crate) fn new(message: Arc<crate::transport::Message>, acks: Arc<PartitionAcks>) -> Self {
        Envelope { message, acks }
    }

    /// This agent is done with the record.
    pub(crate) fn ack(&self) {
        self.acks.ack(self.message.offset);
    }

    /// The record's partition was revoked: another worker now owns it and
    /// will process it; this one should skip it.
    pub(crate) fn is_revoked(&self) -> bool {
        self.acks.is_revoked()
    }
}

/// The ack of one event of a stream read with `noack()`: puts the event
/// with the stream's events to ack, once.
#[derive(Clone, Debug)]
pub(crate) struct ManualAck {
    envelope: Envelope,
    to_ack: Arc<Mutex<Vec<Envelope>>>,
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl ManualAck {
    pub(crate) fn new(envelope: Envelope, to_ack: Arc<Mutex<Vec<Envelope>>>) -> Self {
        ManualAck {
            envelope,
            to_ack,
            done: Arc::default(),
        }
    }

    pub(crate) fn ack(&self) {
        if !self.done.swap(true, std::sync::atomic::Ordering::AcqRel) {
            self.to_ack
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.envelope.clone());
        }
    }
}

/// Events whose handler is done but whose output may still be in flight to
/// the broker, in order: each event's deliveries, then its ack. An event is
/// acked once everything before it has been delivered, without making the
/// next event wait for a broker round trip.
///
/// How far an agent may run ahead of the broker is bounded
/// ([`wait_below`](Self::wait_below)): past the bound it waits for
/// deliveries before it takes the next event. That bounds the memory the
/// outputs hold and the events a crash makes the worker handle again.
#[derive(Debug, Default)]
pub(crate) struct Completions {
    queue: std::collections::VecDeque<Step>,
    /// Acks queued and not yet given: the events still waiting for the
    /// broker.
    waiting: usize,
    /// Set while [`poll_below`](Self::poll_below) holds the agent back.
    held_back: bool,
}

#[derive(Debug)]
enum Step {
    Deliver(crate::transport::Delivery),
    /// The ack of one event: its partition and offset, not its record,
    /// which is freed as soon as the handler is done with it.
    Ack(Arc<PartitionAcks>, i64),
}

impl Completions {
    /// Queues the deliveries `pending` holds, then the ack of `envelope`.
    pub(crate) fn push(&mut self, pending: &crate::context::Pending, envelope: Envelope) {
        self.push_deliveries(pending);
        self.push_ack(envelope);
    }

    /// Queues deliveries with no ack after them.
    pub(crate) fn push_deliveries(&mut self, pending: &crate::context::Pending) {
        pending.drain_into(|delivery| self.queue.push_back(Step::Deliver(delivery)));
    }

    /// Queues an ack after everything queued so far.
    pub(crate) fn push_ack(&mut self, envelope: Envelope) {
        let offset = envelope.message.offset;
        self.queue.push_back(Step::Ack(envelope.acks, offset));
        self.waiting += 1;
    }

    /// Makes progress: acks what is delivered. `Ready(Some(e))` when a
    /// delivery failed, `Ready(None)` when the queue is empty, `Pending`
    /// while deliveries are in flight.
    pub(crate) fn poll_progress(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<crate::error::Error>> {
        use std::future::Future;
        use std::task::Poll;
        while let Some(front) = self.queue.front_mut() {
            match front {
                Step::Ack(acks, offset) => {
                    acks.ack(*offset);
                    self.queue.pop_front();
                    self.waiting -= 1;
                }
                Step::Deliver(delivery) => match std::pin::Pin::new(delivery).poll(cx) {
                    Poll::Ready(Ok(_)) => {
                        self.queue.pop_front();
                    }
                    Poll::Ready(Err(e)) => {
                        self.queue.pop_front();
                        return Poll::Ready(Some(e));
                    }
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
        Poll::Ready(None)
    }

    /// Acks what is already delivered, without waiting for the rest (when
    /// the worker stops: what is not delivered yet is not committed).
    pub(crate) fn ack_ready(&mut self) {
        let waker = std::task::Waker::noop();
        let _ = self.poll_progress(&mut std::task::Context::from_waker(waker));
    }

    /// Resolves only when a delivery fails; acks along the way.
    pub(crate) async fn failure(&mut self) -> crate::error::Error {
        std::future::poll_fn(|cx| match self.poll_progress(cx) {
            std::task::Poll::Ready(Some(e)) => std::task::Poll::Ready(e),
            _ => std::task::Poll::Pending,
        })
        .await
    }

    /// Waits until fewer than `max` events wait for the broker; `Err` when
    /// a delivery failed. Returns at once while under the bound.
    pub(crate) async fn wait_below(&mut self, max: usize) -> Result<(), crate::error::Error> {
        std::future::poll_fn(|cx| self.poll_below(cx, max)).await
    }

    /// [`wait_below`](Self::wait_below) as a poll.
    ///
    /// Once at the bound it waits until a quarter of it is delivered
    /// before it lets the agent on: an agent ahead of the broker then
    /// wakes once per many deliveries, not once per delivery (each wake a
    /// thread hand-off), and handles its events in runs.
    pub(crate) fn poll_below(
        &mut self,
        cx: &mut std::task::Context<'_>,
        max: usize,
    ) -> std::task::Poll<Result<(), crate::error::Error>> {
        use std::task::Poll;
        if !self.held_back && self.waiting < max {
            return Poll::Ready(Ok(()));
        }
        self.held_back = true;
        let resume = (max - max / 4).max(1);
        let result = match self.poll_progress(cx) {
            Poll::Ready(Some(e)) => Err(e),
            Poll::Ready(None) => Ok(()),
            Poll::Pending if self.waiting < resume => Ok(()),
            Poll::Pending => return Poll::Pending,
        };
        self.held_back = false;
        Poll::Ready(result)
    }

    /// Waits until everything queued is delivered and acked.
    pub(crate) async fn drain(&mut self) -> Result<(), crate::error::Error> {
        std::future::poll_fn(|cx| match self.poll_progress(cx) {
            std::task::Poll::Ready(Some(e)) => std::task::Poll::Ready(Err(e)),
            std::task::Poll::Ready(None) => std::task::Poll::Ready(Ok(())),
            std::task::Poll::Pending => std::task::Poll::Pending,
        })
        .await
    }
}
