//! Every window option, and a record with its own event time.

use faust::prelude::*;
use faust::window::{Window, WindowClosed, WindowedTable};

#[record(timestamp = "at")]
#[derive(Clone)]
struct View {
    page: String,
    at: f64,
}

async fn closed(page: String, window: Window, views: u64) -> Result<()> {
    let _ = (page, window, views);
    Ok(())
}

async fn late(page: String, at_ms: i64) -> Result<()> {
    let _ = (page, at_ms);
    Ok(())
}

#[table(
    name = "views",
    default,
    hopping(size = "10m", step = "1m"),
    expires = "1h",
    grace = "30s",
    time = "event",
    late = "dead_letter",
    on_window_close = closed,
    on_late = late,
    emit_closed = "views-final"
)]
static VIEWS: WindowedTable<String, u64>;

#[table("per-second", tumbling = 1, time = "processing")]
static PER_SECOND: WindowedTable<String, u64>;

#[table("around", sliding(before = "5s"))]
static AROUND: WindowedTable<String, String>;

#[agent(topic = "views", dead_letter = "views-dlq")]
async fn count(view: View) -> Result<()> {
    VIEWS.update(&view.page, |n| *n += 1)?;
    PER_SECOND.set(&view.page, 1)?;
    AROUND.set(&view.page, view.page.clone())?;
    Ok(())
}

#[agent(topic = "views-final")]
async fn finals(closed: WindowClosed<u64>) -> Result<()> {
    let _ = (closed.window(), closed.value);
    Ok(())
}

fn main() {}

async fn unmatched(key: String, left: View) -> Result<()> {
    let _ = (key, left.page, left.at);
    Ok(())
}

#[table(name = "view-pairs", join(within = "5m", grace = "10s", on_unmatched = unmatched))]
static PAIRS: faust::window::JoinWindow<String, View, String>;

#[agent(topic = "view-lefts", sink = "view-pairs-out")]
async fn lefts(view: View) -> Result<Many<String>> {
    let page = view.page.clone();
    Ok(PAIRS.left(&page, view)?.into_iter().collect())
}
