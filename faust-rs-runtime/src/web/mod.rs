//! The worker's web endpoint (axum), on `127.0.0.1:6066` unless told
//! otherwise (`web_bind`, `web_port`; `web_enabled = false` turns it off):
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /health` | `200 {"status":"ok"}` while the worker runs, `503` once it stops |
//! | `GET /ready` | `200 {"ready":true}` once the worker has its partitions and their tables are recovered; `503` with the reason before (starting, recovering, stopping) |
//! | `GET /metrics` | every `metrics` counter, gauge and histogram, in Prometheus' text format |
//! | `GET /agents` | the agents: topics, sinks, concurrency, error policy, dead-letter topic |
//! | `GET /topics` | the topics the app uses, with partitions and configs |
//! | `GET /tables/{table}/{key}` | the key's value as JSON (every window of it for a windowed table), from this worker's copy; `404` for an unknown table or key; `421` when another worker owns the key's partition, naming the partition |
//! | `GET` a `#[page]`'s path | what the page answers: its value as JSON, or its [`Reply`] (see [Pages](#pages)) |
//!
//! The metrics recorder is process-wide (the `metrics` crate has one): the
//! first worker of a process installs a Prometheus recorder, unless the
//! program installed its own, in which case `/metrics` says so.
//!
//! # Pages
//!
//! Each `#[page("/path")]` function (Python Faust's `@app.page`) answers
//! `GET` on its path, beside the routes above. A `{name}` segment of the
//! path is the argument of that name, parsed from the segment's text
//! (percent-decoded) with its `FromStr`; an `Option<T>` argument is read
//! from the query string (`?limit=10`), and a `bool` argument is true when
//! the query string names it (`?verbose`). A value that does not parse
//! answers `400` naming the parameter.
//!
//! The function returns `Result<T, E>`: `T` is any `Serialize` value,
//! answered as JSON, or a [`Reply`] for another content type or status
//! ([`IntoReply`]). An `Err` answers `500` with `{"error": "..."}`. The
//! page runs with the app's context, like a `#[task]`: tables,
//! `Topic::send` and agents' `ask` work, and what it sends is on the broker
//! before it answers. A table answers from this worker's copy, which holds
//! the partitions this worker owns. A path that is a built-in route, or
//! another page's path with other parameter names, stops the worker at
//! start with an error naming both. The test driver answers pages without
//! a server: [`TestDriver::get`](crate::testing::TestDriver::get).

pub(crate) mod client;
pub(crate) mod page;

pub use page::{IntoReply, Reply};
#[doc(hidden)]
pub use page::{PageFuture, page_future};

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::{Value, json};

use crate::app::AppCore;
use crate::app::registry::{PageDef, TableDef};
use crate::error::{Error, Result};
use crate::worker::lifecycle::Lifecycle;

/// What the routes read.
#[derive(Clone)]
pub(crate) struct WebState {
    core: Arc<AppCore>,
    lifecycle: Arc<Lifecycle>,
    tables: Arc<Vec<&'static TableDef>>,
    agents: Arc<Value>,
    topics: Arc<Value>,
    /// Whether the worker reads any topic (without one it is ready at once).
    reads: bool,
    /// The app's `#[page]`s.
    pages: Arc<Vec<&'static PageDef>>,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState").finish_non_exhaustive()
    }
}

impl WebState {
    pub(crate) fn new(
        core: Arc<AppCore>,
        lifecycle: Arc<Lifecycle>,
        tables: Vec<&'static TableDef>,
        agents: Value,
        topics: Value,
        reads: bool,
        pages: Vec<&'static PageDef>,
    ) -> Self {
        WebState {
            core,
            lifecycle,
            tables: Arc::new(tables),
            agents: Arc::new(agents),
            topics: Arc::new(topics),
            reads,
            pages: Arc::new(pages),
        }
    }
}

/// The process's Prometheus recorder; `None` when the program installed
/// another recorder first.
pub(crate) fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
                    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// Binds the endpoint's address: an error names the address and the fix.
/// The default port taken (another worker on this machine), it takes any
/// free port and says so; a port the settings chose must be free.
pub(crate) async fn bind(bind: &str, port: u16, chosen: bool) -> Result<tokio::net::TcpListener> {
    match bind_exactly(bind, port).await {
        Err(e) if !chosen && port != 0 => {
            let listener = bind_exactly(bind, 0).await.map_err(|_| e)?;
            if let Ok(addr) = listener.local_addr() {
                tracing::warn!(
                    "web port {port} is in use (another worker on this machine?): serving on \
                     {addr} instead; set `web_port` (FAUST_WEB_PORT) to choose one"
                );
            }
            Ok(listener)
        }
        result => result,
    }
}

async fn bind_exactly(bind: &str, port: u16) -> Result<tokio::net::TcpListener> {
    let addr: SocketAddr = format!("{bind}:{port}").parse().map_err(|_| {
        Error::config(format!(
            "web_bind `{bind}` is not an IP address; use e.g. 127.0.0.1 (or 0.0.0.0 to listen \
             on every interface)"
        ))
    })?;
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::config(format!(
            "the web endpoint cannot listen on {addr}: {e}; set another `web_port` \
             (FAUST_WEB_PORT, 0 for any free port) or turn it off with `web_enabled = false`"
        ))
    })
}

/// Serves the routes on `listener` until the worker stops.
pub(crate) async fn serve(listener: tokio::net::TcpListener, state: WebState) -> Result<()> {
    let lifecycle = state.lifecycle.clone();
    let router = axum::Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .route(
            "/agents",
            get(|State(s): State<WebState>| async move { Json((*s.agents).clone()) }),
        )
        .route(
            "/topics",
            get(|State(s): State<WebState>| async move { Json((*s.topics).clone()) }),
        )
        .route("/tables/{table}/{key}", get(table_value))
        .merge(page::routes(state.core.clone(), &state.pages))
        .with_state(state);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { lifecycle.stopped().await })
        .await
        .map_err(|e| Error::Transport {
            what: "serving the web endpoint".into(),
            source: Box::new(e),
        })
}

async fn health(State(s): State<WebState>) -> Response {
    if s.lifecycle.is_stopping() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "stopping"})),
        )
            .into_response();
    }
    Json(json!({"status": "ok"})).into_response()
}

async fn ready(State(s): State<WebState>) -> Response {
    let tables = &s.core.tables;
    let reason = if s.lifecycle.is_stopping() {
        Some("stopping")
    } else if tables.is_recovering() {
        Some("recovering tables from their changelogs")
    } else if s.reads && !tables.is_empty() && !tables.has_owner() {
        Some("waiting for partitions from the consumer group")
    } else {
        None
    };
    match reason {
        None => Json(json!({"ready": true})).into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": reason})),
        )
            .into_response(),
    }
}

async fn metrics_text() -> Response {
    match prometheus() {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_IMPLEMENTED,
            "this program installed its own `metrics` recorder: its exporter has the metrics\n",
        )
            .into_response(),
    }
}

async fn table_value(
    State(s): State<WebState>,
    Path((name, key)): Path<(String, String)>,
) -> Response {
    let error = |status: StatusCode, message: String| {
        (status, Json(json!({"error": message}))).into_response()
    };
    let Some(def) = s.tables.iter().find(|t| t.name == name) else {
        let known: Vec<&str> = s.tables.iter().map(|t| t.name).collect();
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "no table named `{name}`; the tables are: {}",
                known.join(", ")
            ),
        );
    };
    let Some(table) = s.core.tables.get(def.name) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("table `{name}` is not loaded"),
        );
    };
    let key_bytes = match (def.types.key_from_text)(&s.core.codecs, def.key_serializer, &key) {
        Ok(bytes) => bytes,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("table `{name}`: {e}")),
    };
    if !def.kind.is_global() {
        let partition = table.partition_of(&key_bytes);
        if !s.core.tables.owned_partitions().contains(&partition) {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                Json(json!({
                    "error": format!(
                        "key {key:?} of table `{name}` is in partition {partition}, which \
                         another worker of the group owns: ask that worker"
                    ),
                    "partition": partition,
                })),
            )
                .into_response();
        }
    }
    match crate::table::lookup_json(&s.core.codecs, def, table, &key_bytes) {
        Ok(Some(value)) => Json(value).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("table `{name}` has no value for key {key:?}"),
        ),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("table `{name}`: {e}"),
        ),
    }
}

/// The state of `engine`'s endpoint.
pub(crate) fn state_of(engine: &crate::worker::engine::Engine) -> WebState {
    let agents: Vec<Value> = engine
        .agents
        .iter()
        .map(|agent| {
            json!({
                "name": &*agent.name,
                "topics": agent.topics.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                "sinks": agent.sink_topics.iter().map(|(t, _)| t.to_string()).collect::<Vec<_>>(),
                "concurrency": agent.concurrency,
                "on_error": format!("{:?}", agent.on_error),
                "dead_letter": agent.dead_letter.as_ref().map(|t| t.to_string()),
            })
        })
        .collect();
    let topics: Vec<Value> = engine
        .topic_specs()
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "partitions": t.partitions,
                "replication": t.replication,
                "config": t.config.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            })
        })
        .collect();
    let reads = engine.agents.iter().any(|a| !a.topics.is_empty());
    WebState::new(
        engine.core.clone(),
        engine.lifecycle.clone(),
        engine.app.tables.clone(),
        Value::Array(agents),
        Value::Array(topics),
        reads,
        engine.app.pages.clone(),
    )
}
