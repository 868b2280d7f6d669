//! The process's metrics recorder: Prometheus for `/metrics`, StatsD
//! (DogStatsD) over UDP, both, or none, as `metrics_exporter` says.
//!
//! The `metrics` crate has one recorder per process: the first worker
//! installs it and later ones use it as it is. Under `statsd` with the web
//! endpoint on, a fan-out sends every metric to both exporters, so
//! `/metrics` keeps answering.

use std::sync::OnceLock;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_dogstatsd::{DogStatsDBuilder, DogStatsDRecorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::app::config::{MetricsExporter, Settings};
use crate::error::{Error, Result};

/// Histogram buckets of `/metrics` (seconds).
const BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// What the process installed.
#[derive(Debug)]
struct Installed {
    /// What `/metrics` renders; `None`: see `why_not`.
    prometheus: Option<PrometheusHandle>,
    /// Why `/metrics` has nothing, for its answer.
    why_not: &'static str,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Installs the process's recorder as `settings` say, before anything
/// registers a metric (handles taken earlier stay bound to no recorder).
/// The first call of the process decides; later calls do nothing.
///
/// # Errors
/// `metrics_exporter = "statsd"` with a `statsd_address` that does not
/// parse or resolve.
pub(crate) fn install(settings: &Settings) -> Result<()> {
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let statsd = match settings.metrics_exporter {
        MetricsExporter::Statsd => Some(statsd(settings)?),
        _ => None,
    };
    let prometheus = (settings.web_enabled && settings.metrics_exporter != MetricsExporter::None)
        .then(prometheus_recorder)
        .flatten();
    INSTALLED.get_or_init(|| {
        let handle = prometheus.as_ref().map(PrometheusRecorder::handle);
        if let Some(handle) = &handle {
            start_upkeep(handle.clone());
        }
        let installed = match (prometheus, statsd) {
            (None, None) => {
                return Installed {
                    prometheus: None,
                    why_not: if settings.metrics_exporter == MetricsExporter::None {
                        "metrics are off (metrics_exporter = \"none\"); set metrics_exporter = \
                         \"prometheus\" (FAUST_METRICS_EXPORTER) to serve them here\n"
                    } else {
                        "no metrics recorder is installed\n"
                    },
                };
            }
            (Some(p), None) => metrics::set_global_recorder(p).is_ok(),
            (None, Some(s)) => metrics::set_global_recorder(s).is_ok(),
            (Some(p), Some(s)) => metrics::set_global_recorder(
                metrics_util::layers::FanoutBuilder::default()
                    .add_recorder(p)
                    .add_recorder(s)
                    .build(),
            )
            .is_ok(),
        };
        match installed {
            true => Installed {
                why_not: "metrics go to StatsD only (the web endpoint was off when the \
                          recorder was installed)\n",
                prometheus: handle,
            },
            false => {
                tracing::warn!(
                    "this program installed its own `metrics` recorder: faust's metrics go \
                     there, and metrics_exporter = {:?} is not used",
                    settings.metrics_exporter.as_str()
                );
                Installed {
                    prometheus: None,
                    why_not: "this program installed its own `metrics` recorder: its exporter \
                              has the metrics\n",
                }
            }
        }
    });
    Ok(())
}

/// The `/metrics` answer: Prometheus' text, or why there is none.
pub(crate) fn text() -> Response {
    match INSTALLED.get() {
        Some(Installed {
            prometheus: Some(handle),
            ..
        }) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        Some(Installed { why_not, .. }) => (StatusCode::NOT_FOUND, *why_not).into_response(),
        None => (StatusCode::NOT_FOUND, "no metrics recorder is installed\n").into_response(),
    }
}

/// How often the Prometheus histograms fold their samples into buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds the histograms' samples into their buckets every
/// [`UPKEEP_EVERY`]: the recorder keeps every sample until then, so a
/// worker nobody scrapes would otherwise hold one per event.
fn start_upkeep(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("faust-metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = started {
        tracing::warn!(
            "cannot start the metrics upkeep thread: {e}; histogram samples are kept until \
             /metrics is scraped"
        );
    }
}

fn prometheus_recorder() -> Option<PrometheusRecorder> {
    Some(
        PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .ok()?
            .build_recorder(),
    )
}

/// The StatsD exporter of `settings`, its names and tags as they say.
fn statsd(settings: &Settings) -> Result<StatsdNames<DogStatsDRecorder>> {
    let address = &settings.statsd_address;
    let mut builder = DogStatsDBuilder::default()
        .with_remote_address(address)
        .map_err(|e| {
            Error::config(format!(
                "statsd_address `{address}`: {e}; set it (FAUST_STATSD_ADDRESS) to host:port, \
                 e.g. 127.0.0.1:8125, or unixgram://PATH for the Datadog Agent's socket"
            ))
        })?
        .with_telemetry(false)
        .send_histograms_as_distributions(settings.statsd_tags);
    if !settings.statsd_prefix.is_empty() {
        builder = builder.set_global_prefix(settings.statsd_prefix.clone());
    }
    let recorder = builder.build().map_err(|e| {
        Error::config(format!(
            "the StatsD exporter (statsd_address `{address}`) did not start: {e}"
        ))
    })?;
    Ok(StatsdNames {
        inner: recorder,
        tags: settings.statsd_tags,
    })
}

/// StatsD names: faust's own metrics lose their `faust_` start (the
/// prefix and its `.` take its place: `faust.events_in_total`), and
/// without tags the labels are dropped, so a plain StatsD server gets one
/// series per metric.
#[derive(Debug)]
struct StatsdNames<R> {
    inner: R,
    tags: bool,
}

impl<R> StatsdNames<R> {
    fn key(&self, key: &Key) -> Key {
        let name = statsd_name(key.name());
        if self.tags {
            Key::from_parts(name, key.labels().cloned().collect::<Vec<_>>())
        } else {
            Key::from_name(name)
        }
    }
}

fn statsd_name(name: &str) -> String {
    name.strip_prefix("faust_").unwrap_or(name).to_owned()
}

impl<R: Recorder> Recorder for StatsdNames<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        let name = KeyName::from(statsd_name(key.as_str()));
        self.inner.describe_counter(name, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        let name = KeyName::from(statsd_name(key.as_str()));
        self.inner.describe_gauge(name, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        let name = KeyName::from(statsd_name(key.as_str()));
        self.inner.describe_histogram(name, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.inner.register_counter(&self.key(key), metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(&self.key(key), metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.inner.register_histogram(&self.key(key), metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics::Label;

    #[test]
    fn statsd_names_drop_the_faust_start_and_keep_or_drop_the_labels() {
        let key = Key::from_parts(
            "faust_events_in_total",
            vec![Label::new("topic", "orders"), Label::new("partition", "0")],
        );
        let tagged = StatsdNames {
            inner: (),
            tags: true,
        }
        .key(&key);
        assert_eq!(tagged.name(), "events_in_total");
        let labels: Vec<(&str, &str)> = tagged.labels().map(|l| (l.key(), l.value())).collect();
        assert_eq!(labels, [("topic", "orders"), ("partition", "0")]);
        let plain = StatsdNames {
            inner: (),
            tags: false,
        }
        .key(&key);
        assert_eq!(plain.name(), "events_in_total");
        assert_eq!(plain.labels().count(), 0);
        assert_eq!(statsd_name("orders_seen_total"), "orders_seen_total");
    }
}
