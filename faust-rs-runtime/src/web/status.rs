//! The status page: `GET /status`, one JSON snapshot of the worker, and
//! `GET /`, the same snapshot as an HTML page for people (it reloads
//! itself every 2 seconds).
//!
//! The snapshot is gathered when it is asked for, from what the worker
//! keeps anyway: the consumer's assignment and high watermarks, the
//! offset tracker's read and committed offsets, the agents' running
//! totals ([`AgentCounts`](crate::agent::runner::AgentCounts)), the
//! tables' stores and recovery progress. Nothing on the event path waits
//! for it. The `status` command prints the same snapshot in a terminal.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde::{Deserialize, Serialize};

use crate::agent::ack::OffsetTracker;
use crate::agent::runner::AgentRuntime;
use crate::app::AppCore;
use crate::transport::{Consumer, Leadership};
use crate::worker::lifecycle::Lifecycle;

/// One snapshot of a worker, as `/status` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Status {
    /// The app id (the consumer group).
    pub(crate) app: String,
    /// Seconds since the worker started.
    pub(crate) uptime_seconds: u64,
    /// What the worker is doing.
    pub(crate) state: WorkerState,
    /// Where its web endpoint listens: `http://host:port`.
    pub(crate) web: String,
    pub(crate) agents: Vec<AgentStatus>,
    /// The partitions of its input topics it is assigned.
    pub(crate) partitions: Vec<PartitionStatus>,
    pub(crate) tables: Vec<TableStatus>,
    /// The last commit's table store failure (a full disk, say) while it
    /// lasts: the writes wait in memory and each commit tries again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) store_error: Option<String>,
}

/// What a worker is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WorkerState {
    /// Declaring its topics, not in its consumer group yet.
    Starting,
    /// In the group, waiting for it to hand out the partitions.
    WaitingForPartitions,
    /// Rebuilding the tables of its partitions from their changelogs.
    Recovering,
    /// Processing.
    Running,
    /// Finishing what it has, then stopping.
    Stopping,
}

impl WorkerState {
    /// The state in words.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            WorkerState::Starting => "starting",
            WorkerState::WaitingForPartitions => "waiting for partitions",
            WorkerState::Recovering => "recovering",
            WorkerState::Running => "running",
            WorkerState::Stopping => "stopping",
        }
    }
}

/// An agent and its running totals since the worker started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AgentStatus {
    pub(crate) name: String,
    pub(crate) topics: Vec<String>,
    /// Events handled (a stream agent's: taken from its stream).
    pub(crate) events: u64,
    /// Events that failed for good, after their retries.
    pub(crate) errors: u64,
    /// Events written to the dead-letter topic.
    pub(crate) dead_letters: u64,
}

/// An assigned partition: `None` where the worker does not know (yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PartitionStatus {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    /// The next offset this worker reads.
    pub(crate) read_offset: Option<i64>,
    /// The offset this worker last committed.
    pub(crate) committed_offset: Option<i64>,
    /// The partition's end (from the client's last statistics).
    pub(crate) high_watermark: Option<i64>,
    /// `high_watermark - committed_offset`: records not committed yet.
    pub(crate) lag: Option<i64>,
}

/// A table on this worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TableStatus {
    pub(crate) name: String,
    /// `Table`, `SetTable`, `GlobalTable`, ...
    pub(crate) kind: String,
    /// `memory` or `rocksdb://DIR`.
    pub(crate) store: String,
    /// The partitions this worker holds as their owner (a global table's:
    /// every partition).
    pub(crate) partitions: Vec<i32>,
    /// Keys held (counted for in-memory stores only: a RocksDB count is a
    /// scan).
    pub(crate) keys: Option<u64>,
    /// Changelog records the last recovery read.
    pub(crate) recovered_records: u64,
    /// Changelog records it has still to read.
    pub(crate) remaining_records: u64,
}

/// What the status routes read: the worker's own state, shared.
pub(crate) struct Sources {
    core: Arc<AppCore>,
    lifecycle: Arc<Lifecycle>,
    /// Whether the worker reads any topic.
    reads: bool,
    started: Instant,
    consumer: Arc<Mutex<Option<Arc<dyn Consumer>>>>,
    tracker: Arc<OffsetTracker>,
    agents: Vec<Arc<AgentRuntime>>,
    /// The web endpoint's address, once it listens.
    address: OnceLock<String>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("app", &self.core.app_id)
            .finish_non_exhaustive()
    }
}

impl Sources {
    /// The sources of `engine`'s status.
    pub(crate) fn of(engine: &crate::worker::engine::Engine) -> Arc<Sources> {
        Arc::new(Sources {
            core: engine.core.clone(),
            lifecycle: engine.lifecycle.clone(),
            reads: engine.agents.iter().any(|a| !a.topics.is_empty()),
            started: engine.started,
            consumer: engine.consumer.clone(),
            tracker: engine.tracker.clone(),
            agents: engine.agents.clone(),
            address: OnceLock::new(),
        })
    }

    /// Notes where the endpoint listens.
    pub(crate) fn listening_on(&self, address: std::net::SocketAddr) {
        let _ = self.address.set(format!("http://{address}"));
    }

    /// The snapshot now.
    pub(crate) fn snapshot(&self) -> Status {
        let consumer = self
            .consumer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let assigned = consumer.as_ref().and_then(|c| c.assigned_partitions());
        Status {
            app: self.core.app_id.to_string(),
            uptime_seconds: self.started.elapsed().as_secs(),
            state: self.state(consumer.is_some(), assigned.as_deref()),
            web: self.address.get().cloned().unwrap_or_default(),
            agents: self.agents(),
            partitions: self.partitions(consumer.as_deref(), assigned),
            tables: self.tables(),
            store_error: self.core.tables.flush_failure().map(|e| e.to_string()),
        }
    }

    fn state(&self, has_consumer: bool, assigned: Option<&[(Arc<str>, i32)]>) -> WorkerState {
        let tables = &self.core.tables;
        if self.lifecycle.is_stopping() {
            WorkerState::Stopping
        } else if tables.is_recovering() {
            WorkerState::Recovering
        } else if !self.reads {
            WorkerState::Running
        } else if !has_consumer {
            WorkerState::Starting
        } else if match assigned {
            Some(assigned) => assigned.is_empty(),
            None => !tables.is_empty() && !tables.has_owner(),
        } {
            WorkerState::WaitingForPartitions
        } else {
            WorkerState::Running
        }
    }

    fn agents(&self) -> Vec<AgentStatus> {
        use std::sync::atomic::Ordering::Relaxed;
        self.agents
            .iter()
            .map(|agent| AgentStatus {
                name: agent.name.to_string(),
                topics: agent.topics.iter().map(|t| t.to_string()).collect(),
                events: agent.counts.events.load(Relaxed),
                errors: agent.counts.errors.load(Relaxed),
                dead_letters: agent.counts.dead_letters.load(Relaxed),
            })
            .collect()
    }

    /// The assigned partitions (those read since their assignment when the
    /// consumer cannot tell), the leader election's left out.
    fn partitions(
        &self,
        consumer: Option<&dyn Consumer>,
        assigned: Option<Vec<(Arc<str>, i32)>>,
    ) -> Vec<PartitionStatus> {
        let positions = self.tracker.positions();
        let mut keys: Vec<(Arc<str>, i32)> = match assigned {
            Some(assigned) => assigned,
            None => positions
                .iter()
                .map(|p| (p.topic.clone(), p.partition))
                .collect(),
        };
        let leader = Leadership::topic_of(&self.core.app_id);
        keys.retain(|(topic, _)| **topic != *leader);
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .map(|(topic, partition)| {
                let (read_offset, committed_offset) = positions
                    .iter()
                    .find(|p| p.partition == partition && p.topic == topic)
                    .map_or((None, None), |p| (p.read, p.committed));
                let high_watermark = consumer.and_then(|c| c.high_watermark(&topic, partition));
                PartitionStatus {
                    topic: topic.to_string(),
                    partition,
                    read_offset,
                    committed_offset,
                    high_watermark,
                    lag: lag(high_watermark, committed_offset),
                }
            })
            .collect()
    }

    fn tables(&self) -> Vec<TableStatus> {
        let owned = self.core.tables.owned_partitions();
        self.core
            .tables
            .all()
            .iter()
            .map(|table| {
                let store = table.describe_store();
                let held = table.held();
                let partitions = if table.def.kind.is_global() {
                    held.iter().copied().collect()
                } else {
                    owned.iter().copied().filter(|p| held.contains(p)).collect()
                };
                let keys = (store == "memory")
                    .then(|| table.partition_sizes().ok())
                    .flatten()
                    .map(|sizes| sizes.iter().map(|(_, n)| *n as u64).sum());
                TableStatus {
                    name: table.def.name.to_owned(),
                    kind: table.def.kind.type_name().to_owned(),
                    store,
                    partitions,
                    keys,
                    recovered_records: table.recovery.done(),
                    remaining_records: table.recovery.remaining(),
                }
            })
            .collect()
    }
}

/// Records of a partition not committed yet; an empty partition has none
/// whatever was committed.
fn lag(high_watermark: Option<i64>, committed: Option<i64>) -> Option<i64> {
    match (high_watermark, committed) {
        (Some(high), Some(committed)) => Some((high - committed).max(0)),
        (Some(0), None) => Some(0),
        _ => None,
    }
}

/// The routes `GET /status` and `GET /`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(sources: Arc<Sources>) -> axum::Router<S> {
    let page_sources = sources.clone();
    axum::Router::new()
        .route(
            "/status",
            axum::routing::get(move || {
                let sources = sources.clone();
                async move { Json(sources.snapshot()) }
            }),
        )
        .route(
            "/",
            axum::routing::get(move || {
                let sources = page_sources.clone();
                async move { html_response(&sources.snapshot()) }
            }),
        )
}

fn html_response(status: &Status) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        render(status).into_string(),
    )
        .into_response()
}

/// How long the page waits before it reloads itself.
const REFRESH_SECONDS: u32 = 2;

const CSS: &str = "\
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:72em;padding:0 1em;color:#222}\
h1{font-size:1.5em;margin:0 .5em 0 0;display:inline}h2{font-size:1.1em;margin:1.5em 0 .4em}\
header{display:flex;align-items:baseline;flex-wrap:wrap;gap:.5em}\
.state{padding:.1em .6em;border-radius:1em;background:#ddd;font-weight:600}\
.state.running{background:#c8ecc8}.state.recovering,.state.waiting_for_partitions,.state.starting{background:#f6e7b0}\
.state.stopping{background:#f3c4c4}.meta{color:#666}\
nav a{margin-right:1em}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.25em .8em .25em 0;border-bottom:1px solid #eee}\
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
td.behind{color:#a40;font-weight:600}td.bad{color:#b00;font-weight:600}.none{color:#999}\
progress{width:8em;vertical-align:middle}";

/// The status page.
fn render(status: &Status) -> Markup {
    let uptime = humantime::format_duration(Duration::from_secs(status.uptime_seconds));
    let state = serde_json::to_value(status.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content=(REFRESH_SECONDS);
                title { (status.app) " · faust-rs worker" }
                style { (maud::PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (status.app) }
                    span id="state" class={ "state " (state) } { (status.state.describe()) }
                    span class="meta" { "up " (uptime) " · " (status.web) }
                }
                @if let Some(error) = &status.store_error {
                    p id="store-error" class="bad" { (error) }
                }
                nav {
                    a href="/metrics" { "metrics" }
                    a href="/agents" { "agents" }
                    a href="/topics" { "topics" }
                    a href="/status" { "status (JSON)" }
                    a href="/ready" { "ready" }
                }
                h2 { "Agents" }
                @if status.agents.is_empty() {
                    p class="none" { "no agents" }
                } @else {
                    table id="agents" {
                        thead { tr {
                            th { "agent" } th { "topics" } th class="num" { "events" }
                            th class="num" { "errors" } th class="num" { "dead letters" }
                        } }
                        tbody {
                            @for agent in &status.agents {
                                tr data-agent=(agent.name) {
                                    td class="name" { (agent.name) }
                                    td class="topics" { (agent.topics.join(", ")) }
                                    td class="num events" { (agent.events) }
                                    td class={ "num errors" @if agent.errors > 0 { " bad" } } { (agent.errors) }
                                    td class={ "num dead-letters" @if agent.dead_letters > 0 { " bad" } } { (agent.dead_letters) }
                                }
                            }
                        }
                    }
                }
                h2 { "Partitions" }
                @if status.partitions.is_empty() {
                    p class="none" { "no partitions assigned" }
                } @else {
                    table id="partitions" {
                        thead { tr {
                            th { "topic" } th class="num" { "partition" } th class="num" { "read" }
                            th class="num" { "committed" } th class="num" { "high watermark" }
                            th class="num" { "lag" }
                        } }
                        tbody {
                            @for p in &status.partitions {
                                tr data-partition={ (p.topic) "[" (p.partition) "]" } {
                                    td class="topic" { (p.topic) }
                                    td class="num partition" { (p.partition) }
                                    td class="num read" { (offset(p.read_offset)) }
                                    td class="num committed" { (offset(p.committed_offset)) }
                                    td class="num high" { (offset(p.high_watermark)) }
                                    td class={ "num lag" @if p.lag.unwrap_or(0) > 0 { " behind" } } { (offset(p.lag)) }
                                }
                            }
                        }
                    }
                }
                h2 { "Tables" }
                @if status.tables.is_empty() {
                    p class="none" { "no tables" }
                } @else {
                    table id="tables" {
                        thead { tr {
                            th { "table" } th { "kind" } th { "store" } th { "partitions" }
                            th class="num" { "keys" } th { "recovery" }
                        } }
                        tbody {
                            @for t in &status.tables {
                                tr data-table=(t.name) {
                                    td class="name" { (t.name) }
                                    td class="kind" { (t.kind) }
                                    td class="store" { (t.store) }
                                    td class="partitions" { (partition_list(&t.partitions)) }
                                    td class="num keys" { (t.keys.map_or("–".to_owned(), |k| k.to_string())) }
                                    td class="recovery" { (recovery(t)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn offset(value: Option<i64>) -> String {
    value.map_or("–".to_owned(), |v| v.to_string())
}

fn partition_list(partitions: &[i32]) -> String {
    if partitions.is_empty() {
        return "none".to_owned();
    }
    let list: Vec<String> = partitions.iter().map(i32::to_string).collect();
    list.join(", ")
}

fn recovery(table: &TableStatus) -> Markup {
    let total = table.recovered_records + table.remaining_records;
    html! {
        @if table.remaining_records > 0 {
            progress value=(table.recovered_records) max=(total) {}
            " " (table.recovered_records) " of " (total) " records"
        } @else if total > 0 {
            "done: " (table.recovered_records) " records"
        } @else {
            span class="none" { "nothing to recover" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            app: "shop<&>".into(),
            uptime_seconds: 3725,
            state: WorkerState::Recovering,
            web: "http://127.0.0.1:6066".into(),
            agents: vec![AgentStatus {
                name: "<script>alert(1)</script>".into(),
                topics: vec!["orders".into(), "refunds".into()],
                events: 42,
                errors: 1,
                dead_letters: 0,
            }],
            partitions: vec![PartitionStatus {
                topic: "orders".into(),
                partition: 2,
                read_offset: Some(10),
                committed_offset: Some(7),
                high_watermark: Some(12),
                lag: Some(5),
            }],
            tables: vec![TableStatus {
                name: "totals\"x".into(),
                kind: "Table".into(),
                store: "memory".into(),
                partitions: vec![0, 2],
                keys: Some(3),
                recovered_records: 25,
                remaining_records: 75,
            }],
            store_error: None,
        }
    }

    #[test]
    fn the_page_escapes_every_value_and_shows_each_section() {
        let html = render(&sample()).into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("<h1>shop&lt;&amp;&gt;</h1>"), "{html}");
        assert!(html.contains(r#"data-table="totals&quot;x""#), "{html}");
        assert!(
            html.contains(r#"<meta http-equiv="refresh" content="2">"#),
            "{html}"
        );
        assert!(html.contains(r#"class="state recovering""#), "{html}");
        assert!(html.contains("up 1h 2m 5s"), "{html}");
        assert!(
            html.contains(r#"<td class="num lag behind">5</td>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<progress value="25" max="100">"#),
            "{html}"
        );
        assert!(html.contains("25 of 100 records"), "{html}");
        for link in ["/metrics", "/agents", "/topics", "/status"] {
            assert!(
                html.contains(&format!(r#"href="{link}""#)),
                "{link}: {html}"
            );
        }
    }

    #[test]
    fn the_json_names_states_in_snake_case_and_reads_back() {
        let status = sample();
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["state"], "recovering");
        assert_eq!(json["partitions"][0]["lag"], 5);
        let back: Status = serde_json::from_value(json).unwrap();
        assert_eq!(back, status);
        assert_eq!(
            serde_json::to_value(WorkerState::WaitingForPartitions).unwrap(),
            "waiting_for_partitions"
        );
    }

    #[test]
    fn lag_is_unknown_until_something_was_committed_unless_the_partition_is_empty() {
        assert_eq!(lag(Some(300), Some(300)), Some(0));
        assert_eq!(lag(Some(300), Some(120)), Some(180));
        assert_eq!(lag(Some(5), Some(9)), Some(0));
        assert_eq!(lag(Some(0), None), Some(0));
        assert_eq!(lag(Some(3), None), None);
        assert_eq!(lag(None, Some(3)), None);
    }
}
