//! Real-broker suite for tables: the counting worker
//! (`src/bin/table_worker.rs`) against a Kafka-protocol broker on
//! loopback, killed, restarted and scaled out, checked with plain rdkafka
//! clients and the worker's own CLI (`tables`, `table get`).
//!
//! Enabled by `FAUST_TEST_BROKER=127.0.0.1:PORT`; without it each test
//! prints "skipped" and passes. `.ci/run` starts Tansu (SQLite engine, the
//! one that keeps fetch offsets right and compacts; see
//! `../shared/BROKERS.md`) and runs:
//!
//! ```text
//! bash scripts/tansu start /tmp/tansu 19092 sqlite
//! FAUST_TEST_BROKER=127.0.0.1:19092 cargo test --workspace --test real_broker_tables \
//!     -- --test-threads=1 --nocapture
//! bash scripts/tansu stop /tmp/tansu
//! ```
//!
//! Each test has its own input topic, app id (so consumer group and
//! changelog `<app id>-counts-changelog`) and RocksDB folders. Every event
//! the worker handles writes exactly one changelog record, to the changelog
//! partition of the event's partition, so:
//!
//! * the number of changelog records minus the number of input events is
//!   the number of events handled twice whose both writes reached the
//!   broker (at least once: the events after the last committed offset
//!   when a worker died);
//! * with one worker, the changelog of partition `p` is the input keys of
//!   `p` in order, resumed at the committed offset after a crash: the tests
//!   line them up record by record.
//!
//! Tansu 0.6 (SQLite engine) quirks the suite works around:
//!
//! * DescribeGroups fails (the broker drops the connection), so which
//!   worker owns which partitions is read from the workers' logs;
//! * after a member's session times out (a heartbeat answered late by a
//!   loaded broker is enough), librdkafka rejoins under a new member id and
//!   Tansu can answer SyncGroup with the previous generation's assignment,
//!   leaving partitions with no owner for good: the single-worker tests use
//!   a 20 s session;
//! * a new member must not join while a dead leader expires (see
//!   `real_broker.rs`): a restart after SIGKILL waits out the session.
//! * every 10 minutes (and when it starts) it compacts the log of every
//!   compacted topic in one SQLite statement, serving nothing meanwhile;
//!   on a log grown by the whole suite that takes tens of seconds. Each
//!   test here runs on a broker of its own (`OwnBroker`: a fresh SQLite
//!   file, a free port) so its log holds its own records only.
//!
//! Waits are bounded (no progress for a while, or an overall deadline) and
//! name what is missing. Worker logs and stores live under
//! `$TMPDIR/faust-rs-real-broker/`, kept when a test fails, deleted when it
//! passes; `FAUST_TEST_WORKER_LOGLEVEL` sets the workers' log level.

mod common;

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    OwnBroker, Reader, SESSION_TIMEOUT, TaggedProducer, WorkerProcess, admin, block_on,
    create_topic, describe_group, end_offsets, exited_workers, group_offsets, log_dir, log_tails,
    reader_config, splitmix, wait_for_topic,
};
use rdkafka::admin::{AdminOptions, ResourceSpecifier};
use rdkafka::consumer::BaseConsumer;

/// Partitions of the input topic and of the table (`partitions = 4`).
const PARTITIONS: i32 = 4;
/// The table the worker counts into.
const TABLE: &str = "counts";
/// Worker settings for a small at-least-once window: commits every 200 ms,
/// changelog records sent in batches of at most 1,000, and a producer queue
/// (2,000 records) smaller than what an agent may have in flight (4,096),
/// so the producer's overflow line (records kept in send order while
/// librdkafka's queue is full) is in use for most of the run.
const SMALL_WINDOW: &[(&str, &str)] = &[
    ("FAUST_COMMIT_INTERVAL", "200ms"),
    ("FAUST_PRODUCER__BATCH_NUM_MESSAGES", "1000"),
    ("FAUST_PRODUCER__QUEUE_BUFFERING_MAX_MESSAGES", "2000"),
];
/// [`SMALL_WINDOW`] with at-least-once tables (`exact_state = false`):
/// the test of the at-least-once bound.
const SMALL_WINDOW_AT_LEAST_ONCE: &[(&str, &str)] = &[
    ("FAUST_EXACT_STATE", "false"),
    ("FAUST_COMMIT_INTERVAL", "200ms"),
    ("FAUST_PRODUCER__BATCH_NUM_MESSAGES", "1000"),
    ("FAUST_PRODUCER__QUEUE_BUFFERING_MAX_MESSAGES", "2000"),
];
/// The session timeout of the single-worker tests.
const LONG_SESSION: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------- tests

#[test]
fn a_worker_killed_halfway_through_200k_events_restarts_from_its_rocksdb_store_and_loses_no_count()
{
    // A broker of its own: a fresh SQLite log (see the module docs).
    let Some(own) = OwnBroker::start("tables-halfway") else {
        return;
    };
    let bootstrap = own.bootstrap();
    const EVENTS: u64 = 200_000;
    const KEYS: u32 = 2_000;
    let started = Instant::now();
    // A long session: a heartbeat the loaded broker answers late must not
    // cost the worker its partitions (see the module docs).
    let mut run = TableRun::new(&bootstrap, "a", KEYS, LONG_SESSION);
    // All the input first: the broker is not writing it while the worker
    // runs.
    let produce = Instant::now();
    run.produce(EVENTS);
    let produce_time = produce.elapsed();
    // The events handled again after the kill are those not committed:
    // those acked since the last commit (200 ms here), and those whose
    // changelog records the broker had not acknowledged (at most
    // 2 × `queue_capacity`, 8,192: the agent waits for the broker when it
    // is that far ahead).
    run.start_worker("w1", "w1", SMALL_WINDOW_AT_LEAST_ONCE);

    // SIGKILL once about half the events are counted.
    run.wait(
        "the changelog to reach half the input",
        Duration::from_secs(600),
        |run| {
            let written: i64 = run.changelog_ends().iter().sum();
            if written as u64 >= EVENTS / 2 {
                Ok(())
            } else {
                Err(format!("{written} changelog records so far"))
            }
        },
    );
    run.workers[0].kill();
    println!(
        "a: SIGKILL after {:.1?} (producing {EVENTS} events took {produce_time:.1?})",
        started.elapsed()
    );

    let killed = Instant::now();

    // The dead member must leave the group before a new one joins: Tansu
    // 0.6 gives a member that joins while a dead leader expires no
    // partitions, and never asks it to rejoin (see real_broker.rs). Its
    // SQLite engine cannot describe groups, so there is no membership to
    // poll: wait out the session. Nothing writes meanwhile, so the offsets
    // read then are those of the kill.
    std::thread::sleep((run.session + Duration::from_secs(1)).saturating_sub(killed.elapsed()));
    let killed_committed = run.committed_input();
    let killed_written = run.changelog_ends();
    let at_kill: i64 = killed_written.iter().sum();
    let committed_sum: i64 = killed_committed.iter().sum();
    println!(
        "a: at the kill: input committed {killed_committed:?} ({committed_sum}), changelog ends \
         {killed_written:?} ({at_kill})"
    );

    let restart = Instant::now();
    let w2 = run.start_worker("w2", "w1", SMALL_WINDOW_AT_LEAST_ONCE);
    run.wait_all_committed(Duration::from_secs(60), Duration::from_secs(900));
    let finished = restart.elapsed();

    // The one recovery of w2: the changelog tail past what RocksDB stored.
    let recovery = run.recoveries(w2, 0);
    let recovered: u64 = recovery.iter().map(|r| r.records).sum();
    if recovered as i64 >= at_kill {
        run.fail(&format!(
            "w2 read {recovered} changelog records at start, the whole changelog ({at_kill}): \
             the RocksDB store was not used ({recovery:?})"
        ));
    }

    // The changelog, record by record, against the input.
    let input = run.input_by_partition();
    let changelog = run.read_changelog(Duration::from_secs(60));
    let mut extras: HashMap<String, u64> = HashMap::new();
    let mut errors = Vec::new();
    for p in 0..PARTITIONS as usize {
        check_partition_log(
            p,
            &input[p],
            &changelog[p],
            killed_written[p],
            killed_committed[p],
            &run.keys,
            &mut extras,
            &mut errors,
        );
    }
    if !errors.is_empty() {
        let n = errors.len();
        errors.truncate(20);
        run.fail(&format!(
            "the changelog does not line up with the input ({n} errors):\n  {}",
            errors.join("\n  ")
        ));
    }

    // The final table: every key, within the at-least-once bound.
    let table = final_table(&changelog);
    let truth = run.true_counts();
    let landed: i64 = run.changelog_ends().iter().sum::<i64>() - EVENTS as i64;
    let extra: u64 = extras.values().sum();
    let bound = landed as u64 + extra;
    let duplicates = run.check_counts(&table, &truth, bound);
    if duplicates != bound {
        run.fail(&format!(
            "the table counts {duplicates} events twice, but {landed} events were handled \
             twice with both writes on the broker and {extra} more were in the store only"
        ));
    }
    if bound * 10 >= EVENTS {
        run.fail(&format!(
            "{bound} of {EVENTS} events were counted twice: more than 10%"
        ));
    }

    // The same through the CLI, and the changelog topic's settings.
    run.check_cli(&table, 5);
    run.check_changelog_topic();

    let ready = recovery
        .first()
        .map(|r| {
            format!(
                "{:.1?} after the restart (recovery {})",
                r.after_start, r.took
            )
        })
        .unwrap_or_else(|| "at once (nothing to recover)".to_owned());
    println!(
        "a: {EVENTS} events over {KEYS} keys; killed with {at_kill} changelog records and \
         {committed_sum} input offsets committed; w2 recovered {recovered} records, ready {ready}, \
         every input committed {finished:.1?} after the restart; duplicates {duplicates} \
         ({landed} re-handled with both writes landed + {extra} in the store only) = bound \
         {bound} ({:.2}% of the input); total {:.1?}",
        bound as f64 * 100.0 / EVENTS as f64,
        started.elapsed()
    );
}

#[test]
fn when_one_of_two_workers_is_killed_the_survivor_recovers_its_partitions_and_no_count_is_lost() {
    // A broker of its own: a fresh SQLite log (see the module docs).
    let Some(own) = OwnBroker::start("tables-survivor") else {
        return;
    };
    let bootstrap = own.bootstrap();
    const BATCH: u64 = 20_000;
    const KEYS: u32 = 500;
    let started = Instant::now();
    let mut run = TableRun::new(&bootstrap, "b", KEYS, SESSION_TIMEOUT);
    let a = run.start_worker("A", "A", &[]);
    let b = run.start_worker("B", "B", &[]);

    // Events flow until both workers own partitions and have counted.
    run.produce(BATCH);
    let mut shared = None;
    run.wait(
        "both workers to own partitions",
        Duration::from_secs(300),
        |run| {
            let owned = run.assignments();
            if owned.len() == 2 && owned.values().all(|p| !p.is_empty()) {
                shared = Some(owned);
                Ok(())
            } else {
                Err(format!("partitions by worker: {owned:?}"))
            }
        },
    );
    let owned = shared.unwrap_or_default();
    run.produce(BATCH);
    run.wait_all_committed(Duration::from_secs(60), Duration::from_secs(300));
    let b_partitions = owned.get("B").cloned().unwrap_or_default();
    println!("b: partitions by worker before the kill: {owned:?}");

    // SIGKILL B with events in flight: the third batch goes out in chunks
    // while B counts, and B dies once it has counted part of it. (Measured
    // after a whole batch, B may already be done with its share: it counts
    // faster than the broker takes the batch.)
    let before = run.changelog_ends();
    let moved = |run: &TableRun| -> i64 {
        let now = run.changelog_ends();
        b_partitions
            .iter()
            .map(|&p| now[p as usize] - before[p as usize])
            .sum()
    };
    const CHUNK: u64 = 1_000;
    let mut third = 0;
    while third < BATCH && moved(&run) < 500 {
        run.produce(CHUNK);
        third += CHUNK;
    }
    run.wait(
        "B to count part of the third batch",
        Duration::from_secs(180),
        |run| match moved(run) {
            n if n >= 500 => Ok(()),
            n => Err(format!("{n} new changelog records in B's partitions")),
        },
    );
    let a_log_at_kill = run.workers[a].log_text().len();
    run.workers[b].kill();
    let killed = Instant::now();
    println!(
        "b: SIGKILL B (partitions {b_partitions:?}) after {:.1?}",
        started.elapsed()
    );

    // Input keeps coming (the rest of the third batch, and a fourth); once
    // B's session expires the group rebalances.
    run.produce(BATCH - third + BATCH);
    run.wait(
        "the rebalance after B's session expires",
        SESSION_TIMEOUT * 10,
        |run| {
            let since = run.workers[a]
                .log_text()
                .get(a_log_at_kill..)
                .unwrap_or_default()
                .to_owned();
            if since.contains("partitions assigned: ") {
                Ok(())
            } else {
                Err("A logged no new assignment".to_owned())
            }
        },
    );
    let mut nudged = false;
    let a_owns = run.assignments().get("A").cloned().unwrap_or_default();
    if a_owns.len() != PARTITIONS as usize {
        // Tansu 0.6: when a member expires, the rebalance keeps the group's
        // generation, and SyncGroup hands the leader the assignment stored
        // for that generation instead of the one it just computed: A gets
        // its old partitions back and B's stay with nobody. A member that
        // joins and leaves starts rebalances that do bump the generation.
        // Apache Kafka needs no such nudge.
        println!(
            "b: after B expired the broker gave A only {a_owns:?} (Tansu's stale SyncGroup); \
             nudging the group with a member that joins and leaves"
        );
        common::nudge_group(&run.bootstrap, &run.app, &run.input_topic);
        nudged = true;
    }
    // A takes B's partitions, recovers them, finishes.
    let mut took_over = None;
    run.wait(
        "A to recover B's partitions",
        Duration::from_secs(240),
        |run| {
            let seen = run.recoveries(a, a_log_at_kill);
            let covered = b_partitions
                .iter()
                .all(|p| seen.iter().any(|r| r.partitions.contains(p)));
            if covered {
                took_over = Some(seen);
                Ok(())
            } else {
                Err(format!(
                    "A's recoveries since the kill: {seen:?}; B had {b_partitions:?}"
                ))
            }
        },
    );
    let took_over = took_over.unwrap_or_default();
    let takeover_time = killed.elapsed();
    run.produce(BATCH);
    run.wait_all_committed(Duration::from_secs(60), Duration::from_secs(600));
    let after = run.assignments();
    if after.len() != 1 || after.get("A").map(Vec::len) != Some(PARTITIONS as usize) {
        run.fail(&format!(
            "after B died A should own every partition: {after:?}"
        ));
    }

    let events = run.sent_keys.len() as u64;
    let changelog = run.read_changelog(Duration::from_secs(60));
    let table = final_table(&changelog);
    let truth = run.true_counts();
    let landed = run.changelog_ends().iter().sum::<i64>() as u64 - events;
    // Exact state (the default): A leaves out B's records of events past
    // B's committed offsets and handles those events again, once.
    let duplicates = run.check_counts(&table, &truth, 0);
    if landed * 10 >= events {
        run.fail(&format!(
            "{landed} of {events} events were counted twice: more than 10%"
        ));
    }
    let recovered: u64 = took_over.iter().map(|r| r.records).sum();
    if nudged {
        println!("b: (the takeover needed the nudge: see above)");
    }
    println!(
        "b: {events} events over {KEYS} keys; A recovered B's partitions {b_partitions:?} \
         ({recovered} records: {}) {takeover_time:.1?} after the kill (session timeout \
         {SESSION_TIMEOUT:?}); {landed} events handled twice ({:.2}% of the input), counted \
         twice {duplicates} (exact state); total {:.1?}",
        took_over
            .iter()
            .map(|r| format!("{:?} {} records in {}", r.partitions, r.records, r.took))
            .collect::<Vec<_>>()
            .join(", "),
        landed as f64 * 100.0 / events as f64,
        started.elapsed()
    );
}

#[test]
fn a_worker_killed_at_ten_random_points_in_100k_events_keeps_every_count_exact() {
    // A broker of its own: a fresh SQLite log (see the module docs).
    let Some(own) = OwnBroker::start("tables-ten-kills") else {
        return;
    };
    let bootstrap = own.bootstrap();
    const EVENTS: u64 = 100_000;
    const KEYS: u32 = 500;
    const KILLS: u64 = 10;
    let started = Instant::now();
    let mut run = TableRun::new(&bootstrap, "e", KEYS, SESSION_TIMEOUT);
    run.nudge = true;
    run.produce(EVENTS);
    // Ten kill points, each at a pseudo-random share of its eleventh of
    // the input (seeded by the run, printed).
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let points: Vec<u64> = (0..KILLS)
        .map(|i| {
            let slice = EVENTS / (KILLS + 1);
            i * slice + slice / 4 + splitmix(seed + i) % (slice / 2)
        })
        .collect();
    println!("e: seed {seed}, SIGKILL once the changelog holds {points:?} records");
    let mut handled_twice = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let label = format!("w{i}");
        let worker = run.start_worker(&label, "store", SMALL_WINDOW);
        let (mut last, mut moved) = (-1i64, Instant::now());
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            run.check_workers();
            let written: i64 = run.changelog_ends().iter().sum();
            if written as u64 >= *point {
                break;
            }
            if written != last || run.nudge_if_stalled(moved) {
                (last, moved) = (written, Instant::now());
            }
            if Instant::now() > deadline {
                run.fail(&format!(
                    "the changelog stopped at {written} of {point} records"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        run.workers[worker].kill();
        // Wait out the dead member's session, with a margin: Tansu expires
        // it a little late (see the first test).
        std::thread::sleep(run.session + Duration::from_secs(3));
        let written: i64 = run.changelog_ends().iter().sum();
        let committed: i64 = run.committed_input().iter().sum();
        handled_twice.push((written, committed));
    }
    let last = run.start_worker("final", "store", SMALL_WINDOW);
    run.wait_all_committed(Duration::from_secs(60), Duration::from_secs(900));
    let left_out: Vec<u64> = run.recoveries(last, 0).iter().map(|r| r.records).collect();

    let changelog = run.read_changelog(Duration::from_secs(60));
    let table = final_table(&changelog);
    let truth = run.true_counts();
    let records = run.changelog_ends().iter().sum::<i64>() as u64;
    // Every count exact: no event counted twice, none lost.
    let duplicates = run.check_counts(&table, &truth, 0);
    if duplicates != 0 {
        run.fail(&format!(
            "{duplicates} events counted twice under exact state"
        ));
    }
    run.check_cli(&table, 5);
    println!(
        "e: {EVENTS} events over {KEYS} keys, lost 0, counted twice 0, {KILLS} SIGKILLs at (changelog records, input \
         committed) {handled_twice:?}; {records} changelog records in all ({} beyond one per \
         event: events handled again after a kill); final recovery read {left_out:?}; every \
         count exact; {} group nudges; total {:.1?}",
        records.saturating_sub(EVENTS),
        run.nudges,
        started.elapsed()
    );
}

#[test]
fn a_rebalance_storm_of_workers_joining_and_leaving_ends_with_exact_totals() {
    // A broker of its own: a fresh SQLite log (see the module docs).
    let Some(own) = OwnBroker::start("tables-storm") else {
        return;
    };
    let bootstrap = own.bootstrap();
    const KEYS: u32 = 300;
    const CHUNK: u64 = 3_000;
    const EVERY: Duration = Duration::from_secs(3);
    // The membership changes, one every few seconds while input flows:
    // `true` a new worker joins (with a store folder of its own, so it
    // rebuilds what it is given from the changelog), `false` the oldest
    // worker leaves (SIGTERM: it commits and says goodbye).
    const STORM: [bool; 10] = [
        true, true, false, true, false, false, true, true, false, false,
    ];
    let started = Instant::now();
    let mut run = TableRun::new(&bootstrap, "s", KEYS, SESSION_TIMEOUT);
    run.nudge = true;
    let mut live = std::collections::VecDeque::from([run.start_worker("s0", "s0", &[])]);
    let mut members = vec![1usize];
    for (step, join) in STORM.into_iter().enumerate() {
        run.produce(CHUNK);
        let until = Instant::now() + EVERY;
        while Instant::now() < until {
            run.check_workers();
            std::thread::sleep(Duration::from_millis(200));
        }
        if join {
            let label = format!("s{}", step + 1);
            live.push_back(run.start_worker(&label, &label, &[]));
        } else if let Some(oldest) = live.pop_front() {
            let label = run.workers[oldest].label.clone();
            let status = run.workers[oldest].terminate(Duration::from_secs(45));
            if !status.success() {
                run.fail(&format!(
                    "worker {label} did not stop cleanly on SIGTERM mid-storm: {status}"
                ));
            }
        }
        members.push(live.len());
    }
    run.produce(CHUNK);
    run.wait_all_committed(Duration::from_secs(90), Duration::from_secs(900));

    let changelog = run.read_changelog(Duration::from_secs(60));
    let table = final_table(&changelog);
    let truth = run.true_counts();
    let events = run.next_event;
    let duplicates = run.check_counts(&table, &truth, 0);
    if duplicates != 0 {
        run.fail(&format!(
            "{duplicates} events counted twice under exact state"
        ));
    }
    let records: i64 = run.changelog_ends().iter().sum();
    println!(
        "s: {events} events over {KEYS} keys through {} membership changes every {EVERY:?} \
         (group sizes {members:?}), {} workers in all; every count exact (lost 0, counted \
         twice 0); {records} changelog records; {} group nudges; total {:.1?}",
        STORM.len(),
        run.workers.len(),
        run.nudges,
        started.elapsed()
    );
}

#[test]
fn after_a_graceful_stop_a_restart_reads_only_the_changelog_tail() {
    // A broker of its own: a fresh SQLite log (see the module docs).
    let Some(own) = OwnBroker::start("tables-graceful") else {
        return;
    };
    let bootstrap = own.bootstrap();
    const EVENTS: u64 = 20_000;
    const KEYS: u32 = 200;
    const TAIL: i64 = 40;
    let started = Instant::now();
    let mut run = TableRun::new(&bootstrap, "c", KEYS, LONG_SESSION);
    let w1 = run.start_worker("w1", "w1", &[]);
    run.produce(EVENTS);
    run.wait_all_committed(Duration::from_secs(60), Duration::from_secs(600));
    let status = run.workers[w1].terminate(Duration::from_secs(45));
    if !status.success() {
        run.fail(&format!("w1 did not exit cleanly on SIGTERM: {status}"));
    }
    let size: i64 = run.changelog_ends().iter().sum();
    if size as u64 != EVENTS {
        run.fail(&format!(
            "{size} changelog records for {EVENTS} events with no crash: events were handled \
             twice"
        ));
    }

    // Records the stopped worker's store has not seen, as if another
    // worker had owned partition 0 meanwhile: a key of its own, counted
    // up to TAIL.
    let probe = "probe";
    let mut writer = TaggedProducer::new(&run.bootstrap, &run.changelog);
    for n in 1..=TAIL {
        writer.send(0, Some(probe.as_bytes()), Some(n.to_string().as_bytes()));
    }
    if let Err(e) = writer.flush() {
        run.fail(&e);
    }

    let restart = Instant::now();
    let w2 = run.start_worker("w2", "w1", &[]);
    let mut recovery = Vec::new();
    run.wait("w2's recovery", Duration::from_secs(120), |run| {
        recovery = run.recoveries(w2, 0);
        if recovery.is_empty() {
            Err("no `recovering: done` line in w2's log yet".to_owned())
        } else {
            Ok(())
        }
    });
    let ready = restart.elapsed();
    let recovered: u64 = recovery.iter().map(|r| r.records).sum();
    if recovered != TAIL as u64 || recovery.iter().any(|r| r.partitions != [0]) {
        run.fail(&format!(
            "w2 should read only the {TAIL} tail records of partition 0 (the changelog holds \
             {}), it read: {recovery:?}",
            size + TAIL
        ));
    }

    // The recovered state is used: the probe key and the old keys count on.
    run.send_key(probe, 0);
    for p in 0..PARTITIONS {
        // Key index p lives in partition p.
        let key = run.keys[p as usize].clone();
        run.send_key(&key, p);
    }
    run.flush();
    run.wait_all_committed(Duration::from_secs(60), Duration::from_secs(120));
    let changelog = run.read_changelog(Duration::from_secs(60));
    let table = final_table(&changelog);
    let mut truth = run.true_counts();
    truth.insert(probe.to_owned(), TAIL as u64 + 1);
    let duplicates = run.check_counts(&table, &truth, 0);
    println!(
        "c: {EVENTS} events, graceful stop with {size} changelog records; the restart read \
         {recovered} records ({}) and was ready {ready:.1?} after it started; {duplicates} \
         duplicates; total {:.1?}",
        recovery
            .iter()
            .map(|r| format!("{:?} in {}", r.partitions, r.took))
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed()
    );
}

// ---------------------------------------------------------------- checks

/// Lines the changelog of partition `p` up with its input, for a run with
/// one kill: records `0..written` are the first worker's, for input
/// offsets `0..written`; the rest are the second worker's, from the
/// committed offset `committed` on. Each value must be the key's count at
/// that point. A second-worker value above it (by the same amount for the
/// key throughout) is a write the first worker's store kept although its
/// changelog record never reached the broker, for an event handled again:
/// noted in `extras`. Records removed by compaction are skipped over.
#[allow(clippy::too_many_arguments)]
fn check_partition_log(
    p: usize,
    input: &[u32],
    log: &[(i64, String, Option<String>)],
    written: i64,
    committed: i64,
    keys: &[String],
    extras: &mut HashMap<String, u64>,
    errors: &mut Vec<String>,
) {
    if committed > written {
        errors.push(format!(
            "partition {p}: input committed to {committed} but only {written} changelog records \
             were written: an offset was committed before its changelog write"
        ));
        return;
    }
    let end = log.last().map_or(0, |r| r.0 + 1);
    let expected_end = written + (input.len() as i64 - committed);
    if end != expected_end {
        errors.push(format!(
            "partition {p}: the changelog ends at {end}, want {expected_end} ({written} records \
             before the kill + {} input records from offset {committed})",
            input.len() as i64 - committed
        ));
    }
    // The key counts, replayed along the input as the changelog goes.
    let mut counts: HashMap<u32, u64> = HashMap::new();
    let mut next = 0usize;
    let mut resumed = false;
    for (offset, key, value) in log {
        let after_kill = *offset >= written;
        if after_kill && !resumed {
            // The first worker's writes: input 0..written; then the second
            // worker starts again at the committed offset.
            for &idx in input.get(next..written as usize).unwrap_or_default() {
                *counts.entry(idx).or_default() += 1;
            }
            next = committed as usize;
            resumed = true;
        }
        let source = if after_kill {
            committed + (offset - written)
        } else {
            *offset
        } as usize;
        let Some(&idx) = input.get(source) else {
            errors.push(format!(
                "partition {p}: changelog record {offset} ({key}) stands for input offset \
                 {source}, past the input's end {}",
                input.len()
            ));
            continue;
        };
        if *key != keys[idx as usize] {
            errors.push(format!(
                "partition {p}: changelog record {offset} is for {key}, input offset {source} \
                 is {}",
                keys[idx as usize]
            ));
            continue;
        }
        for &idx in &input[next..=source] {
            *counts.entry(idx).or_default() += 1;
        }
        next = source + 1;
        let want = counts[&idx];
        let got: Option<u64> = value.as_deref().and_then(|v| v.parse().ok());
        match got {
            Some(got) if got == want && !after_kill => {}
            Some(got) if !after_kill => errors.push(format!(
                "partition {p}: changelog record {offset} says {key} = {got}, the input up to \
                 offset {source} has it {want} times"
            )),
            Some(got) if got >= want => {
                let extra = got - want;
                match extras.get(key) {
                    Some(&seen) if seen != extra => errors.push(format!(
                        "partition {p}: changelog record {offset} says {key} = {got}, {extra} \
                         above its count {want}; its earlier records were {seen} above"
                    )),
                    _ => {
                        extras.insert(key.clone(), extra);
                    }
                }
            }
            other => errors.push(format!(
                "partition {p}: changelog record {offset} says {key} = {other:?}, below its \
                 count {want} after the restart: a count was lost"
            )),
        }
    }
    // Keep only the keys counted twice by the store alone.
    extras.retain(|_, extra| *extra > 0);
}

/// The table as the changelog says: the last value of each key.
fn final_table(changelog: &[Vec<(i64, String, Option<String>)>]) -> HashMap<String, u64> {
    let mut table = HashMap::new();
    for log in changelog {
        for (_, key, value) in log {
            match value.as_deref().and_then(|v| v.parse::<u64>().ok()) {
                Some(n) => table.insert(key.clone(), n),
                None => table.remove(key),
            };
        }
    }
    table
}

/// A `recovering: done` line of a worker's log.
#[derive(Debug, Clone)]
struct Recovery {
    partitions: Vec<i32>,
    records: u64,
    /// How long the recovery took, as logged.
    took: String,
    /// From the worker's first log line to this one (by their timestamps).
    after_start: Option<Duration>,
}

fn parse_recovery(line: &str, started: Option<f64>) -> Option<Recovery> {
    let took = line
        .split("done in ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .to_owned();
    let partitions = line
        .split("partitions=[")
        .nth(1)?
        .split(']')
        .next()?
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    let records = line
        .split("records=")
        .last()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let after_start = match (started, log_seconds(line)) {
        (Some(start), Some(at)) => Some(Duration::from_secs_f64((at - start).rem_euclid(86_400.0))),
        _ => None,
    };
    Some(Recovery {
        partitions,
        records,
        took,
        after_start,
    })
}

/// The time of day of a log line (`2026-11-23T12:26:38.740133Z ...`), in
/// seconds.
fn log_seconds(line: &str) -> Option<f64> {
    let time = line
        .split_whitespace()
        .next()?
        .split('T')
        .nth(1)?
        .strip_suffix('Z')?;
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

// ---------------------------------------------------------------- the run

/// One test's app: its input topic, changelog, workers (each with its
/// RocksDB folder) and what was produced.
struct TableRun {
    bootstrap: String,
    name: String,
    suffix: String,
    app: String,
    input_topic: String,
    changelog: String,
    /// Stores and CLI output; kept when the test fails.
    dir: PathBuf,
    workers: Vec<WorkerProcess>,
    input: TaggedProducer,
    /// The workers' consumer session timeout.
    session: Duration,
    keys: Vec<String>,
    /// Producer tag -> key.
    sent_keys: Vec<String>,
    /// The number of the next event `produce` makes.
    next_event: u64,
    probe: BaseConsumer,
    /// Set once the broker's metadata has the changelog.
    changelog_seen: Cell<bool>,
    /// Nudges the group (see `common::nudge_group`) when nothing moves for
    /// 15 s: Tansu 0.6 leaves a group that lost a member stuck now and
    /// then, and the test that kills ten times meets it.
    nudge: bool,
    /// Nudges so far.
    nudges: u32,
}

impl TableRun {
    fn new(bootstrap: &str, name: &str, keys: u32, session: Duration) -> TableRun {
        let unique = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let suffix = format!("-{name}-{unique}-{}", std::process::id());
        let app = format!("tables{suffix}");
        let input_topic = format!("tables-in{suffix}");
        let changelog = format!("{app}-{TABLE}-changelog");
        let dir = log_dir().join(format!("tables{suffix}"));
        std::fs::create_dir_all(&dir).expect("test folder");
        println!(
            "{name}: app {app}, broker {bootstrap}, folder {}",
            dir.display()
        );
        create_topic(bootstrap, &input_topic, PARTITIONS, &[]);
        TableRun {
            bootstrap: bootstrap.to_owned(),
            name: name.to_owned(),
            suffix,
            input: TaggedProducer::new(bootstrap, &input_topic),
            input_topic,
            app,
            changelog,
            dir,
            workers: Vec::new(),
            session,
            keys: (0..keys).map(|k| format!("k{k:05}")).collect(),
            sent_keys: Vec::new(),
            next_event: 0,
            probe: reader_config(bootstrap, name)
                .create()
                .expect("probe client"),
            changelog_seen: Cell::new(false),
            nudge: false,
            nudges: 0,
        }
    }

    /// With `nudge` set, nudges the group when `since` is over 15 s ago
    /// (three times at most); true when it did.
    fn nudge_if_stalled(&mut self, since: Instant) -> bool {
        if !self.nudge || self.nudges >= 3 || since.elapsed() < Duration::from_secs(15) {
            return false;
        }
        self.nudges += 1;
        println!(
            "{}: no progress for {:.0?}: nudging the group (Tansu's stale SyncGroup)",
            self.name,
            since.elapsed()
        );
        common::nudge_group(&self.bootstrap, &self.app, &self.input_topic);
        true
    }

    /// Starts a worker labelled `label` storing in RocksDB under the
    /// folder `store`; returns its index in `workers`.
    fn start_worker(&mut self, label: &str, store: &str, env: &[(&str, &str)]) -> usize {
        let log = log_dir().join(format!("tables{}-{label}.log", self.suffix));
        let store = format!("rocksdb://{}", self.dir.join(store).display());
        let mut all: Vec<(String, String)> = vec![
            ("TABLE_APP".into(), self.app.clone()),
            ("TABLE_SUFFIX".into(), self.suffix.clone()),
            ("TABLE_WORKER".into(), label.to_owned()),
            ("FAUST_STORE".into(), store.clone()),
            // Names the worker in the group's member list.
            ("FAUST_CONSUMER__CLIENT_ID".into(), label.to_owned()),
            (
                "FAUST_CONSUMER__SESSION_TIMEOUT_MS".into(),
                self.session.as_millis().to_string(),
            ),
        ];
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let worker = WorkerProcess::start(
            env!("CARGO_BIN_EXE_table_worker"),
            &self.bootstrap,
            label,
            log,
            &all,
        );
        println!(
            "{}: started worker {label} (pid {}), store {store}, log {}",
            self.name,
            worker.pid(),
            worker.log.display()
        );
        self.workers.push(worker);
        self.workers.len() - 1
    }

    /// Produces `n` events (key `k%05`, partition key index mod 4, a small
    /// value) and waits until the broker has them all.
    fn produce(&mut self, n: u64) {
        for _ in 0..n {
            let i = self.next_event;
            self.next_event += 1;
            let idx = (splitmix(i) % self.keys.len() as u64) as usize;
            let key = self.keys[idx].clone();
            let value = format!("event {i}");
            self.input.send(
                idx as i32 % PARTITIONS,
                Some(key.as_bytes()),
                Some(value.as_bytes()),
            );
            self.sent_keys.push(key);
            if i.is_multiple_of(10_000) {
                self.input.poll();
            }
        }
        self.flush();
    }

    /// Sends one event for `key` to `partition` (flush after).
    fn send_key(&mut self, key: &str, partition: i32) {
        self.input
            .send(partition, Some(key.as_bytes()), Some(b"event"));
        self.sent_keys.push(key.to_owned());
    }

    fn flush(&mut self) {
        if let Err(e) = self.input.flush() {
            self.fail(&e);
        }
    }

    /// Each input partition's keys (as indexes into `keys`, or the probe
    /// key's index past them) by offset.
    fn input_by_partition(&self) -> Vec<Vec<u32>> {
        let positions = self.input.positions();
        let mut by_partition: Vec<BTreeMap<i64, u32>> = vec![BTreeMap::new(); PARTITIONS as usize];
        for (tag, key) in self.sent_keys.iter().enumerate() {
            let Some(&(p, offset)) = positions.get(&(tag as u64)) else {
                self.fail(&format!("input record {tag} has no acknowledged position"));
            };
            let idx = self
                .keys
                .iter()
                .position(|k| k == key)
                .unwrap_or(self.keys.len()) as u32;
            by_partition[p as usize].insert(offset, idx);
        }
        by_partition
            .into_iter()
            .enumerate()
            .map(|(p, offsets)| {
                let dense: Vec<u32> = offsets.values().copied().collect();
                if offsets.keys().copied().ne(0..dense.len() as i64) {
                    self.fail(&format!(
                        "input partition {p}: offsets are not 0..{} in a fresh topic",
                        dense.len()
                    ));
                }
                dense
            })
            .collect()
    }

    /// How many events each key had.
    fn true_counts(&self) -> HashMap<String, u64> {
        let mut counts = HashMap::new();
        for key in &self.sent_keys {
            *counts.entry(key.clone()).or_default() += 1;
        }
        counts
    }

    /// Every key is in the table, at least at its true count and at most
    /// `bound` above; returns the sum of the excesses.
    fn check_counts(
        &self,
        table: &HashMap<String, u64>,
        truth: &HashMap<String, u64>,
        bound: u64,
    ) -> u64 {
        let mut errors = Vec::new();
        let mut excess = 0;
        for (key, &want) in truth {
            match table.get(key) {
                None => errors.push(format!("{key}: not in the table ({want} events)")),
                Some(&got) if got < want => {
                    errors.push(format!("{key}: {got}, fewer than its {want} events"));
                }
                Some(&got) if got > want + bound => errors.push(format!(
                    "{key}: {got}, more than its {want} events + the bound {bound}"
                )),
                Some(&got) => excess += got - want,
            }
        }
        for key in table.keys().filter(|k| !truth.contains_key(*k)) {
            errors.push(format!("{key}: in the table, never sent"));
        }
        if !errors.is_empty() {
            let n = errors.len();
            errors.sort();
            errors.truncate(20);
            self.fail(&format!(
                "{n} keys are wrong in the table:\n  {}",
                errors.join("\n  ")
            ));
        }
        excess
    }

    /// The end offset of each changelog partition (0s before it exists).
    fn changelog_ends(&self) -> Vec<i64> {
        if !self.changelog_seen.get() {
            if wait_for_topic(&self.probe, &self.changelog, Duration::from_secs(2)).is_err() {
                return vec![0; PARTITIONS as usize];
            }
            self.changelog_seen.set(true);
        }
        end_offsets(&self.probe, &self.changelog, PARTITIONS)
    }

    /// The group's committed offset of each input partition (0: none).
    fn committed_input(&self) -> Vec<i64> {
        let offsets = group_offsets(&self.bootstrap, &self.app, &self.input_topic);
        if offsets.len() != PARTITIONS as usize {
            self.fail(&format!(
                "committed offsets of {}: {offsets:?}",
                self.input_topic
            ));
        }
        offsets.iter().map(|(_, at, _)| at.unwrap_or(0)).collect()
    }

    /// Reads the whole changelog, each partition up to its current end:
    /// `(offset, key, value)` per partition, in offset order.
    fn read_changelog(&self, stall: Duration) -> Vec<Vec<(i64, String, Option<String>)>> {
        let ends = self.changelog_ends();
        let Some(reader) = Reader::try_open(&self.bootstrap, &self.changelog, &self.name) else {
            self.fail(&format!("cannot read the changelog {}", self.changelog));
        };
        if reader.partitions != PARTITIONS {
            self.fail(&format!(
                "the changelog {} has {} partitions, the table {PARTITIONS}",
                self.changelog, reader.partitions
            ));
        }
        let mut logs: Vec<Vec<(i64, String, Option<String>)>> =
            vec![Vec::new(); PARTITIONS as usize];
        let done = |logs: &[Vec<(i64, String, Option<String>)>]| {
            (0..PARTITIONS as usize)
                .all(|p| ends[p] == 0 || logs[p].last().is_some_and(|r| r.0 + 1 >= ends[p]))
        };
        let mut last_progress = Instant::now();
        while !done(&logs) {
            let n = reader.read(Duration::from_millis(200), |r| {
                let value = r.value.as_ref().map(|v| {
                    String::from_utf8_lossy(faust::table::changelog_value(v)).into_owned()
                });
                logs[r.partition as usize].push((r.offset, r.key_str(), value));
            });
            if n > 0 {
                last_progress = Instant::now();
            } else if last_progress.elapsed() > stall {
                let at: Vec<i64> = logs
                    .iter()
                    .map(|l| l.last().map_or(0, |r| r.0 + 1))
                    .collect();
                self.fail(&format!(
                    "reading the changelog stalled at {at:?}, its ends are {ends:?}"
                ));
            }
        }
        for (p, log) in logs.iter_mut().enumerate() {
            log.retain(|r| r.0 < ends[p]);
        }
        logs
    }

    /// The input partitions each running worker owns, by label, as its
    /// log says (`partitions assigned: ...` / `partitions revoked: ...`).
    /// Tansu's SQLite engine cannot describe groups (DescribeGroups drops
    /// the connection), so the workers' own word is what there is.
    fn assignments(&self) -> BTreeMap<String, Vec<i32>> {
        let mut owned = BTreeMap::new();
        for worker in self.workers.iter().filter(|w| w.running()) {
            let mut parts: Vec<i32> = Vec::new();
            for line in worker.log_text().lines() {
                if line.contains("partitions assigned: ") {
                    parts.extend(self.listed_partitions(line));
                } else if line.contains("partitions revoked: ") {
                    let gone = self.listed_partitions(line);
                    parts.retain(|p| !gone.contains(p));
                }
            }
            parts.sort_unstable();
            parts.dedup();
            owned.insert(worker.label.clone(), parts);
        }
        owned
    }

    /// The partitions of the input topic a log line names (`topic[3]`).
    fn listed_partitions(&self, line: &str) -> Vec<i32> {
        let prefix = format!("{}[", self.input_topic);
        line.split(&prefix)
            .skip(1)
            .filter_map(|rest| rest.split(']').next()?.parse().ok())
            .collect()
    }

    /// Waits until the group has committed every input partition to its
    /// end; fails when the committed total stops growing for `stall`.
    fn wait_all_committed(&mut self, stall: Duration, total: Duration) {
        let mut last = -1i64;
        let mut last_progress = Instant::now();
        let start = Instant::now();
        loop {
            self.check_workers();
            let offsets = group_offsets(&self.bootstrap, &self.app, &self.input_topic);
            let behind: Vec<String> = offsets
                .iter()
                .filter(|(_, at, end)| *at != Some(*end))
                .map(|(p, at, end)| format!("partition {p} committed {at:?} of {end}"))
                .collect();
            if offsets.len() == PARTITIONS as usize && behind.is_empty() {
                return;
            }
            let sum: i64 = offsets.iter().filter_map(|(_, at, _)| *at).sum();
            if sum != last || self.nudge_if_stalled(last_progress) {
                last = sum;
                last_progress = Instant::now();
            }
            if last_progress.elapsed() > stall || start.elapsed() > total {
                self.fail(&format!(
                    "waiting for every input to be committed: {} after {:.1?}: {}",
                    if start.elapsed() > total {
                        "deadline"
                    } else {
                        "no progress"
                    },
                    start.elapsed(),
                    behind.join(", ")
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Polls `done` until it says so; fails with its last message after
    /// `within` or when a worker dies.
    fn wait(
        &mut self,
        what: &str,
        within: Duration,
        mut done: impl FnMut(&TableRun) -> Result<(), String>,
    ) {
        let start = Instant::now();
        loop {
            self.check_workers();
            let missing = match done(self) {
                Ok(()) => return,
                Err(missing) => missing,
            };
            if start.elapsed() > within {
                self.fail(&format!(
                    "waiting for {what}: not done after {:.1?}: {missing}",
                    start.elapsed()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The `recovering: done` lines of worker `index`'s log past byte
    /// `from`.
    fn recoveries(&self, index: usize, from: usize) -> Vec<Recovery> {
        let text = self.workers[index].log_text();
        let started = text.lines().find_map(log_seconds);
        let table = format!("table=\"{TABLE}\"");
        text.get(from..)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("recovering: done in") && l.contains(&table))
            .filter_map(|l| parse_recovery(l, started))
            .collect()
    }

    /// `table_worker ARGS` with this run's app, against the broker: exit
    /// code, stdout, stderr.
    fn cli(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let n = self.dir.read_dir().map(|d| d.count()).unwrap_or(0);
        let out_path = self.dir.join(format!("cli-{n}.out"));
        let err_path = self.dir.join(format!("cli-{n}.err"));
        let out = std::fs::File::create(&out_path).expect("cli output");
        let err = std::fs::File::create(&err_path).expect("cli output");
        let mut child = Command::new(env!("CARGO_BIN_EXE_table_worker"))
            .args(args)
            .args(["--broker", &format!("kafka://{}", self.bootstrap)])
            .env_remove("FAUST_TEST_BROKER")
            .env("NO_COLOR", "1")
            .env("TABLE_APP", &self.app)
            .env("TABLE_SUFFIX", &self.suffix)
            .env(
                "FAUST_STORE",
                format!("rocksdb://{}", self.dir.join("cli").display()),
            )
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run table_worker: {e}"));
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.fail(&format!(
                    "table_worker {args:?} did not finish within 120 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        (status.code(), read(&out_path), read(&err_path))
    }

    /// `table get` prints what the changelog says for a sample of keys,
    /// `null` with exit code 1 for a key never sent; `tables` lists the
    /// table with its partitions, store, changelog and number of keys.
    fn check_cli(&self, table: &HashMap<String, u64>, sample: usize) {
        let mut keys: Vec<&String> = table.keys().collect();
        keys.sort();
        let step = (keys.len() / sample.max(1)).max(1);
        let started = Instant::now();
        let mut checked = 0;
        for key in keys.iter().step_by(step).take(sample) {
            let (code, out, err) = self.cli(&["table", "get", TABLE, key]);
            let want = table[*key].to_string();
            if code != Some(0) || out.trim() != want {
                self.fail(&format!(
                    "table get {TABLE} {key}: exit {code:?}, printed {:?}, want {want}; stderr:\n{err}",
                    out.trim()
                ));
            }
            checked += 1;
        }
        let (code, out, err) = self.cli(&["table", "get", TABLE, "never-sent"]);
        if code != Some(1) || out.trim() != "null" {
            self.fail(&format!(
                "table get {TABLE} never-sent: exit {code:?}, printed {:?}, want null and exit 1; \
                 stderr:\n{err}",
                out.trim()
            ));
        }
        let (code, out, err) = self.cli(&["tables"]);
        let row = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(TABLE));
        let fields: Vec<&str> = row
            .map(|r| r.split_whitespace().collect())
            .unwrap_or_default();
        let want_keys = table.len().to_string();
        let ok = code == Some(0)
            && fields.len() == 6
            && fields[1] == "Table"
            && fields[2] == PARTITIONS.to_string()
            && fields[3].starts_with("rocksdb://")
            && fields[4] == self.changelog
            && fields[5] == want_keys;
        if !ok {
            self.fail(&format!(
                "tables: exit {code:?}, want a row `{TABLE} Table {PARTITIONS} rocksdb://... {} \
                 {want_keys}`; printed:\n{out}\nstderr:\n{err}",
                self.changelog
            ));
        }
        println!(
            "{}: CLI: `table get` agrees with the changelog on {checked} keys, `null` + exit 1 \
             for a missing key, `tables` lists {want_keys} keys ({:.1?} for {} runs)",
            self.name,
            started.elapsed(),
            checked + 2
        );
    }

    /// The changelog topic: the table's partitions, compacted.
    fn check_changelog_topic(&self) {
        let partitions = wait_for_topic(&self.probe, &self.changelog, Duration::from_secs(10))
            .unwrap_or_else(|e| self.fail(&e));
        let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
        let resources = block_on(
            admin(&self.bootstrap)
                .describe_configs([&ResourceSpecifier::Topic(&self.changelog)], &options),
        )
        .unwrap_or_else(|e| self.fail(&format!("DescribeConfigs {}: {e}", self.changelog)));
        let configs: Vec<(String, Option<String>)> = resources
            .into_iter()
            .flat_map(|r| match r {
                Ok(resource) => resource
                    .entries
                    .into_iter()
                    .map(|e| (e.name, e.value))
                    .collect::<Vec<_>>(),
                Err(e) => self.fail(&format!("DescribeConfigs {}: {e}", self.changelog)),
            })
            .collect();
        let policy = configs
            .iter()
            .find(|(k, _)| k == "cleanup.policy")
            .and_then(|(_, v)| v.clone());
        if partitions != PARTITIONS || policy.as_deref() != Some("compact") {
            self.fail(&format!(
                "changelog {}: {partitions} partitions, configs {configs:?}; want {PARTITIONS} \
                 and cleanup.policy=compact",
                self.changelog
            ));
        }
        println!(
            "{}: changelog {} has {partitions} partitions, cleanup.policy=compact",
            self.name, self.changelog
        );
    }

    fn check_workers(&mut self) {
        if let Some(dead) = exited_workers(&mut self.workers) {
            self.fail(&dead);
        }
    }

    /// Panics with `message`, the group and the tail of each worker's log.
    fn fail(&self, message: &str) -> ! {
        let logs = log_tails(&self.workers, 25);
        panic!(
            "{}: {message}\n{}\n(stores and CLI output in {}){logs}",
            self.name,
            describe_group(&self.bootstrap, &self.app, &self.name),
            self.dir.display()
        );
    }
}

impl Drop for TableRun {
    fn drop(&mut self) {
        // Workers first: their stores live in `dir`.
        self.workers.clear();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
