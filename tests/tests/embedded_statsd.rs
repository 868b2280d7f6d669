//! `metrics_exporter = "statsd"`: a worker sends its metrics as DogStatsD
//! lines over UDP to a socket this test listens on, named
//! `faust.<metric>` with the labels as tags, and its web endpoint's
//! `/metrics` keeps answering in Prometheus' format.
//!
//! The metrics recorder is process-wide (one per test binary), so this
//! file holds this one test.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use faust::config::MetricsExporter;
use faust::prelude::*;

mod http;
use http::{free_port, get};

static NUMBERS: Topic<String, u64> = Topic::new("statsd-numbers");

#[agent(topic = "statsd-numbers", sink = "statsd-doubled")]
async fn double(n: u64) -> Result<u64> {
    Ok(n * 2)
}

#[task]
async fn feed() -> Result<()> {
    for i in 0..5u64 {
        NUMBERS.send("k".to_owned(), i).await?;
    }
    Ok(())
}

/// What arrived: each line's name and `|type|#tags` part, with the values
/// (counters summed across flushes, others as the last one).
#[derive(Debug, Default)]
struct Received {
    lines: Vec<String>,
    counters: BTreeMap<String, f64>,
}

impl Received {
    fn add(&mut self, datagram: &str) {
        for line in datagram.lines().filter(|l| !l.is_empty()) {
            self.lines.push(line.to_owned());
            // name:value|type|#tags
            let Some((name, rest)) = line.split_once(':') else {
                continue;
            };
            let Some((value, kind_tags)) = rest.split_once('|') else {
                continue;
            };
            if kind_tags.starts_with("c|") || kind_tags == "c" {
                let value: f64 = value.parse().unwrap_or(0.0);
                *self
                    .counters
                    .entry(format!("{name}|{kind_tags}"))
                    .or_default() += value;
            }
        }
    }

    fn counter(&self, series: &str) -> f64 {
        self.counters.get(series).copied().unwrap_or(0.0)
    }

    fn has_line(&self, start: &str, end: &str) -> bool {
        self.lines
            .iter()
            .any(|l| l.starts_with(start) && l.ends_with(end))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statsd_worker_sends_tagged_lines_and_keeps_the_metrics_page() {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket on loopback");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("a read timeout");
    let address = socket.local_addr().expect("its address").to_string();
    let port = free_port();
    let app = App::bare("statsd-test")
        .broker("memory://")
        .topic_partitions(1)
        .commit_interval(Duration::from_millis(100))
        .metrics_exporter(MetricsExporter::Statsd)
        .statsd_address(address)
        .web_port(port)
        .agent(&double::AGENT)
        .task(&feed::TASK);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(faust::worker::run_until(app, async {
        let _ = stopped.await;
    }));

    let received = tokio::task::spawn_blocking(move || {
        // The exporter flushes every 3 s: wait for what five events make.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut received = Received::default();
        let mut buf = vec![0u8; 65536];
        let done = |r: &Received| {
            r.counter("faust.events_in_total|c|#topic:statsd-numbers,partition:0") == 5.0
                && r.counter("faust.events_out_total|c|#agent:double,topic:statsd-doubled") == 5.0
                && r.has_line("faust.handler_seconds:", "|d|#agent:double")
                && r.has_line(
                    "faust.committed_offset:5.0|g|#topic:statsd-numbers,partition:0",
                    "",
                )
        };
        while !done(&received) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the StatsD lines; received: {received:#?}"
            );
            if let Ok(n) = socket.recv(&mut buf) {
                received.add(&String::from_utf8_lossy(&buf[..n]));
            }
        }
        received
    })
    .await
    .expect("the UDP reader");
    // Every line is `faust.<name>:<value>|<type>`, tagged or not.
    for line in &received.lines {
        assert!(line.starts_with("faust."), "{line}");
        assert!(!line.starts_with("faust.faust_"), "{line}");
    }

    // `/metrics` has the same metrics, Prometheus' way.
    let page = tokio::task::spawn_blocking(move || get(port, "/metrics"))
        .await
        .expect("the HTTP reader");
    let (status, page) = page.expect("/metrics answers");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("faust_events_in_total{topic=\"statsd-numbers\",partition=\"0\"} 5"),
        "{page}"
    );

    let _ = stop.send(());
    worker
        .await
        .expect("worker task")
        .expect("the worker stops cleanly");
}
