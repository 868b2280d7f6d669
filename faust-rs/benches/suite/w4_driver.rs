//! W4, the test driver's events/s: agents under `faust::testing::TestDriver`
//! (the in-memory transport, virtual time), in this process, no broker and
//! no plain side. As `benches/driver.rs` does: `env.events` events are
//! sent to the driver first (not timed), on 4 partitions; then one
//! `run_until_idle` processes and commits them all, and that is timed.
//!
//! - `w4`: a trivial per-event agent (a `u64` in, nothing out). Target
//!   (issue 8): 2,000,000 events/s or more.
//! - `w4b`: W1's agent ([`crate::w1_stateless::receipts`]): a JSON order
//!   decoded and validated, a receipt to the sink.

use std::hint::black_box;
use std::time::Instant;

use faust::prelude::*;
use faust::testing::TestDriver;

use crate::env::Env;
use crate::report::{Report, Side};
use crate::w1_stateless;

/// The trivial agent's events/s the issue asks for.
pub(crate) const TARGET: f64 = 2_000_000.0;
/// Partitions of the driver's topics.
const PARTITIONS: u32 = 4;

/// The trivial agent.
#[agent(topic = "bench-w4-numbers")]
pub(crate) async fn trivial(n: u64) -> Result<()> {
    black_box(n);
    Ok(())
}

/// The trivial agent's workload.
pub(crate) fn workload() -> crate::Workload {
    crate::Workload {
        id: "w4",
        title: "test driver, trivial per-event agent",
        prepare: nothing,
        sides: &[(Side::Faust, run_trivial)],
        min_ratio: None,
        rounds: false,
    }
}

/// W1's agent under the driver.
pub(crate) fn workload_json() -> crate::Workload {
    crate::Workload {
        id: "w4b",
        title: "test driver, JSON record validated to a sink (W1's agent)",
        prepare: nothing,
        sides: &[(Side::Faust, run_json)],
        min_ratio: None,
        rounds: false,
    }
}

fn nothing(_: &Env) -> Result<(), Box<dyn std::error::Error>> {
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, Box<dyn std::error::Error>> {
    Ok(tokio::runtime::Builder::new_current_thread().build()?)
}

/// Loads `events` values `value(i)` keyed `k{i % 64}` into a driver of
/// `app`, then times its `run_until_idle`; checks every event was
/// committed.
fn timed<V: faust::IntoPayload>(
    app: App,
    topic: &str,
    events: u64,
    mut value: impl FnMut(u64) -> V,
) -> Result<(TestDriver, f64), Box<dyn std::error::Error>> {
    let rt = runtime()?;
    let mut t = TestDriver::with_app(app.topic_partitions(PARTITIONS));
    rt.block_on(async {
        for i in 0..events {
            t.send(topic, format!("k{}", i % 64), value(i)).await;
        }
    });
    let started = Instant::now();
    rt.block_on(t.run_until_idle())?;
    let seconds = started.elapsed().as_secs_f64();
    let committed: i64 = (0..PARTITIONS as i32)
        .map(|p| t.committed(topic, p).unwrap_or(0))
        .sum();
    if committed != events as i64 {
        return Err(format!(
            "the driver committed {committed} of the {events} events sent to {topic}"
        )
        .into());
    }
    Ok((t, seconds))
}

fn run_trivial(env: &Env) -> Result<Report, Box<dyn std::error::Error>> {
    let app = App::bare("bench-w4").agent(&trivial::AGENT);
    let (_driver, seconds) = timed(app, "bench-w4-numbers", env.events, |i| i)?;
    let report = Report::new(env.events, seconds);
    let verdict = if report.rate() >= TARGET {
        "ok"
    } else {
        "BELOW"
    };
    Ok(report.with("target", format!("≥{TARGET:.0} {verdict}")))
}

fn run_json(env: &Env) -> Result<Report, Box<dyn std::error::Error>> {
    let app = App::bare("bench-w4b").agent(&w1_stateless::receipts::AGENT);
    let (driver, seconds) = timed(app, w1_stateless::INPUT, env.events, |i| {
        let (_, json) = w1_stateless::order(i);
        serde_json::from_slice::<w1_stateless::Order>(&json).expect("W1's orders decode")
    })?;
    let receipts = driver.records(w1_stateless::FAUST_SINK).len();
    if receipts as u64 != env.events {
        return Err(format!(
            "the driver's sink has {receipts} receipts for {} orders",
            env.events
        )
        .into());
    }
    Ok(Report::new(env.events, seconds))
}
