//! Exact counts and a duplicate-free reader of a sink.
//!
//! `count` keeps a count per user in `CLICKS` and sends the new count to
//! `click-counts`. Tables keep exact state by default: after a crash, the
//! events processed again leave `CLICKS` alone, so every count is exact.
//! The sink is at least once: a crash can send a count twice. Every record
//! a worker writes names the event it came from (the `faust.source`
//! header), and `report`, reading `click-counts`, drops the repeats with
//! `Dedup`.
//!
//! ```text
//! cargo run --example exactly_once           # Ctrl-C to stop
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use faust::origin::Dedup;
use faust::prelude::*;

/// A click on a page.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct Click {
    /// Who clicked.
    pub user: String,
    /// Where.
    pub page: String,
}

/// A user's click count, as `count` sends it.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct UserCount {
    /// The user.
    pub user: String,
    /// Their clicks so far.
    pub clicks: u64,
}

/// Clicks, keyed by user.
#[topic(name = "clicks")]
pub static CLICKS_IN: Topic<String, Click>;

/// Clicks per user: exact after any crash.
#[table(name = "clicks", default, help = "Clicks per user")]
pub static CLICKS: Table<String, u64>;

/// Counts each click.
#[agent(topic = "clicks", sink = "click-counts")]
pub async fn count(click: Click) -> Result<UserCount> {
    let clicks = CLICKS.update(&click.user, |c| *c += 1)?;
    Ok(UserCount {
        user: click.user,
        clicks,
    })
}

/// The counts `report` kept (after dropping repeats), for the test.
pub static REPORTED: AtomicU64 = AtomicU64::new(0);

/// Prints each count once, whatever a crash of `count` repeated.
#[agent(topic = "click-counts")]
pub async fn report(counts: Stream<UserCount>) -> Result<()> {
    let mut counts = counts.events();
    let mut seen = Dedup::new();
    while let Some(event) = counts.next().await {
        if seen.is_duplicate(event.headers()) {
            continue;
        }
        REPORTED.fetch_add(1, Ordering::Relaxed);
        println!("{} has {} clicks", event.value.user, event.value.clicks);
    }
    Ok(())
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A click a second, from one of three users.
#[timer(interval = "1s")]
pub async fn clicks() -> Result<()> {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let user = ["ann", "bob", "cid"][(n % 3) as usize];
    let click = Click {
        user: user.into(),
        page: format!("/page/{}", n % 5),
    };
    CLICKS_IN.send(user, click).await
}

faust::main!(App::new("exactly-once").topic_partitions(4));
