//! Real-broker suite for stream operators and leader timers: the
//! `stream_worker` binary (`src/bin/stream_worker.rs`) against a
//! Kafka-protocol broker on loopback.
//!
//! * `group_by` across 4 partitions: two workers in one group count views
//!   per page exactly as one worker does (and as the input says);
//! * a leader-only timer runs on exactly one of two workers, and moves to
//!   the other when that one is killed;
//! * a tumbling windowed count over the Kafka protocol: each window's
//!   final count comes out once, right, after the stream time passed it.
//!
//! Enabled by `FAUST_TEST_BROKER=127.0.0.1:PORT` (see `real_broker.rs`);
//! `.ci/run` runs it against Tansu with its SQLite engine.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    Reader, SESSION_TIMEOUT, TaggedProducer, WorkerProcess, broker, create_topic, group_offsets,
    log_dir, log_tails, nudge_group,
};

const PARTITIONS: i32 = 4;

/// One test's names: app id, topics, log folder.
struct Names {
    /// Milliseconds since the epoch when the test started.
    unique: i64,
    test: String,
    suffix: String,
    app: String,
    input: String,
    ticks: String,
}

impl Names {
    fn new(test: &str) -> Names {
        let unique = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let suffix = format!("-{test}-{unique}-{}", std::process::id());
        Names {
            unique: unique as i64,
            test: test.to_owned(),
            app: format!("streams{suffix}"),
            input: format!("views-in{suffix}"),
            ticks: format!("leader-ticks{suffix}"),
            suffix,
        }
    }

    fn worker(&self, bootstrap: &str, app: &str, label: &str) -> WorkerProcess {
        let log = log_dir().join(format!("{app}-{label}.log"));
        let env: Vec<(String, String)> = vec![
            ("STREAM_APP".into(), app.to_owned()),
            ("STREAM_SUFFIX".into(), self.suffix.clone()),
            ("STREAM_WORKER".into(), label.to_owned()),
            ("FAUST_CONSUMER__CLIENT_ID".into(), label.to_owned()),
        ];
        let worker = WorkerProcess::start(
            env!("CARGO_BIN_EXE_stream_worker"),
            bootstrap,
            label,
            log,
            &env,
        );
        println!(
            "{}: started {label} of {app} (pid {}), log {}",
            self.test,
            worker.pid(),
            worker.log.display()
        );
        worker
    }
}

/// Fails the test with the workers' last log lines.
fn fail(test: &str, workers: &[&WorkerProcess], what: &str) -> ! {
    panic!("{test}: {what}{}", log_tails(workers.iter().copied(), 15));
}

/// Polls `done` every 200 ms until it says so, or fails after `within`.
fn wait(
    test: &str,
    workers: &[&WorkerProcess],
    what: &str,
    within: Duration,
    mut done: impl FnMut() -> Result<(), String>,
) {
    let start = Instant::now();
    loop {
        match done() {
            Ok(()) => return,
            Err(missing) if start.elapsed() > within => fail(
                test,
                workers,
                &format!("waiting for {what} ({within:?}): {missing}"),
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Whether `group` has committed every record of `topic`.
fn all_committed(bootstrap: &str, group: &str, topic: &str) -> Result<(), String> {
    let offsets = group_offsets(bootstrap, group, topic);
    let behind: Vec<String> = offsets
        .iter()
        .filter(|(_, at, end)| *at != Some(*end) && *end > 0)
        .map(|(p, at, end)| format!("{topic}[{p}] at {at:?} of {end}"))
        .collect();
    if offsets.is_empty() {
        return Err(format!("{topic} not there yet"));
    }
    if behind.is_empty() {
        Ok(())
    } else {
        Err(behind.join(", "))
    }
}

/// The last value of each key of `topic` (a changelog), as text.
fn last_values(bootstrap: &str, topic: &str, test: &str) -> HashMap<String, String> {
    let reader = Reader::try_open(bootstrap, topic, test)
        .unwrap_or_else(|| panic!("{test}: cannot open {topic}"));
    let mut last = HashMap::new();
    while reader.read(Duration::from_secs(2), |r| {
        if let Some(value) = r.value.as_ref() {
            let value = faust::table::changelog_value(value);
            last.insert(r.key_str(), String::from_utf8_lossy(value).into_owned());
        }
    }) > 0
    {}
    last
}

#[test]
fn group_by_with_two_workers_counts_what_one_worker_counts() {
    let Some(bootstrap) = broker() else { return };
    let names = Names::new("g");
    create_topic(&bootstrap, &names.input, PARTITIONS, &[]);
    let pages = [
        "/home", "/cart", "/help", "/about", "/shop", "/news", "/faq",
    ];
    let users = 40;
    const EVENTS: usize = 8_000;

    let one = format!("{}-one", names.app);
    let two = format!("{}-two", names.app);
    // Both groups read the same input; the two-worker group gets going
    // (both members holding partitions) before any input is there, so
    // its counts do not depend on a rebalance mid-stream.
    let mut a = names.worker(&bootstrap, &two, "A");
    let mut b = names.worker(&bootstrap, &two, "B");
    wait(
        &names.test,
        &[&a, &b],
        "both workers to own partitions",
        Duration::from_secs(120),
        || {
            let owns = |w: &WorkerProcess| {
                let log = w.log_text();
                let last = log.lines().rev().find(|l| {
                    l.contains("partitions assigned: ") || l.contains("partitions revoked: ")
                });
                last.is_some_and(|l| l.contains("assigned") && l.contains(&names.input))
            };
            if owns(&a) && owns(&b) {
                Ok(())
            } else {
                Err("not yet".into())
            }
        },
    );
    let mut input = TaggedProducer::new(&bootstrap, &names.input);
    let mut truth: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..EVENTS {
        let user = format!("u{}", (i * 7919) % users);
        let page = pages[(i * 31 + i / 7) % pages.len()];
        *truth.entry(page.to_owned()).or_default() += 1;
        let value = format!("{{\"user\":\"{user}\",\"page\":\"{page}\"}}");
        let partition = (i % PARTITIONS as usize) as i32;
        input.send(partition, Some(user.as_bytes()), Some(value.as_bytes()));
    }
    input.flush().unwrap_or_else(|e| panic!("{e}"));
    let mut solo = names.worker(&bootstrap, &one, "solo");

    let repartition_of = |app: &str| format!("{app}-count_pages-page-of-repartition");
    for (app, workers) in [(&one, vec![&solo]), (&two, vec![&a, &b])] {
        let through = repartition_of(app);
        wait(
            &names.test,
            &workers,
            &format!("{app} to commit everything"),
            Duration::from_secs(300),
            || {
                all_committed(&bootstrap, app, &names.input)?;
                all_committed(&bootstrap, app, &through)
            },
        );
    }
    let counts = |app: &str| -> BTreeMap<String, u64> {
        let changelog = format!("{app}-page-counts-changelog");
        last_values(&bootstrap, &changelog, &names.test)
            .into_iter()
            .map(|(k, v)| {
                (
                    k.trim_matches('"').to_owned(),
                    v.parse::<u64>().unwrap_or(0),
                )
            })
            .collect()
    };
    let by_one = counts(&one);
    let by_two = counts(&two);
    if by_one != truth || by_two != truth {
        fail(
            &names.test,
            &[&solo, &a, &b],
            &format!(
                "counts differ:\n  input   {truth:?}\n  1 worker {by_one:?}\n  2 workers {by_two:?}"
            ),
        );
    }
    // Both workers of the second group counted.
    let counted = |w: &WorkerProcess| w.log_text().contains("partitions assigned");
    assert!(counted(&a) && counted(&b));
    println!(
        "g: {EVENTS} views over {} pages, keyed by user: one worker and two workers both \
         counted {truth:?}",
        pages.len()
    );
    for w in [&mut solo, &mut a, &mut b] {
        w.terminate(Duration::from_secs(30));
    }
}

#[test]
fn a_leader_timer_runs_on_one_of_two_workers_and_moves_when_it_dies() {
    let Some(bootstrap) = broker() else { return };
    let names = Names::new("l");
    create_topic(&bootstrap, &names.input, PARTITIONS, &[]);
    create_topic(&bootstrap, &names.ticks, 1, &[]);
    let mut a = names.worker(&bootstrap, &names.app, "A");
    let mut b = names.worker(&bootstrap, &names.app, "B");
    let ticks = Reader::try_open(&bootstrap, &names.ticks, &names.test).expect("ticks topic");
    let mut seen: Vec<(String, Instant)> = Vec::new();
    let read = |seen: &mut Vec<(String, Instant)>| {
        ticks.read(Duration::from_millis(200), |r| {
            seen.push((r.value_str(), Instant::now()))
        });
    };
    // Both in the group, then 5 s of ticks: all from one worker.
    wait(
        &names.test,
        &[&a, &b],
        "both workers in the group",
        Duration::from_secs(120),
        || {
            let joined = |w: &WorkerProcess| w.log_text().contains("partitions assigned");
            if joined(&a) && joined(&b) {
                Ok(())
            } else {
                Err("not yet".into())
            }
        },
    );
    let settled = Instant::now() + Duration::from_secs(3);
    while Instant::now() < settled {
        read(&mut seen);
    }
    let window_start = Instant::now();
    while window_start.elapsed() < Duration::from_secs(5) {
        read(&mut seen);
    }
    let steady: Vec<&str> = seen
        .iter()
        .filter(|(_, at)| *at >= window_start)
        .map(|(label, _)| label.as_str())
        .collect();
    let leaders: std::collections::BTreeSet<&str> = steady.iter().copied().collect();
    if leaders.len() != 1 || steady.len() < 5 {
        fail(
            &names.test,
            &[&a, &b],
            &format!("5 s of ticks should come from one worker: {steady:?}"),
        );
    }
    let leader = leaders.into_iter().next().unwrap_or_default().to_owned();
    let (dead, survivor) = if leader == "A" {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    dead.kill();
    let killed = Instant::now();
    println!("l: {leader} led ({} ticks in 5 s); killed it", steady.len());

    // The survivor takes the lead once the dead member's session expires.
    let mut nudged = false;
    let survivor_label = survivor.label.clone();
    loop {
        read(&mut seen);
        if seen
            .iter()
            .any(|(l, at)| *l == survivor_label && *at > killed)
        {
            break;
        }
        if !nudged && killed.elapsed() > SESSION_TIMEOUT * 4 {
            // Tansu's stale SyncGroup (see `nudge_group`).
            println!(
                "l: no new leader after {:?}; nudging the group",
                killed.elapsed()
            );
            nudge_group(&bootstrap, &names.app, &names.input);
            nudged = true;
        }
        if killed.elapsed() > Duration::from_secs(180) {
            fail(&names.test, &[survivor], "the survivor never took the lead");
        }
    }
    let took = killed.elapsed();
    let after = Instant::now();
    while after.elapsed() < Duration::from_secs(3) {
        read(&mut seen);
    }
    let late: Vec<&str> = seen
        .iter()
        .filter(|(_, at)| *at > after)
        .map(|(l, _)| l.as_str())
        .collect();
    assert!(
        !late.is_empty() && late.iter().all(|l| *l == survivor_label),
        "only the survivor ticks now: {late:?}"
    );
    println!(
        "l: {survivor_label} took the lead {took:.1?} after {leader} was killed (session timeout \
         {SESSION_TIMEOUT:?}){}",
        if nudged { ", after a nudge" } else { "" }
    );
    survivor.terminate(Duration::from_secs(30));
}

#[test]
fn each_closed_window_comes_out_once_with_its_final_count() {
    let Some(bootstrap) = broker() else { return };
    let names = Names::new("w");
    create_topic(&bootstrap, &names.input, PARTITIONS, &[]);
    // This test's windows: 10 s windows from a base no other run uses
    // (runs a second apart are 100 s apart here; a run spans 60 s).
    let base = names.unique * 100 - (names.unique * 100) % 10_000;
    let pages = ["/a", "/b", "/c"];
    let mut input = TaggedProducer::new(&bootstrap, &names.input);
    let mut truth: BTreeMap<(String, i64), u64> = BTreeMap::new();
    let send = |input: &mut TaggedProducer, i: usize, page: &str, at: i64| {
        let user = format!("u{}", i % 13);
        let value = format!("{{\"user\":\"{user}\",\"page\":\"{page}\",\"at\":{at}}}");
        input.send(
            (i % PARTITIONS as usize) as i32,
            Some(user.as_bytes()),
            Some(value.as_bytes()),
        );
    };
    // 30 s of views, in time order, into three windows.
    for i in 0..3_000usize {
        let at = base + (i as i64) * 10;
        let page = pages[(i % 3 + (i / 1000) % 2 * (i % 2)) % 3];
        *truth
            .entry((page.to_owned(), at - at % 10_000))
            .or_default() += 1;
        send(&mut input, i, page, at);
    }
    input.flush().unwrap_or_else(|e| panic!("{e}"));
    let mut solo = names.worker(&bootstrap, &names.app, "solo");
    let through = format!("{}-count_pages-page-of-repartition", names.app);
    let all_done = || {
        all_committed(&bootstrap, &names.app, &names.input)?;
        all_committed(&bootstrap, &names.app, &through)
    };
    wait(
        &names.test,
        &[&solo],
        "the views committed",
        Duration::from_secs(300),
        all_done,
    );
    // Then, time moves on: one view per page well after, so every page's
    // partition passes the three windows and their 30 s grace (they close;
    // the later one stays open). Sent with the others, it could overtake
    // them on the way through the repartition topic and make them late.
    for (j, page) in pages.iter().enumerate() {
        send(&mut input, 3_000 + j, page, base + 60_000);
    }
    input.flush().unwrap_or_else(|e| panic!("{e}"));
    wait(
        &names.test,
        &[&solo],
        "the last views committed",
        Duration::from_secs(120),
        all_done,
    );
    let mut closed: BTreeMap<(String, i64), Vec<u64>> = BTreeMap::new();
    let reader = Reader::try_open(&bootstrap, "page-windows-closed", &names.test)
        .unwrap_or_else(|| fail(&names.test, &[&solo], "no page-windows-closed topic"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        reader.read(Duration::from_secs(1), |r| {
            let body: serde_json::Value =
                serde_json::from_slice(r.value.as_deref().unwrap_or_default()).unwrap_or_default();
            let start = body["start"].as_i64().unwrap_or_default();
            if start >= base && start < base + 60_000 {
                let page = r.key_str().trim_matches('"').to_owned();
                closed
                    .entry((page, start))
                    .or_default()
                    .push(body["value"].as_u64().unwrap_or(0));
            }
        });
        if closed.len() >= truth.len() || Instant::now() > deadline {
            break;
        }
    }
    let once: BTreeMap<(String, i64), u64> = closed
        .iter()
        .filter(|(_, counts)| counts.len() == 1)
        .map(|(k, counts)| (k.clone(), counts[0]))
        .collect();
    if once != truth || closed.len() != truth.len() {
        fail(
            &names.test,
            &[&solo],
            &format!("closed windows {closed:?}, want each once: {truth:?}"),
        );
    }
    println!(
        "w: 3,003 views over {} page windows of 10 s: each closed once with its count",
        truth.len()
    );
    solo.terminate(Duration::from_secs(30));
}
