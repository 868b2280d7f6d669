//! Real-broker suite: the two-agent pipeline worker
//! (`src/bin/pipeline_worker.rs`) against a Kafka-protocol broker on
//! loopback, driven and checked with plain rdkafka clients.
//!
//! Enabled by `FAUST_TEST_BROKER=127.0.0.1:PORT`; without it each test
//! prints "skipped" and passes. `.ci/run` starts Tansu (SQLite engine, the
//! one that keeps fetch offsets right; see `../shared/BROKERS.md`) and runs:
//!
//! ```text
//! bash scripts/tansu start /tmp/tansu 19092 sqlite
//! FAUST_TEST_BROKER=127.0.0.1:19092 cargo test --workspace --test real_broker \
//!     -- --test-threads=1 --nocapture
//! bash scripts/tansu stop /tmp/tansu
//! ```
//!
//! Each test has its own topics and consumer group (a unique suffix passed
//! to the worker as `PIPELINE_SUFFIX` / `PIPELINE_APP`), creates the input
//! topic itself, lets the worker create the topics it owns (mid, out, dead
//! letters), and accounts for every input by id: each output carries the id
//! and the source partition and offset of its input, checked against the
//! positions the broker acknowledged when the input was produced. Waits are
//! bounded: a test fails, naming what is missing, when the outputs stop
//! growing for too long or an overall deadline passes.
//!
//! The heaviest tests (many kills, a large backlog, the broker restarted)
//! run on a broker of their own (`OwnBroker`: a fresh SQLite file on a
//! free port): Tansu compacts every compacted topic's log in one SQLite
//! statement when it starts and every 10 minutes, serving nothing
//! meanwhile, and on a log grown by the whole suite that takes long.
//!
//! Worker logs are written to `$TMPDIR/faust-rs-real-broker/`, printed
//! (their tails) and kept when a test fails, deleted when it passes;
//! `FAUST_TEST_WORKER_LOGLEVEL` sets the workers' log level (default
//! `info`, e.g. `info,faust_rs_runtime::worker::engine=debug` shows the
//! offsets each commit stores).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    OwnBroker, Reader, Record, SESSION_TIMEOUT, TaggedProducer, WorkerProcess, broker,
    create_topic, describe_group, exited_workers, group_offsets, log_dir, log_tails, memory_of,
    splitmix, truncate,
};
use faust::dead_letter::headers;
use serde::Deserialize;

/// Input partitions of every test (the two-worker test needs several).
const PARTITIONS: i32 = 4;
/// 1 MiB: the size of the "one megabyte" payloads.
const MIB: usize = 1 << 20;

// ---------------------------------------------------------------- tests

#[test]
fn a_hundred_thousand_events_each_come_out_of_the_pipeline() {
    let Some(bootstrap) = broker() else { return };
    const EVENTS: u64 = 100_000;
    let started = Instant::now();
    let mut run = Run::new(&bootstrap, "a");
    run.create_input(&[]);
    run.start_worker("w1");

    let ids: Vec<u64> = (0..EVENTS).collect();
    let produce = Instant::now();
    run.produce_items(&ids);
    let produce_time = produce.elapsed();
    run.wait_for_outputs(&ids, Duration::from_secs(60), Duration::from_secs(600));
    let total = started.elapsed();

    run.check_outputs(&ids);
    let dups = run.outputs.duplicates();
    println!(
        "a: {EVENTS} events in, {} outputs ({} distinct, {} duplicates) in {:.1?} \
         (producing took {:.1?}; {:.0} events/s end to end)",
        run.outputs.total,
        run.outputs.by_id.len(),
        dups.len(),
        total,
        produce_time,
        EVENTS as f64 / total.as_secs_f64()
    );
    print_duplicates("a", &run.outputs);
}

#[test]
fn a_worker_killed_mid_stream_and_restarted_leaves_no_input_without_output() {
    let Some(bootstrap) = broker() else { return };
    const BATCH: u64 = 20_000;
    let started = Instant::now();
    let mut run = Run::new(&bootstrap, "b");
    // Batch 1, then batch 2 while the worker is busy, then SIGKILL: it
    // dies with input unread, records in flight and offsets uncommitted.
    let mut next = run.start_flowing(BATCH, 1_000);
    run.produce_next(&mut next, BATCH);
    run.workers[0].kill();
    let killed = Instant::now();
    let killed_at = next;
    run.settle();
    let at_kill = run.outputs.by_id.len();
    println!("b: SIGKILL with {at_kill} of {killed_at} inputs out");
    run.print_group_offsets("after the kill");

    // Batch 3 while no worker runs; then a new worker finishes the lot.
    run.produce_next(&mut next, BATCH);
    wait_out_session(killed);
    let restarted = Instant::now();
    run.start_worker("w2");
    let all: Vec<u64> = (0..next).collect();
    run.wait_for_outputs(&all, Duration::from_secs(60), Duration::from_secs(600));

    run.check_outputs(&all);
    run.check_no_offset_skipped();
    let dups = run.outputs.duplicates();
    println!(
        "b: {} events in, {} outputs ({} duplicates); restart to last output {:.1?}; total {:.1?}",
        all.len(),
        run.outputs.total,
        dups.len(),
        restarted.elapsed(),
        started.elapsed()
    );
    print_duplicates("b", &run.outputs);
    if at_kill as u64 >= killed_at {
        println!("b: note: every input was out before the kill; the kill was not mid-stream");
    }
}

#[test]
fn two_workers_in_one_group_share_the_partitions_and_a_rebalance_loses_nothing() {
    let Some(bootstrap) = broker() else { return };
    const BATCH: u64 = 10_000;
    let started = Instant::now();
    let mut run = Run::new(&bootstrap, "c");
    run.create_input(&[]);
    run.start_worker("A");

    let mut next = 0u64;

    // 1. One worker, mid-stream.
    run.produce_next(&mut next, BATCH);
    run.wait_distinct(
        "A's first outputs",
        1_000,
        Duration::from_secs(60),
        Duration::from_secs(180),
    );

    // 2. A second worker joins: keep input coming until it gets partitions.
    let joined = Instant::now();
    run.start_worker("B");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !run.outputs.stage1_by_worker.contains_key("B") {
        if Instant::now() > deadline {
            run.fail(&format!(
                "worker B joined the group but ran stage1 on nothing within 120 s; \
                 stage1 outputs by worker: {:?}",
                run.outputs.stage1_by_worker
            ));
        }
        run.produce_next(&mut next, 500);
        run.pump(Duration::from_millis(500));
    }
    println!(
        "c: B ran its first event {:.1?} after it started",
        joined.elapsed()
    );

    // 3. Both workers now: a batch must be split between them.
    let shared = run.produce_next(&mut next, BATCH);
    run.wait_for_outputs(&shared, Duration::from_secs(60), Duration::from_secs(300));
    let split = run.outputs.stage1_workers_of(&shared);
    println!("c: stage1 of a batch after the join, by worker: {split:?}");
    if split.len() < 2 {
        run.fail(&format!(
            "after the rebalance one worker ran the whole batch; stage1 by worker: {split:?}"
        ));
    }

    // 4. A leaves (SIGTERM): B takes over every partition.
    let status = run.workers[0].terminate(Duration::from_secs(45));
    if !status.success() {
        run.fail(&format!(
            "worker A did not exit cleanly on SIGTERM: {status}"
        ));
    }
    let last = run.produce_next(&mut next, BATCH);
    let all: Vec<u64> = (0..next).collect();
    run.wait_for_outputs(&all, Duration::from_secs(120), Duration::from_secs(600));
    let after = run.outputs.stage1_workers_of(&last);
    if after.keys().any(|w| w != "B") {
        run.fail(&format!("after A stopped, stage1 still ran on: {after:?}"));
    }

    run.check_outputs(&all);
    run.check_no_offset_skipped();
    let dups = run.outputs.duplicates();
    println!(
        "c: {} events in, {} outputs ({} duplicates), stage1 by worker {:?}, stage2 by worker {:?}, total {:.1?}",
        all.len(),
        run.outputs.total,
        dups.len(),
        run.outputs.stage1_by_worker,
        run.outputs.stage2_by_worker,
        started.elapsed()
    );
    print_duplicates("c", &run.outputs);
}

#[test]
fn bad_input_goes_to_the_dead_letter_topic_and_good_events_around_it_flow() {
    let Some(bootstrap) = broker() else { return };
    let started = Instant::now();
    let mut run = Run::new(&bootstrap, "d");
    run.create_input(&[]);
    run.start_worker("w1");

    let bad: [(&str, Option<&[u8]>, &str); 7] = [
        ("malformed-json", Some(b"{not json"), "decode"),
        (
            "wrong-type",
            Some(br#"{"id": "seven", "qty": 1, "note": "x"}"#),
            "decode",
        ),
        (
            "missing-field",
            Some(br#"{"id": 7, "note": "x"}"#),
            "decode",
        ),
        (
            "failed-validation",
            Some(br#"{"id": 7, "qty": -5, "note": "x"}"#),
            "validation",
        ),
        ("empty-payload", Some(b""), "decode"),
        ("null-payload", None, "decode"),
        ("not-utf8", Some(b"\xff\xfe\x00garbage"), "decode"),
    ];
    // Every partition: good, bad, good, bad, ..., good.
    let mut good = Vec::new();
    let mut expected = Vec::new();
    let mut id = 0u64;
    for partition in 0..PARTITIONS {
        for (name, value, kind) in bad {
            run.produce_item(id, partition);
            good.push(id);
            id += 1;
            let key = format!("bad-{name}-{partition}");
            let tag = run.produce_raw(partition, Some(key.as_bytes()), value);
            expected.push(ExpectedLetter {
                key,
                tag,
                value: value.map(<[u8]>::to_vec),
                kind,
            });
        }
        run.produce_item(id, partition);
        good.push(id);
        id += 1;
    }
    run.flush_input();

    run.wait_for_outputs(&good, Duration::from_secs(60), Duration::from_secs(180));
    run.wait_for_letters(
        expected.len(),
        Duration::from_secs(60),
        Duration::from_secs(180),
    );
    run.wait_for_input_committed(Duration::from_secs(30));
    run.check_outputs(&good);
    run.check_letters(&expected);
    println!(
        "d: {} good events out, {} dead letters with their headers, in {:.1?}",
        good.len(),
        run.letters.len(),
        started.elapsed()
    );
}

#[test]
fn one_megabyte_payloads_valid_one_is_processed_malformed_one_is_dead_lettered() {
    let Some(bootstrap) = broker() else { return };
    let started = Instant::now();
    let mut run = Run::new(&bootstrap, "e");
    // Apache Kafka's default `max.message.bytes` is 1 MiB + 12 bytes per
    // record batch: a topic meant for 1 MiB records says so.
    run.create_input(&[("max.message.bytes", "8388608")]);
    // A dead letter carries the original value plus headers, so the
    // worker's producer must take records at least as large as the input
    // topic does. librdkafka's default `message.max.bytes` is 1,000,000:
    // without this the dead letter fails with MessageSizeTooLarge and the
    // worker stops (the agent's policy for a failed dead letter).
    run.start_worker_with("w1", &[("FAUST_PRODUCER__MESSAGE_MAX_BYTES", "8388608")]);

    // A valid item whose note makes it a little over 1 MiB, and 1 MiB of
    // bytes that are not JSON, each between good events on partition 0.
    let big_id = 1_000;
    let big_valid = serde_json::to_vec(&serde_json::json!({
        "id": big_id, "qty": 1, "note": "n".repeat(MIB)
    }))
    .expect("json");
    let mut big_malformed = vec![b'x'; MIB];
    big_malformed[0] = b'{';

    let mut good = Vec::new();
    for id in 0..3 {
        run.produce_item(id, 0);
        good.push(id);
    }
    let tag = run.produce_raw(0, Some(big_id.to_string().as_bytes()), Some(&big_valid));
    run.input.remember(big_id, tag);
    good.push(big_id);
    for id in 3..6 {
        run.produce_item(id, 0);
        good.push(id);
    }
    let key = "bad-one-mib-0".to_owned();
    let bad_tag = run.produce_raw(0, Some(key.as_bytes()), Some(&big_malformed));
    for id in 6..9 {
        run.produce_item(id, 0);
        good.push(id);
    }
    for partition in 1..PARTITIONS {
        let id = 100 + partition as u64;
        run.produce_item(id, partition);
        good.push(id);
    }
    run.flush_input();

    run.wait_for_outputs(&good, Duration::from_secs(60), Duration::from_secs(180));
    run.wait_for_letters(1, Duration::from_secs(60), Duration::from_secs(180));
    run.wait_for_input_committed(Duration::from_secs(30));
    run.check_outputs(&good);
    let expected = [ExpectedLetter {
        key,
        tag: bad_tag,
        value: Some(big_malformed),
        kind: "decode",
    }];
    run.check_letters(&expected);
    println!(
        "e: 1 MiB valid item processed, 1 MiB malformed payload dead-lettered, {} good events, in {:.1?}",
        good.len(),
        started.elapsed()
    );
}

#[test]
fn ten_sigkills_at_random_points_in_100k_events_leave_no_input_without_output() {
    // A broker of its own: a fresh SQLite log (see the module docs).
    let Some(own) = OwnBroker::start("pipeline-ten-kills") else {
        return;
    };
    let bootstrap = own.bootstrap();
    const EVENTS: u64 = 100_000;
    const KILLS: u64 = 10;
    const ROUND: u64 = EVENTS / KILLS;
    let started = Instant::now();
    let mut run = Run::new(&bootstrap, "k");
    run.create_input(&[]);
    // Each round: a worker starts, the round's inputs go in while it runs,
    // and it is SIGKILLed once a pseudo-random share of them (seeded by the
    // run, printed) has come out: inputs unread, records in flight and
    // offsets uncommitted. The next worker starts once the dead member's
    // session is over (`wait_out_session`).
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mut next = 0u64;
    let mut kills = Vec::new();
    for round in 0..KILLS {
        run.start_worker(&format!("w{round}"));
        run.produce_next(&mut next, ROUND);
        let point = round * ROUND + ROUND / 10 + splitmix(seed ^ round) % (ROUND * 8 / 10);
        run.wait_distinct(
            &format!("{point} distinct outputs before kill {}", round + 1),
            point,
            Duration::from_secs(60),
            Duration::from_secs(300),
        );
        let worker = run.workers.len() - 1;
        run.workers[worker].kill();
        let killed = Instant::now();
        let seen_at_kill = run.outputs.by_id.len();
        run.settle();
        kills.push((seen_at_kill, run.outputs.by_id.len(), next));
        wait_out_session(killed);
    }
    run.start_worker("final");
    let all: Vec<u64> = (0..next).collect();
    run.wait_for_outputs(&all, Duration::from_secs(60), Duration::from_secs(600));

    run.check_outputs(&all);
    run.check_no_offset_skipped();
    let dups = run.outputs.duplicates();
    let again: u32 = dups.iter().map(|(_, n)| n - 1).sum();
    println!(
        "k: seed {seed}; {KILLS} SIGKILLs at (distinct outputs read at the kill, after it \
         settled, inputs produced) {kills:?}"
    );
    println!(
        "k: {} events in, {} outputs, lost 0, {} ids out more than once ({again} extra \
         outputs: at least once), total {:.1?}",
        all.len(),
        run.outputs.total,
        dups.len(),
        started.elapsed()
    );
    print_duplicates("k", &run.outputs);
}

#[test]
fn the_broker_killed_and_restarted_mid_stream_the_worker_reconnects_and_nothing_is_lost() {
    // A broker of the test's own: this one is stopped and started again.
    let Some(own) = OwnBroker::start("pipeline-restart") else {
        return;
    };
    const BATCH: u64 = 20_000;
    const DOWN: Duration = Duration::from_secs(8);
    let started = Instant::now();
    let bootstrap = own.bootstrap();
    let mut run = Run::new(&bootstrap, "r");
    let mut next = run.start_flowing(BATCH, 2_000);

    // SIGKILL the broker mid-stream; it stays down for a while (the worker
    // keeps running, its fetches, commits and sends failing), then comes
    // back on the same port with the same SQLite data.
    own.down("KILL");
    let out_at_down = run.outputs.by_id.len();
    println!("r: broker SIGKILLed with {out_at_down} of {next} inputs out");
    std::thread::sleep(DOWN);
    run.check_workers();
    own.up();
    let back = Instant::now();
    run.produce_next(&mut next, BATCH);
    let all: Vec<u64> = (0..next).collect();
    run.wait_for_outputs(&all, Duration::from_secs(90), Duration::from_secs(600));

    run.check_outputs(&all);
    run.check_no_offset_skipped();
    run.check_workers();
    let dups = run.outputs.duplicates();
    println!(
        "r: broker down {DOWN:?} mid-stream; {} events in, {} outputs, lost 0, {} duplicates; \
         last output {:.1?} after the broker was back; total {:.1?}",
        all.len(),
        run.outputs.total,
        dups.len(),
        back.elapsed(),
        started.elapsed()
    );
    print_duplicates("r", &run.outputs);
}

#[test]
fn a_slow_agent_keeps_the_worker_memory_bounded_and_then_catches_up_with_nothing_lost() {
    // A broker of its own: a fresh SQLite log (see the module docs).
    let Some(own) = OwnBroker::start("pipeline-slow-agent") else {
        return;
    };
    let bootstrap = own.bootstrap();
    // 40,000 inputs of 8 KiB (320 MiB) waiting for an agent that takes
    // 2 ms an event for its first 20 s: the worker holds only what its
    // bounds allow (librdkafka's prefetch, `queued.max.messages.kbytes` =
    // 16 MiB, and the agent's 2 × `queue_capacity` events in flight), not the
    // backlog.
    const EVENTS: u64 = 40_000;
    const NOTE: usize = 8 << 10;
    const LIMIT: u64 = 200 << 20;
    let started = Instant::now();
    let mut run = Run::new(&bootstrap, "m");
    run.create_input(&[]);
    let note = "n".repeat(NOTE);
    for id in 0..EVENTS {
        let value = format!(r#"{{"id":{id},"qty":1,"note":"{note}"}}"#);
        let tag = run.produce_raw(
            (id % PARTITIONS as u64) as i32,
            Some(id.to_string().as_bytes()),
            Some(value.as_bytes()),
        );
        run.input.remember(id, tag);
    }
    run.flush_input();
    let input_bytes = EVENTS * (NOTE as u64 + 40);
    println!(
        "m: {EVENTS} inputs ({} MiB) in the topic after {:.1?}",
        input_bytes >> 20,
        started.elapsed()
    );

    run.start_worker_with(
        "slow",
        &[("PIPELINE_SLOW_EVENT", "2ms"), ("PIPELINE_SLOW_FOR", "20s")],
    );
    let pid = run.workers[0].pid();
    let slow_until = Instant::now() + Duration::from_secs(20);
    let mut peak_slow = 0u64;
    while Instant::now() < slow_until {
        run.pump(Duration::from_millis(500));
        if let Some((rss, _)) = memory_of(pid) {
            peak_slow = peak_slow.max(rss);
        }
    }
    let out_slow = run.outputs.by_id.len();
    let all: Vec<u64> = (0..EVENTS).collect();
    run.wait_for_outputs(&all, Duration::from_secs(60), Duration::from_secs(600));
    let Some((_, peak)) = memory_of(pid) else {
        run.fail("the worker exited before its peak memory could be read");
    };
    run.check_outputs(&all);
    run.check_no_offset_skipped();
    println!(
        "m: slow phase (20 s at 2 ms an event): {out_slow} of {EVENTS} out, worker RSS at most \
         {} MiB; caught up after {:.1?}; worker peak (VmHWM) {} MiB for {} MiB of input; lost 0",
        peak_slow >> 20,
        started.elapsed(),
        peak >> 20,
        input_bytes >> 20
    );
    if out_slow as u64 * 2 > EVENTS {
        run.fail(&format!(
            "the slow phase was not slow: {out_slow} of {EVENTS} inputs out in it"
        ));
    }
    if peak > LIMIT {
        run.fail(&format!(
            "the worker's peak memory was {} MiB with a slow agent and {} MiB of backlog, \
             over the bound of {} MiB: the backlog is being buffered, not held back",
            peak >> 20,
            input_bytes >> 20,
            LIMIT >> 20
        ));
    }
}

// ---------------------------------------------------------------- the run

/// One test's pipeline: its topics, workers, input producer and the
/// outputs and dead letters read so far.
struct Run {
    bootstrap: String,
    name: String,
    suffix: String,
    app: String,
    workers: Vec<WorkerProcess>,
    input: Input,
    out: Option<Reader>,
    dlq: Option<Reader>,
    outputs: Outputs,
    letters: Vec<Record>,
}

/// A dead letter a test expects: which input (by key and producer tag),
/// its original value and the error kind.
struct ExpectedLetter {
    key: String,
    tag: u64,
    value: Option<Vec<u8>>,
    kind: &'static str,
}

/// What `pipeline_worker` writes to `pipeline-out`.
#[derive(Debug, Deserialize)]
struct Done {
    id: u64,
    source_partition: i32,
    source_offset: i64,
    stage1_worker: String,
    stage2_worker: String,
}

impl Run {
    fn new(bootstrap: &str, name: &str) -> Run {
        let unique = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let suffix = format!("-{name}-{unique}-{}", std::process::id());
        let input_topic = format!("pipeline-in{suffix}");
        println!("{name}: topics pipeline-*{suffix}, broker {bootstrap}");
        Run {
            bootstrap: bootstrap.to_owned(),
            name: name.to_owned(),
            app: format!("pipeline{suffix}"),
            input: Input::new(bootstrap, &input_topic),
            suffix,
            workers: Vec::new(),
            out: None,
            dlq: None,
            outputs: Outputs::default(),
            letters: Vec::new(),
        }
    }

    fn topic(&self, base: &str) -> String {
        format!("{base}{}", self.suffix)
    }

    /// Creates the input topic with [`PARTITIONS`] partitions.
    fn create_input(&self, config: &[(&str, &str)]) {
        create_topic(
            &self.bootstrap,
            &self.topic("pipeline-in"),
            PARTITIONS,
            config,
        );
    }

    /// Creates the input topic, starts worker `w1`, produces `batch` items
    /// and waits until `first` of them are out; returns the next id.
    fn start_flowing(&mut self, batch: u64, first: u64) -> u64 {
        self.create_input(&[]);
        self.start_worker("w1");
        let mut next = 0u64;
        self.produce_next(&mut next, batch);
        self.wait_distinct(
            "the first outputs",
            first,
            Duration::from_secs(60),
            Duration::from_secs(180),
        );
        next
    }

    /// Starts a worker labelled `label` (its outputs say which worker ran
    /// them) in this run's consumer group.
    fn start_worker(&mut self, label: &str) {
        self.start_worker_with(label, &[]);
    }

    /// [`start_worker`](Self::start_worker) with extra environment, e.g.
    /// `FAUST_PRODUCER__MESSAGE_MAX_BYTES`.
    fn start_worker_with(&mut self, label: &str, env: &[(&str, &str)]) {
        let worker = start_pipeline_worker(self, label, env);
        self.workers.push(worker);
    }

    fn produce_item(&mut self, id: u64, partition: i32) {
        self.input.send_item(id, partition);
    }

    fn produce_raw(&mut self, partition: i32, key: Option<&[u8]>, value: Option<&[u8]>) -> u64 {
        self.input.send_raw(partition, key, value)
    }

    /// Produces one valid item per id (partition `id % PARTITIONS`) and
    /// waits until the broker has them all.
    fn produce_items(&mut self, ids: &[u64]) {
        for &id in ids {
            self.input.send_item(id, (id % PARTITIONS as u64) as i32);
        }
        self.flush_input();
    }

    /// Produces `n` items with the next `n` ids; returns the ids.
    fn produce_next(&mut self, next: &mut u64, n: u64) -> Vec<u64> {
        let ids: Vec<u64> = (*next..*next + n).collect();
        *next += n;
        self.produce_items(&ids);
        ids
    }

    fn flush_input(&mut self) {
        if let Err(e) = self.input.flush() {
            self.fail(&e);
        }
    }

    /// Reads what the outputs and dead-letter topics have for up to `max`
    /// (less once nothing more comes); fails if a running worker died.
    fn pump(&mut self, max: Duration) {
        self.check_workers();
        let end = Instant::now() + max;
        if self.out.is_none() {
            self.out = Reader::try_open(&self.bootstrap, &self.topic("pipeline-out"), &self.name);
        }
        if self.dlq.is_none() {
            self.dlq = Reader::try_open(&self.bootstrap, &self.topic("pipeline-dlq"), &self.name);
        }
        let (Some(out), Some(dlq)) = (&self.out, &self.dlq) else {
            std::thread::sleep(Duration::from_millis(200));
            return;
        };
        loop {
            let got_out = out.read(Duration::from_millis(50), |record| {
                self.outputs.add(&record);
            });
            let got_dlq = dlq.read(Duration::ZERO, |record| self.letters.push(record));
            if (got_out == 0 && got_dlq == 0) || Instant::now() > end {
                break;
            }
        }
    }

    /// Pumps until nothing new arrives for a second (at most 15 s): what
    /// the workers wrote so far has been read.
    fn settle(&mut self) {
        let end = Instant::now() + Duration::from_secs(15);
        let mut quiet_since = Instant::now();
        let mut seen = (self.outputs.total, self.letters.len());
        while Instant::now() < end && quiet_since.elapsed() < Duration::from_secs(1) {
            self.pump(Duration::from_millis(200));
            let now_seen = (self.outputs.total, self.letters.len());
            if now_seen != seen {
                seen = now_seen;
                quiet_since = Instant::now();
            }
        }
    }

    /// Pumps until `done` says so. Fails with `done`'s last message when
    /// nothing new arrives for `stall` or when `total` has passed.
    /// Waits until `want` distinct ids have come out.
    fn wait_distinct(&mut self, what: &str, want: u64, stall: Duration, total: Duration) {
        self.wait(what, stall, total, |run| {
            let n = run.outputs.by_id.len() as u64;
            if n >= want {
                Ok(())
            } else {
                Err(format!("{n} distinct outputs so far, want {want}"))
            }
        });
    }

    fn wait(
        &mut self,
        what: &str,
        stall: Duration,
        total: Duration,
        mut done: impl FnMut(&Run) -> Result<(), String>,
    ) {
        let start = Instant::now();
        let mut last_progress = Instant::now();
        let mut seen = (self.outputs.total, self.letters.len());
        loop {
            let missing = match done(self) {
                Ok(()) => return,
                Err(missing) => missing,
            };
            let now = Instant::now();
            if now - last_progress > stall || now - start > total {
                let why = if now - start > total {
                    "deadline"
                } else {
                    "no progress"
                };
                self.fail(&format!(
                    "waiting for {what}: {why} after {:.1?} ({} outputs, {} dead letters read): {missing}",
                    now - start,
                    self.outputs.total,
                    self.letters.len()
                ));
            }
            self.pump(Duration::from_millis(200));
            let now_seen = (self.outputs.total, self.letters.len());
            if now_seen != seen {
                seen = now_seen;
                last_progress = Instant::now();
            }
        }
    }

    fn wait_for_outputs(&mut self, ids: &[u64], stall: Duration, total: Duration) {
        self.wait("an output for every input", stall, total, |run| {
            let missing: Vec<u64> = ids
                .iter()
                .copied()
                .filter(|id| !run.outputs.by_id.contains_key(id))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} of {} ids have no output yet, e.g. {:?}",
                    missing.len(),
                    ids.len(),
                    &missing[..missing.len().min(10)]
                ))
            }
        });
    }

    fn wait_for_letters(&mut self, n: usize, stall: Duration, total: Duration) {
        self.wait("the dead letters", stall, total, |run| {
            if run.letters.len() >= n {
                Ok(())
            } else {
                let keys: Vec<String> = run.letters.iter().map(|l| l.key_str()).collect();
                Err(format!(
                    "{} of {n} dead letters so far: {keys:?}",
                    run.letters.len()
                ))
            }
        });
    }

    /// Every output names an input that was produced, from the partition
    /// and offset the broker gave that input.
    fn check_outputs(&self, ids: &[u64]) {
        let positions = self.input.positions();
        let mut errors = Vec::new();
        for id in ids {
            if !self.outputs.by_id.contains_key(id) {
                errors.push(format!("id {id}: no output"));
            }
        }
        for (id, sources) in &self.outputs.sources {
            match positions.get(id) {
                None => errors.push(format!("id {id}: output for an input never produced")),
                Some(&at) => {
                    for source in sources {
                        if *source != at {
                            errors.push(format!(
                                "id {id}: output says it came from {source:?}, it was produced at {at:?}"
                            ));
                        }
                    }
                }
            }
        }
        if !errors.is_empty() {
            let n = errors.len();
            errors.truncate(20);
            self.fail(&format!("{n} output errors:\n  {}", errors.join("\n  ")));
        }
    }

    /// Every input offset of every partition produced an output: nothing
    /// was skipped (only valid items were produced in this run).
    fn check_no_offset_skipped(&self) {
        let mut by_partition: BTreeMap<i32, BTreeSet<i64>> = BTreeMap::new();
        for &(partition, offset) in self.outputs.sources.values().flatten() {
            by_partition.entry(partition).or_default().insert(offset);
        }
        let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
        for &(partition, offset) in self.input.positions().values() {
            let end = ends.entry(partition).or_default();
            *end = (*end).max(offset + 1);
        }
        for (partition, end) in ends {
            let seen = by_partition.remove(&partition).unwrap_or_default();
            let gaps: Vec<i64> = (0..end).filter(|o| !seen.contains(o)).take(10).collect();
            if !gaps.is_empty() {
                self.fail(&format!(
                    "partition {partition}: input offsets with no output, e.g. {gaps:?} (of 0..{end})"
                ));
            }
        }
    }

    /// The dead letters are exactly the expected ones, each with the
    /// original key and value and the error headers.
    fn check_letters(&self, expected: &[ExpectedLetter]) {
        let positions = self.input.tag_positions();
        let input_topic = self.topic("pipeline-in");
        let mut errors = Vec::new();
        let mut by_key: HashMap<String, Vec<&Record>> = HashMap::new();
        for letter in &self.letters {
            by_key.entry(letter.key_str()).or_default().push(letter);
        }
        for want in expected {
            let Some(letters) = by_key.remove(&want.key) else {
                errors.push(format!("{}: not in the dead-letter topic", want.key));
                continue;
            };
            let letter = letters[0];
            let (partition, offset) = positions[&want.tag];
            let header = |name: &str| letter.header(name);
            let checks = [
                (headers::AGENT, Some("stage1".to_owned())),
                (headers::TOPIC, Some(input_topic.clone())),
                (headers::PARTITION, Some(partition.to_string())),
                (headers::OFFSET, Some(offset.to_string())),
                (headers::ERROR_KIND, Some(want.kind.to_owned())),
            ];
            for (name, value) in checks {
                if header(name) != value {
                    errors.push(format!(
                        "{}: header {name} is {:?}, want {value:?}",
                        want.key,
                        header(name)
                    ));
                }
            }
            match header(headers::ERROR) {
                Some(message) if !message.is_empty() => {
                    println!(
                        "  dead letter {}: {} error: {}",
                        want.key,
                        want.kind,
                        truncate(&message, 160)
                    );
                }
                other => errors.push(format!(
                    "{}: header {} is {other:?}",
                    want.key,
                    headers::ERROR
                )),
            }
            // An empty value may come back as empty or as null.
            let same_value = match (&want.value, &letter.value) {
                (Some(a), Some(b)) => a == b,
                (None, None) => true,
                (Some(a), None) => a.is_empty(),
                (None, Some(_)) => false,
            };
            if !same_value {
                errors.push(format!(
                    "{}: value {} bytes, want the original {} bytes",
                    want.key,
                    letter.value.as_ref().map_or(0, Vec::len),
                    want.value.as_ref().map_or(0, Vec::len)
                ));
            }
            if letters.len() > 1 {
                println!(
                    "  dead letter {} came {} times (at least once)",
                    want.key,
                    letters.len()
                );
            }
        }
        for key in by_key.keys() {
            errors.push(format!("{key}: unexpected dead letter"));
        }
        if !errors.is_empty() {
            self.fail(&format!("dead-letter errors:\n  {}", errors.join("\n  ")));
        }
    }

    /// Prints, per partition of the input and mid topics, the group's
    /// committed offset against the end of the partition.
    fn print_group_offsets(&self, when: &str) {
        let lines: Vec<String> = ["pipeline-in", "pipeline-mid"]
            .iter()
            .flat_map(|base| {
                self.group_offsets(base)
                    .into_iter()
                    .map(move |(p, at, end)| format!("{base}[{p}] committed {at:?} of {end}"))
            })
            .collect();
        println!("{}: group offsets {when}: {}", self.name, lines.join(", "));
    }

    /// `(partition, committed offset, end offset)` of this run's consumer
    /// group on the topic `base` (`None`: nothing committed).
    fn group_offsets(&self, base: &str) -> Vec<(i32, Option<i64>, i64)> {
        group_offsets(&self.bootstrap, &self.app, &self.topic(base))
    }

    /// Waits until the group has committed every input partition to its
    /// end: no partition is held back by a bad record.
    fn wait_for_input_committed(&mut self, total: Duration) {
        let deadline = Instant::now() + total;
        loop {
            let offsets = self.group_offsets("pipeline-in");
            let behind: Vec<String> = offsets
                .iter()
                .filter(|(_, at, end)| *at != Some(*end))
                .map(|(p, at, end)| format!("partition {p} committed {at:?} of {end}"))
                .collect();
            if !offsets.is_empty() && behind.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "input offsets not committed to the end within {total:?}: {}",
                    behind.join(", ")
                ));
            }
            self.pump(Duration::from_millis(200));
        }
    }

    /// The consumer group as the broker describes it: state and each
    /// member's client id and assignment.
    fn describe_group(&self) -> String {
        describe_group(&self.bootstrap, &self.app, &self.name)
    }

    fn check_workers(&mut self) {
        if let Some(dead) = exited_workers(&mut self.workers) {
            self.fail(&dead);
        }
    }

    /// Panics with `message` and the tail of each worker's log.
    fn fail(&self, message: &str) -> ! {
        let logs = log_tails(&self.workers, 25);
        panic!("{}: {message}\n{}{logs}", self.name, self.describe_group());
    }
}

/// Sleeps until the broker has dropped a member SIGKILLed at `killed`
/// (its session timed out, plus a second), before a new worker starts.
/// Tansu 0.6 needs this: if the dead member was the group's leader and
/// expires between the new member's JoinGroup and SyncGroup, the new
/// member is given no partitions and is never asked to rejoin, so it idles
/// forever. Apache Kafka rebalances again instead.
fn wait_out_session(killed: Instant) {
    let expired = SESSION_TIMEOUT + Duration::from_secs(1);
    std::thread::sleep(expired.saturating_sub(killed.elapsed()));
}

fn print_duplicates(test: &str, outputs: &Outputs) {
    let dups = outputs.duplicates();
    if dups.is_empty() {
        println!("{test}: no duplicates");
    } else {
        println!(
            "{test}: duplicates by route (stage1 worker > stage2 worker): {:?}",
            outputs.duplicate_routes()
        );
        let sample: Vec<String> = dups
            .iter()
            .take(20)
            .map(|(id, n)| format!("{id}x{n}"))
            .collect();
        println!(
            "{test}: {} ids came out more than once: {}",
            dups.len(),
            sample.join(" ")
        );
    }
}

// ---------------------------------------------------------------- outputs

/// The outputs read so far, by id.
#[derive(Default)]
struct Outputs {
    total: usize,
    by_id: HashMap<u64, u32>,
    sources: HashMap<u64, BTreeSet<(i32, i64)>>,
    /// Per id, the (stage1, stage2) workers of each of its outputs.
    routes: HashMap<u64, Vec<(String, String)>>,
    stage1_by_worker: BTreeMap<String, usize>,
    stage2_by_worker: BTreeMap<String, usize>,
}

impl Outputs {
    fn add(&mut self, record: &Record) {
        self.total += 1;
        let Some(done) = record
            .value
            .as_deref()
            .and_then(|v| serde_json::from_slice::<Done>(v).ok())
        else {
            // Counted in `total`; an id-less output fails `check_outputs`
            // through the ids it does not account for.
            println!(
                "unreadable output at {}@{}: {:?}",
                record.partition, record.offset, record.value
            );
            return;
        };
        *self
            .stage2_by_worker
            .entry(done.stage2_worker.clone())
            .or_default() += 1;
        *self.by_id.entry(done.id).or_default() += 1;
        self.sources
            .entry(done.id)
            .or_default()
            .insert((done.source_partition, done.source_offset));
        *self
            .stage1_by_worker
            .entry(done.stage1_worker.clone())
            .or_default() += 1;
        self.routes
            .entry(done.id)
            .or_default()
            .push((done.stage1_worker, done.stage2_worker));
    }

    /// Ids that came out more than once, with their counts.
    fn duplicates(&self) -> Vec<(u64, u32)> {
        let mut dups: Vec<(u64, u32)> = self
            .by_id
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, n)| (*id, *n))
            .collect();
        dups.sort_unstable();
        dups
    }

    /// How the duplicated ids went: the (stage1 worker, stage2 worker) of
    /// each of their outputs, counted by pattern. `[w1>w1, w2>w2]` means
    /// the input was read again (its offset was not committed);
    /// `[w1>w1, w1>w2]` means the mid record was read again.
    fn duplicate_routes(&self) -> BTreeMap<String, usize> {
        let mut patterns = BTreeMap::new();
        for routes in self.routes.values().filter(|r| r.len() > 1) {
            let mut steps: Vec<String> = routes.iter().map(|(a, b)| format!("{a}>{b}")).collect();
            steps.sort();
            *patterns
                .entry(format!("[{}]", steps.join(", ")))
                .or_default() += 1;
        }
        patterns
    }

    /// Which workers ran stage1 for `ids` (the last output of each id).
    fn stage1_workers_of(&self, ids: &[u64]) -> BTreeMap<String, usize> {
        let mut split = BTreeMap::new();
        for id in ids {
            if let Some((worker, _)) = self.routes.get(id).and_then(|r| r.last()) {
                *split.entry(worker.clone()).or_default() += 1;
            }
        }
        split
    }
}

// ---------------------------------------------------------------- workers

/// Starts a `pipeline_worker` process labelled `label` in `run`'s group.
fn start_pipeline_worker(run: &Run, label: &str, env: &[(&str, &str)]) -> WorkerProcess {
    let log = log_dir().join(format!("pipeline{}-{label}.log", run.suffix));
    let mut all: Vec<(String, String)> = vec![
        ("PIPELINE_APP".into(), run.app.clone()),
        ("PIPELINE_SUFFIX".into(), run.suffix.clone()),
        ("PIPELINE_WORKER".into(), label.to_owned()),
    ];
    all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let worker = WorkerProcess::start(
        env!("CARGO_BIN_EXE_pipeline_worker"),
        &run.bootstrap,
        label,
        log,
        &all,
    );
    println!(
        "{}: started worker {label} (pid {}), log {}",
        run.name,
        worker.pid(),
        worker.log.display()
    );
    worker
}

// ---------------------------------------------------------------- input

/// The input producer: remembers where the broker put each item.
struct Input {
    producer: TaggedProducer,
    /// Item id -> producer tag.
    ids: HashMap<u64, u64>,
}

impl Input {
    fn new(bootstrap: &str, topic: &str) -> Input {
        Input {
            producer: TaggedProducer::new(bootstrap, topic),
            ids: HashMap::new(),
        }
    }

    fn send_item(&mut self, id: u64, partition: i32) {
        let value = format!(r#"{{"id":{id},"qty":{},"note":"item {id}"}}"#, id % 7);
        let tag = self.send_raw(
            partition,
            Some(id.to_string().as_bytes()),
            Some(value.as_bytes()),
        );
        self.remember(id, tag);
    }

    /// Notes that the record `tag` is the item `id`.
    fn remember(&mut self, id: u64, tag: u64) {
        self.ids.insert(id, tag);
    }

    /// Sends one record; returns its tag (for [`tag_positions`](Self::tag_positions)).
    fn send_raw(&mut self, partition: i32, key: Option<&[u8]>, value: Option<&[u8]>) -> u64 {
        self.producer.send(partition, key, value)
    }

    /// Waits until every record sent is acknowledged.
    fn flush(&mut self) -> Result<(), String> {
        self.producer.flush()
    }

    /// Item id -> (partition, offset).
    fn positions(&self) -> HashMap<u64, (i32, i64)> {
        let at = self.producer.positions();
        self.ids
            .iter()
            .filter_map(|(id, tag)| Some((*id, *at.get(tag)?)))
            .collect()
    }

    /// Producer tag -> (partition, offset).
    fn tag_positions(&self) -> HashMap<u64, (i32, i64)> {
        self.producer.positions()
    }
}
