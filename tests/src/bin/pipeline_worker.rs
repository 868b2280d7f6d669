//! The worker the real-broker suite (`tests/real_broker.rs`) runs: a
//! two-agent pipeline.
//!
//! ```text
//! pipeline-in ──stage1 (decode, validate)──► pipeline-mid ──stage2──► pipeline-out
//!                 └─ bad input ─► pipeline-dlq
//! ```
//!
//! Each output names the input it came from (id, source partition and
//! offset) and the workers that handled it, so a test can account for
//! every input and see how the partitions were shared.
//!
//! Environment (besides the runtime's own `FAUST_BROKER`, ...):
//!
//! * `PIPELINE_APP`: the app id, i.e. the consumer group (default `pipeline`);
//! * `PIPELINE_SUFFIX`: appended to every topic name, so each test has its
//!   own topics on a shared broker (default: none);
//! * `PIPELINE_WORKER`: a label written into each output (default: the pid);
//! * `PIPELINE_SLOW_EVENT` and `PIPELINE_SLOW_FOR` (humantime durations):
//!   `stage1` takes `PIPELINE_SLOW_EVENT` per event (a slow downstream
//!   call) during the first `PIPELINE_SLOW_FOR` of the process, then runs
//!   at full speed: the slow-sink test's backlog, then its catching up.
//!
//! ```text
//! FAUST_BROKER=kafka://127.0.0.1:9092 PIPELINE_SUFFIX=-t1 cargo run -p faust-rs-tests --bin pipeline_worker
//! ```

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use faust::prelude::*;
use faust_rs_tests::with_suffix;

/// An input item; `qty` must not be negative.
#[record(validate)]
#[derive(Debug, Clone)]
pub struct Item {
    /// Unique per input record: how the tests account for it.
    pub id: u64,
    /// Quantity, at least 0.
    #[validate(range(min = 0))]
    pub qty: i64,
    /// Free text (the tests send up to 1 MiB of it).
    pub note: String,
}

/// What `stage1` makes of an item.
#[record]
#[derive(Debug, Clone)]
pub struct Checked {
    /// The item's id.
    pub id: u64,
    /// The item's quantity.
    pub qty: i64,
    /// Length of the item's note (the note itself stays behind).
    pub note_len: usize,
    /// Partition of `pipeline-in` the item was read from.
    pub source_partition: i32,
    /// Its offset there.
    pub source_offset: i64,
    /// The worker that ran `stage1`.
    pub stage1_worker: String,
}

/// What `stage2` makes of a checked item: the pipeline's output.
#[record]
#[derive(Debug, Clone)]
pub struct Done {
    /// The item's id.
    pub id: u64,
    /// Partition of `pipeline-in` the item was read from.
    pub source_partition: i32,
    /// Its offset there.
    pub source_offset: i64,
    /// The worker that ran `stage1`.
    pub stage1_worker: String,
    /// The worker that ran `stage2`.
    pub stage2_worker: String,
}

/// Decodes and validates items; bad ones go to `pipeline-dlq`.
#[agent(
    topic = "pipeline-in",
    sink = "pipeline-mid",
    dead_letter = "pipeline-dlq"
)]
pub async fn stage1(item: Event<Item>) -> Result<Checked> {
    if let Some(pause) = slow_phase() {
        faust::sleep(pause).await?;
    }
    Ok(Checked {
        id: item.value.id,
        qty: item.value.qty,
        note_len: item.value.note.len(),
        source_partition: item.partition(),
        source_offset: item.offset(),
        stage1_worker: worker_label().to_owned(),
    })
}

/// Finishes each checked item.
#[agent(topic = "pipeline-mid", sink = "pipeline-out")]
pub async fn stage2(checked: Checked) -> Result<Done> {
    Ok(Done {
        id: checked.id,
        source_partition: checked.source_partition,
        source_offset: checked.source_offset,
        stage1_worker: checked.stage1_worker,
        stage2_worker: worker_label().to_owned(),
    })
}

/// `Some(pause per event)` while the slow phase lasts.
fn slow_phase() -> Option<Duration> {
    static SLOW: OnceLock<Option<(Duration, Instant)>> = OnceLock::new();
    let (pause, until) = (*SLOW.get_or_init(|| {
        let env = |name: &str| {
            let raw = std::env::var(name).ok()?;
            let parsed = humantime::parse_duration(&raw)
                .unwrap_or_else(|e| panic!("{name}={raw:?} is not a duration (e.g. 2ms): {e}"));
            Some(parsed)
        };
        Some((
            env("PIPELINE_SLOW_EVENT")?,
            Instant::now() + env("PIPELINE_SLOW_FOR")?,
        ))
    }))?;
    (Instant::now() < until).then_some(pause)
}

fn worker_label() -> &'static str {
    static LABEL: OnceLock<String> = OnceLock::new();
    LABEL.get_or_init(|| {
        std::env::var("PIPELINE_WORKER").unwrap_or_else(|_| std::process::id().to_string())
    })
}

/// The app: both agents, their topics suffixed with `PIPELINE_SUFFIX`.
fn pipeline_app() -> App {
    let id = std::env::var("PIPELINE_APP").unwrap_or_else(|_| "pipeline".to_owned());
    let suffix = std::env::var("PIPELINE_SUFFIX").unwrap_or_default();
    App::bare(id)
        .agent(with_suffix(&stage1::AGENT, &suffix))
        .agent(with_suffix(&stage2::AGENT, &suffix))
        .topic_partitions(4)
        .commit_interval(Duration::from_millis(500))
}

faust::main!(pipeline_app());
