//! The worker's web endpoint, scraped while a worker runs on the embedded
//! broker: health, readiness, the metrics moving and the lag falling to
//! zero, the agents and topics, and a table query.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use faust::prelude::*;

mod http;
use http::{free_port, get, sum};

static NUMBERS: Topic<String, u64> = Topic::new("web-numbers");

#[table(name = "web-counts", default, partitions = 3)]
static COUNTS: Table<String, u64>;

static HANDLED: AtomicU64 = AtomicU64::new(0);

#[agent(topic = "web-numbers", sink = "web-doubled")]
async fn count(event: Event<u64>) -> Result<u64> {
    let key = event.key.clone().unwrap_or_default();
    COUNTS.update(&key, |n| *n += 1)?;
    HANDLED.fetch_add(1, Ordering::Relaxed);
    Ok(event.value * 2)
}

/// A user page on the same endpoint.
#[page("/counts/{key}")]
async fn count_page(key: String, doubled: bool) -> Result<u64> {
    let n = COUNTS.get(&key)?.unwrap_or(0);
    Ok(if doubled { n * 2 } else { n })
}

#[task]
async fn feed() -> Result<()> {
    for i in 0..300u64 {
        NUMBERS.send(format!("k{}", i % 5), i).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_reports_health_readiness_metrics_lag_agents_topics_and_table_values() {
    let port = free_port();
    let app = App::bare("web-test")
        .broker("embedded://")
        .topic_partitions(3)
        .commit_interval(Duration::from_millis(200))
        .web_port(port)
        .table(&COUNTS)
        .agent(&count::AGENT)
        .task(&feed::TASK)
        .page(&count_page::PAGE);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(faust::worker::run_until(app, async {
        let _ = stopped.await;
    }));
    let checks = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let wait_for = |what: &str, check: &dyn Fn() -> bool| {
            while !check() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "timed out waiting for {what}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        };
        wait_for("/health", &|| {
            get(port, "/health").is_some_and(|(s, _)| s == 200)
        });
        // Not ready until the group hands out the partitions and their
        // tables are rebuilt (the embedded broker's first join takes ~3 s).
        let (status, body) = get(port, "/ready").expect("ready");
        assert!(
            status == 503 && body.contains("\"ready\":false") && body.contains("reason"),
            "{status} {body}"
        );
        wait_for("/ready", &|| {
            get(port, "/ready").is_some_and(|(s, b)| s == 200 && b.contains("\"ready\":true"))
        });
        wait_for("every event handled", &|| {
            HANDLED.load(Ordering::Relaxed) >= 300
        });
        // The counters moved, and once everything is committed and
        // librdkafka's statistics came round, the lag is zero.
        wait_for("events in, out and committed", &|| {
            get(port, "/metrics").is_some_and(|(_, page)| {
                sum(&page, "faust_events_in_total") == Some(300.0)
                    && sum(&page, "faust_events_out_total") == Some(300.0)
                    && sum(&page, "faust_committed_offset") == Some(300.0)
            })
        });
        wait_for("the lag to fall to zero", &|| {
            get(port, "/metrics").is_some_and(|(_, page)| {
                sum(&page, "faust_consumer_lag") == Some(0.0)
                    && sum(&page, "faust_high_watermark") == Some(300.0)
            })
        });
        let (_, page) = get(port, "/metrics").expect("metrics");
        assert_eq!(sum(&page, "faust_table_sets_total"), Some(300.0), "{page}");
        assert!(
            page.contains("faust_handler_seconds_bucket{agent=\"count\""),
            "{page}"
        );
        let (status, agents) = get(port, "/agents").expect("agents");
        assert_eq!(status, 200);
        assert!(
            agents.contains("\"name\":\"count\"") && agents.contains("web-doubled"),
            "{agents}"
        );
        let (_, topics) = get(port, "/topics").expect("topics");
        assert!(topics.contains("web-test-web-counts-changelog"), "{topics}");
        // One worker owns every partition: it answers for every key.
        assert_eq!(
            get(port, "/tables/web-counts/k1"),
            Some((200, "60".to_owned()))
        );
        let (status, body) = get(port, "/tables/web-counts/nobody").expect("missing key");
        assert_eq!(status, 404, "{body}");
        let (status, body) = get(port, "/tables/nope/k1").expect("unknown table");
        assert!(status == 404 && body.contains("web-counts"), "{body}");
        // The user's page, served beside the built-in routes.
        assert_eq!(get(port, "/counts/k2"), Some((200, "60".to_owned())));
        assert_eq!(
            get(port, "/counts/k2?doubled"),
            Some((200, "120".to_owned()))
        );
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
