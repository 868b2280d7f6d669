//! `topics`: every topic the app uses, with its partitions and what uses
//! it.
//!
//! The list is the worker's own, [`Engine::topic_specs`] (what it declares
//! at start): declared topics, agents' inputs and sinks, repartition
//! topics, changelogs, closed-window topics, dead-letter topics, the
//! leader election's topic and the worker directory, with the partition
//! counts the resolved settings give them. Binding the app needs no broker: the command
//! connects to none, so it shows what the app would declare, not what a
//! cluster holds.
//!
//! This module may call `app`, `worker` (to bind the app) and `transport`.

use std::process::ExitCode;

use crate::app::App;
use crate::app::config::CliOverrides;
use crate::error::Result;
use crate::worker::engine::Engine;

/// One topic of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicRow {
    /// The topic's name.
    pub(crate) name: String,
    /// Its partitions.
    pub(crate) partitions: u32,
    /// Whether that count is the topic's own (declared, or a table's)
    /// rather than the app's `topic_partitions`.
    pub(crate) declared: bool,
    /// What uses it: `input of agent greet`, `changelog of table counts`.
    pub(crate) used_by: Vec<String>,
}

/// Prints the app's topics; the settings (`topic_partitions`, ...) are
/// resolved as the worker resolves them.
pub(crate) fn run(mut app: App, overrides: &CliOverrides) -> ExitCode {
    match super::resolve_settings(&app, overrides) {
        Ok(settings) => app.settings = settings,
        Err(code) => return code,
    }
    let rows = match rows(app) {
        Ok(rows) => rows,
        Err(e) => return super::fail(e),
    };
    let table: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| {
            let default = if row.declared { "" } else { " (default)" };
            vec![
                row.name,
                format!("{}{default}", row.partitions),
                row.used_by.join(", "),
            ]
        })
        .collect();
    super::print_columns(&["topic", "partitions", "used by"], &table);
    ExitCode::SUCCESS
}

/// The topics `app` uses, in the order the worker declares them.
pub(crate) fn rows(app: App) -> Result<Vec<TopicRow>> {
    let clock = crate::time::Clock::real();
    // The topic list depends on the definitions and settings only: an
    // in-memory broker stands in for the configured one.
    let broker =
        crate::transport::memory::MemoryBroker::new(app.settings.topic_partitions, clock.clone());
    let transport = std::sync::Arc::new(crate::transport::memory::MemoryTransport::new(broker));
    let engine = Engine::build(app, transport, clock)?;
    let rows = engine
        .topic_specs()
        .into_iter()
        .map(|spec| TopicRow {
            used_by: users(&engine, &spec.name),
            name: spec.name,
            partitions: spec.partitions,
            declared: spec.strict,
        })
        .collect();
    engine.close();
    Ok(rows)
}

/// What uses `topic`, in words.
fn users(engine: &Engine, topic: &str) -> Vec<String> {
    let mut used = Vec::new();
    for def in engine.app.topics.iter().filter(|d| d.name == topic) {
        used.push(match def.location {
            Some(at) => format!("#[topic] in {}", at.module),
            None => "declared".to_owned(),
        });
    }
    for agent in &engine.agents {
        let name = &agent.name;
        match &agent.forward {
            Some(forward) => {
                if forward.sources.iter().any(|(t, _)| &**t == topic) {
                    used.push(format!("input of agent {name}"));
                }
                if &*forward.to == topic {
                    used.push(format!("repartition of agent {name}"));
                }
            }
            None => {
                if agent.topics.iter().any(|t| &**t == topic) {
                    used.push(format!("input of agent {name}"));
                }
            }
        }
        if agent.sink_topics.iter().any(|(t, _)| &**t == topic) {
            used.push(format!("sink of agent {name}"));
        }
        if agent.dead_letter.as_deref() == Some(topic) {
            used.push(format!("dead letters of agent {name}"));
        }
    }
    for table in engine.core.tables.all() {
        if &*table.changelog == topic {
            used.push(format!("changelog of table {} (compacted)", table.def.name));
        }
        if table.window.as_ref().and_then(|w| w.def.emit_closed) == Some(topic) {
            used.push(format!("closed windows of table {}", table.def.name));
        }
    }
    if let Some(leader) = engine.leadership()
        && &*leader.topic == topic
    {
        let timers: Vec<&str> = engine
            .app
            .timers
            .iter()
            .filter(|t| t.on_leader)
            .map(|t| t.name)
            .collect();
        used.push(format!("leader election (for {})", timers.join(", ")));
    }
    let directory = crate::web::peers::directory_topic(
        &engine.app.id,
        &engine.app.settings,
        &engine.core.tables,
    );
    if directory.as_deref() == Some(topic) {
        used.push("worker directory for table queries (internal, compacted)".to_owned());
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::registry::{AgentDef, Location, Repartition, SinkRef, TimerDef};

    fn handler() -> crate::agent::AgentHandler {
        crate::agent::per_event(|_: String| async { Ok::<_, crate::BoxError>(String::new()) })
    }

    fn tick() -> crate::time::TaskFuture {
        crate::time::task_future(async { Ok::<_, crate::BoxError>(()) })
    }

    static ENRICH: AgentDef = AgentDef {
        name: "enrich",
        topics: &["orders"],
        sinks: &[SinkRef::Topic("orders-enriched")],
        concurrency: 1,
        dead_letter: Some("orders-dlq"),
        on_error: None,
        retries: 0,
        retry_backoff: std::time::Duration::ZERO,
        repartition: None,
        location: Location {
            module: "shop",
            file: "shop.rs",
            line: 1,
        },
        build: handler,
    };

    static CHECK: AgentDef = AgentDef {
        name: "check",
        topics: &["orders"],
        sinks: &[],
        dead_letter: None,
        repartition: Some(Repartition::Through {
            topic: "orders-checked",
        }),
        ..ENRICH
    };

    static REPORT: TimerDef = TimerDef {
        name: "report",
        interval: std::time::Duration::from_secs(1),
        cron: None,
        timezone: None,
        on_leader: true,
        location: Location {
            module: "shop",
            file: "shop.rs",
            line: 2,
        },
        run: tick,
    };

    #[test]
    fn every_topic_says_what_uses_it() {
        let app = App::bare("shop")
            .topic_partitions(3)
            .agent(&ENRICH)
            .agent(&CHECK)
            .timer(&REPORT);
        let rows = rows(app).unwrap();
        let shown: Vec<(&str, u32, String)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.partitions, r.used_by.join(", ")))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "orders",
                    3,
                    "input of agent enrich, input of agent check".to_owned()
                ),
                ("orders-enriched", 3, "sink of agent enrich".to_owned()),
                ("orders-checked", 3, "repartition of agent check".to_owned()),
                ("orders-dlq", 3, "dead letters of agent enrich".to_owned()),
                (
                    "shop-__leader",
                    1,
                    "leader election (for report)".to_owned()
                ),
            ]
        );
        assert!(
            rows.iter()
                .all(|r| r.declared == (r.name == "shop-__leader"))
        );
    }
}
