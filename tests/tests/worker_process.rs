//! The worker as a process: a broker that is down gives clear log lines
//! and retries, and SIGINT still shuts the worker down cleanly.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    port
}

#[test]
fn a_broker_that_is_down_is_retried_with_clear_logs_and_sigint_still_stops_the_worker() {
    let port = closed_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cli_app"))
        .arg("worker")
        .env_clear()
        .env("FAUST_BROKER", format!("kafka://127.0.0.1:{port}"))
        .env("FAUST_ADMIN__SOCKET_CONNECTION_SETUP_TIMEOUT_MS", "1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the worker");

    // Collect both streams on threads; look for the retry line.
    let (tx, rx) = mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let retry_line = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("cannot create topics") && line.contains("retrying") => {
                break line;
            }
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no retry line within 60 s; the worker said:\n{}",
                    seen.join("\n")
                );
            }
        }
    };
    assert!(
        retry_line.contains(&format!("127.0.0.1:{port}")),
        "names the broker: {retry_line}"
    );

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("send SIGINT");
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait for the worker") {
            break exit;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the worker did not stop within 20 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "a graceful stop exits 0, got {exit}");
}
