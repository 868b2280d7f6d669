//! `/ready` during a table recovery (the embedded broker): a worker whose
//! table's changelog already holds many records answers `/ready` with
//! `503` and the reason "recovering ..." while it rebuilds the table, then
//! `200`, and the table then answers the recovered values.
//!
//! The recovery is long by construction, not by luck: the changelog is
//! written one record per batch, and the embedded broker (librdkafka's
//! mock cluster) answers a fetch with one batch per partition, so the
//! rebuild takes one broker round trip per record and partition, thousands
//! of them, while `/ready` is asked every few milliseconds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use faust::prelude::*;

mod http;
use http::{free_port, get};

#[table(name = "wr-counts", default, partitions = 3)]
static COUNTS: Table<String, u64>;

const KEYS: u64 = 10;
const RECORDS: u64 = 30_000;

static WRITTEN: AtomicBool = AtomicBool::new(false);

#[agent(topic = "wr-numbers")]
async fn count(event: Event<u64>) -> Result<()> {
    let key = event.key.clone().unwrap_or_default();
    COUNTS.update(&key, |n| *n += 1)?;
    Ok(())
}

/// Fills the changelog: every key set `RECORDS / KEYS` times, the last
/// time to `RECORDS / KEYS`.
#[task]
async fn prefill() -> Result<()> {
    for i in 0..RECORDS {
        COUNTS.set(&format!("k{}", i % KEYS), i / KEYS + 1)?;
    }
    WRITTEN.store(true, Ordering::SeqCst);
    Ok(())
}

fn app() -> App {
    App::bare("web-recovery")
        .broker("embedded://")
        .topic_partitions(3)
        .commit_interval(Duration::from_millis(200))
        .table(&COUNTS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_false_while_the_tables_recover_and_true_after() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_test_writer()
        .try_init();
    // A first worker of the app writes the changelog, one record per
    // batch, and stops.
    let filler = app()
        .web(false)
        .producer_config("batch.num.messages", 1)
        .producer_config("linger.ms", 0)
        .task(&prefill::TASK);
    faust::worker::run_until(filler, async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !WRITTEN.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "timed out filling the changelog");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the filling worker runs and stops");

    // The worker under test reads the input: the group assigns it the
    // partitions, and it rebuilds their table partitions first.
    let port = free_port();
    let worker_app = app().web_port(port).agent(&count::AGENT);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(faust::worker::run_until(worker_app, async {
        let _ = stopped.await;
    }));
    let checks = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(90);
        // Every distinct answer of /ready, in order, until it is ready.
        let mut answers: Vec<(u16, String)> = Vec::new();
        loop {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for /ready; it said: {answers:?}"
            );
            if let Some((status, body)) = get(port, "/ready") {
                let reason = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["reason"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                if answers.last() != Some(&(status, reason.clone())) {
                    answers.push((status, reason));
                }
                if status == 200 {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let recovering = answers
            .iter()
            .position(|(status, reason)| *status == 503 && reason.starts_with("recovering"));
        assert!(
            recovering.is_some(),
            "/ready never said it was recovering: {answers:?}"
        );
        assert_eq!(
            answers.last().map(|(s, _)| *s),
            Some(200),
            "ready after recovering: {answers:?}"
        );
        // The rebuilt values.
        for key in 0..KEYS {
            assert_eq!(
                get(port, &format!("/tables/wr-counts/k{key}")),
                Some((200, (RECORDS / KEYS).to_string())),
                "key k{key}"
            );
        }
    });
    let result = checks.await;
    let _ = stop.send(());
    worker
        .await
        .expect("worker task")
        .expect("the worker stops cleanly");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic.into_panic());
    }
}
