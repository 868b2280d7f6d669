//! Page views per page per minute, as final results only: tumbling and
//! hopping windows over event time, `group_by`, and closed windows.
//!
//! A timer plays a website's traffic: views keyed by user, each carrying
//! its own time (`#[record(timestamp = "at")]`) which runs ten times faster
//! than the clock, so a minute of views passes every six seconds. `count`
//! regroups the views by page (`group_by = page_of`: through the topic
//! `page-views-count-page-of-repartition`) and counts them in two windowed
//! tables: views per minute (tumbling) and views over the last five
//! minutes, every minute (hopping). Each table sends every window it
//! closes, once, with its final count, to a topic of its own; `report`
//! prints those, and nothing before a window is final.
//!
//! ```text
//! cargo run --example page_views             # Ctrl-C to stop
//! cargo run --example page_views -- tables   # the two tables
//! ```
//!
//! A window closes once the views' time is 10 s past its end (`grace`):
//! a view up to 10 s late still counts; a later one is dropped and
//! counted as late (`faust_window_late_events_total`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use faust::prelude::*;
use faust::window::{WindowClosed, WindowedTable};

/// One page view. `at`: when it happened, ms since the epoch.
#[record(timestamp = "at")]
#[derive(Debug, Clone, PartialEq)]
pub struct PageView {
    /// The page.
    pub page: String,
    /// Who viewed it.
    pub user: String,
    /// When (event time).
    pub at: i64,
}

/// Views as the website sends them: keyed by user.
#[topic(name = "page-views")]
pub static PAGE_VIEWS: Topic<String, PageView>;

/// Views per page per minute, kept for an hour.
#[table(
    name = "views-per-minute",
    default,
    tumbling = "1m",
    grace = "10s",
    expires = "1h",
    emit_closed = "views-per-minute-final"
)]
pub static PER_MINUTE: WindowedTable<String, u64>;

/// Views per page over the last five minutes, every minute.
#[table(
    name = "views-last-5m",
    default,
    hopping(size = "5m", step = "1m"),
    grace = "10s",
    expires = "1h",
    emit_closed = "views-last-5m-final"
)]
pub static LAST_FIVE: WindowedTable<String, u64>;

/// The key views are counted under.
pub fn page_of(view: &PageView) -> String {
    view.page.clone()
}

/// Counts each view in both tables, once the views are keyed by page.
#[agent(topic = "page-views", group_by = page_of)]
pub async fn count(view: PageView) -> Result<()> {
    PER_MINUTE.update(&view.page, |n| *n += 1)?;
    LAST_FIVE.update(&view.page, |n| *n += 1)?;
    Ok(())
}

/// Prints each minute's final count of a page.
#[agent(topic = "views-per-minute-final")]
pub async fn report(closed: Event<WindowClosed<u64>>) -> Result<()> {
    println!("{}", final_line("minute", &closed));
    Ok(())
}

/// Prints each five minutes' final count of a page.
#[agent(topic = "views-last-5m-final")]
pub async fn report_five(closed: Event<WindowClosed<u64>>) -> Result<()> {
    println!("{}", final_line("5 minutes", &closed));
    Ok(())
}

/// How a closed window is printed.
pub fn final_line(what: &str, closed: &Event<WindowClosed<u64>>) -> String {
    let minute = |ms: i64| (ms / 60_000) % (24 * 60);
    let hhmm = |ms: i64| format!("{:02}:{:02}", minute(ms) / 60, minute(ms) % 60);
    format!(
        "{:<8} {}-{} ({what}): {} views",
        closed.key.as_deref().unwrap_or("?"),
        hhmm(closed.value.start),
        hhmm(closed.value.end),
        closed.value.value
    )
}

/// Event time of the next demo view (ms); starts at the first run.
static NEXT_AT: AtomicI64 = AtomicI64::new(0);

/// Demo traffic, ten times the clock: every 100 ms, a second's worth of
/// views of three pages by three users.
#[timer(interval = "100ms")]
pub async fn traffic() -> Result<()> {
    let now = faust::time::now_ms()?;
    let at = match NEXT_AT.load(Ordering::Relaxed) {
        0 => now,
        at => at,
    };
    NEXT_AT.store(at + 1_000, Ordering::Relaxed);
    let second = at / 1_000;
    for (i, user) in ["ann", "bob", "cid"].into_iter().enumerate() {
        let page = ["/home", "/cart", "/home", "/help"][(second as usize + i) % 4];
        let view = PageView {
            page: page.to_owned(),
            user: user.to_owned(),
            at,
        };
        PAGE_VIEWS.send(user, view).await?;
    }
    Ok(())
}

/// The app.
pub fn app() -> App {
    App::new("page-views")
        .topic_partitions(4)
        .commit_interval(Duration::from_secs(1))
}

faust::main!(app());
