//! The worker: an [`App`] running until it is told to stop.
//!
//! [`run`] binds the app to its transport (from the broker URL), logs a
//! start banner, spawns the engine's units on tokio, commits finished
//! offsets every `commit_interval`, and shuts down on SIGINT/SIGTERM: it
//! stops reading, lets the agents finish what they have been handed, commits,
//! and returns. A second signal exits at once. If an agent's policy stops
//! the worker, `run` returns that error after the same orderly shutdown.
//!
//! # The web endpoint
//!
//! Unless `web_enabled = false`, the worker serves HTTP on `web_bind:web_port`
//! (default `127.0.0.1:6066`, Faust's; when that default port is taken, by
//! another worker on the machine, it takes a free port and logs which):
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /` | the status page for people: state, agents, partitions with lag, tables and their recovery, in HTML that reloads itself every 2 s |
//! | `GET /status` | the same snapshot as JSON (the `status` command prints it in a terminal) |
//! | `GET /health` | `200 {"status":"ok"}` while the worker runs, `503` once it stops |
//! | `GET /ready` | `200 {"ready":true}` once the worker has its partitions and their tables are rebuilt; `503 {"ready":false,"reason":...}` before (waiting for the group, recovering, stopping) |
//! | `GET /metrics` | the metrics below, in Prometheus' text format |
//! | `GET /agents` | each agent: topics, sinks, concurrency, error policy, dead-letter topic |
//! | `GET /topics` | the topics the app uses, with partitions, configs and whether each is internal (leader election, worker directory) |
//! | `GET /tables/{table}/{key}` | the key's value as JSON (a windowed table: each window), from the worker that owns the key's partition: this one, or the owner it forwards the query to (`x-faust-worker` names the worker that answered); `404` for an unknown table or key; `503` while the table is recovered here; `421` with the partition while no worker has announced it (mid-rebalance: retry) |
//! | `GET` a `#[page]`'s path | what your `#[page]` answers (see [`web`](crate::web#pages)) |
//!
//! Workers find the owner of a key through the worker directory, the
//! compacted topic `<app id>-__workers` (declared with the app's topics
//! when the web endpoint is on and some table is partitioned): each worker
//! announces its web address and the table partitions it owns after every
//! rebalance, once they are recovered, and removes its record when it
//! stops; the newest claim of a partition wins. A forwarded query carries
//! `x-faust-forwarded: 1` and is answered by its receiver, never forwarded
//! again. The address announced is the one the endpoint listens on, so
//! `web_bind` must be one the other workers reach.
//!
//! Metrics (through the `metrics` crate, to `/metrics` or StatsD as
//! `metrics_exporter` says, see [`config`](crate::app::config); a program
//! that installs its own recorder first gets them there instead):
//! `faust_events_in_total{topic,partition}`, `faust_read_offset`,
//! `faust_committed_offset`, `faust_high_watermark` and
//! `faust_consumer_lag` (per topic and partition),
//! `faust_events_out_total{agent,topic}`, `faust_handler_seconds{agent}`
//! (histogram), `faust_errors_total{agent,kind}`,
//! `faust_retries_total{agent}`, `faust_dead_letters_total{agent}`,
//! `faust_table_gets_total{table}`, `faust_table_sets_total{table}`,
//! `faust_table_revoked_writes_total{table}`,
//! `faust_recovery_records_total{table}`,
//! `faust_recovery_remaining_records`, `faust_rebalances_total{kind}`,
//! `faust_transactions_committed_total`, and the windows' and exact
//! state's counters.
//!
//! This module may call everything below it: `app`, `agent`, `transport`,
//! `time`, `context`.

pub(crate) mod engine;
pub(crate) mod lifecycle;
pub(crate) mod transaction;

use std::time::Duration;

use tokio::task::JoinSet;

use crate::app::App;
use crate::error::Result;
use crate::time::Clock;
use engine::Engine;

/// How long a graceful shutdown may take before the worker gives up waiting.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `app` as a worker until SIGINT/SIGTERM, or until an agent's policy
/// stops it (then its error is returned).
pub async fn run(app: App) -> Result<()> {
    run_until(app, shutdown_signal()).await
}

/// Runs `app` as a worker until `stop` resolves (then it shuts down
/// gracefully, as on SIGINT), or until an agent's policy stops it. For
/// programs that embed a worker, and for benchmarks. A SIGINT/SIGTERM
/// during the graceful shutdown still exits at once.
///
/// ```no_run
/// # #[tokio::main]
/// # async fn main() -> faust::Result<()> {
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let worker = tokio::spawn(faust::worker::run_until(faust::App::new("app"), async {
///     let _ = stopped.await;
/// }));
/// // ... later:
/// let _ = stop.send(());
/// worker.await.expect("worker task")?;
/// # Ok(()) }
/// ```
pub async fn run_until(app: App, stop: impl std::future::Future<Output = ()>) -> Result<()> {
    tokio::pin!(stop);
    // Before anything registers a metric: handles taken earlier would
    // stay bound to no recorder.
    crate::web::exporter::install(&app.settings)?;
    let clock = Clock::real();
    let transport = crate::transport::connect(&app.settings, clock.clone())?;
    let engine = Engine::build(app, transport, clock)?;
    banner(&engine);
    tokio::select! {
        declared = engine.declare_topics() => declared?,
        _ = &mut stop => {
            tracing::info!("shutdown requested before the topics were declared");
            return Ok(());
        }
    }
    // Before any read: registering the transactional id aborts what a
    // crashed incarnation left open, which read_committed readers (table
    // recovery among them) would otherwise wait behind.
    if let Some(txn) = engine.core.transactions.clone() {
        tracing::info!("initialising transactional id `{}`", txn.id());
        blocking(move || txn.init()).await?;
    }
    let web = if engine.app.settings.web_enabled {
        let settings = &engine.app.settings;
        let chosen = *settings.source("web_port") != crate::app::config::Source::Default;
        let listener = crate::web::bind(&settings.web_bind, settings.web_port, chosen).await?;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(
                "web endpoint on http://{addr} (status page /, /status, /metrics, /health, /ready, /agents, /topics, /tables/{{table}}/{{key}})"
            );
        }
        // Where the other workers forward table queries for this one's keys.
        let peers = listener
            .local_addr()
            .ok()
            .and_then(|addr| crate::web::peers::Peers::of(&engine, addr));
        let state = crate::web::state_of(&engine).with_peers(peers.clone());
        Some((listener, state, peers))
    } else {
        None
    };
    let lifecycle = engine.lifecycle.clone();
    let mut units = JoinSet::new();
    if let Some((listener, state, peers)) = web {
        let lifecycle = lifecycle.clone();
        if let Some(peers) = peers {
            let directory = peers.keep(&engine);
            let lifecycle = lifecycle.clone();
            units.spawn(async move {
                if let Err(e) = directory.await {
                    lifecycle.fail(e);
                }
                "worker directory".to_owned()
            });
        }
        units.spawn(async move {
            if let Err(e) = crate::web::serve(listener, state).await {
                lifecycle.fail(e);
            }
            "web endpoint".to_owned()
        });
    }
    for unit in engine.units() {
        let name = unit.name;
        let future = unit.future;
        units.spawn(async move {
            future.await;
            name
        });
    }
    let commit_interval = engine.app.settings.commit_interval;
    let shutdown = async {
        tokio::select! {
            _ = &mut stop => {
                tracing::info!("shutdown requested: finishing in-flight events (send the signal again to exit at once)");
                lifecycle.stop();
            }
            _ = lifecycle.stopped() => {}
        }
    };
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(commit_interval);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = ticker.tick() => commit(&engine, false).await,
            _ = commit_wanted(&engine) => commit(&engine, false).await,
            Some(done) = units.join_next() => {
                if let Ok(name) = done {
                    tracing::debug!(unit = %name, "unit finished");
                }
            }
        }
    }
    let drain = async { while units.join_next().await.is_some() {} };
    tokio::select! {
        _ = drain => {}
        _ = tokio::time::sleep(SHUTDOWN_TIMEOUT) => {
            tracing::warn!("shutdown timed out after {SHUTDOWN_TIMEOUT:?}; abandoning unfinished events (they are not committed)");
        }
        _ = shutdown_signal() => {
            tracing::warn!("second signal: exiting now; unfinished events are not committed");
        }
    }
    units.abort_all();
    if let Err(e) = engine.transport.flush(Duration::from_secs(10)).await {
        tracing::warn!("{e}");
    }
    commit(&engine, true).await;
    let error = engine.lifecycle.take_error();
    engine.close();
    match error {
        Some(e) => Err(e),
        None => {
            tracing::info!("worker stopped");
            Ok(())
        }
    }
}

/// Commits; a transactional commit blocks on the broker, so it runs on
/// tokio's blocking pool.
async fn commit(engine: &Engine, sync: bool) {
    if !engine.is_transactional() {
        engine.commit(sync);
        return;
    }
    if let Some(job) = engine.commit_job(sync)
        && let Err(e) = blocking(move || {
            job.run();
            Ok(())
        })
        .await
    {
        tracing::error!("{e}");
    }
}

/// Resolves when agents wait for a transaction to make room; never
/// without transactions.
async fn commit_wanted(engine: &Engine) {
    match &engine.core.transactions {
        Some(txn) => txn.commit_wanted().await,
        None => std::future::pending().await,
    }
}

/// Runs `f` on tokio's blocking pool.
async fn blocking(f: impl FnOnce() -> Result<()> + Send + 'static) -> Result<()> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(crate::error::Error::config(format!(
            "a blocking call panicked: {e}"
        )))
    })
}

fn banner(engine: &Engine) {
    let app = &engine.app;
    let guarantee = if let Some(txn) = &engine.core.transactions {
        format!(
            "exactly once (Kafka transactions, transactional id `{}`)",
            txn.id()
        )
    } else if app.settings.exact_state {
        "outputs at least once, tables exact".to_owned()
    } else {
        "at least once".to_owned()
    };
    tracing::info!(
        "faust-rs worker starting: app `{}`, broker {}, guarantee: {guarantee}",
        app.id,
        engine.transport.describe()
    );
    for agent in &engine.agents {
        tracing::info!(
            "  agent {:<20} topics {:?} -> sinks {:?}, concurrency {}, on_error {:?}{}",
            agent.name,
            agent
                .topics
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>(),
            agent
                .sink_topics
                .iter()
                .map(|(t, _)| t.to_string())
                .collect::<Vec<_>>(),
            agent.concurrency,
            agent.on_error,
            agent
                .dead_letter
                .as_ref()
                .map(|d| format!(", dead letters -> {d}"))
                .unwrap_or_default(),
        );
    }
    for task in &app.tasks {
        tracing::info!("  task  {}", task.name);
    }
    for timer in &app.timers {
        let leader = if timer.on_leader {
            ", on the leader"
        } else {
            ""
        };
        match timer.cron {
            Some(cron) => tracing::info!(
                "  crontab {} at {cron:?} ({}){leader}",
                timer.name,
                timer.timezone.unwrap_or("UTC")
            ),
            None => tracing::info!("  timer {} every {:?}{leader}", timer.name, timer.interval),
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
