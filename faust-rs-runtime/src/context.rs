//! The ambient context of a running app.
//!
//! While an agent handles an event, or a task or timer runs, the runtime
//! installs a [`Scope`] in a task-local: the app's shared state and the list
//! of deliveries that work has started. [`Topic::send`](crate::Topic::send)
//! and [`sleep`](crate::sleep) find the app through it, so user code never
//! passes the app around, and the runtime waits for every delivery before it
//! acks the event (at-least-once: an offset is committed only once what the
//! event produced is on the broker).

use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::agent::ack::Envelope;
use crate::app::AppCore;
use crate::error::Result;
use crate::time::Clock;
use crate::transport::{Delivery, Message};

tokio::task_local! {
    static SCOPE: Scope;
}

/// What user code running inside the app can reach.
#[derive(Clone, Debug)]
pub(crate) struct Scope {
    pub(crate) core: Arc<AppCore>,
    pub(crate) pending: Pending,
    pub(crate) source: Source,
}

/// The event the current code handles, if any: table writes go to its
/// partition (co-partitioning), windowed tables use its time, and what it
/// writes carries its [`Origin`](crate::origin::Origin).
#[derive(Clone, Debug, Default)]
pub(crate) enum Source {
    /// A task or timer: no event.
    #[default]
    None,
    /// A per-event handler's event.
    Event(Arc<EventCursor>),
    /// A stream agent: the event it iterated last.
    Stream(Arc<Cursor>),
}

/// The event a per-event handler runs for: the record (with its
/// partition's ack handle, which says whether the partition was revoked
/// since), its time, and how many records the handler has written for it.
#[derive(Debug)]
pub(crate) struct EventCursor {
    agent: Arc<str>,
    event: Envelope,
    timestamp: AtomicI64,
    written: AtomicU32,
}

/// Where a stream agent is: the event it iterated last, its time, and how
/// many records it has written since.
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    /// The agent handling it.
    agent: Arc<str>,
    event: Mutex<Option<Envelope>>,
    timestamp: AtomicI64,
    written: AtomicU32,
}

impl Cursor {
    /// Nowhere yet, for `agent`.
    pub(crate) fn new(agent: Arc<str>) -> Self {
        Cursor {
            agent,
            ..Cursor::default()
        }
    }

    /// Now at `event`, with time `timestamp` (ms).
    pub(crate) fn set(&self, event: &Envelope, timestamp: i64) {
        *self.event.lock().unwrap_or_else(|e| e.into_inner()) = Some(event.clone());
        self.timestamp.store(timestamp, Ordering::Relaxed);
        self.written.store(0, Ordering::Relaxed);
    }

    /// The input position of the event handed out last.
    pub(crate) fn position(&self) -> Option<(Arc<str>, i32, i64)> {
        self.message()
            .map(|m| (m.topic.clone(), m.partition, m.offset))
    }

    fn message(&self) -> Option<Arc<Message>> {
        self.event
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|e| e.message.clone())
    }

    fn is_revoked(&self) -> bool {
        self.event
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(Envelope::is_revoked)
    }
}

impl Source {
    /// The source of one event handled by per-event agent `agent`.
    pub(crate) fn event(agent: &Arc<str>, event: &Envelope) -> Self {
        Source::Event(Arc::new(EventCursor {
            agent: agent.clone(),
            event: event.clone(),
            timestamp: AtomicI64::new(event.message.timestamp),
            written: AtomicU32::new(0),
        }))
    }

    /// Whether the current event's partition was revoked from this worker
    /// since the event was read: its next owner handles it again, so what
    /// it would still write to a table is dropped (a "zombie" event, still
    /// running here after a rebalance that did not wait for it).
    pub(crate) fn is_revoked(&self) -> bool {
        match self {
            Source::None => false,
            Source::Event(event) => event.event.is_revoked(),
            Source::Stream(cursor) => cursor.is_revoked(),
        }
    }

    pub(crate) fn partition(&self) -> Option<i32> {
        match self {
            Source::None => None,
            Source::Event(event) => Some(event.event.message.partition),
            Source::Stream(cursor) => cursor.message().map(|m| m.partition),
        }
    }

    /// The current event's time (ms since the epoch), if code runs for an
    /// event.
    pub(crate) fn timestamp(&self) -> Option<i64> {
        match self {
            Source::None => None,
            Source::Event(event) => Some(event.timestamp.load(Ordering::Relaxed)),
            Source::Stream(cursor) => cursor
                .message()
                .map(|_| cursor.timestamp.load(Ordering::Relaxed)),
        }
    }

    /// The event's time, as its record's timestamp field says.
    pub(crate) fn set_timestamp(&self, ms: i64) {
        match self {
            Source::None => {}
            Source::Event(event) => event.timestamp.store(ms, Ordering::Relaxed),
            Source::Stream(cursor) => cursor.timestamp.store(ms, Ordering::Relaxed),
        }
    }

    /// The input partition and offset of the current event, if code runs
    /// for one.
    pub(crate) fn position(&self) -> Option<(Arc<str>, i32, i64)> {
        let at = |m: &Message| (m.topic.clone(), m.partition, m.offset);
        match self {
            Source::None => None,
            Source::Event(event) => Some(at(&event.event.message)),
            Source::Stream(cursor) => cursor.message().map(|m| at(&m)),
        }
    }

    /// The origin header of the next record the current event writes:
    /// its origin and the record's number among the event's records.
    pub(crate) fn stamp(&self, headers: &mut crate::transport::Headers) {
        match self {
            Source::None => {}
            Source::Event(event) => {
                stamp_at(headers, &event.agent, &event.written, &event.event.message)
            }
            Source::Stream(cursor) => {
                if let Some(message) = cursor.message() {
                    stamp_at(headers, &cursor.agent, &cursor.written, &message);
                }
            }
        }
    }

    /// Counts a record the current event writes without a header.
    pub(crate) fn skip_seq(&self) {
        if let Some(written) = self.written() {
            written.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The count of records the current event has written.
    fn written(&self) -> Option<&AtomicU32> {
        match self {
            Source::None => None,
            Source::Event(event) => Some(&event.written),
            Source::Stream(cursor) => Some(&cursor.written),
        }
    }
}

/// Stamps `headers` with the origin of the next record `agent` writes for
/// `message` (`written` counts the event's records).
fn stamp_at(
    headers: &mut crate::transport::Headers,
    agent: &str,
    written: &AtomicU32,
    message: &Message,
) {
    let seq = written.fetch_add(1, Ordering::Relaxed);
    crate::origin::stamp(
        headers,
        agent,
        &message.topic,
        message.partition,
        message.offset,
        seq,
    );
}

impl Scope {
    pub(crate) fn new(core: Arc<AppCore>) -> Self {
        Scope {
            core,
            pending: Pending::default(),
            source: Source::None,
        }
    }

    /// Runs `f` with this scope installed (synchronous code).
    pub(crate) fn enter<R>(self, f: impl FnOnce() -> R) -> R {
        SCOPE.sync_scope(self, f)
    }

    /// Runs `fut` with this scope installed.
    pub(crate) fn run<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        SCOPE.scope(self, fut)
    }
}

/// What one unit of work (an event, a task or timer run) left to finish:
/// the deliveries it started and has not awaited, and the late events its
/// windowed-table updates met.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pending(Arc<PendingState>);

#[derive(Debug, Default)]
struct PendingState {
    unfinished: Mutex<Unfinished>,
    /// While set, table writes note what they replace (read without the
    /// lock on every write).
    undoable: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct Unfinished {
    deliveries: Vec<Delivery>,
    late: Vec<crate::window::LateEvent>,
    undo: Vec<Undo>,
    /// Under transactions: what the event wrote, waiting for its
    /// transaction.
    staged: Vec<crate::worker::transaction::Staged>,
}

/// What a table write replaced: put back if the event's handler fails.
#[derive(Debug)]
pub(crate) struct Undo {
    pub(crate) table: &'static str,
    pub(crate) partition: i32,
    pub(crate) key: bytes::Bytes,
    pub(crate) previous: Option<bytes::Bytes>,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, Unfinished> {
        self.0.unfinished.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, delivery: Delivery) {
        self.lock().deliveries.push(delivery);
    }

    /// Hands the deliveries started so far to `f`, without waiting for
    /// them; the list keeps its capacity for the next event.
    pub(crate) fn drain_into(&self, mut f: impl FnMut(Delivery)) {
        let mut unfinished = self.lock();
        for delivery in unfinished.deliveries.drain(..) {
            f(delivery);
        }
    }

    /// Awaits every delivery started so far; the first failure is returned
    /// after all have finished.
    pub(crate) async fn settle(&self) -> Result<()> {
        let mut first_error = None;
        loop {
            let batch = std::mem::take(&mut self.lock().deliveries);
            if batch.is_empty() {
                break;
            }
            for delivery in batch {
                if let Err(e) = delivery.await {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Starts an attempt at an event: with `undoable`, table writes note
    /// what they replace, so a failed attempt can be taken back.
    pub(crate) fn begin_attempt(&self, undoable: bool) {
        // The last attempt's notes were taken (`take_undo`) when it ended.
        self.0.undoable.store(undoable, Ordering::Relaxed);
    }

    /// Whether table writes should note what they replace now; when they
    /// should, `previous` gives it for a key not noted yet.
    pub(crate) fn note_write(
        &self,
        table: &'static str,
        partition: i32,
        key: &bytes::Bytes,
        previous: impl FnOnce() -> crate::error::Result<Option<bytes::Bytes>>,
    ) -> crate::error::Result<()> {
        if !self.0.undoable.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut unfinished = self.lock();
        if unfinished
            .undo
            .iter()
            .any(|u| u.table == table && u.partition == partition && u.key == *key)
        {
            return Ok(());
        }
        let previous = previous()?;
        unfinished.undo.push(Undo {
            table,
            partition,
            key: key.clone(),
            previous,
        });
        Ok(())
    }

    /// The writes of the attempt to take back, newest first; noting stops.
    pub(crate) fn take_undo(&self) -> Vec<Undo> {
        if !self.0.undoable.swap(false, Ordering::Relaxed) {
            return Vec::new();
        }
        let mut unfinished = self.lock();
        let mut undo = std::mem::take(&mut unfinished.undo);
        undo.reverse();
        undo
    }

    /// Keeps a record the event wrote until its transaction.
    pub(crate) fn stage(&self, staged: crate::worker::transaction::Staged) {
        self.lock().staged.push(staged);
    }

    /// The records kept so far (an attempt that failed drops them).
    pub(crate) fn take_staged(&self) -> Vec<crate::worker::transaction::Staged> {
        let mut unfinished = self.lock();
        if unfinished.staged.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut unfinished.staged)
    }

    /// Records an event a windowed table found late.
    pub(crate) fn push_late(&self, late: crate::window::LateEvent) {
        self.lock().late.push(late);
    }

    /// The late events recorded so far.
    pub(crate) fn take_late(&self) -> Vec<crate::window::LateEvent> {
        let mut unfinished = self.lock();
        if unfinished.late.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut unfinished.late)
    }
}

/// Stamps an output's `headers` with the current event's origin, if code
/// runs for one (and the `origin_headers` setting is on; the record is
/// numbered either way).
pub(crate) fn stamp_origin(headers: &mut crate::transport::Headers) {
    with_scope(|scope| {
        if scope.core.origin_headers {
            scope.source.stamp(headers);
        } else {
            scope.source.skip_seq();
        }
    });
}

/// Calls `f` with the current scope, if code runs inside one.
pub(crate) fn with_scope<R>(f: impl FnOnce(&Scope) -> R) -> Option<R> {
    SCOPE.try_with(f).ok()
}

/// The clock of the app the current code runs in.
pub(crate) fn current_clock() -> Option<Clock> {
    with_scope(|s| s.core.clock.clone())
}
