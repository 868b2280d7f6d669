//! Test-driver throughput: how many events per second an agent processes
//! under `TestDriver` (the in-memory transport, virtual time).
//!
//! `cargo bench --workspace --bench driver`. Target (issue 2): a trivial
//! per-event agent at 1,000,000 events/s or more. The `tables` group puts
//! a windowed count (issue 5) beside the plain table count: the same
//! agent, counting per key in a `Table`, a tumbling `WindowedTable` (one
//! window per event) and a hopping one (five windows per event), memory
//! store; and the plain count with exact state (the default) against
//! at-least-once tables (`exact_state(false)`), in memory and in RocksDB
//! (issue 6: exact state at most 10% slower). The `_exactly_once` ids
//! run the same workloads under `processing_guarantee = "exactly_once"`
//! (exact state is then always on): every commit is a transaction of the
//! in-memory broker, holding each event's sink or changelog records until
//! the event is committable, then writing them, the input offsets and the
//! commit marker. Read them beside the exact-state at-least-once ids:
//! `json_record_to_sink`, `plain_table_count`, `rocksdb_table_count`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use faust::prelude::*;
use faust::testing::TestDriver;

const EVENTS: u64 = 100_000;
const PARTITIONS: u32 = 4;

#[agent(topic = "numbers")]
async fn trivial(n: u64) -> Result<()> {
    black_box(n);
    Ok(())
}

#[record]
#[derive(Debug, Clone)]
struct Order {
    account: String,
    amount: f64,
}

#[record]
#[derive(Debug, Clone)]
struct Receipt {
    account: String,
    cents: u64,
}

#[agent(topic = "orders", sink = "receipts")]
async fn enrich(order: Order) -> Result<Receipt> {
    Ok(Receipt {
        account: order.account,
        cents: (order.amount * 100.0) as u64,
    })
}

#[table(name = "plain-counts", default)]
static PLAIN: Table<String, u64>;

#[table(name = "minute-counts", default, tumbling = "1m", expires = "1h")]
static PER_MINUTE: faust::window::WindowedTable<String, u64>;

#[table(
    name = "hopping-counts",
    default,
    hopping(size = "5m", step = "1m"),
    expires = "1h"
)]
static HOPPING: faust::window::WindowedTable<String, u64>;

#[agent(topic = "counted")]
async fn count_plain(n: Event<u64>) -> Result<()> {
    PLAIN.update(&n.key.unwrap_or_default(), |c| *c += 1)?;
    Ok(())
}

#[agent(topic = "counted")]
async fn count_tumbling(n: Event<u64>) -> Result<()> {
    PER_MINUTE.update(&n.key.unwrap_or_default(), |c| *c += 1)?;
    Ok(())
}

#[agent(topic = "counted")]
async fn count_hopping(n: Event<u64>) -> Result<()> {
    HOPPING.update(&n.key.unwrap_or_default(), |c| *c += 1)?;
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// A driver with `EVENTS` events waiting on `topic`.
fn loaded<V: Clone + Payload>(
    app: App,
    topic: &str,
    value: V,
    rt: &tokio::runtime::Runtime,
) -> TestDriver {
    let mut t = TestDriver::with_app(app.topic_partitions(PARTITIONS));
    rt.block_on(async {
        for i in 0..EVENTS {
            t.send(topic, format!("k{}", i % 64), value.clone()).await;
        }
    });
    t
}

/// Panics unless `t` has committed every event sent to `topic`: checked
/// once per id, before it is measured, so that no id times a run whose
/// commit (under `exactly_once`, its transaction) did not happen.
fn assert_committed(t: &TestDriver, topic: &str) {
    let committed: i64 = (0..PARTITIONS as i32)
        .map(|p| t.committed(topic, p).unwrap_or(0))
        .sum();
    assert_eq!(committed, EVENTS as i64, "committed offsets of `{topic}`");
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("test_driver");
    group.throughput(Throughput::Elements(EVENTS));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));

    group.bench_function("trivial_per_event_agent", |b| {
        b.iter_batched(
            || {
                loaded(
                    App::bare("bench").agent(&trivial::AGENT),
                    "numbers",
                    7u64,
                    &rt,
                )
            },
            |mut t| {
                rt.block_on(async { t.run_until_idle().await.expect("idle") });
                t // dropped outside the measurement
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("send_and_process_trivial", |b| {
        b.iter_batched(
            || {
                TestDriver::with_app(
                    App::bare("bench")
                        .topic_partitions(PARTITIONS)
                        .agent(&trivial::AGENT),
                )
            },
            |mut t| {
                rt.block_on(async {
                    for i in 0..EVENTS {
                        t.send("numbers", "k", i).await;
                    }
                    t.run_until_idle().await.expect("idle")
                });
                t
            },
            BatchSize::PerIteration,
        )
    });

    let order = Order {
        account: "alice".into(),
        amount: 12.5,
    };
    // `run_until_idle` commits: under `exactly_once`, the transaction.
    let to_sink = |mut t: TestDriver| {
        rt.block_on(async { t.run_until_idle().await.expect("idle") });
        t // dropped outside the measurement
    };
    for (name, guarantee) in [
        ("json_record_to_sink", ProcessingGuarantee::AtLeastOnce),
        (
            "json_record_to_sink_exactly_once",
            ProcessingGuarantee::ExactlyOnce,
        ),
    ] {
        let setup = || {
            loaded(
                App::bare("bench")
                    .processing_guarantee(guarantee)
                    .agent(&enrich::AGENT),
                "orders",
                order.clone(),
                &rt,
            )
        };
        assert_committed(&to_sink(setup()), "orders");
        group.bench_function(name, |b| {
            b.iter_batched(&setup, &to_sink, BatchSize::PerIteration)
        });
    }
    group.finish();

    let mut tables = c.benchmark_group("tables");
    tables.throughput(Throughput::Elements(EVENTS));
    tables
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    let plain = || App::bare("bench").table(&PLAIN).agent(&count_plain::AGENT);
    let exactly_once = || plain().processing_guarantee(ProcessingGuarantee::ExactlyOnce);
    let rocks_dir = std::env::temp_dir().join(format!("faust-bench-driver-{}", std::process::id()));
    let rocks = format!("rocksdb://{}", rocks_dir.display());
    let cases: Vec<(&str, App)> = vec![
        ("plain_table_count", plain()),
        (
            "plain_table_count_at_least_once",
            plain().exact_state(false),
        ),
        ("plain_table_count_exactly_once", exactly_once()),
        ("rocksdb_table_count", plain().store(&rocks)),
        (
            "rocksdb_table_count_at_least_once",
            plain().store(&rocks).exact_state(false),
        ),
        (
            "rocksdb_table_count_exactly_once",
            exactly_once().store(&rocks),
        ),
        (
            "tumbling_window_count",
            App::bare("bench")
                .table(&PER_MINUTE)
                .agent(&count_tumbling::AGENT),
        ),
        (
            "hopping_window_count_5_windows",
            App::bare("bench")
                .table(&HOPPING)
                .agent(&count_hopping::AGENT),
        ),
    ];
    let count = |mut t: TestDriver| {
        // `run_until_idle` commits (under `exactly_once`, the
        // transaction); then the stores write what the commit covers.
        rt.block_on(async { t.run_until_idle().await.expect("idle") });
        t.commit();
        t
    };
    for (name, app) in cases {
        let setup = || {
            // A fresh RocksDB store per run.
            let _ = std::fs::remove_dir_all(&rocks_dir);
            loaded(app.clone(), "counted", 1u64, &rt)
        };
        assert_committed(&count(setup()), "counted");
        tables.bench_function(name, |b| {
            b.iter_batched(&setup, &count, BatchSize::PerIteration)
        });
    }
    let _ = std::fs::remove_dir_all(&rocks_dir);
    tables.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
