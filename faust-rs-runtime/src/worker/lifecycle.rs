//! Lifecycle: the one place a running app learns it must stop, and why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::Error;

/// Stop signal and first fatal error of a running app.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    stopping: AtomicBool,
    error: Mutex<Option<Error>>,
    notify: tokio::sync::Notify,
}

impl Lifecycle {
    fn lock(&self) -> MutexGuard<'_, Option<Error>> {
        self.error.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the app because of `error` (the first error wins).
    pub(crate) fn fail(&self, error: Error) {
        self.lock().get_or_insert(error);
        self.stop();
    }

    /// Asks the app to stop gracefully.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(crate) fn has_error(&self) -> bool {
        self.lock().is_some()
    }

    pub(crate) fn take_error(&self) -> Option<Error> {
        self.lock().take()
    }

    /// Resolves once a stop was asked for.
    pub(crate) async fn stopped(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_stopping() {
                return;
            }
            notified.await;
        }
    }
}
