//! The worker's web endpoint (axum), on `127.0.0.1:6066` unless told
//! otherwise (`web_bind`, `web_port`; `web_enabled = false` turns it off):
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /` | the status page: the snapshot of `/status` as HTML for people (agents, partitions with lag, tables, recovery), reloading itself every 2 s |
//! | `GET /status` | one JSON snapshot of the worker: app, uptime, state (`starting`, `waiting_for_partitions`, `recovering`, `running`, `stopping`), agents (topics, events handled, errors, dead letters), assigned partitions (read and committed offsets, high watermark, lag), tables (kind, store, partitions, keys of in-memory stores, recovery records done and remaining), the web address |
//! | `GET /health` | `200 {"status":"ok"}` while the worker runs, `503` once it stops |
//! | `GET /ready` | `200 {"ready":true}` once the worker has its partitions and their tables are recovered; `503` with the reason before (starting, recovering, stopping) |
//! | `GET /metrics` | every `metrics` counter, gauge and histogram, in Prometheus' text format (also under `metrics_exporter = "statsd"`; `404` under `"none"`) |
//! | `GET /agents` | the agents: topics, sinks, concurrency, error policy, dead-letter topic |
//! | `GET /topics` | the topics the app uses, with partitions, configs and `internal` (the app's own bookkeeping: the leader election, the worker directory) |
//! | `GET /tables/{table}/{key}` | the key's value as JSON (every window of it for a windowed table), from the copy of the worker that owns the key's partition (see [Table queries](#table-queries)), with the header `x-faust-worker` naming that worker; `404` for an unknown table or key; `503` while this worker recovers the table; `421` naming the partition when no worker has announced it yet (retry) |
//! | `GET` a `#[page]`'s path | what the page answers: its value as JSON, or its [`Reply`] (see [Pages](#pages)) |
//!
//! The metrics recorder is process-wide (the `metrics` crate has one): the
//! first worker of a process installs it as its `metrics_exporter` says
//! (Prometheus, StatsD and Prometheus, or none), unless the program
//! installed its own, in which case `/metrics` says so.
//!
//! # Table queries
//!
//! Any worker of the group answers a query for any key. A key whose
//! partition this worker owns is answered from its copy; otherwise the
//! query is forwarded to the worker that owns it, found in the worker
//! directory (the compacted topic `<app id>-__workers`, where each worker
//! announces its web address and partitions after every rebalance), and its
//! answer (status and body) is passed back, with `x-faust-worker:
//! host:port` naming the worker that answered. A forwarded query carries
//! `x-faust-forwarded: 1` and is never forwarded again: when it reaches a
//! worker that no longer owns the partition, that worker answers `421`.
//! While no worker has announced the partition (mid-rebalance, or its new
//! owner is still recovering it) the answer is `421` with the partition:
//! retry. A global table is answered by every worker from its own copy.
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
pub(crate) mod exporter;
pub(crate) mod page;
pub(crate) mod peers;
pub(crate) mod status;

pub use page::{IntoReply, Reply};
#[doc(hidden)]
pub use page::{PageFuture, page_future};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
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
    /// The worker directory, to forward table queries to their owners.
    peers: Option<Arc<peers::Peers>>,
    /// What `/status` and the status page show.
    status: Option<Arc<status::Sources>>,
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
            peers: None,
            status: None,
        }
    }

    /// Serves `/status` and the status page `/` from `sources`.
    pub(crate) fn with_status(mut self, sources: Arc<status::Sources>) -> Self {
        self.status = Some(sources);
        self
    }

    /// Forwards table queries for keys owned elsewhere through `peers`.
    pub(crate) fn with_peers(mut self, peers: Option<Arc<peers::Peers>>) -> Self {
        self.peers = peers;
        self
    }
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
    let status = match &state.status {
        Some(sources) => {
            if let Ok(address) = listener.local_addr() {
                sources.listening_on(address);
            }
            status::routes(sources.clone())
        }
        None => axum::Router::new(),
    };
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
        .merge(status)
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
    exporter::text()
}

async fn table_value(
    State(s): State<WebState>,
    Path((name, key)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(def) = s.tables.iter().find(|t| t.name == name) else {
        let known: Vec<&str> = s.tables.iter().map(|t| t.name).collect();
        return table_error(
            StatusCode::NOT_FOUND,
            format!(
                "no table named `{name}`; the tables are: {}",
                known.join(", ")
            ),
        );
    };
    let Some(table) = s.core.tables.get(def.name) else {
        return table_error(
            StatusCode::NOT_FOUND,
            format!("table `{name}` is not loaded"),
        );
    };
    let key_bytes = match (def.types.key_from_text)(&s.core.codecs, def.key_serializer, &key) {
        Ok(bytes) => bytes,
        Err(e) => return table_error(StatusCode::BAD_REQUEST, format!("table `{name}`: {e}")),
    };
    if !def.kind.is_global() {
        let partition = table.partition_of(&key_bytes);
        if !s.core.tables.owned_partitions().contains(&partition) {
            let forwarded = headers.contains_key(peers::FORWARDED);
            return ask_owner(&s, &name, &key, partition, &uri, forwarded).await;
        }
    }
    if s.core.tables.is_recovering() {
        return table_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "table `{name}` is being recovered from its changelog on this worker: its \
                 value for key {key:?} may be incomplete; retry once `/ready` says ready"
            ),
        );
    }
    let answer = match crate::table::lookup_json(&s.core.codecs, def, table, &key_bytes) {
        Ok(Some(value)) => Json(value).into_response(),
        Ok(None) => table_error(
            StatusCode::NOT_FOUND,
            format!("table `{name}` has no value for key {key:?}"),
        ),
        Err(e) => table_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("table `{name}`: {e}"),
        ),
    };
    match &s.peers {
        Some(peers) => answered_by(answer, peers.address()),
        None => answer,
    }
}

/// The answer to a query for a key in `partition`, which another worker
/// owns: the owner's own answer, forwarded once (a query forwarded here
/// is never forwarded again), or `421` when no owner is known.
async fn ask_owner(
    s: &WebState,
    name: &str,
    key: &str,
    partition: i32,
    uri: &Uri,
    forwarded: bool,
) -> Response {
    let misdirected = |message: String| {
        (
            StatusCode::MISDIRECTED_REQUEST,
            Json(json!({"error": message, "partition": partition})),
        )
            .into_response()
    };
    if forwarded {
        return misdirected(format!(
            "key {key:?} of table `{name}` is in partition {partition}, which was forwarded \
             here but this worker does not own (any more): the partition is moving between \
             workers; retry"
        ));
    }
    let Some(peers) = &s.peers else {
        return misdirected(format!(
            "key {key:?} of table `{name}` is in partition {partition}, which another worker \
             of the group owns: ask that worker"
        ));
    };
    let Some(owner) = peers.owner(name, partition) else {
        return misdirected(format!(
            "key {key:?} of table `{name}` is in partition {partition}, which another worker \
             owns, but no worker has announced partition {partition} yet (the group is \
             rebalancing, or its owner is still recovering it); retry in a moment"
        ));
    };
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    match client::get(&owner, path, &[(peers::FORWARDED, "1")]).await {
        Ok(answer) => {
            let status =
                StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let response = (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                answer.body,
            )
                .into_response();
            answered_by(response, &owner)
        }
        Err(e) => table_error(
            StatusCode::BAD_GATEWAY,
            format!(
                "key {key:?} of table `{name}` is in partition {partition}, owned by the worker \
                 at {owner}, which did not answer: {e}; retry (a worker that stopped is \
                 replaced once the group rebalances)"
            ),
        ),
    }
}

fn table_error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// `response` with the header naming the worker whose copy answered.
fn answered_by(mut response: Response, worker: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(worker) {
        response.headers_mut().insert(peers::ANSWERED_BY, value);
    }
    response
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
    // The app's own bookkeeping topics, not data.
    let internal = [
        engine.leadership().map(|l| l.topic.to_string()),
        peers::directory_topic(&engine.app.id, &engine.app.settings, &engine.core.tables),
    ];
    let topics: Vec<Value> = engine
        .topic_specs()
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "internal": internal.iter().flatten().any(|name| *name == t.name),
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
    .with_status(status::Sources::of(engine))
}
