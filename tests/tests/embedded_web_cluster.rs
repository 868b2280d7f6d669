//! Table queries across two workers of one app (the embedded broker, two
//! workers in this process, each with its own web port): each worker
//! announces the table partitions it owns in the worker directory, and a
//! query to either worker for any key answers the key's value from the
//! copy of the worker that owns it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use faust::prelude::*;

mod http;
use http::{Answer, free_port, get_answer as get, wait_for};

#[table(name = "wc-counts", default, partitions = 4)]
static COUNTS: Table<String, u64>;

static NUMBERS: Topic<String, u64> = Topic::new("wc-numbers");
static HANDLED: AtomicU64 = AtomicU64::new(0);
/// Lets the feed go once both workers own partitions.
static GO: tokio::sync::Notify = tokio::sync::Notify::const_new();

const KEYS: u64 = 12;
const EVENTS: u64 = 240;

#[agent(topic = "wc-numbers")]
async fn count(event: Event<u64>) -> Result<()> {
    let key = event.key.clone().unwrap_or_default();
    COUNTS.update(&key, |n| *n += 1)?;
    HANDLED.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[task]
async fn feed() -> Result<()> {
    GO.notified().await;
    for i in 0..EVENTS {
        NUMBERS.send(format!("k{}", i % KEYS), i).await?;
    }
    Ok(())
}

fn app(port: u16) -> App {
    App::bare("web-cluster")
        .broker("embedded://")
        .topic_partitions(4)
        .commit_interval(Duration::from_millis(200))
        // The mock cluster keeps a member that left until its session
        // expires: a short session keeps the group's rebalances short.
        .consumer_config("session.timeout.ms", 6000)
        .web_port(port)
        .table(&COUNTS)
        .agent(&count::AGENT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_query_to_either_of_two_workers_answers_from_the_worker_that_owns_the_key() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_test_writer()
        .try_init();
    let (port_a, port_b) = (free_port(), free_port());
    let ports = [port_a, port_b];
    let addresses: BTreeSet<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let stop = Arc::new(tokio::sync::Notify::new());
    let run = |app: App| {
        let stop = stop.clone();
        tokio::spawn(async move {
            faust::worker::run_until(app, async move { stop.notified().await }).await
        })
    };
    let first = run(app(port_a).task(&feed::TASK));
    let second = run(app(port_b));

    let checks = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        let keys: Vec<String> = (0..KEYS).map(|k| format!("k{k}")).collect();
        // Before any event: every key has no value (404), but each answer
        // names the worker that owns the key. Both workers own some, and
        // each knows the other, once every key's answer, asked of either
        // worker, comes from an owner and the owners are the two workers.
        let owners = |port: u16| -> Option<BTreeSet<String>> {
            keys.iter()
                .map(|key| {
                    let answer = get(port, &format!("/tables/wc-counts/{key}"))?;
                    matches!(answer.status, 200 | 404)
                        .then_some(answer.header("x-faust-worker"))
                        .flatten()
                })
                .collect()
        };
        wait_for(
            "both workers to own partitions and know each other",
            deadline,
            &|| {
                ports.iter().all(|port| {
                    get(*port, "/ready").is_some_and(|a| a.status == 200)
                        && owners(*port).as_ref() == Some(&addresses)
                })
            },
        );
        GO.notify_one();
        wait_for("every event handled", deadline, &|| {
            HANDLED.load(Ordering::Relaxed) >= EVENTS
        });
        // Each key, asked of both workers: the right count, from one
        // owner whichever worker was asked; and each worker owns keys.
        let mut answered_by = BTreeSet::new();
        for key in &keys {
            let path = format!("/tables/wc-counts/{key}");
            let answers: Vec<Answer> = ports
                .iter()
                .map(|port| get(*port, &path).expect("an answer"))
                .collect();
            for (port, answer) in ports.iter().zip(&answers) {
                assert_eq!(
                    (answer.status, answer.body.as_str()),
                    (200, (EVENTS / KEYS).to_string().as_str()),
                    "key {key} asked of the worker on port {port}: {answer:?}"
                );
            }
            let owner = answers[0]
                .header("x-faust-worker")
                .expect("the answering worker");
            assert_eq!(
                answers[1].header("x-faust-worker").as_ref(),
                Some(&owner),
                "key {key}: {answers:?}"
            );
            answered_by.insert(owner);
        }
        assert_eq!(answered_by, addresses, "each worker answers for its keys");
    });
    let result = checks.await;
    stop.notify_waiters();
    for worker in [first, second] {
        worker
            .await
            .expect("worker task")
            .expect("the worker stops cleanly");
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic.into_panic());
    }
}
