//! The worker the streams suite (`tests/real_broker_streams.rs`) runs: an
//! agent that regroups views by page (`group_by`) and counts them in a
//! table, and a leader-only timer.
//!
//! ```text
//! views-in ──count_pages (group_by page)──► <app>-count_pages-page-of-repartition
//!                                    └──► table `page-counts` (changelog `<app>-page-counts-changelog`)
//!                                    └──► windowed table `page-windows` (10 s tumbling)
//!                                           └─ each closed window ──► page-windows-closed
//! leader_tick (on the leader, every 500 ms) ──► leader-ticks (value: the worker's label)
//! ```
//!
//! A view may carry its own time (`at`, ms); without one its Kafka
//! timestamp is its time.
//!
//! Environment (besides the runtime's own `FAUST_BROKER`, ...):
//!
//! * `STREAM_APP`: the app id (default `streams`);
//! * `STREAM_SUFFIX`: appended to `views-in` and `leader-ticks`;
//! * `STREAM_WORKER`: the label the leader's ticks carry (default: pid).

use std::sync::OnceLock;
use std::time::Duration;

use faust::prelude::*;
use faust::window::WindowedTable;
use faust_rs_tests::with_suffix;

/// A page view, keyed by user on `views-in`.
#[record(timestamp = "at")]
#[derive(Debug, Clone)]
pub struct View {
    /// Who.
    pub user: String,
    /// What.
    pub page: String,
    /// When, if the producer says (ms since the epoch).
    #[serde(default)]
    pub at: Option<i64>,
}

/// Views per page.
#[table(name = "page-counts", default, partitions = 4)]
pub static PAGE_COUNTS: Table<String, u64>;

/// Views per page per 10 s; each window's final count goes to
/// `page-windows-closed` (a name shared by every test: the tests tell
/// their windows apart by their times). The grace covers the disorder the
/// regrouping brings: a page's views come from every input partition.
#[table(
    name = "page-windows",
    default,
    partitions = 4,
    tumbling = "10s",
    expires = "1m",
    grace = "30s",
    emit_closed = "page-windows-closed"
)]
pub static PAGE_WINDOWS: WindowedTable<String, u64>;

/// The key views are counted under.
pub fn page_of(view: &View) -> String {
    view.page.clone()
}

/// Counts views per page, regrouped by page first.
#[agent(topic = "views-in", group_by = page_of)]
pub async fn count_pages(view: View) -> Result<()> {
    PAGE_COUNTS.update(&view.page, |n| *n += 1)?;
    PAGE_WINDOWS.update(&view.page, |n| *n += 1)?;
    Ok(())
}

/// Says, on the leader only, which worker leads.
#[timer(interval = "500ms", on_leader)]
pub async fn leader_tick() -> Result<()> {
    let label = label();
    ticks().send(label, label.to_owned()).await
}

fn label() -> &'static str {
    static LABEL: OnceLock<String> = OnceLock::new();
    LABEL.get_or_init(|| {
        std::env::var("STREAM_WORKER").unwrap_or_else(|_| std::process::id().to_string())
    })
}

fn suffix() -> &'static str {
    static SUFFIX: OnceLock<String> = OnceLock::new();
    SUFFIX.get_or_init(|| std::env::var("STREAM_SUFFIX").unwrap_or_default())
}

/// `leader-ticks` with the suffix: a topic named at run time.
fn ticks() -> &'static Topic<String, String> {
    static TICKS: OnceLock<&'static Topic<String, String>> = OnceLock::new();
    TICKS.get_or_init(|| {
        let name: &'static str = format!("leader-ticks{}", suffix()).leak();
        Box::leak(Box::new(Topic::new(name)))
    })
}

fn stream_app() -> App {
    let id = std::env::var("STREAM_APP").unwrap_or_else(|_| "streams".to_owned());
    App::bare(id)
        .table(&PAGE_COUNTS)
        .table(&PAGE_WINDOWS)
        .agent(with_suffix(&count_pages::AGENT, suffix()))
        .timer(&leader_tick::TIMER)
        .topic(ticks())
        .topic_partitions(4)
        .commit_interval(Duration::from_millis(500))
}

faust::main!(stream_app());
