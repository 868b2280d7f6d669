//! What one side of one workload measured, passed from the child process
//! that ran it to the parent that prints the table.

use serde::{Deserialize, Serialize};

/// The line prefix a child prints its report after, as one JSON object.
pub(crate) const REPORT_PREFIX: &str = "FAUST_BENCH_REPORT ";

/// Which implementation ran a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Side {
    /// A faust-rs worker (macros, `App`, the Kafka transport).
    Faust,
    /// A hand-written loop on rdkafka doing the same work.
    Rdkafka,
}

/// One measured run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Events (or records) the run handled.
    pub(crate) events: u64,
    /// Seconds the measured part took.
    pub(crate) seconds: f64,
    /// The process's peak resident memory (`VmHWM`), MiB.
    pub(crate) peak_rss_mib: f64,
    /// CPU time (user + system) the whole process used up to the report,
    /// all threads, startup and shutdown work included: less noisy than
    /// the rate on a busy machine.
    #[serde(default)]
    pub(crate) cpu_seconds: f64,
    /// Further figures, e.g. `("p50 ms", "1.9")`, printed after the rate.
    pub(crate) extra: Vec<(String, String)>,
}

impl Report {
    /// A report of `events` in `seconds`, with this process's peak memory
    /// and CPU time so far.
    pub(crate) fn new(events: u64, seconds: f64) -> Self {
        Report {
            events,
            seconds,
            peak_rss_mib: peak_rss_mib(),
            cpu_seconds: cpu_seconds(),
            extra: Vec::new(),
        }
    }

    /// CPU time per event, µs.
    pub(crate) fn cpu_us_per_event(&self) -> f64 {
        if self.events > 0 {
            self.cpu_seconds * 1e6 / self.events as f64
        } else {
            0.0
        }
    }

    /// Adds a named figure.
    pub(crate) fn with(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        self.extra.push((name.to_owned(), value.to_string()));
        self
    }

    /// Events per second.
    pub(crate) fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.events as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// This process's peak resident set size in MiB, from `/proc/self/status`
/// (0 where there is no procfs).
pub(crate) fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The CPU time this process used so far (user + system, every thread),
/// in seconds, from `/proc/self/stat` (0 where there is no procfs).
pub(crate) fn cpu_seconds() -> f64 {
    /// Linux's `USER_HZ`, the unit of `/proc/*/stat` times.
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name in parentheses: state is field 3, utime 14,
    // stime 15.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / TICKS_PER_SECOND
}
