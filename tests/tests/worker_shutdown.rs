//! A worker's graceful shutdown: what it waits for and what it cancels.
//! Time is tokio's paused clock, so the waits are virtual and exact.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use faust::prelude::*;

/// Set when the forever task's future is dropped.
static CANCELLED: AtomicBool = AtomicBool::new(false);

struct DropFlag;

impl Drop for DropFlag {
    fn drop(&mut self) {
        CANCELLED.store(true, Ordering::SeqCst);
    }
}

/// A task that never returns, like a poller written `loop { ... sleep }`.
#[task]
async fn forever() -> Result<()> {
    let _flag = DropFlag;
    loop {
        faust::sleep(Duration::from_secs(5)).await?;
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_that_never_returns_is_cancelled_at_shutdown_instead_of_holding_it_up() {
    let app = App::bare("shutdown-task")
        .broker("memory://")
        .task(&forever::TASK);
    let started = tokio::time::Instant::now();
    faust::worker::run_until(app, tokio::time::sleep(Duration::from_secs(1)))
        .await
        .expect("the worker stops cleanly");
    assert!(CANCELLED.load(Ordering::SeqCst), "the task was not dropped");
    // The shutdown gives agents 30 s to finish their events; a task is not
    // waited for.
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "shutdown waited {took:?} for a task that never returns"
    );
}
