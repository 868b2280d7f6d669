//! Sensors under the test driver: a sensor that records every hook sees,
//! in order and with their arguments, the records read, the table reads
//! and writes (a failed attempt's writes taken back), the sends and their
//! deliveries, a failing event retried then dead-lettered, the events'
//! outcomes with their (virtual) durations, the commits the driver makes,
//! and the rebalances it models; a sensor that wants no durations leaves
//! events untimed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use faust::prelude::*;
use faust::sensor::{
    Commit, EventError, EventOut, MessageIn, Outcome, Partitions, SendCompleted, SendError,
    SendInitiated, TableGet, TableSet,
};
use faust::testing::TestDriver;

#[table(name = "sensed-counts", default)]
static COUNTS: Table<String, u64>;

/// Counts each key's events; a zero fails (and is retried once, then
/// dead-lettered); the others go to the sink doubled.
#[agent(
    topic = "sensed-in",
    sink = "sensed-out",
    dead_letter = "sensed-dlq",
    retries = 1,
    retry_backoff = "1s"
)]
async fn tally(event: Event<u64>) -> Result<u64> {
    let key = event.key.clone().unwrap_or_default();
    COUNTS.update(&key, |n| *n += 1)?;
    if event.value == 0 {
        return Err(faust::Error::msg("zero is not allowed"));
    }
    Ok(event.value * 2)
}

/// Writes down every hook, one line each.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Recorder {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }

    /// The lines recorded since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn partitions(p: &Partitions<'_>) -> String {
    let each: Vec<String> = p
        .partitions
        .iter()
        .map(|(t, p)| format!("{t}[{p}]"))
        .collect();
    each.join(" ")
}

impl Sensor for Recorder {
    fn on_message_in(&self, m: &MessageIn<'_>) {
        self.push(format!("in {}[{}]@{}", m.topic, m.partition, m.offset));
    }
    fn on_event_out(&self, e: &EventOut<'_>) {
        self.push(format!(
            "out {} {}[{}]@{} {:?} {:?}",
            e.agent, e.topic, e.partition, e.offset, e.outcome, e.duration
        ));
    }
    fn on_error(&self, e: &EventError<'_>) {
        self.push(format!(
            "error {} {}[{}]@{} attempt {} {} {:?}: {}",
            e.agent, e.topic, e.partition, e.offset, e.attempt, e.kind, e.action, e.error
        ));
    }
    fn on_send_initiated(&self, s: &SendInitiated<'_>) {
        self.push(format!(
            "send {} {:?} key {} value {}",
            s.topic, s.partition, s.key_size, s.value_size
        ));
    }
    fn on_send_completed(&self, s: &SendCompleted<'_>) {
        self.push(format!("sent {}[{}]@{}", s.topic, s.partition, s.offset));
    }
    fn on_send_error(&self, s: &SendError<'_>) {
        self.push(format!("send failed {}: {}", s.topic, s.error));
    }
    fn on_table_get(&self, g: &TableGet<'_>) {
        self.push(format!("get {} {}", g.table, text(g.key)));
    }
    fn on_table_set(&self, s: &TableSet<'_>) {
        self.push(format!(
            "set {}[{}] {} = {:?}",
            s.table,
            s.partition,
            text(s.key),
            s.value.map(text)
        ));
    }
    fn on_commit(&self, c: &Commit<'_>) {
        let each: Vec<String> = c
            .offsets()
            .map(|(t, p, o)| format!("{t}[{p}]={o}"))
            .collect();
        self.push(format!("commit {}", each.join(" ")));
    }
    fn on_partitions_revoked(&self, p: &Partitions<'_>) {
        self.push(format!("revoked {}", partitions(p)));
    }
    fn on_partitions_assigned(&self, p: &Partitions<'_>) {
        self.push(format!("assigned {}", partitions(p)));
    }
}

/// Two sensors, to show each hears everything.
#[derive(Default)]
struct Reads(Mutex<u32>);

impl Sensor for Reads {
    fn on_message_in(&self, _: &MessageIn<'_>) {
        *self.0.lock().unwrap() += 1;
    }
}

const CHANGELOG: &str = "sensed-sensed-counts-changelog";

/// Bytes of a changelog value: the count (one byte here) framed with the
/// event that wrote it (exact state).
const FRAMED: usize = 29;

#[tokio::test]
async fn a_sensor_hears_reads_table_access_sends_errors_outcomes_commits_and_rebalances()
-> faust::Result<()> {
    let recorder = Arc::new(Recorder::default());
    let reads = Arc::new(Reads::default());
    let app = App::bare("sensed")
        .topic_partitions(2)
        .agent(&tally::AGENT)
        .table(&COUNTS)
        .sensor(recorder.clone())
        .sensor(reads.clone());
    let mut t = TestDriver::with_app(app);

    // Starting, the driver's consumer gets every partition of the topic
    // the app reads.
    t.run_until_idle().await?;
    assert_eq!(
        recorder.take(),
        ["assigned sensed-in[0] sensed-in[1]"],
        "the start"
    );

    // One good event: read, counted, its changelog record and sink record
    // sent and delivered, done; then the driver commits.
    let p = t.send("sensed-in", "a", 1u64).await.partition;
    t.run_until_idle().await?;
    assert_eq!(
        recorder.take(),
        [
            format!("in sensed-in[{p}]@0"),
            "get sensed-counts a".to_owned(),
            format!("set sensed-counts[{p}] a = Some(\"1\")"),
            format!("send {CHANGELOG} Some({p}) key 1 value {FRAMED}"),
            format!("sent {CHANGELOG}[{p}]@0"),
            "send sensed-out None key 1 value 1".to_owned(),
            format!("sent sensed-out[{p}]@0"),
            format!("out tally sensed-in[{p}]@0 Ok 0ns"),
            format!("commit sensed-in[{p}]=1"),
        ],
        "a good event"
    );

    // A zero fails: its write is taken back (a write of the old value),
    // and it waits out the backoff before its retry; nothing is committed
    // past it.
    t.send("sensed-in", "a", 0u64).await;
    t.run_until_idle().await?;
    let attempt = |n: u32, changelog_offset: u32, action: &str| {
        vec![
            "get sensed-counts a".to_owned(),
            format!("set sensed-counts[{p}] a = Some(\"2\")"),
            format!("send {CHANGELOG} Some({p}) key 1 value {FRAMED}"),
            format!("sent {CHANGELOG}[{p}]@{changelog_offset}"),
            format!("set sensed-counts[{p}] a = Some(\"1\")"),
            format!("send {CHANGELOG} Some({p}) key 1 value {FRAMED}"),
            format!("sent {CHANGELOG}[{p}]@{}", changelog_offset + 1),
            format!(
                "error tally sensed-in[{p}]@1 attempt {n} handler {action}: handler error: zero is not allowed"
            ),
        ]
    };
    let mut first = vec![format!("in sensed-in[{p}]@1")];
    first.extend(attempt(1, 1, "Retry(1s)"));
    assert_eq!(recorder.take(), first, "the first attempt");

    // The retry fails too: dead-lettered (the dead letter sent and
    // delivered), the event is done after 1 s of virtual time, and the
    // commit moves past it.
    t.advance(Duration::from_secs(1)).await?;
    let mut second = attempt(2, 3, "DeadLetter");
    second.extend([
        "send sensed-dlq None key 1 value 1".to_owned(),
        format!("sent sensed-dlq[{p}]@0"),
        format!("out tally sensed-in[{p}]@1 DeadLettered 1s"),
        format!("commit sensed-in[{p}]=2"),
    ]);
    assert_eq!(recorder.take(), second, "the retry");
    assert_eq!(t.dead_letters("sensed-dlq").len(), 1);
    assert_eq!(t.table(&COUNTS).get("a"), Some(1));
    // The test's own read is a table get too.
    assert_eq!(recorder.take(), ["get sensed-counts a"]);

    // A rebalance: the driver commits (nothing new), revokes what the app
    // held, then assigns what it is given.
    t.rebalance([0]).await?;
    assert_eq!(
        recorder.take(),
        ["revoked sensed-in[0] sensed-in[1]", "assigned sensed-in[0]"],
        "the rebalance"
    );

    // Every sensor hears every step.
    assert_eq!(*reads.0.lock().unwrap(), 2);
    Ok(())
}

#[tokio::test]
async fn an_app_without_sensors_runs_the_same() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("unsensed")
            .topic_partitions(2)
            .agent(&tally::AGENT)
            .table(&COUNTS),
    );
    t.send("sensed-in", "a", 1u64).await;
    t.send("sensed-in", "a", 0u64).await;
    t.advance(Duration::from_secs(1)).await?;
    t.topic::<u64>("sensed-out").assert_values(&[2]);
    assert_eq!(t.dead_letters("sensed-dlq").len(), 1);
    assert_eq!(t.table(&COUNTS).get("a"), Some(1));
    Ok(())
}

/// Reads the events' outcomes, not their durations.
#[derive(Default)]
struct Outcomes(Mutex<Vec<(Outcome, Duration)>>);

impl Sensor for Outcomes {
    fn on_event_out(&self, e: &EventOut<'_>) {
        self.0.lock().unwrap().push((e.outcome, e.duration));
    }

    fn wants_durations(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn a_sensor_that_wants_no_durations_gets_zero_for_events_the_histogram_does_not_sample()
-> faust::Result<()> {
    let outcomes = Arc::new(Outcomes::default());
    let app = App::bare("sensed")
        .topic_partitions(1)
        .agent(&tally::AGENT)
        .table(&COUNTS)
        .sensor(outcomes.clone());
    let mut t = TestDriver::with_app(app);
    // Three zeros: each retried after a second of backoff, then
    // dead-lettered.
    for _ in 0..3 {
        t.send("sensed-in", "a", 0u64).await;
    }
    t.advance(Duration::from_secs(10)).await?;
    // The first event of an agent is timed for `faust_handler_seconds`
    // (one in 16), the next ones are not.
    assert_eq!(
        *outcomes.0.lock().unwrap(),
        [
            (Outcome::DeadLettered, Duration::from_secs(1)),
            (Outcome::DeadLettered, Duration::ZERO),
            (Outcome::DeadLettered, Duration::ZERO),
        ]
    );
    Ok(())
}
