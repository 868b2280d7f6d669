//! Windowed tables under the test driver: tumbling and hopping counts at
//! window boundaries, expiry, grace and closing (final results exactly
//! once, also after a restart), late events and their policies, sliding
//! windows, processing time, and reads (`current`, `delta`, `at`,
//! `windows`).
//!
//! Times: the driver's virtual clock starts at 2025-01-01T00:00:00Z, a
//! whole minute, so windows of the virtual clock's records start at
//! virtual time 0. Records with a timestamp field (`At`) carry their own
//! event time instead.

use std::sync::Mutex;
use std::time::Duration;

use faust::prelude::*;
use faust::testing::TestDriver;
use faust::window::{Window, WindowClosed, WindowedTable};

/// 2025-01-01T00:00:00Z, the virtual clock's zero, in ms.
const T0: i64 = 1_735_689_600_000;

fn secs(s: i64) -> i64 {
    T0 + s * 1000
}

fn window(from_s: i64, to_s: i64) -> Window {
    Window {
        start: secs(from_s),
        end: secs(to_s),
    }
}

/// A page view carrying its own event time (ms).
#[record(timestamp = "at")]
#[derive(Debug, Clone, PartialEq)]
struct At {
    page: String,
    at: i64,
}

fn at(page: &str, s: i64) -> At {
    At {
        page: page.into(),
        at: secs(s),
    }
}

// ------------------------------------------------------------- tumbling

#[table(name = "per-minute", default, tumbling = "1m", expires = "1h")]
static PER_MINUTE: WindowedTable<String, u64>;

#[agent(topic = "minute-views")]
async fn count_per_minute(page: String) -> Result<()> {
    PER_MINUTE.update(&page, |n| *n += 1)?;
    Ok(())
}

fn per_minute() -> TestDriver {
    TestDriver::with_app(
        App::bare("windows-tumbling")
            .table(&PER_MINUTE)
            .agent(&count_per_minute::AGENT),
    )
}

#[tokio::test]
async fn tumbling_counts_split_at_the_minute_the_end_belonging_to_the_next_window() {
    let mut t = per_minute();
    t.send("minute-views", "home", "home").await;
    t.send("minute-views", "home", "home").await;
    t.advance(Duration::from_millis(59_999)).await.unwrap();
    t.send("minute-views", "home", "home").await; // last ms of the first minute
    t.advance(Duration::from_millis(1)).await.unwrap();
    t.send("minute-views", "home", "home").await; // first ms of the second
    t.run_until_idle().await.unwrap();
    assert_eq!(
        t.table(&PER_MINUTE).get("home"),
        Some(vec![(window(0, 60), 3), (window(60, 120), 1)])
    );
}

// -------------------------------------------------------------- hopping

#[table(
    name = "hopping",
    default,
    hopping(size = "10s", step = "5s"),
    expires = "1m"
)]
static HOPPING: WindowedTable<String, u64>;

#[agent(topic = "hop-views")]
async fn count_hopping(view: At) -> Result<()> {
    HOPPING.update(&view.page, |n| *n += 1)?;
    Ok(())
}

#[tokio::test]
async fn a_hopping_event_counts_in_each_window_that_holds_it() {
    let mut t = TestDriver::with_app(
        App::bare("windows-hopping")
            .table(&HOPPING)
            .agent(&count_hopping::AGENT),
    );
    for s in [2, 7, 12] {
        t.send("hop-views", "p", at("p", s)).await;
    }
    // Exactly on a boundary: 10 s is in [5, 15) and [10, 20), not [0, 10).
    t.send("hop-views", "p", at("p", 10)).await;
    t.run_until_idle().await.unwrap();
    assert_eq!(
        t.table(&HOPPING).get("p"),
        Some(vec![
            (window(-5, 5), 1),  // 2
            (window(0, 10), 2),  // 2, 7
            (window(5, 15), 3),  // 7, 12, 10
            (window(10, 20), 2), // 12, 10
        ])
    );
}

// -------------------------------------------- closing, grace, final results

/// The two tests of `FINAL` share its hooks' lists: one at a time.
static FINAL_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// Windows that closed, as `on_window_close` saw them.
static CLOSED: Mutex<Vec<(String, Window, u64)>> = Mutex::new(Vec::new());
/// Late events, as `on_late` saw them: key and event time.
static LATE: Mutex<Vec<(String, i64)>> = Mutex::new(Vec::new());

async fn closed(page: String, window: Window, count: u64) -> Result<()> {
    CLOSED.lock().unwrap().push((page, window, count));
    Ok(())
}

async fn late(page: String, at: i64) -> Result<()> {
    LATE.lock().unwrap().push((page, at));
    Ok(())
}

#[table(
    name = "final",
    default,
    tumbling = "10s",
    grace = "5s",
    expires = "1m",
    on_window_close = closed,
    on_late = late,
    emit_closed = "final-closed"
)]
static FINAL: WindowedTable<String, u64>;

#[agent(topic = "final-views")]
async fn count_final(view: At) -> Result<()> {
    FINAL.update(&view.page, |n| *n += 1)?;
    Ok(())
}

fn final_driver() -> TestDriver {
    CLOSED.lock().unwrap().clear();
    LATE.lock().unwrap().clear();
    TestDriver::with_app(
        App::bare("windows-final")
            .topic_partitions(1)
            .table(&FINAL)
            .agent(&count_final::AGENT),
    )
}

#[tokio::test]
async fn a_window_closes_once_after_its_grace_and_late_events_change_nothing() {
    let _one_at_a_time = FINAL_TESTS.lock().await;
    let mut t = final_driver();
    // Created at start, like a sink (a broker that creates no topic on
    // first use would refuse the first closed window otherwise).
    assert!(t.broker().topics().contains(&"final-closed".to_owned()));
    t.send("final-views", "a", at("a", 1)).await;
    t.send("final-views", "a", at("a", 3)).await;
    // Stream time 12 s: [0, 10) ended, but its grace runs to 15 s.
    t.send("final-views", "a", at("a", 12)).await;
    // Still in grace: counted in [0, 10).
    t.send("final-views", "a", at("a", 9)).await;
    t.run_until_idle().await.unwrap();
    assert!(CLOSED.lock().unwrap().is_empty(), "closed before its grace");

    // Stream time 15 s: [0, 10) closes, with its final count.
    t.send("final-views", "b", at("b", 15)).await;
    t.run_until_idle().await.unwrap();
    assert_eq!(
        *CLOSED.lock().unwrap(),
        [("a".to_owned(), window(0, 10), 3)]
    );
    t.topic::<WindowClosed<u64>>("final-closed")
        .assert_values(&[WindowClosed {
            start: secs(0),
            end: secs(10),
            value: 3,
        }]);
    assert_eq!(
        t.topic::<WindowClosed<u64>>("final-closed").keys(),
        [Some("a")]
    );

    // An event for the closed window is late: on_late, and nothing moves.
    t.send("final-views", "a", at("a", 8)).await;
    // Later events close nothing twice.
    t.send("final-views", "b", at("b", 19)).await;
    t.run_until_idle().await.unwrap();
    assert_eq!(*LATE.lock().unwrap(), [("a".to_owned(), secs(8))]);
    assert_eq!(
        CLOSED.lock().unwrap().len(),
        1,
        "{:?}",
        CLOSED.lock().unwrap()
    );
    assert_eq!(
        t.table(&FINAL).get("a"),
        Some(vec![(window(0, 10), 3), (window(10, 20), 1)])
    );
    // The late event was dropped (the default policy), and committed.
    assert_eq!(t.committed("final-views", 0), Some(7));

    // [10, 20) closes at 25 s: "a" with 1, "b" with 2.
    t.send("final-views", "b", at("b", 25)).await;
    t.run_until_idle().await.unwrap();
    let mut closed = CLOSED.lock().unwrap().clone();
    closed.sort();
    assert_eq!(
        closed,
        [
            ("a".to_owned(), window(0, 10), 3),
            ("a".to_owned(), window(10, 20), 1),
            ("b".to_owned(), window(10, 20), 2),
        ]
    );
    t.topic::<WindowClosed<u64>>("final-closed").assert_len(3);
}

#[tokio::test]
async fn a_restart_does_not_close_a_window_again() {
    let _one_at_a_time = FINAL_TESTS.lock().await;
    let mut t = final_driver();
    t.send("final-views", "a", at("a", 1)).await;
    t.send("final-views", "a", at("a", 15)).await; // closes [0, 10)
    t.run_until_idle().await.unwrap();
    assert_eq!(CLOSED.lock().unwrap().len(), 1);
    t.restart().await.unwrap();
    t.send("final-views", "a", at("a", 16)).await;
    t.send("final-views", "a", at("a", 5)).await; // still late after the restart
    t.run_until_idle().await.unwrap();
    assert_eq!(
        *CLOSED.lock().unwrap(),
        [("a".to_owned(), window(0, 10), 1)],
        "closed once"
    );
    assert_eq!(*LATE.lock().unwrap(), [("a".to_owned(), secs(5))]);
    assert_eq!(
        t.table(&FINAL).get("a"),
        Some(vec![(window(0, 10), 1), (window(10, 20), 2)])
    );
}

// --------------------------------------------------------------- expiry

#[table(name = "short-lived", default, tumbling = "10s", expires = "30s")]
static SHORT_LIVED: WindowedTable<String, u64>;

#[agent(topic = "short-views")]
async fn count_short(view: At) -> Result<()> {
    SHORT_LIVED.update(&view.page, |n| *n += 1)?;
    Ok(())
}

#[tokio::test]
async fn an_expired_window_leaves_the_store_with_a_tombstone_in_the_changelog() {
    expiry(App::bare("windows-expiry")).await;
}

#[tokio::test]
async fn an_expired_window_leaves_a_rocksdb_store_too() {
    let dir = std::env::temp_dir().join(format!("faust-rs-windows-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    expiry(App::bare("windows-expiry").store(format!("rocksdb://{}", dir.display()))).await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn expiry(app: App) {
    let mut t = TestDriver::with_app(
        app.topic_partitions(1)
            .table(&SHORT_LIVED)
            .agent(&count_short::AGENT),
    );
    t.send("short-views", "a", at("a", 1)).await;
    // Stream time 39 s: [0, 10) ends + 30 s = 40 s, not yet.
    t.send("short-views", "a", at("a", 39)).await;
    t.run_until_idle().await.unwrap();
    assert_eq!(
        t.table(&SHORT_LIVED).get("a"),
        Some(vec![(window(0, 10), 1), (window(30, 40), 1)])
    );
    t.send("short-views", "a", at("a", 40)).await;
    t.run_until_idle().await.unwrap();
    assert_eq!(
        t.table(&SHORT_LIVED).get("a"),
        Some(vec![(window(30, 40), 1), (window(40, 50), 1)])
    );
    let changelog = t.records("windows-expiry-short-lived-changelog");
    let tombstones = changelog.iter().filter(|r| r.value.is_none()).count();
    assert_eq!(tombstones, 1, "{changelog:#?}");
    // An event for the expired window is late (grace defaults to expires).
    t.send("short-views", "a", at("a", 2)).await;
    t.run_until_idle().await.unwrap();
    assert_eq!(t.table(&SHORT_LIVED).len(), 2);
    // After a restart the table is what the changelog says.
    t.restart().await.unwrap();
    assert_eq!(
        t.table(&SHORT_LIVED).get("a"),
        Some(vec![(window(30, 40), 1), (window(40, 50), 1)])
    );
}

// ------------------------------------------------ late events, dead letters

#[table(name = "strict", default, tumbling = "10s", late = "dead_letter")]
static STRICT: WindowedTable<String, u64>;

#[agent(topic = "strict-views", dead_letter = "strict-dlq")]
async fn count_strict(view: At) -> Result<()> {
    STRICT.update(&view.page, |n| *n += 1)?;
    Ok(())
}

#[tokio::test]
async fn a_late_event_goes_to_the_dead_letter_topic_when_the_table_says_so() {
    let mut t = TestDriver::with_app(
        App::bare("windows-late")
            .topic_partitions(1)
            .table(&STRICT)
            .agent(&count_strict::AGENT),
    );
    t.send("strict-views", "a", at("a", 3)).await;
    t.send("strict-views", "a", at("a", 10)).await; // no grace: [0, 10) closes
    t.send("strict-views", "a", at("a", 9)).await; // late
    t.send("strict-views", "a", at("a", 11)).await; // on time
    t.run_until_idle().await.unwrap();
    let dead = t.dead_letters("strict-dlq");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].kind(), "late");
    assert_eq!(dead[0].source().2, 2, "the late event's offset");
    assert!(
        dead[0].error().contains("late for table `strict`"),
        "{}",
        dead[0].error()
    );
    assert_eq!(
        t.table(&STRICT).get("a"),
        Some(vec![(window(0, 10), 1), (window(10, 20), 2)])
    );
    assert_eq!(t.committed("strict-views", 0), Some(4));
}

// -------------------------------------------------------------- sliding

#[table(name = "around", default, sliding(before = "5s", after = "2s"))]
static AROUND: WindowedTable<String, u64>;

#[agent(topic = "around-views")]
async fn count_around(view: At) -> Result<()> {
    AROUND.update(&view.page, |n| *n += 1)?;
    Ok(())
}

#[tokio::test]
async fn a_sliding_window_surrounds_each_event_time_as_in_faust() {
    let mut t = TestDriver::with_app(
        App::bare("windows-sliding")
            .table(&AROUND)
            .agent(&count_around::AGENT),
    );
    t.send("around-views", "p", at("p", 10)).await;
    t.send("around-views", "p", at("p", 10)).await;
    t.send("around-views", "p", at("p", 11)).await;
    t.run_until_idle().await.unwrap();
    let inclusive = |from_s, to_s| Window {
        start: secs(from_s),
        end: secs(to_s) + 1,
    };
    assert_eq!(
        t.table(&AROUND).get("p"),
        Some(vec![(inclusive(5, 12), 2), (inclusive(6, 13), 1)])
    );
}

// ------------------------------------------------------ processing time

#[table(
    name = "by-clock",
    default,
    tumbling = "10s",
    time = "processing",
    emit_closed = "by-clock-closed"
)]
static BY_CLOCK: WindowedTable<String, u64>;

#[agent(topic = "clock-views")]
async fn count_by_clock(view: At) -> Result<()> {
    // The record's own time is ignored: the table follows the clock.
    BY_CLOCK.update(&view.page, |n| *n += 1)?;
    Ok(())
}

#[tokio::test]
async fn processing_time_windows_follow_the_clock_and_close_as_it_passes() {
    let mut t = TestDriver::with_app(
        App::bare("windows-processing")
            .table(&BY_CLOCK)
            .agent(&count_by_clock::AGENT),
    );
    t.advance(Duration::from_secs(3)).await.unwrap();
    t.send("clock-views", "p", at("p", 500)).await;
    t.send("clock-views", "p", at("p", -500)).await;
    t.run_until_idle().await.unwrap();
    assert_eq!(t.table(&BY_CLOCK).get("p"), Some(vec![(window(0, 10), 2)]));
    assert!(t.records("by-clock-closed").is_empty());
    // No event comes, but the clock passes the window's end.
    t.advance(Duration::from_secs(8)).await.unwrap();
    t.topic::<WindowClosed<u64>>("by-clock-closed")
        .assert_values(&[WindowClosed {
            start: secs(0),
            end: secs(10),
            value: 2,
        }]);
}

// -------------------------------------------------------------- reads

#[table(name = "reads", default, tumbling = "10s")]
static READS: WindowedTable<String, u64>;

/// What an agent reads after each update: (current, delta 10 s, at 5 s,
/// number of windows).
#[record]
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    current: Option<u64>,
    previous: Option<u64>,
    first: Option<u64>,
    windows: usize,
}

#[agent(topic = "read-views", sink = "read-seen")]
async fn read_back(view: At) -> Result<Seen> {
    let updated = READS.update(&view.page, |n| *n += 1)?;
    let set = READS.key(&view.page);
    let seen = Seen {
        current: set.current()?,
        previous: set.delta(Duration::from_secs(10))?,
        first: set.at(secs(5))?,
        windows: set.windows()?.len(),
    };
    assert_eq!(
        updated, seen.current,
        "update returns the current window's value"
    );
    Ok(seen)
}

#[tokio::test]
async fn an_agent_reads_the_current_window_the_one_before_and_any_by_time() {
    let mut t = TestDriver::with_app(
        App::bare("windows-reads")
            .table(&READS)
            .agent(&read_back::AGENT),
    );
    for s in [1, 2, 13] {
        t.send("read-views", "p", at("p", s)).await;
    }
    t.run_until_idle().await.unwrap();
    t.topic::<Seen>("read-seen").assert_values(&[
        Seen {
            current: Some(1),
            previous: None,
            first: Some(1),
            windows: 1,
        },
        Seen {
            current: Some(2),
            previous: None,
            first: Some(2),
            windows: 1,
        },
        Seen {
            current: Some(1),
            previous: Some(2),
            first: Some(2),
            windows: 2,
        },
    ]);
}
