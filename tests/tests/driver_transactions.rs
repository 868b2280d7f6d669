//! `processing_guarantee = "exactly_once"` in the test driver, whose
//! in-memory broker models Kafka transactions: records of an open
//! transaction take their offsets but stay hidden from readers (which stop
//! before them, like `read_committed` readers at the last stable offset),
//! the transaction's input offsets are committed with it, an abort hides
//! its records for good, and initialising a transactional id again fences
//! the older producer and aborts what it left open.
//!
//! The worker crashes between every two steps of the transactional cycle
//! (each record written in a transaction, the offsets, the commit) and
//! restarts: the sink holds each input exactly once, with no reader-side
//! de-duplication, and the tables count each input once.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use faust::prelude::*;
use faust::testing::TestDriver;

#[record]
#[derive(Debug, Clone, PartialEq)]
struct Click {
    user: String,
    n: u32,
}

#[table(name = "tx-clicks", default, partitions = 4)]
static CLICKS: Table<String, u64>;

#[table(name = "tx-seen", default, partitions = 4)]
static SEEN: Table<String, u64>;

/// Two table writes and one sink record per event.
#[agent(topic = "clicks", sink = "click-counts")]
async fn count_click(click: Click) -> Result<u64> {
    let count = CLICKS.update(&click.user, |c| *c += 1)?;
    SEEN.update(&click.user, |s| *s += u64::from(click.n))?;
    Ok(count)
}

const USERS: [&str; 5] = ["ann", "bob", "cid", "dee", "eve"];
const BATCHES: usize = 3;
const PER_BATCH: usize = 8;
const INPUTS: usize = BATCHES * PER_BATCH;

fn click(i: usize) -> Click {
    Click {
        user: USERS[i * 7 % USERS.len()].to_owned(),
        n: i as u32,
    }
}

fn app(store: &str) -> App {
    App::bare("tx")
        .topic_partitions(4)
        .store(store)
        .processing_guarantee(ProcessingGuarantee::ExactlyOnce)
        .transactional_id("tx-worker-1")
        .table(&CLICKS)
        .table(&SEEN)
        .agent(&count_click::AGENT)
}

/// Sends the clicks in batches, each processed and committed; with
/// `crash_after`, the broker takes that many of the worker's writes and
/// then none, the worker runs on until it stops, and it is restarted.
async fn run(app: App, crash_after: Option<u64>) -> TestDriver {
    let mut t = TestDriver::with_app(app);
    t.run_until_idle().await.expect("start");
    if let Some(n) = crash_after {
        t.broker().crash_after(n);
    }
    for i in 0..INPUTS {
        let c = click(i);
        t.send("clicks", c.user.clone(), c).await;
        if i % PER_BATCH == PER_BATCH - 1 {
            // Past the crash point the transaction fails and the worker
            // stops.
            let result = t.run_until_idle().await;
            if crash_after.is_none() {
                result.expect("run");
            }
        }
    }
    if crash_after.is_some() {
        t.restart().await.expect("restart");
    }
    t.run_until_idle().await.expect("run after restart");
    t
}

/// The counts a single clean pass gives.
fn expected() -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let (mut clicks, mut seen) = (BTreeMap::new(), BTreeMap::new());
    for i in 0..INPUTS {
        let c = click(i);
        *clicks.entry(c.user.clone()).or_default() += 1;
        *seen.entry(c.user).or_default() += u64::from(c.n);
    }
    (clicks, seen)
}

fn counts(t: &TestDriver) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let get = |table: &'static Table<String, u64>| {
        USERS
            .iter()
            .filter_map(|u| t.table(table).get(*u).map(|c| (u.to_string(), c)))
            .collect()
    };
    (get(&CLICKS), get(&SEEN))
}

/// Each user's sink records, in order: exactly once means `1, 2, ..., k`.
fn sink(t: &TestDriver) -> BTreeMap<String, Vec<u64>> {
    let records = t.topic::<u64>("click-counts");
    let mut by_user: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (key, value) in records.keys().into_iter().zip(records.values()) {
        by_user
            .entry(key.unwrap_or_default().to_owned())
            .or_default()
            .push(*value);
    }
    by_user
}

fn exactly_once_sink() -> BTreeMap<String, Vec<u64>> {
    expected()
        .0
        .into_iter()
        .map(|(user, n)| (user, (1..=n).collect()))
        .collect()
}

#[tokio::test]
async fn a_clean_run_commits_outputs_changelogs_and_offsets_together() {
    let t = run(app("memory://"), None).await;
    assert_eq!(counts(&t), expected());
    assert_eq!(sink(&t), exactly_once_sink());
    // The input offsets were committed by the transactions.
    let committed: i64 = (0..4).filter_map(|p| t.committed("clicks", p)).sum();
    assert_eq!(committed, INPUTS as i64);
}

/// How many writes a clean run makes.
async fn clean_writes() -> u64 {
    run(app("memory://"), None).await.broker().writes()
}

#[tokio::test]
async fn a_crash_at_every_step_of_the_cycle_leaves_each_input_once_in_the_sink() {
    let total = clean_writes().await;
    assert!(total > 20, "the cycle makes writes to crash between");
    for n in 0..=total {
        let t = run(app("memory://"), Some(n)).await;
        assert_eq!(sink(&t), exactly_once_sink(), "crash after write {n}");
        assert_eq!(counts(&t), expected(), "crash after write {n}");
    }
}

fn rocks_dir(n: u64) -> String {
    let dir = std::env::temp_dir().join(format!("faust-rs-tx-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    format!("rocksdb://{}", dir.display())
}

#[tokio::test]
async fn a_crash_at_every_third_step_with_rocksdb_stores_leaves_exact_state_and_sink() {
    let total = clean_writes().await;
    for n in (0..=total).step_by(3) {
        let store = rocks_dir(n);
        let t = run(app(&store), Some(n)).await;
        assert_eq!(sink(&t), exactly_once_sink(), "crash after write {n}");
        assert_eq!(counts(&t), expected(), "crash after write {n}");
        drop(t);
        let _ = std::fs::remove_dir_all(store.trim_start_matches("rocksdb://"));
    }
}

#[tokio::test]
async fn what_an_open_transaction_wrote_stays_hidden_until_it_commits() {
    let mut t = TestDriver::with_app(app("memory://"));
    t.run_until_idle().await.expect("start");
    // The broker takes the first record of the transaction, then nothing:
    // the transaction stays open, and its record is written but hidden.
    t.broker().crash_after(1);
    let c = click(0);
    t.send("clicks", c.user.clone(), c).await;
    let stopped = t.run_until_idle().await;
    let error = stopped
        .expect_err("the transaction cannot commit")
        .to_string();
    assert!(
        error.contains("transactional id `tx-worker-1`") && error.contains("aborted"),
        "{error}"
    );
    let hidden = t.broker().records("click-counts").len()
        + t.broker().records("tx-tx-clicks-changelog").len();
    assert_eq!(hidden, 0, "nothing of the open transaction is visible");
    assert_eq!(t.committed("clicks", 0).unwrap_or(0), 0);
    // Restarted, the worker fences its crashed incarnation (aborting its
    // transaction) and handles the event again, once.
    t.restart().await.expect("restart");
    t.topic::<u64>("click-counts").assert_values(&[1]);
    assert_eq!(t.table(&CLICKS).get(click(0).user), Some(1));
}

// ---------------------------------------------------- retries, dead letters

static ATTEMPTS: Mutex<BTreeMap<u64, u32>> = Mutex::new(BTreeMap::new());

#[table(name = "tx-tries", default, partitions = 1)]
static TRIES: Table<String, u64>;

/// Writes a sink record and a table row, then fails: 3 and 6 on their
/// first attempt (retried), 5 on every attempt (dead-lettered).
#[agent(
    topic = "tries",
    sink = "tried",
    dead_letter = "tries-dlq",
    retries = 1,
    retry_backoff = "1s"
)]
async fn write_then_fail(n: u64) -> Result<u64, BoxError> {
    TRIES.update(&"all".to_owned(), |c| *c += 1)?;
    let attempt = {
        let mut attempts = ATTEMPTS.lock().unwrap();
        let a = attempts.entry(n).or_default();
        *a += 1;
        *a
    };
    if n == 5 || ((n == 3 || n == 6) && attempt == 1) {
        return Err(format!("attempt {attempt} at {n} failed").into());
    }
    Ok(n)
}

#[tokio::test]
async fn a_failed_attempt_writes_nothing_and_its_retry_or_dead_letter_writes_once() {
    let mut t = TestDriver::with_app(
        App::bare("tx-tries")
            .topic_partitions(1)
            .processing_guarantee(ProcessingGuarantee::ExactlyOnce)
            .table(&TRIES)
            .agent(&write_then_fail::AGENT),
    );
    for n in 0..8u64 {
        t.send("tries", "k", n).await;
    }
    t.advance(Duration::from_secs(10)).await.expect("run");
    t.topic::<u64>("tried")
        .assert_values(&[0, 1, 2, 3, 4, 6, 7]);
    assert_eq!(t.dead_letters("tries-dlq").len(), 1);
    assert_eq!(t.table(&TRIES).get("all"), Some(7));
    assert_eq!(t.committed("tries", 0), Some(8));
}

// ------------------------------------------------------------ stream agents

#[table(name = "tx-batches", default, partitions = 2)]
static BATCH_TOTALS: Table<String, u64>;

/// Batches of three: a sink record and a table write per batch.
#[agent(topic = "words", sink = "word-batches")]
async fn batch_words(mut stream: Stream<String>) -> Result<()> {
    while let Some(batch) = stream.take(3, Duration::from_secs(1)).next().await {
        BATCH_TOTALS.update(&"words".to_owned(), |n| *n += batch.len() as u64)?;
        stream.emit(batch.join(",")).await?;
    }
    Ok(())
}

fn stream_app() -> App {
    App::bare("tx-stream")
        .topic_partitions(1)
        .processing_guarantee(ProcessingGuarantee::ExactlyOnce)
        .table(&BATCH_TOTALS)
        .agent(&batch_words::AGENT)
}

async fn run_stream(crash_after: Option<u64>) -> TestDriver {
    let mut t = TestDriver::with_app(stream_app());
    t.run_until_idle().await.expect("start");
    if let Some(n) = crash_after {
        t.broker().crash_after(n);
    }
    for i in 0..12 {
        t.send("words", "w", format!("w{i}")).await;
        if i % 4 == 3 {
            let _ = t.run_until_idle().await;
        }
    }
    if crash_after.is_some() {
        t.restart().await.expect("restart");
    }
    t.advance(Duration::from_secs(2)).await.expect("run");
    t
}

#[tokio::test]
async fn a_stream_agent_writes_each_batch_once_whatever_the_crash_point() {
    let total = run_stream(None).await.broker().writes();
    for n in 0..=total {
        let t = run_stream(Some(n)).await;
        let words: Vec<String> = t
            .topic::<String>("word-batches")
            .values()
            .iter()
            .flat_map(|b| b.split(',').map(str::to_owned).collect::<Vec<_>>())
            .collect();
        let want: Vec<String> = (0..12).map(|i| format!("w{i}")).collect();
        assert_eq!(words, want, "crash after write {n}");
        assert_eq!(
            t.table(&BATCH_TOTALS).get("words"),
            Some(12),
            "crash after write {n}"
        );
    }
}

// ------------------------------------------------------------ backpressure

/// Two agents read the same topic: one may run ahead of the other, and
/// what it writes waits for both.
#[agent(topic = "many", sink = "many-a")]
async fn first_reader(n: u64) -> Result<u64> {
    Ok(n)
}

#[agent(topic = "many", sink = "many-b")]
async fn second_reader(n: u64) -> Result<u64> {
    Ok(n + 1)
}

#[tokio::test]
async fn more_held_records_than_the_limit_wait_for_commits_and_none_is_lost() {
    // queue_capacity 1: an agent holds at most 10,000 records before it
    // waits for a commit, which the driver (like the worker) then runs.
    let mut t = TestDriver::with_app(
        App::bare("tx-many")
            .topic_partitions(2)
            .queue_capacity(1)
            .processing_guarantee(ProcessingGuarantee::ExactlyOnce)
            .agent(&first_reader::AGENT)
            .agent(&second_reader::AGENT),
    );
    for n in 0..25_000u64 {
        t.send("many", format!("k{}", n % 11), n).await;
    }
    t.run_until_idle().await.expect("run");
    let mut a: Vec<u64> = t
        .topic::<u64>("many-a")
        .values()
        .into_iter()
        .copied()
        .collect();
    let mut b: Vec<u64> = t
        .topic::<u64>("many-b")
        .values()
        .into_iter()
        .copied()
        .collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, (0..25_000).collect::<Vec<_>>());
    assert_eq!(b, (1..25_001).collect::<Vec<_>>());
}

// ------------------------------------------------------------ clear errors

#[agent(topic = "waits")]
async fn waits_for_its_send(n: u64) -> Result<(), BoxError> {
    let topic: Topic<String, u64> = Topic::new("waited");
    topic.record(n).send_and_wait().await?;
    Ok(())
}

#[tokio::test]
async fn send_and_wait_inside_an_agent_says_why_it_cannot_wait() {
    let mut t = TestDriver::with_app(
        App::bare("tx-wait")
            .topic_partitions(1)
            .processing_guarantee(ProcessingGuarantee::ExactlyOnce)
            .agent(&waits_for_its_send::AGENT),
    );
    t.send("waits", "k", 1u64).await;
    let error = t.run_until_idle().await.expect_err("on_error = stop");
    let message = error.to_string();
    assert!(
        message.contains("`Topic::send_and_wait` cannot wait for the broker inside an agent")
            && message.contains("exactly_once")
            && message.contains("use the sending call that does not wait"),
        "{message}"
    );
    t.topic::<u64>("waited").assert_len(0);
}

/// A timer's records go out with the next transaction.
#[timer(interval = "1s")]
async fn tick() -> Result<()> {
    let topic: Topic<String, u64> = Topic::new("ticks");
    let meta = topic.record(1).send_and_wait().await?;
    assert!(meta.offset >= 0, "a timer gets the record's real offset");
    Ok(())
}

#[tokio::test]
async fn a_timer_waits_for_the_transaction_that_writes_its_record() {
    let mut t = TestDriver::with_app(
        App::bare("tx-timer")
            .topic_partitions(1)
            .processing_guarantee(ProcessingGuarantee::ExactlyOnce)
            .timer(&tick::TIMER),
    );
    t.advance(Duration::from_millis(3500)).await.expect("run");
    t.topic::<u64>("ticks").assert_values(&[1, 1, 1]);
}
