//! Exact table state under crashes, in the test driver: the worker dies
//! between every two of its writes to the broker (records appended,
//! offsets committed), restarts from the committed offsets and rebuilds
//! its tables from their changelogs, and every count ends exact. Sink
//! records carry their origin, so a reader with `Dedup` sees each input
//! once. With exact state off, the same crashes count some events twice.

use std::collections::BTreeMap;

use faust::origin::{Dedup, Origin};
use faust::prelude::*;
use faust::testing::TestDriver;

#[record]
#[derive(Debug, Clone, PartialEq)]
struct Click {
    user: String,
    n: u32,
}

#[table(name = "clicks", default, partitions = 4)]
static CLICKS: Table<String, u64>;

#[table(name = "seen", default, partitions = 4)]
static SEEN: Table<String, u64>;

/// Two writes per event (two tables), and one sink record.
#[agent(topic = "clicks", sink = "click-counts")]
async fn count_click(click: Click) -> Result<u64> {
    let count = CLICKS.update(&click.user, |c| *c += 1)?;
    SEEN.update(&click.user, |s| *s += u64::from(click.n))?;
    Ok(count)
}

const USERS: [&str; 5] = ["ann", "bob", "cid", "dee", "eve"];
const BATCHES: usize = 4;
const PER_BATCH: usize = 10;

fn app(store: &str, exact: bool) -> App {
    App::bare("exact")
        .topic_partitions(4)
        .store(store)
        .exact_state(exact)
        .table(&CLICKS)
        .table(&SEEN)
        .agent(&count_click::AGENT)
}

fn click(i: usize) -> Click {
    Click {
        user: USERS[i * 7 % USERS.len()].to_owned(),
        n: i as u32,
    }
}

/// The counts a single clean pass gives.
fn expected() -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let (mut clicks, mut seen) = (BTreeMap::new(), BTreeMap::new());
    for i in 0..BATCHES * PER_BATCH {
        let c = click(i);
        *clicks.entry(c.user.clone()).or_default() += 1;
        *seen.entry(c.user).or_default() += u64::from(c.n);
    }
    (clicks, seen)
}

/// The click counter over the clicks (see [`crash_run`]).
async fn run(store: &str, exact: bool, crash_after: Option<u64>) -> TestDriver {
    let inputs = (0..BATCHES * PER_BATCH).map(|i| {
        let c = click(i);
        (c.user.clone(), c)
    });
    crash_run(app(store, exact), "clicks", inputs, PER_BATCH, crash_after).await
}

/// Sends `inputs` to `topic` of `app` in batches of `batch`, each
/// processed and committed; with `crash_after`, the broker takes that many
/// of the worker's writes and then none, the worker runs on until it
/// stops, and it is restarted. Returns the driver, finished.
async fn crash_run<V: faust::IntoPayload>(
    app: App,
    topic: &str,
    inputs: impl IntoIterator<Item = (String, V)>,
    batch: usize,
    crash_after: Option<u64>,
) -> TestDriver {
    let mut t = TestDriver::with_app(app);
    t.run_until_idle().await.expect("start");
    if let Some(n) = crash_after {
        t.broker().crash_after(n);
    }
    for (i, (key, value)) in inputs.into_iter().enumerate() {
        t.send(topic, key, value).await;
        if i % batch == batch - 1 {
            // Past the crash point nothing reaches the broker: the worker
            // stops on a failed delivery, or runs on with commits lost.
            let result = t.run_until_idle().await;
            if crash_after.is_none() {
                result.expect("run");
            }
            t.commit();
        }
    }
    if crash_after.is_some() {
        t.restart().await.expect("restart");
    }
    t.run_until_idle().await.expect("run after restart");
    t.commit();
    t
}

fn counts(t: &TestDriver) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let clicks = USERS
        .iter()
        .filter_map(|u| t.table(&CLICKS).get(*u).map(|c| (u.to_string(), c)))
        .collect();
    let seen = USERS
        .iter()
        .filter_map(|u| t.table(&SEEN).get(*u).map(|c| (u.to_string(), c)))
        .collect();
    (clicks, seen)
}

/// How many writes a clean run makes, past the inputs.
async fn clean_writes(store: &str) -> u64 {
    let t = run(store, true, None).await;
    t.broker().writes()
}

fn rocks_dir(name: &str, n: u64) -> String {
    let dir =
        std::env::temp_dir().join(format!("faust-rs-exact-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    format!("rocksdb://{}", dir.display())
}

#[tokio::test]
async fn a_clean_run_counts_every_event_once() {
    let t = run("memory://", true, None).await;
    assert_eq!(counts(&t), expected());
}

#[tokio::test]
async fn a_crash_between_any_two_writes_leaves_exact_counts_with_memory_stores() {
    let writes = clean_writes("memory://").await;
    assert!(writes > 100, "{writes} writes in a clean run");
    for n in 0..=writes {
        let t = run("memory://", true, Some(n)).await;
        assert_eq!(counts(&t), expected(), "crash after {n} of {writes} writes");
    }
}

#[tokio::test]
async fn a_crash_between_any_two_writes_leaves_exact_counts_with_rocksdb_stores() {
    let writes = clean_writes(&rocks_dir("clean", 0)).await;
    // Every third point: a RocksDB store per run is slow in debug builds.
    for n in (0..=writes).step_by(3) {
        let t = run(&rocks_dir("crash", n), true, Some(n)).await;
        assert_eq!(counts(&t), expected(), "crash after {n} of {writes} writes");
    }
}

#[tokio::test]
async fn without_exact_state_some_crash_counts_events_twice() {
    let writes = clean_writes("memory://").await;
    let mut over = 0;
    for n in 0..=writes {
        let t = run("memory://", false, Some(n)).await;
        let (clicks, _) = counts(&t);
        let total: u64 = clicks.values().sum();
        assert!(total >= (BATCHES * PER_BATCH) as u64, "at least once");
        if clicks != expected().0 {
            over += 1;
        }
    }
    assert!(
        over > 0,
        "no crash point over-counted: the test proves nothing"
    );
}

#[tokio::test]
async fn sink_records_carry_their_origin_and_dedup_keeps_each_input_once() {
    let writes = clean_writes("memory://").await;
    // With RocksDB, a crash after a flush whose commit was lost replays
    // events the store holds: their writes are dropped, and their sink
    // records must keep the numbers of the first run.
    let runs = (1..10).flat_map(|i| {
        let n = writes * i / 10;
        [("memory://".to_owned(), n), (rocks_dir("sink", n), n)]
    });
    for (store, n) in runs {
        let t = run(&store, true, Some(n)).await;
        let inputs = t.records("clicks");
        let mut dedup = Dedup::new();
        let mut kept = Vec::new();
        let mut total = 0;
        for record in t.records("click-counts") {
            total += 1;
            let origin = Origin::from_headers(&record.headers).expect("an origin header");
            assert_eq!(origin.topic.as_ref(), "clicks");
            // Records are numbered per event: its two changelog records
            // are 0 and 1, its sink record 2.
            assert_eq!(origin.seq, 2, "{origin:?}");
            if dedup.first_time(&origin) {
                kept.push((origin.partition, origin.offset));
            }
        }
        kept.sort_unstable();
        let mut all: Vec<(i32, i64)> = inputs.iter().map(|m| (m.partition, m.offset)).collect();
        all.sort_unstable();
        assert_eq!(
            kept, all,
            "{store}, crash after {n}: each input once after dedup"
        );
        assert!(total >= all.len());
    }
}

#[tokio::test]
async fn changelog_records_name_the_event_that_wrote_them() {
    let t = run("memory://", true, None).await;
    let inputs = t.records("clicks");
    for record in t.records("exact-clicks-changelog") {
        // In a frame before the value, not in a header.
        assert!(record.headers.is_empty(), "{:?}", record.headers);
        let raw = record.value.as_deref().expect("a value");
        let (topic, partition, offset) =
            faust::table::changelog_origin(raw).expect("an origin frame");
        assert_eq!(topic, "clicks");
        let input = inputs
            .iter()
            .find(|m| m.partition == partition && m.offset == offset)
            .expect("the input event");
        assert_eq!(input.key, record.key, "written for the event's key");
        assert_eq!(input.partition, record.partition, "co-partitioned");
        let count: u64 = serde_json::from_slice(faust::table::changelog_value(raw)).unwrap();
        assert!(count >= 1);
    }
}

#[table(name = "tries", default, partitions = 1)]
static TRIES: Table<String, u64>;

/// Attempts so far per input value.
static ATTEMPTS: std::sync::Mutex<BTreeMap<u64, u32>> = std::sync::Mutex::new(BTreeMap::new());

/// Counts each value, then fails: every third value on its first two
/// attempts, and 7 always.
#[agent(
    topic = "tries",
    dead_letter = "tries-dlq",
    retries = 2,
    retry_backoff = "1s"
)]
async fn count_then_fail(n: u64) -> Result<(), BoxError> {
    TRIES.update(&"all".to_owned(), |c| *c += 1)?;
    TRIES.update(&format!("v{n}"), |c| *c += 1)?;
    let attempt = {
        let mut attempts = ATTEMPTS.lock().unwrap();
        let a = attempts.entry(n).or_default();
        *a += 1;
        *a
    };
    if n == 7 || (n.is_multiple_of(3) && attempt <= 2) {
        return Err(format!("attempt {attempt} at {n} failed").into());
    }
    Ok(())
}

#[tokio::test]
async fn a_failed_attempt_takes_its_table_writes_back_before_the_retry_or_the_dead_letter() {
    let mut t = TestDriver::with_app(
        App::bare("undo")
            .topic_partitions(1)
            .table(&TRIES)
            .agent(&count_then_fail::AGENT),
    );
    for n in 0..10u64 {
        t.send("tries", "k", n).await;
    }
    t.run_until_idle().await.expect("run");
    // The first attempt at 0 failed: its writes are taken back while the
    // partition waits out the backoff.
    assert_eq!(t.table(&TRIES).get("all"), None);
    for _ in 0..60 {
        t.advance(std::time::Duration::from_secs(1))
            .await
            .expect("run");
    }
    t.commit();
    // 0..10 but 7 (dead-lettered): each counted once though 0, 3, 6 and 9
    // took three attempts.
    assert_eq!(t.table(&TRIES).get("all"), Some(9));
    for n in 0..10u64 {
        let want = if n == 7 { None } else { Some(1) };
        assert_eq!(t.table(&TRIES).get(format!("v{n}")), want, "value {n}");
    }
    assert_eq!(t.dead_letters("tries-dlq").len(), 1);
    // The changelog agrees: a restart rebuilds the same table.
    t.restart().await.expect("restart");
    assert_eq!(t.table(&TRIES).get("all"), Some(9));
    assert_eq!(t.table(&TRIES).get("v7"), None);
}

// ------------------------------------------------------------- windows

/// A view with its own time (ms since the epoch).
#[record(timestamp = "at")]
#[derive(Debug, Clone, PartialEq)]
struct View {
    page: String,
    at: i64,
}

#[table(
    name = "views-10s",
    default,
    partitions = 2,
    tumbling = "10s",
    grace = "0s",
    expires = "10m",
    emit_closed = "views-closed"
)]
static VIEWS: faust::window::WindowedTable<String, u64>;

#[agent(topic = "views")]
async fn count_view(view: View) -> Result<()> {
    VIEWS.update(&view.page, |n| *n += 1)?;
    Ok(())
}

const T0: i64 = 1_735_689_600_000;
const VIEWS_SENT: i64 = 60;

/// View `i`: one of two pages, every 1.5 s.
fn view(i: i64) -> View {
    View {
        page: ["home", "docs"][(i % 2) as usize].into(),
        at: T0 + i * 1500,
    }
}

/// Each closed window's count, (page, start) → count, from the emitted
/// records with duplicates dropped; fails on a window emitted twice with
/// different counts.
fn closed_windows(t: &TestDriver) -> BTreeMap<(String, i64), u64> {
    let mut dedup = Dedup::new();
    let mut windows = BTreeMap::new();
    for record in t.records("views-closed") {
        let origin = Origin::from_headers(&record.headers).expect("an origin header");
        if !dedup.first_time(&origin) {
            continue;
        }
        let page = String::from_utf8(record.key.as_deref().expect("a key").to_vec()).unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(record.value.as_deref().expect("a value")).unwrap();
        let start = body["start"].as_i64().unwrap();
        let count = body["value"].as_u64().unwrap();
        if let Some(before) = windows.insert((page.clone(), start), count) {
            panic!("window ({page}, {start}) closed twice: {before} then {count}");
        }
    }
    windows
}

async fn run_views(crash_after: Option<u64>) -> TestDriver {
    let app = App::bare("exact-windows")
        .topic_partitions(2)
        .table(&VIEWS)
        .agent(&count_view::AGENT);
    let inputs = (0..VIEWS_SENT).map(|i| {
        let v = view(i);
        (v.page.clone(), v)
    });
    crash_run(app, "views", inputs, 15, crash_after).await
}

#[tokio::test]
async fn closed_windows_come_out_with_exact_counts_whatever_the_crash_point() {
    let clean = run_views(None).await;
    let want = closed_windows(&clean);
    // 90 s of views, a view every 1.5 s: the 8 windows of each page up to
    // [70, 80) closed (stream time reached 88.5 s), with the 54 views
    // before 80 s.
    assert_eq!(want.len(), 16, "{want:?}");
    assert_eq!(want.values().sum::<u64>(), 54, "{want:?}");
    let writes = clean.broker().writes();
    for n in 0..=writes {
        let t = run_views(Some(n)).await;
        assert_eq!(
            closed_windows(&t),
            want,
            "crash after {n} of {writes} writes"
        );
        for page in ["home", "docs"] {
            assert_eq!(
                t.table(&VIEWS).get(page),
                clean.table(&VIEWS).get(page),
                "crash after {n}: the windows of {page}"
            );
        }
    }
}
