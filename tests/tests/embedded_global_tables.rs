//! A global table over the Kafka protocol (the embedded broker), with two
//! workers of one app sharing the input's partitions: each worker writes
//! the rates of the events it owns, and each ends up holding every rate,
//! the other worker's too, read from the changelog by its follower.
//!
//! The input has 4 partitions and the table 2, so both workers write both
//! of the table's partitions (a key's table partition is its hash among 2),
//! and each worker owns partitions numbered like the table's: neither may
//! skip a partition of a global table because it writes it or owns its
//! number.

use std::sync::Mutex;
use std::time::Duration;

use faust::prelude::*;
use faust::table::GlobalTable;

#[table(name = "rates", partitions = 2)]
static RATES: GlobalTable<String, f64>;

#[topic(name = "eg-rates", partitions = 4)]
static RATES_IN: Topic<String, f64>;
static PROBES: Topic<String, String> = Topic::new("eg-probes");
/// (worker label, rates it held) per probe answered.
static HELD: Mutex<Vec<(String, usize)>> = Mutex::new(Vec::new());
static SET: Mutex<usize> = Mutex::new(0);

const CURRENCIES: [&str; 8] = ["eur", "gbp", "jpy", "chf", "sek", "nok", "dkk", "pln"];

#[agent(topic = "eg-rates")]
async fn set_rate(rate: Event<f64>) -> Result<()> {
    RATES.set(&rate.key.clone().unwrap_or_default(), rate.value)?;
    *SET.lock().unwrap() += 1;
    Ok(())
}

/// Answers a probe with how many rates this worker holds; the probe's
/// value names the worker.
#[agent(topic = "eg-probes")]
async fn probe(worker: String) -> Result<()> {
    HELD.lock().unwrap().push((worker, RATES.len()?));
    Ok(())
}

fn app() -> App {
    App::bare("embedded-global")
        .broker("embedded://")
        .topic_partitions(2)
        .commit_interval(Duration::from_millis(100))
        .consumer_config("session.timeout.ms", 6000)
        .topic(&RATES_IN)
        .topic(&PROBES)
        .table(&RATES)
        .agent(&set_rate::AGENT)
        .agent(&probe::AGENT)
}

async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_worker_holds_every_partition_of_a_global_table() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_test_writer()
        .try_init();
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let run = |stop: std::sync::Arc<tokio::sync::Notify>| {
        tokio::spawn(async move {
            faust::worker::run_until(app(), async move { stop.notified().await })
                .await
                .expect("worker runs")
        })
    };
    let first = run(stop.clone());
    let second = run(stop.clone());
    // Feed from a third app on the same broker (no agents, one task): the
    // rates, then probes to both partitions until the workers that own
    // them have each been seen holding all eight rates.
    faust::worker::run_until(
        App::bare("embedded-global-feed")
            .broker("embedded://")
            // Whichever app starts first creates the topics: the same count.
            .topic_partitions(2)
            .topic(&RATES_IN)
            .topic(&PROBES)
            .task(&feed::TASK),
        wait_for("both partitions answered with every rate", || {
            let held = HELD.lock().unwrap();
            let full: std::collections::BTreeSet<&str> = held
                .iter()
                .filter(|(_, n)| *n == CURRENCIES.len())
                .map(|(w, _)| w.as_str())
                .collect();
            full.len() == 2
        }),
    )
    .await
    .expect("the feed runs");
    assert!(*SET.lock().unwrap() >= CURRENCIES.len());
    stop.notify_waiters();
    let _ = tokio::time::timeout(Duration::from_secs(30), first).await;
    let _ = tokio::time::timeout(Duration::from_secs(30), second).await;
}

#[task]
async fn feed() -> Result<()> {
    for (i, currency) in CURRENCIES.iter().enumerate() {
        RATES_IN.send(*currency, 1.0 + i as f64).await?;
    }
    // Probes until the test stops us: one to each partition, naming it.
    for _ in 0..600 {
        for partition in 0..2 {
            PROBES
                .record(format!("p{partition}"))
                .partition(partition)
                .send()
                .await?;
        }
        faust::sleep(Duration::from_millis(200)).await?;
    }
    Ok(())
}
