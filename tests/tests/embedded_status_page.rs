//! The status page (`GET /`) as a browser shows it: a worker on the
//! embedded broker handles 300 events, and once `/status` says every
//! partition's lag is 0, headless Chromium loads the page and the DOM it
//! renders names the agent with its event count, each partition with lag
//! 0, and the table.
//!
//! Needs Debian's `chromium` (`scripts/setup` installs it); without it the
//! test fails saying so.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use faust::prelude::*;

mod http;
use http::{free_port, get};

static NUMBERS: Topic<String, u64> = Topic::new("status-numbers");

#[table(name = "status-counts", default, partitions = 3)]
static COUNTS: Table<String, u64>;

#[agent(topic = "status-numbers")]
async fn tally(event: Event<u64>) -> Result<()> {
    let key = event.key.clone().unwrap_or_default();
    COUNTS.update(&key, |n| *n += 1)?;
    Ok(())
}

#[task]
async fn feed() -> Result<()> {
    for i in 0..300u64 {
        NUMBERS.send(format!("k{}", i % 7), i).await?;
    }
    Ok(())
}

/// Debian's `chromium` on the PATH; the test fails without it.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not on the PATH: this test renders the status page in headless \
                 Chromium; run scripts/setup (it installs it) or `apt-get install chromium`"
            )
        })
}

/// The DOM headless Chromium renders for `url`, within a minute.
fn rendered_dom(url: &str) -> String {
    let profile = std::env::temp_dir().join(format!("faust-rs-chromium-{}", std::process::id()));
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        dom
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not render {url} within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let dom = reader.join().expect("read chromium's output");
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        status.success() && dom.contains("</html>"),
        "chromium failed ({status}) on {url}: {stderr}\n{dom}"
    );
    dom
}

/// The `<tr ...>` row of `dom` whose opening tag contains `attribute`.
fn row<'a>(dom: &'a str, attribute: &str) -> &'a str {
    let start = dom
        .find(&format!("<tr {attribute}"))
        .unwrap_or_else(|| panic!("no row with {attribute} in {dom}"));
    let end = dom[start..].find("</tr>").map_or(dom.len(), |e| start + e);
    &dom[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_the_agent_each_partition_at_lag_zero_and_the_table_in_a_browser() {
    // Before the worker starts: without a browser there is nothing to see.
    chromium();
    let port = free_port();
    let app = App::bare("status-page-test")
        .broker("embedded://")
        .topic_partitions(3)
        .commit_interval(Duration::from_millis(200))
        .web_port(port)
        .table(&COUNTS)
        .agent(&tally::AGENT)
        .task(&feed::TASK);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(faust::worker::run_until(app, async {
        let _ = stopped.await;
    }));
    let checks = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last = String::new();
        // Every event handled and committed, and the client's statistics
        // came round: each partition's lag is 0.
        loop {
            if let Some((200, body)) = get(port, "/status") {
                let status: serde_json::Value = serde_json::from_str(&body).expect("JSON");
                let partitions = status["partitions"].as_array().cloned().unwrap_or_default();
                let high: i64 = partitions
                    .iter()
                    .filter_map(|p| p["high_watermark"].as_i64())
                    .sum();
                if status["state"] == "running"
                    && status["agents"][0]["events"] == 300
                    && partitions.len() == 3
                    && high == 300
                    && partitions.iter().all(|p| p["lag"] == 0)
                {
                    break;
                }
                last = body;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for lag 0 on every partition; last /status: {last}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let (_, status) = get(port, "/status").expect("status");
        assert!(
            status.contains(&format!("\"web\":\"http://127.0.0.1:{port}\"")),
            "{status}"
        );

        let dom = rendered_dom(&format!("http://127.0.0.1:{port}/"));
        assert!(dom.contains("<h1>status-page-test</h1>"), "{dom}");
        assert!(dom.contains(r#"class="state running">running<"#), "{dom}");
        let agent = row(&dom, r#"data-agent="tally""#);
        assert!(agent.contains(r#"<td class="name">tally</td>"#), "{agent}");
        assert!(
            agent.contains(r#"<td class="num events">300</td>"#),
            "{agent}"
        );
        assert!(
            agent.contains(r#"<td class="num errors">0</td>"#),
            "{agent}"
        );
        for partition in 0..3 {
            let row = row(
                &dom,
                &format!(r#"data-partition="status-numbers[{partition}]""#),
            );
            assert!(row.contains(r#"<td class="num lag">0</td>"#), "{row}");
            assert!(
                !row.contains(r#"<td class="num high">–</td>"#),
                "a high watermark: {row}"
            );
        }
        let table = row(&dom, r#"data-table="status-counts""#);
        assert!(
            table.contains(r#"<td class="store">memory</td>"#),
            "{table}"
        );
        assert!(
            table.contains(r#"<td class="partitions">0, 1, 2</td>"#),
            "{table}"
        );
        assert!(table.contains(r#"<td class="num keys">7</td>"#), "{table}");
        for link in ["/metrics", "/agents", "/topics"] {
            assert!(dom.contains(&format!(r#"href="{link}""#)), "{link}: {dom}");
        }
    });
    let result = checks.await;
    let _ = stop.send(());
    let stopped = tokio::time::timeout(Duration::from_secs(30), worker).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic.into_panic());
    }
    stopped
        .expect("the worker stops within 30 s")
        .expect("worker task")
        .expect("the worker stops cleanly");
}
