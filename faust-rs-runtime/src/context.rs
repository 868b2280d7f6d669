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
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::app::AppCore;
use crate::error::Result;
use crate::time::Clock;
use crate::transport::Delivery;

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
/// partition (co-partitioning), and windowed tables use its time.
#[derive(Clone, Debug, Default)]
pub(crate) enum Source {
    /// A task or timer: no event.
    #[default]
    None,
    /// A per-event handler: this partition, and the event's time (ms; the
    /// record's timestamp field once decoded, else its Kafka timestamp).
    Partition {
        partition: i32,
        timestamp: std::cell::Cell<i64>,
    },
    /// A stream agent: the event it iterated last.
    Stream(Arc<StreamCursor>),
}

/// Where a stream agent is: the partition and time of the event it
/// iterated last.
#[derive(Debug)]
pub(crate) struct StreamCursor {
    partition: AtomicI32,
    timestamp: AtomicI64,
}

impl Default for StreamCursor {
    fn default() -> Self {
        StreamCursor {
            partition: AtomicI32::new(-1),
            timestamp: AtomicI64::new(0),
        }
    }
}

impl StreamCursor {
    /// Now at an event of `partition` with time `timestamp`.
    pub(crate) fn set(&self, partition: i32, timestamp: i64) {
        self.partition.store(partition, Ordering::Relaxed);
        self.timestamp.store(timestamp, Ordering::Relaxed);
    }
}

impl Source {
    /// The source of one event handled by a per-event agent.
    pub(crate) fn event(message: &crate::transport::Message) -> Self {
        Source::Partition {
            partition: message.partition,
            timestamp: std::cell::Cell::new(message.timestamp),
        }
    }

    pub(crate) fn partition(&self) -> Option<i32> {
        match self {
            Source::None => None,
            Source::Partition { partition, .. } => Some(*partition),
            Source::Stream(cursor) => {
                let p = cursor.partition.load(Ordering::Relaxed);
                (p >= 0).then_some(p)
            }
        }
    }

    /// The current event's time (ms since the epoch), if code runs for an
    /// event.
    pub(crate) fn timestamp(&self) -> Option<i64> {
        match self {
            Source::None => None,
            Source::Partition { timestamp, .. } => Some(timestamp.get()),
            Source::Stream(cursor) => (cursor.partition.load(Ordering::Relaxed) >= 0)
                .then(|| cursor.timestamp.load(Ordering::Relaxed)),
        }
    }

    /// The event's time, as its record's timestamp field says.
    pub(crate) fn set_timestamp(&self, ms: i64) {
        match self {
            Source::None => {}
            Source::Partition { timestamp, .. } => timestamp.set(ms),
            Source::Stream(cursor) => cursor.timestamp.store(ms, Ordering::Relaxed),
        }
    }
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
pub(crate) struct Pending(Arc<Mutex<Unfinished>>);

#[derive(Debug, Default)]
struct Unfinished {
    deliveries: Vec<Delivery>,
    late: Vec<crate::window::LateEvent>,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, Unfinished> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
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

/// Calls `f` with the current scope, if code runs inside one.
pub(crate) fn with_scope<R>(f: impl FnOnce(&Scope) -> R) -> Option<R> {
    SCOPE.try_with(f).ok()
}

/// The clock of the app the current code runs in.
pub(crate) fn current_clock() -> Option<Clock> {
    with_scope(|s| s.core.clock.clone())
}
