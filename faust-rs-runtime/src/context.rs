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
/// partition (co-partitioning).
#[derive(Clone, Debug, Default)]
pub(crate) enum Source {
    /// A task or timer: no event.
    #[default]
    None,
    /// A per-event handler: this partition.
    Partition(i32),
    /// A stream agent: the partition of the event it iterated last.
    Stream(Arc<std::sync::atomic::AtomicI32>),
}

impl Source {
    pub(crate) fn partition(&self) -> Option<i32> {
        match self {
            Source::None => None,
            Source::Partition(p) => Some(*p),
            Source::Stream(p) => {
                let p = p.load(std::sync::atomic::Ordering::Relaxed);
                (p >= 0).then_some(p)
            }
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

/// Deliveries started by one unit of work and not yet awaited.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pending(Arc<Mutex<Vec<Delivery>>>);

impl Pending {
    pub(crate) fn push(&self, delivery: Delivery) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(delivery);
    }

    /// Hands the deliveries started so far to `f`, without waiting for
    /// them; the list keeps its capacity for the next event.
    pub(crate) fn drain_into(&self, mut f: impl FnMut(Delivery)) {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for delivery in list.drain(..) {
            f(delivery);
        }
    }

    /// Awaits every delivery started so far; the first failure is returned
    /// after all have finished.
    pub(crate) async fn settle(&self) -> Result<()> {
        let mut first_error = None;
        loop {
            let batch = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
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
}

/// Calls `f` with the current scope, if code runs inside one.
pub(crate) fn with_scope<R>(f: impl FnOnce(&Scope) -> R) -> Option<R> {
    SCOPE.try_with(f).ok()
}

/// The clock of the app the current code runs in.
pub(crate) fn current_clock() -> Option<Clock> {
    with_scope(|s| s.core.clock.clone())
}
