//! What the web-endpoint suites (`embedded_web*.rs`, `embedded_statsd.rs`,
//! `embedded_status_page.rs`) share: a free loopback port, a plain
//! HTTP/1.1 `GET` against a worker's endpoint, waiting with a deadline, and
//! reading a Prometheus page.
//!
//! Each suite uses its own subset.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// A loopback port nothing listens on.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// An answer: the status, the head (status line and headers) and the body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: String,
}

impl Answer {
    /// The value of the header `name` (any case), if the answer has it.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

/// `GET path` on 127.0.0.1:`port`; `None` while nothing answers there.
pub(crate) fn get_answer(port: u16, path: &str) -> Option<Answer> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some(Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    })
}

/// `GET path` on 127.0.0.1:`port`: the status code and the body.
pub(crate) fn get(port: u16, path: &str) -> Option<(u16, String)> {
    get_answer(port, path).map(|a| (a.status, a.body))
}

/// Waits until `check` holds, polling every 100 ms; panics naming `what`
/// past `deadline`.
pub(crate) fn wait_for(what: &str, deadline: Instant, check: &dyn Fn() -> bool) {
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The sum of every sample of `name` in a Prometheus text page.
pub(crate) fn sum(page: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = page
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}
