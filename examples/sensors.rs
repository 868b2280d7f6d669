//! Sensors: your code called at each step of the worker's work. This one
//! logs the events an agent took too long over.
//!
//! A timer sends a lookup request every second; `lookup` answers most in
//! 10 ms, but every fifth id needs a slow backend call (400 ms). The
//! `SlowEvents` sensor, registered with `App::sensor`, hears each event
//! the agent is done with, with how long it took, and logs the ones over
//! its limit (250 ms); it also logs events that failed.
//!
//! ```text
//! cargo run --example sensors      # Ctrl-C to stop
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use faust::prelude::*;
use faust::sensor::{EventError, EventOut};

/// Lookup requests: the id to look up, keyed by the id.
#[topic(name = "lookups")]
pub static LOOKUPS: Topic<String, u64>;

/// How long looking `id` up takes: every fifth id goes to the slow backend.
pub fn cost(id: u64) -> Duration {
    if id % 5 == 4 {
        Duration::from_millis(400)
    } else {
        Duration::from_millis(10)
    }
}

/// Looks an id up (the wait stands for a call to a backend).
#[agent(topic = "lookups")]
pub async fn lookup(id: u64) -> Result<()> {
    faust::sleep(cost(id)).await?;
    Ok(())
}

/// One slow event, as the sensor logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlowEvent {
    /// The agent.
    pub agent: String,
    /// The event's topic, partition and offset.
    pub at: (String, i32, i64),
    /// How long the agent took over it.
    pub took: Duration,
}

/// Logs the events that took longer than `limit`, and the failed ones.
#[derive(Debug)]
pub struct SlowEvents {
    limit: Duration,
    slow: Mutex<Vec<SlowEvent>>,
}

impl SlowEvents {
    /// A sensor that logs events slower than `limit`.
    pub fn new(limit: Duration) -> Self {
        SlowEvents {
            limit,
            slow: Mutex::new(Vec::new()),
        }
    }

    /// The slow events logged so far.
    pub fn slow(&self) -> Vec<SlowEvent> {
        self.slow.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Sensor for SlowEvents {
    fn on_event_out(&self, event: &EventOut<'_>) {
        if event.duration <= self.limit {
            return;
        }
        println!(
            "slow event: agent `{}` took {:?} over {}[{}]@{} (limit {:?})",
            event.agent, event.duration, event.topic, event.partition, event.offset, self.limit
        );
        self.slow
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(SlowEvent {
                agent: event.agent.to_owned(),
                at: (event.topic.to_owned(), event.partition, event.offset),
                took: event.duration,
            });
    }

    fn on_error(&self, error: &EventError<'_>) {
        println!(
            "failed event: agent `{}`, {}[{}]@{}, attempt {}: {} ({:?})",
            error.agent,
            error.topic,
            error.partition,
            error.offset,
            error.attempt,
            error.error,
            error.action
        );
    }
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Demo input: the next id every second.
#[timer(interval = "1s")]
pub async fn feed() -> Result<()> {
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    LOOKUPS.send(format!("id-{id}"), id).await
}

/// The limit over which an event is logged as slow.
pub const LIMIT: Duration = Duration::from_millis(250);

/// The app, with `sensor` registered.
pub fn app_with(sensor: Arc<SlowEvents>) -> App {
    App::new("sensors").topic_partitions(1).sensor(sensor)
}

/// The app with a fresh sensor.
pub fn app() -> App {
    app_with(Arc::new(SlowEvents::new(LIMIT)))
}

faust::main!(app());
