//! Helpers shared by the benchmarks that run against a local Tansu: the
//! broker, client settings from the environment, and `/proc` readings.
//!
//! Each bench includes this file with `mod common;`; not every bench uses
//! every helper.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};

/// The benches' error type.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `var` as a number (`1_000_000` allowed).
pub(crate) fn env_u64(var: &str) -> Option<u64> {
    std::env::var(var)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
}

/// `key=value,key=value` from `var`.
pub(crate) fn overrides(var: &str) -> Vec<(String, String)> {
    std::env::var(var)
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// A client of `broker` with `settings`, logging warnings and worse.
pub(crate) fn client(broker: &str, settings: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", broker);
    config.set_log_level(RDKafkaLogLevel::Warning);
    for (k, v) in settings {
        config.set(*k, *v);
    }
    config
}

/// `settings` as `key=value key=value`, for the printed results.
pub(crate) fn settings_line(settings: &[(&str, &str)]) -> String {
    settings
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `key=value` fields of a child's `BENCH_...` report lines.
pub(crate) fn report_fields(out: &str) -> HashMap<String, String> {
    out.lines()
        .filter(|l| l.starts_with("BENCH_"))
        .flat_map(|l| l.split_whitespace().skip(1))
        .filter_map(|f| f.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A field of `/proc/<pid>/status` in kB (`VmHWM:`, `VmRSS:`).
pub(crate) fn vm_field_kb(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// This process's peak RSS in kB.
pub(crate) fn self_peak_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    vm_field_kb(&status, "VmHWM:").unwrap_or(0)
}

/// User + system CPU seconds of `/proc/<pid>` (USER_HZ = 100 on Linux).
pub(crate) fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The median of `v` (NaN when empty).
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Tansu with the memory engine on a free loopback port, started through
/// the project's script; stopped (and its directory removed) on drop.
pub(crate) struct Broker {
    script: String,
    dir: PathBuf,
    port: u16,
}

impl Broker {
    /// Fails unless Tansu is installed: the benches never build it.
    pub(crate) fn check_installed() -> Result<(), BoxError> {
        let root = std::env::var("TANSU_ROOT").unwrap_or_else(|_| {
            format!(
                "{}/.cache/faust-rs/tansu",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        if Path::new(&format!("{root}/bin/tansu")).exists() {
            Ok(())
        } else {
            Err(format!(
                "Tansu is not installed in {root}: run `scripts/tansu install` first (~10 min)"
            )
            .into())
        }
    }

    /// A new broker; `tag` names its directory.
    pub(crate) fn start(tag: &str) -> Result<Broker, BoxError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("faust-bench-{}-{tag}", std::process::id()));
        let broker = Broker {
            script: format!("{}/../scripts/tansu", env!("CARGO_MANIFEST_DIR")),
            dir,
            port,
        };
        let out = Command::new("bash")
            .arg(&broker.script)
            .arg("start")
            .arg(&broker.dir)
            .arg(port.to_string())
            .arg("memory")
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "`scripts/tansu start` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(broker)
    }

    /// `127.0.0.1:PORT`.
    pub(crate) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's process id, as a `/proc` path segment.
    pub(crate) fn pid(&self) -> String {
        std::fs::read_to_string(self.dir.join("tansu.pid"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// The broker's CPU seconds so far.
    pub(crate) fn cpu(&self) -> f64 {
        cpu_seconds(&self.pid()).unwrap_or(f64::NAN)
    }

    /// The broker's resident memory now, in MB.
    pub(crate) fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()));
        vm_field_kb(&status.unwrap_or_default(), "VmRSS:").unwrap_or(0) as f64 / 1024.0
    }

    /// Creates `name` with `partitions` through the script.
    pub(crate) fn create_topic(&self, name: &str, partitions: i32) -> Result<(), BoxError> {
        let out = Command::new("bash")
            .arg(&self.script)
            .args([
                "topic",
                &self.port.to_string(),
                name,
                &partitions.to_string(),
            ])
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "creating topic {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("stop")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
