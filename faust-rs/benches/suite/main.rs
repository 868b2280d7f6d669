//! The benchmark suite: each workload run by a faust-rs worker and, in the
//! same run, by a plain rdkafka loop doing the same work with the same
//! client settings, against a local broker; then one table of events/s,
//! the ratio, latency and peak memory.
//!
//! Run it with `scripts/bench` (starts a local Tansu, then
//! `cargo bench --workspace --bench suite`). It needs `FAUST_BENCH_BROKER`
//! (`host:port` of a Kafka-protocol broker on loopback).
//!
//! Every side of every workload runs in its own child process (this same
//! binary, re-run with `FAUST_BENCH_RUN=<workload>/<side>`), so that the
//! peak memory printed is that side's alone and no side warms the other's
//! caches.
//!
//! The workloads: `w1` stateless ([`w1_stateless`]), `w2` stateful
//! ([`w2_stateful`]), `w3` recovery ([`w3_recovery`]), `w5` latency at a
//! fixed rate ([`w5_latency`]), `w4` and `w4b` the test driver
//! ([`w4_driver`], no broker, faust only). `FAUST_BENCH_ONLY=w1,w5` runs
//! some; `FAUST_BENCH_EVENTS` sets the events of the throughput ones;
//! `FAUST_BENCH_ROUNDS` (default 9) the rounds of `w1`, whose sides
//! take turns going first and whose median rounds are compared.
//!
//! Besides rate and peak memory, each side reports `cpu µs/event`: the
//! CPU time (all threads) of its whole child process divided by its
//! events. On a small, busy machine, where the broker and both sides share
//! the cores, it is the steadier figure of the two.
//!
//! The binary declares faust-rs's global allocator (jemalloc, as
//! `faust::main!` does in a faust-rs program), so both sides run on it:
//! the same process settings as well as the same client settings.

mod env;
mod faust_side;
mod plain_side;
mod report;
mod w1_stateless;
mod w2_stateful;
mod w3_recovery;
mod w4_driver;
mod w5_latency;

use std::process::Command;

use env::Env;
use report::{REPORT_PREFIX, Report, Side};

faust::global_allocator!();

/// Runs one side of a workload in this process and returns what it measured.
type RunFn = fn(&Env) -> Result<Report, Box<dyn std::error::Error>>;

/// One workload of the suite.
struct Workload {
    /// Short id: `w1`, `w2`, ...
    id: &'static str,
    /// What it does, for the table.
    title: &'static str,
    /// Loads its input into the broker, once, before either side runs.
    prepare: fn(&Env) -> Result<(), Box<dyn std::error::Error>>,
    /// The faust-rs side and, where there is one, the plain rdkafka side.
    sides: &'static [(Side, RunFn)],
    /// The acceptance floor of faust/rdkafka events/s, if the issue sets one.
    min_ratio: Option<f64>,
    /// Whether it runs [`Env::rounds`] rounds (its sides alternating, on
    /// the same prepared input, each round in consumer groups of its own),
    /// the median of each side reported: for the workloads whose rate a
    /// busy two-core machine scatters most.
    rounds: bool,
}

/// Every workload, in the order they run.
fn workloads() -> Vec<Workload> {
    vec![
        w1_stateless::workload(),
        w2_stateful::workload(),
        w3_recovery::workload(),
        w5_latency::workload(),
        w4_driver::workload(),
        w4_driver::workload_json(),
    ]
}

fn main() {
    let env = match Env::from_process() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("suite: {e}");
            std::process::exit(2);
        }
    };
    let all = workloads();
    if let Some(run) = env.child_run.clone() {
        std::process::exit(child(&all, &env, &run));
    }
    parent(&all, &env);
}

/// In a child: runs `<workload>/<side>` and prints its report.
fn child(all: &[Workload], env: &Env, run: &str) -> i32 {
    let Some((id, side)) = run.split_once('/') else {
        eprintln!("suite: FAUST_BENCH_RUN={run:?} is not <workload>/<side>");
        return 2;
    };
    let found = all.iter().find(|w| w.id == id).and_then(|w| {
        w.sides
            .iter()
            .find(|(s, _)| side_name(*s) == side)
            .map(|(_, f)| f)
    });
    let Some(f) = found else {
        eprintln!("suite: no workload side {run:?}");
        return 2;
    };
    match f(env) {
        Ok(report) => {
            println!(
                "{REPORT_PREFIX}{}",
                serde_json::to_string(&report).expect("a report serializes")
            );
            0
        }
        Err(e) => {
            eprintln!("suite: {run} failed: {e}");
            1
        }
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Faust => "faust",
        Side::Rdkafka => "rdkafka",
    }
}

/// The report of the median rate (the lower middle one of an even count).
fn median(mut reports: Vec<Report>) -> Option<Report> {
    reports.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    let middle = reports.len().checked_sub(1)? / 2;
    Some(reports.swap_remove(middle))
}

/// Runs `<workload>/<side>` in a child process and reads its report.
/// Round `round` past the first gets run id `<id>-r<round>`: consumer
/// groups of its own, so it reads the input from the start again.
fn spawn(env: &Env, id: &str, side: Side, round: usize) -> Result<Report, String> {
    let exe = std::env::current_exe().map_err(|e| format!("the suite's own path: {e}"))?;
    let run = format!("{id}/{}", side_name(side));
    let run_id = match round {
        0 => env.run_id.clone(),
        n => format!("{}-r{n}", env.run_id),
    };
    let out = Command::new(exe)
        .env("FAUST_BENCH_RUN", &run)
        .env("FAUST_BENCH_BROKER", &env.broker)
        .env("FAUST_BENCH_EVENTS", env.events.to_string())
        .env(env::RUN_ID_VAR, &run_id)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("starting {run}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix(REPORT_PREFIX));
    match (out.status.success(), line) {
        (true, Some(json)) => {
            serde_json::from_str(json).map_err(|e| format!("{run} printed a bad report: {e}"))
        }
        _ => Err(format!("{run} failed ({})", out.status)),
    }
}

/// In the parent: prepares and runs every workload selected, then prints
/// the table. Exits non-zero when a run failed.
fn parent(all: &[Workload], env: &Env) {
    print_machine();
    env.print_settings();
    let mut rows: Vec<Row> = Vec::new();
    let mut failed = false;
    for w in all.iter().filter(|w| env.selected(w.id)) {
        eprintln!("suite: {} — {}: preparing", w.id, w.title);
        if let Err(e) = (w.prepare)(env) {
            eprintln!("suite: {} preparation failed: {e}", w.id);
            failed = true;
            continue;
        }
        let rounds = if w.rounds { env.rounds } else { 1 };
        let mut faust = Vec::new();
        let mut plain = Vec::new();
        for round in 0..rounds {
            // Who goes first alternates: the broker slows as its log grows.
            let order: Vec<_> = if round % 2 == 0 {
                w.sides.iter().collect()
            } else {
                w.sides.iter().rev().collect()
            };
            for (side, _) in order {
                eprintln!(
                    "suite: {} — running {} (round {} of {rounds})",
                    w.id,
                    side_name(*side),
                    round + 1
                );
                match spawn(env, w.id, *side, round) {
                    Ok(r) => {
                        eprintln!(
                            "suite: {} — {}: {:.0} events/s ({} in {:.2} s), {:.1} µs CPU/event, \
                             peak {:.0} MiB",
                            w.id,
                            side_name(*side),
                            r.rate(),
                            r.events,
                            r.seconds,
                            r.cpu_us_per_event(),
                            r.peak_rss_mib
                        );
                        match side {
                            Side::Faust => faust.push(r),
                            Side::Rdkafka => plain.push(r),
                        }
                    }
                    Err(e) => {
                        eprintln!("suite: {e}");
                        failed = true;
                    }
                }
            }
        }
        let mut notes = Vec::new();
        if rounds > 1 && faust.len() == plain.len() {
            let ratios: Vec<String> = faust
                .iter()
                .zip(&plain)
                .map(|(f, p)| format!("{:.2}", f.rate() / p.rate()))
                .collect();
            notes.push(format!(
                "median of {rounds} rounds; each round's ratio {}",
                ratios.join(" / ")
            ));
        }
        rows.push(Row {
            id: w.id,
            title: w.title,
            faust: median(faust),
            plain: median(plain),
            floor: w.min_ratio,
            notes,
        });
    }
    print_table(&rows);
    if failed {
        std::process::exit(1);
    }
}

/// Prints what the figures were measured on: CPU, cores, memory (from
/// `/proc`) and the Rust compiler.
fn print_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_owned(), |(_, m)| m.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("rustc: unknown".to_owned(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
        });
    println!("machine: {cpu}, {cores} cores, {ram_gib:.1} GiB RAM; {rustc}");
}

/// One workload's line of the table.
struct Row {
    id: &'static str,
    title: &'static str,
    faust: Option<Report>,
    plain: Option<Report>,
    floor: Option<f64>,
    /// Said after the figures (rounds and their ratios).
    notes: Vec<String>,
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| workload | faust-rs events/s | rdkafka events/s | ratio (floor) | faust-rs peak MiB | rdkafka peak MiB | other |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for Row {
        id,
        title,
        faust,
        plain,
        floor,
        notes,
    } in rows
    {
        let rate = |r: &Option<Report>| {
            r.as_ref()
                .map_or("—".to_owned(), |r| format!("{:.0}", r.rate()))
        };
        let mem = |r: &Option<Report>| {
            r.as_ref()
                .map_or("—".to_owned(), |r| format!("{:.0}", r.peak_rss_mib))
        };
        let ratio = match (faust, plain) {
            (Some(f), Some(p)) if p.rate() > 0.0 => {
                let x = f.rate() / p.rate();
                match floor {
                    Some(min) => {
                        format!("{x:.2} (≥{min}) {}", if x >= *min { "ok" } else { "BELOW" })
                    }
                    None => format!("{x:.2}"),
                }
            }
            _ => "—".to_owned(),
        };
        let mut other = notes.clone();
        for (side, r) in [("faust-rs", faust), ("rdkafka", plain)] {
            if let Some(r) = r {
                other.push(format!("{side} cpu {:.1} µs/event", r.cpu_us_per_event()));
                for (k, v) in &r.extra {
                    other.push(format!("{side} {k} {v}"));
                }
            }
        }
        println!(
            "| {id} {title} | {} | {} | {ratio} | {} | {} | {} |",
            rate(faust),
            rate(plain),
            mem(faust),
            mem(plain),
            other.join("; ")
        );
    }
}
