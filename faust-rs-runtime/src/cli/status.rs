//! `status`: asks a running worker's web endpoint for its `/status` and
//! prints it for people (state, agents, partitions with their lag, table
//! recovery), or as the raw JSON with `--json`.

use std::process::ExitCode;

use super::{columns, fail, resolve_settings};
use crate::app::App;
use crate::app::config::CliOverrides;
use crate::web::status::{Status, TableStatus};

/// Runs `status` against `url`, or the address the settings give the
/// worker's endpoint (`web_bind`, `web_port`).
pub(super) fn run(app: &App, overrides: &CliOverrides, url: Option<&str>, json: bool) -> ExitCode {
    let url = match url {
        Some(url) => url.to_owned(),
        None => match resolve_settings(app, overrides) {
            Ok(settings) => {
                // A worker listening on every interface answers on loopback.
                let host = match settings.web_bind.as_str() {
                    "0.0.0.0" => "127.0.0.1",
                    "::" | "[::]" => "[::1]",
                    host => host,
                };
                format!("http://{host}:{}", settings.web_port)
            }
            Err(code) => return code,
        },
    };
    let authority = match authority_of(&url) {
        Ok(authority) => authority,
        Err(e) => return fail(e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let answer = match runtime.block_on(crate::web::client::get(&authority, "/status", &[])) {
        Ok(answer) => answer,
        Err(e) => {
            return fail(format!(
                "no worker answers at http://{authority} ({e}): is `worker` running? If it \
                 listens elsewhere, pass --url http://HOST:PORT or set web_port \
                 (FAUST_WEB_PORT) as the worker has it"
            ));
        }
    };
    if answer.status != 200 {
        return fail(format!(
            "http://{authority}/status answered {}: {}; is that a faust-rs worker (of a \
             version with /status)?",
            answer.status,
            answer.body.trim()
        ));
    }
    if json {
        println!("{}", answer.body.trim_end());
        return ExitCode::SUCCESS;
    }
    match serde_json::from_str::<Status>(&answer.body) {
        Ok(status) => {
            print!("{}", summary(&status));
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!(
            "the answer of http://{authority}/status is not a worker's status ({e}); \
             `status --json` prints it as it came"
        )),
    }
}

/// `host:port` of `url` (`http://host:port[/...]` or `host:port`).
fn authority_of(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    if rest.contains("://") {
        return Err(format!(
            "--url `{url}`: the worker's endpoint is plain http, e.g. --url http://127.0.0.1:6066"
        ));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !has_port {
        return Err(format!(
            "--url `{url}` names no host and port; use e.g. --url http://127.0.0.1:6066"
        ));
    }
    Ok(authority.to_owned())
}

/// `status` for people: a head line, then the agents, the partitions and
/// the tables in columns.
fn summary(status: &Status) -> String {
    let uptime = humantime::format_duration(std::time::Duration::from_secs(status.uptime_seconds));
    let mut out = format!(
        "app {}: {}, up {uptime}, web {}\n",
        status.app,
        status.state.describe(),
        status.web
    );
    if let Some(error) = &status.store_error {
        out.push_str(&format!("table stores failing: {error}\n"));
    }
    let known = |v: Option<i64>| v.map_or("-".to_owned(), |v| v.to_string());
    out.push('\n');
    if status.agents.is_empty() {
        out.push_str("no agents\n");
    } else {
        let rows: Vec<Vec<String>> = status
            .agents
            .iter()
            .map(|a| {
                vec![
                    a.name.clone(),
                    a.topics.join(","),
                    a.events.to_string(),
                    a.errors.to_string(),
                    a.dead_letters.to_string(),
                ]
            })
            .collect();
        out.push_str(&columns(
            &["agent", "topics", "events", "errors", "dead letters"],
            &rows,
        ));
    }
    out.push('\n');
    if status.partitions.is_empty() {
        out.push_str("no partitions assigned\n");
    } else {
        let rows: Vec<Vec<String>> = status
            .partitions
            .iter()
            .map(|p| {
                vec![
                    p.topic.clone(),
                    p.partition.to_string(),
                    known(p.read_offset),
                    known(p.committed_offset),
                    known(p.high_watermark),
                    known(p.lag),
                ]
            })
            .collect();
        out.push_str(&columns(
            &[
                "topic",
                "partition",
                "read",
                "committed",
                "high watermark",
                "lag",
            ],
            &rows,
        ));
    }
    if !status.tables.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = status
            .tables
            .iter()
            .map(|t| {
                let partitions: Vec<String> = t.partitions.iter().map(i32::to_string).collect();
                vec![
                    t.name.clone(),
                    t.kind.clone(),
                    t.store.clone(),
                    partitions.join(","),
                    t.keys.map_or("-".to_owned(), |k| k.to_string()),
                    recovery(t),
                ]
            })
            .collect();
        out.push_str(&columns(
            &["table", "kind", "store", "partitions", "keys", "recovery"],
            &rows,
        ));
    }
    out
}

fn recovery(table: &TableStatus) -> String {
    let total = table.recovered_records + table.remaining_records;
    if table.remaining_records > 0 {
        format!(
            "{} of {total} records ({}%)",
            table.recovered_records,
            table.recovered_records * 100 / total
        )
    } else if total > 0 {
        format!("done ({total} records)")
    } else {
        "nothing to recover".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::status::{AgentStatus, PartitionStatus, WorkerState};

    #[test]
    fn urls_give_their_host_and_port() {
        assert_eq!(
            authority_of("http://127.0.0.1:6066").unwrap(),
            "127.0.0.1:6066"
        );
        assert_eq!(
            authority_of("http://localhost:7000/").unwrap(),
            "localhost:7000"
        );
        assert_eq!(authority_of("127.0.0.1:6067").unwrap(), "127.0.0.1:6067");
        assert_eq!(
            authority_of("http://[::1]:6066/status").unwrap(),
            "[::1]:6066"
        );
        let e = authority_of("https://w:6066").unwrap_err();
        assert!(e.contains("plain http"), "{e}");
        let e = authority_of("http://worker").unwrap_err();
        assert!(e.contains("names no host and port"), "{e}");
    }

    #[test]
    fn the_summary_shows_state_agents_partitions_with_lag_and_recovery() {
        let status = Status {
            app: "shop".into(),
            uptime_seconds: 65,
            state: WorkerState::Recovering,
            web: "http://127.0.0.1:6066".into(),
            agents: vec![AgentStatus {
                name: "bill".into(),
                topics: vec!["orders".into()],
                events: 12,
                errors: 1,
                dead_letters: 1,
            }],
            partitions: vec![PartitionStatus {
                topic: "orders".into(),
                partition: 0,
                read_offset: Some(12),
                committed_offset: Some(10),
                high_watermark: Some(15),
                lag: Some(5),
            }],
            tables: vec![TableStatus {
                name: "totals".into(),
                kind: "Table".into(),
                store: "memory".into(),
                partitions: vec![0, 1],
                keys: None,
                recovered_records: 30,
                remaining_records: 90,
            }],
            store_error: None,
        };
        let text = summary(&status);
        assert_eq!(
            text,
            "app shop: recovering, up 1m 5s, web http://127.0.0.1:6066\n\
             \n\
             agent  topics  events  errors  dead letters\n\
             bill   orders  12      1       1\n\
             \n\
             topic   partition  read  committed  high watermark  lag\n\
             orders  0          12    10         15              5\n\
             \n\
             table   kind   store   partitions  keys  recovery\n\
             totals  Table  memory  0,1         -     30 of 120 records (25%)\n"
        );
    }
}
