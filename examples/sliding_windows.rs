//! Sliding windows: an alert when a user fails to log in more than three
//! times within five minutes.
//!
//! `watch` reads login attempts keyed by user, each carrying its own time
//! (`#[record(timestamp = "at")]`), and counts the failed ones in a
//! sliding-window table. A sliding window is one window per event (Faust's
//! `SlidingWindow`): with `sliding(before = "0s", after = "5m")` a failure
//! at `t` gets `[t, t + 5m]`, the five minutes it counts for. The failures
//! of the five minutes up to a time are then the windows that contain it,
//! and when a failure makes them more than [`MAX_FAILURES`], `watch` sends
//! an [`Alert`] to `login-alerts`. A window is deleted a minute after its
//! end (`expires`), once no later failure can see it.
//!
//! A timer plays the logins, thirty seconds of them every second: `ann`
//! mistypes her password now and then; `mallory` tries eight passwords in
//! four minutes, then waits ten before trying again.
//!
//! ```text
//! cargo run --example sliding_windows     # Ctrl-C to stop
//! ```

use std::sync::atomic::{AtomicI64, Ordering};

use faust::prelude::*;
use faust::window::WindowedTable;

/// One login attempt. `at`: when, ms since the epoch.
#[record(timestamp = "at")]
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    /// Who tried.
    pub user: String,
    /// Whether the password was right.
    pub ok: bool,
    /// When (event time).
    pub at: i64,
}

/// Too many failed logins: `failures` in the five minutes up to `at`.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Whose logins failed.
    pub user: String,
    /// How many failed in the five minutes up to `at`.
    pub failures: u64,
    /// The latest failure's time.
    pub at: i64,
}

/// The most failures in five minutes that raise no alert.
pub const MAX_FAILURES: u64 = 3;

/// Failed logins per user, one window per failure: the five minutes after it.
#[table(
    name = "failed-logins",
    default,
    sliding(before = "0s", after = "5m"),
    expires = "1m"
)]
pub static FAILURES: WindowedTable<String, u64>;

/// Counts each failed login; alerts when the last five minutes hold too many.
#[agent(topic = "logins", sink = "login-alerts")]
pub async fn watch(login: Login) -> Result<Option<Alert>> {
    if login.ok || FAILURES.update(&login.user, |n| *n += 1)?.is_none() {
        return Ok(None); // a success, or a failure too late to count
    }
    let failures = FAILURES
        .key(&login.user)
        .windows()?
        .iter()
        .filter(|(window, _)| window.contains(login.at))
        .map(|(_, n)| n)
        .sum();
    if failures <= MAX_FAILURES {
        return Ok(None);
    }
    println!(
        "alert: {failures} failed logins by {} in five minutes",
        login.user
    );
    Ok(Some(Alert {
        user: login.user,
        failures,
        at: login.at,
    }))
}

/// Logins as the login service sends them: keyed by user.
#[topic(name = "logins")]
pub static LOGINS: Topic<String, Login>;

/// How many demo ticks have run.
static TICK: AtomicI64 = AtomicI64::new(0);

/// Demo logins, thirty seconds of them every second.
#[timer(interval = "1s")]
pub async fn logins() -> Result<()> {
    let tick = TICK.fetch_add(1, Ordering::Relaxed);
    let at = faust::time::now_ms()? + tick * 29_000; // 30 s per tick
    let attempt = |user: &str, ok| Login {
        user: user.to_owned(),
        ok,
        at,
    };
    LOGINS.send("ann", attempt("ann", tick % 7 != 3)).await?;
    if tick % 28 < 8 {
        LOGINS.send("mallory", attempt("mallory", false)).await?;
    }
    Ok(())
}

/// The app.
pub fn app() -> App {
    App::new("sliding-windows").topic_partitions(1)
}

faust::main!(app());
