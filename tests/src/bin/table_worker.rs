//! The worker the tables suite (`tests/real_broker_tables.rs`) runs: one
//! agent that counts the events of each key in a table.
//!
//! ```text
//! tables-in ──count──► table `counts` (changelog `<app id>-counts-changelog`)
//!                └─ with TABLE_SINK set: (key, count, partition, offset) ─► tables-out
//! ```
//!
//! Every event writes exactly one changelog record (the key's new count),
//! to the changelog partition of the event's partition, so a test can line
//! the changelog up against the input it produced.
//!
//! Environment (besides the runtime's own `FAUST_BROKER`, `FAUST_STORE`,
//! ...):
//!
//! * `TABLE_APP`: the app id, i.e. the consumer group and the changelog's
//!   prefix (default `tables`);
//! * `TABLE_SUFFIX`: appended to the input and output topic names, so each
//!   test has its own topics on a shared broker (default: none);
//! * `TABLE_SINK`: when set (to anything), each count also goes to
//!   `tables-out` as a [`Tally`];
//! * `TABLE_WORKER`: a label written into each tally (default: the pid).
//!
//! ```text
//! FAUST_BROKER=kafka://127.0.0.1:9092 FAUST_STORE=rocksdb:///tmp/counts \
//!     TABLE_APP=tables-t1 TABLE_SUFFIX=-t1 cargo run --bin table_worker
//! FAUST_BROKER=kafka://127.0.0.1:9092 TABLE_APP=tables-t1 \
//!     cargo run --bin table_worker -- table get counts k0042
//! ```

use std::sync::OnceLock;
use std::time::Duration;

use faust::prelude::*;
use faust_rs_tests::with_suffix;

/// Events counted per key (the record key, as a string).
#[table(name = "counts", default, partitions = 4, help = "events per key")]
pub static COUNTS: Table<String, u64>;

/// What `count_and_report` writes for each event.
#[record]
#[derive(Debug, Clone)]
pub struct Tally {
    /// The event's key.
    pub key: String,
    /// The key's count after this event.
    pub count: u64,
    /// Partition of `tables-in` the event was read from.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// The worker that counted it.
    pub worker: String,
}

/// Counts the event under its key.
#[agent(topic = "tables-in")]
pub async fn count(event: Event<String>) -> Result<()> {
    add(&event)?;
    Ok(())
}

/// Counts the event under its key and reports the new count.
#[agent(topic = "tables-in", sink = "tables-out")]
pub async fn count_and_report(event: Event<String>) -> Result<Tally> {
    let count = add(&event)?;
    Ok(Tally {
        key: event.key.clone().unwrap_or_default(),
        count,
        partition: event.partition(),
        offset: event.offset(),
        worker: worker_label().to_owned(),
    })
}

fn add(event: &Event<String>) -> Result<u64> {
    let key = event.key.clone().unwrap_or_default();
    COUNTS.update(&key, |n| *n += 1)
}

fn worker_label() -> &'static str {
    static LABEL: OnceLock<String> = OnceLock::new();
    LABEL.get_or_init(|| {
        std::env::var("TABLE_WORKER").unwrap_or_else(|_| std::process::id().to_string())
    })
}

/// The app: the table and one of the two agents, topics suffixed with
/// `TABLE_SUFFIX`. The store comes from `FAUST_STORE` (memory by default).
fn table_app() -> App {
    let id = std::env::var("TABLE_APP").unwrap_or_else(|_| "tables".to_owned());
    let suffix = std::env::var("TABLE_SUFFIX").unwrap_or_default();
    let agent = if std::env::var_os("TABLE_SINK").is_some() {
        &count_and_report::AGENT
    } else {
        &count::AGENT
    };
    App::bare(id)
        .table(&COUNTS)
        .agent(with_suffix(agent, &suffix))
        .topic_partitions(4)
        .commit_interval(Duration::from_millis(500))
}

faust::main!(table_app());
