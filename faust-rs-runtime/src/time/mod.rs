//! Time: the clock agents, timers and `take` timeouts run on.
//!
//! A worker runs on [`Clock::real`]. The test driver runs on a virtual
//! clock that moves only when the test calls `advance`, so a test of a 10 s
//! timer or a 1 h window takes no wall time and gives the same result on
//! every run. Code that waits inside an agent, task or timer should wait
//! with [`sleep`], which uses the app's clock.
//!
//! This module may call `context` (to find the current app's clock).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{BoxError, Error, Result};

pub(crate) mod cron;

/// A boxed run of a task or timer, as built by generated code.
#[doc(hidden)]
pub type TaskFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'static>>;

/// Wraps a user task's future; used by generated code.
#[doc(hidden)]
pub fn task_future<Fut, E>(fut: Fut) -> TaskFuture
where
    Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    Box::pin(async move { fut.await.map_err(Into::into) })
}

/// The current app's clock in milliseconds since the Unix epoch: the wall
/// clock in a worker, virtual time under the test driver (which starts at
/// 2025-01-01T00:00:00Z).
///
/// Outside an agent, task or timer this returns [`Error::NoContext`].
pub fn now_ms() -> Result<i64> {
    crate::context::current_clock()
        .map(|clock| clock.wall_ms())
        .ok_or(Error::NoContext {
            what: "faust::time::now_ms",
        })
}

/// Waits for `duration` on the current app's clock: real time in a worker,
/// virtual time under the test driver.
///
/// Outside an agent, task or timer this returns [`Error::NoContext`].
pub async fn sleep(duration: Duration) -> Result<()> {
    let clock = crate::context::current_clock().ok_or(Error::NoContext {
        what: "faust::sleep",
    })?;
    clock.sleep(duration).await;
    Ok(())
}

/// The clock of one app.
#[derive(Clone)]
pub struct Clock(ClockKind);

#[derive(Clone)]
enum ClockKind {
    Real(tokio::time::Instant),
    Virtual(Arc<VirtualClock>),
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ClockKind::Real(_) => f.write_str("Clock::Real"),
            ClockKind::Virtual(v) => write!(f, "Clock::Virtual({:?})", v.now()),
        }
    }
}

/// Wall-clock milliseconds at virtual time zero: 2025-01-01T00:00:00Z.
const VIRTUAL_EPOCH_MS: i64 = 1_735_689_600_000;

impl Clock {
    /// The system clock.
    pub fn real() -> Self {
        Clock(ClockKind::Real(tokio::time::Instant::now()))
    }

    /// A virtual clock at zero, moved only by the test driver.
    pub fn virtual_clock() -> Self {
        Clock(ClockKind::Virtual(Arc::new(VirtualClock::default())))
    }

    /// Time since the clock started.
    pub fn elapsed(&self) -> Duration {
        match &self.0 {
            ClockKind::Real(start) => start.elapsed(),
            ClockKind::Virtual(v) => v.now(),
        }
    }

    /// Milliseconds since the Unix epoch, for record timestamps. A virtual
    /// clock starts at 2025-01-01T00:00:00Z.
    pub fn wall_ms(&self) -> i64 {
        match &self.0 {
            ClockKind::Real(_) => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            ClockKind::Virtual(v) => VIRTUAL_EPOCH_MS + v.now().as_millis() as i64,
        }
    }

    /// Waits for `duration` on this clock.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        let deadline = self.elapsed() + duration;
        self.sleep_until(deadline)
    }

    /// Waits until [`elapsed`](Self::elapsed) reaches `deadline`.
    pub fn sleep_until(&self, deadline: Duration) -> Sleep {
        match &self.0 {
            ClockKind::Real(start) => Sleep(SleepKind::Real(Box::pin(tokio::time::sleep_until(
                *start + deadline,
            )))),
            ClockKind::Virtual(v) => Sleep(SleepKind::Virtual {
                clock: v.clone(),
                deadline,
                id: None,
            }),
        }
    }

    /// True for a virtual clock.
    pub fn is_virtual(&self) -> bool {
        matches!(self.0, ClockKind::Virtual(_))
    }

    /// Moves a virtual clock to `to` (never backwards) and wakes every
    /// sleeper due by then. A no-op on the real clock.
    pub(crate) fn advance_to(&self, to: Duration) {
        if let ClockKind::Virtual(v) = &self.0 {
            v.advance_to(to);
        }
    }

    /// The earliest deadline a virtual sleeper waits for.
    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        match &self.0 {
            ClockKind::Virtual(v) => v.next_deadline(),
            ClockKind::Real(_) => None,
        }
    }
}

/// A future that completes when its clock reaches a deadline.
#[must_use = "a sleep does nothing unless awaited"]
pub struct Sleep(SleepKind);

enum SleepKind {
    Real(Pin<Box<tokio::time::Sleep>>),
    Virtual {
        clock: Arc<VirtualClock>,
        deadline: Duration,
        id: Option<u64>,
    },
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sleep")
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            SleepKind::Real(s) => s.as_mut().poll(cx),
            SleepKind::Virtual {
                clock,
                deadline,
                id,
            } => {
                let mut state = clock.lock();
                if state.now >= *deadline {
                    if let Some(id) = id.take() {
                        state.sleepers.remove(&(*deadline, id));
                    }
                    return Poll::Ready(());
                }
                let key = match id {
                    Some(id) => (*deadline, *id),
                    None => {
                        state.next_id += 1;
                        *id = Some(state.next_id);
                        (*deadline, state.next_id)
                    }
                };
                state.sleepers.insert(key, cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let SleepKind::Virtual {
            clock,
            deadline,
            id: Some(id),
        } = &self.0
        {
            clock.lock().sleepers.remove(&(*deadline, *id));
        }
    }
}

#[derive(Default)]
struct VirtualClock {
    state: Mutex<VirtualState>,
    /// `state.now` in nanoseconds, written with it under the lock: the
    /// handler timing reads the time twice per event without the lock.
    now_nanos: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct VirtualState {
    now: Duration,
    next_id: u64,
    sleepers: BTreeMap<(Duration, u64), Waker>,
}

impl VirtualClock {
    fn lock(&self) -> MutexGuard<'_, VirtualState> {
        // A poisoned lock only means a panic elsewhere; the state is plain data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(self.now_nanos.load(std::sync::atomic::Ordering::Acquire))
    }

    fn next_deadline(&self) -> Option<Duration> {
        self.lock().sleepers.keys().next().map(|(d, _)| *d)
    }

    fn advance_to(&self, to: Duration) {
        let due: Vec<Waker> = {
            let mut state = self.lock();
            if to > state.now {
                state.now = to;
                let nanos = u64::try_from(to.as_nanos()).unwrap_or(u64::MAX);
                self.now_nanos
                    .store(nanos, std::sync::atomic::Ordering::Release);
            }
            let now = state.now;
            let later = state.sleepers.split_off(&(now, u64::MAX));
            std::mem::replace(&mut state.sleepers, later)
                .into_values()
                .collect()
        };
        due.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn virtual_sleep_completes_only_when_advanced() {
        let clock = Clock::virtual_clock();
        let flag = Arc::new(Flag(false.into()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut s = Box::pin(clock.sleep(Duration::from_secs(10)));
        assert!(s.as_mut().poll(&mut cx).is_pending());
        assert_eq!(clock.next_deadline(), Some(Duration::from_secs(10)));
        clock.advance_to(Duration::from_secs(9));
        assert!(!flag.0.load(std::sync::atomic::Ordering::SeqCst));
        clock.advance_to(Duration::from_secs(10));
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(s.as_mut().poll(&mut cx).is_ready());
        assert_eq!(clock.next_deadline(), None);
    }

    #[test]
    fn dropped_sleep_leaves_no_sleeper() {
        let clock = Clock::virtual_clock();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut s = Box::pin(clock.sleep(Duration::from_secs(1)));
        assert!(s.as_mut().poll(&mut cx).is_pending());
        drop(s);
        assert_eq!(clock.next_deadline(), None);
    }
}
