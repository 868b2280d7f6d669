//! The generated command line, run as a process (`src/bin/cli_app.rs`):
//! help, `agents`, `send` through the in-memory broker, `tables` and
//! `table get`, `topics`, `model`, the app's `#[command]`s, and
//! configuration errors from the file, the environment and the flags.
//!
//! Each run gets an empty environment and its own working directory, so
//! neither the caller's `FAUST_*` variables nor a stray `faust.toml` leak in.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const APP: &str = env!("CARGO_BIN_EXE_cli_app");

/// An empty working directory for one test, removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("faust-rs-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create work dir");
        WorkDir(dir)
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, text).expect("write file");
        path
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(APP);
        cmd.args(args)
            .env_clear()
            .envs(env.iter().copied())
            .current_dir(&self.0);
        cmd
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args, env).output().expect("run the cli app")
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The cells of each line of aligned-column output (columns are two or
/// more spaces apart; a cell holds single spaces at most).
fn cells(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// The row of `table` whose first cell is `first`.
fn row<'a>(table: &'a [Vec<String>], first: &str) -> &'a [String] {
    table
        .iter()
        .find(|row| row.first().is_some_and(|c| c == first))
        .unwrap_or_else(|| panic!("no `{first}` row in {table:#?}"))
}

#[test]
fn help_names_the_app_and_every_command() {
    let dir = WorkDir::new("help");
    let out = dir.run(&["--help"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let help = stdout(&out);
    assert!(help.contains("faust-rs app `cli-app`"), "{help}");
    for command in [
        "worker",
        "agents",
        "send",
        "tables",
        "table",
        "topics",
        "model",
        "status",
        "greet-someone",
        "announce",
    ] {
        assert!(help.contains(command), "{command} missing from\n{help}");
    }
    // A user command's help line is the first paragraph of its doc comment.
    assert!(
        help.contains("Sends a greeting to `greetings`, as a worker would receive it."),
        "{help}"
    );
    let out = dir.run(&["send", "--help"], &[]);
    assert!(
        stdout(&out).contains("--header <NAME=VALUE>"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn agents_lists_the_agents_and_their_topics() {
    let dir = WorkDir::new("agents");
    let out = dir.run(&["agents"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("greet "))
        .map(str::to_owned);
    assert!(
        line.as_deref().is_some_and(|l| l.contains("greetings")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn send_writes_through_the_configured_transport_and_prints_where_it_landed() {
    let dir = WorkDir::new("send");
    let out = dir.run(
        &[
            "send",
            "greetings",
            "--key",
            "alice",
            "hello",
            "--header",
            "trace=1",
        ],
        &[("FAUST_BROKER", "memory://")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(
        printed.starts_with("sent to greetings[") && printed.trim_end().ends_with("]@0"),
        "{printed}"
    );
    assert!(
        stderr(&out).contains("environment FAUST_BROKER"),
        "the in-process broker warning says where it was set: {}",
        stderr(&out)
    );

    let out = dir.run(
        &[
            "send",
            "greetings",
            "v",
            "--partition",
            "1",
            "--broker",
            "memory://",
        ],
        &[],
    );
    assert_eq!(
        stdout(&out).trim_end(),
        "sent to greetings[1]@0",
        "{}",
        stderr(&out)
    );
}

#[test]
fn tables_lists_each_table_with_kind_partitions_store_changelog_and_keys() {
    let dir = WorkDir::new("tables");
    for env in [&[][..], &[("FAUST_BROKER", "memory://")][..]] {
        let out = dir.run(&["tables"], env);
        assert!(out.status.success(), "{}", stderr(&out));
        let printed = stdout(&out);
        let header: Vec<&str> = printed
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        assert_eq!(
            header,
            ["table", "kind", "partitions", "store", "changelog", "keys"],
            "{printed}"
        );
        let row: Vec<&str> = printed
            .lines()
            .find(|l| l.starts_with("counts "))
            .unwrap_or_else(|| panic!("no `counts` row in\n{printed}"))
            .split_whitespace()
            .collect();
        assert_eq!(
            row,
            [
                "counts",
                "Table",
                "2",
                "memory",
                "cli-app-counts-changelog",
                "0"
            ],
            "{printed}"
        );
        // An in-process broker starts empty: the keys are always 0, and
        // the command says so.
        let err = stderr(&out);
        assert!(
            err.contains("warning: the broker is") && err.contains("the tables read empty"),
            "{err}"
        );
    }
}

#[test]
fn tables_shows_the_store_set_in_the_environment() {
    let dir = WorkDir::new("tables-store");
    let out = dir.run(
        &["tables", "--broker", "memory://"],
        &[("FAUST_STORE", "rocksdb://state")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(" rocksdb://state "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn table_get_prints_null_and_fails_for_a_missing_key() {
    let dir = WorkDir::new("table-get");
    let out = dir.run(&["table", "get", "counts", "somekey"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim_end(), "null");
    assert!(
        stderr(&out).contains("table `counts` has no value for key \"somekey\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn table_get_of_an_unknown_table_names_the_known_ones() {
    let dir = WorkDir::new("table-get-unknown");
    let out = dir.run(&["table", "get", "nosuchtable", "k"], &[]);
    assert!(!out.status.success());
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("no table named `nosuchtable` in app `cli-app`; its tables are: ")
            && err.contains("counts")
            && err.contains("last-order"),
        "{err}"
    );
}

#[test]
fn tables_and_table_get_have_help() {
    let dir = WorkDir::new("tables-help");
    let out = dir.run(&["tables", "--help"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("List the tables"), "{}", stdout(&out));

    let out = dir.run(&["table", "--help"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("get"), "{}", stdout(&out));

    let out = dir.run(&["table", "get", "--help"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let help = stdout(&out);
    assert!(
        help.contains("<TABLE>") && help.contains("<KEY>") && help.contains("as JSON"),
        "{help}"
    );

    // A missing argument is a usage error.
    let out = dir.run(&["table", "get", "counts"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_bad_environment_value_stops_the_start_with_the_fix() {
    let dir = WorkDir::new("bad-env");
    let out = dir.run(&["worker"], &[("FAUST_TOPIC_PARTITIONS", "eight")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("FAUST_TOPIC_PARTITIONS=\"eight\"")
            && err.contains("e.g. FAUST_TOPIC_PARTITIONS=8"),
        "{err}"
    );
}

#[test]
fn config_file_errors_name_the_file_and_the_key() {
    let dir = WorkDir::new("bad-file");
    dir.write("faust.toml", "brokers = \"kafka://k:9092\"\n");
    let out = dir.run(&["worker"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("faust.toml: unknown key `brokers`"), "{err}");

    let out = dir.run(&["worker", "--config", "missing.toml"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("missing.toml") && err.contains("named by command line --config"),
        "{err}"
    );
}

#[test]
fn bad_flags_exit_with_usage_errors() {
    let dir = WorkDir::new("bad-flags");
    let out = dir.run(&["send", "t", "v", "--header", "novalue"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("expected NAME=VALUE"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn worker_logs_each_setting_and_where_it_came_from_at_debug_level() {
    let dir = WorkDir::new("worker-debug");
    dir.write(
        "faust.toml",
        "queue_capacity = 64\n[producer]\nsasl.password = \"hunter2\"\n",
    );
    let mut child = dir
        .command(
            &["worker", "--broker", "memory://", "--loglevel", "debug"],
            &[("FAUST_COMMIT_INTERVAL", "1s")],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the worker");
    // Logs go to stderr; stdout is the program's own output.
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let expected = [
        "setting broker = \"memory://\" (command line --broker)",
        "setting topic_partitions = 2 (App builder)",
        "setting commit_interval = \"1s\" (environment FAUST_COMMIT_INTERVAL)",
        "setting queue_capacity = 64 (file faust.toml)",
        "setting producer.sasl.password = \"***\" (file faust.toml)",
    ];
    let mut seen = Vec::new();
    while seen.len() < expected.len() {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                assert!(!line.contains("hunter2"), "secret logged: {line}");
                if expected.iter().any(|e| line.contains(e)) {
                    seen.push(line);
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    for e in expected {
        assert!(seen.iter().any(|l| l.contains(e)), "no `{e}` in {seen:#?}");
    }
}

#[test]
fn topics_lists_every_topic_with_its_partitions_and_what_uses_it() {
    let dir = WorkDir::new("topics");
    let out = dir.run(&["topics"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let table = cells(&printed);
    assert_eq!(table[0], ["topic", "partitions", "used by"], "{printed}");
    let expected: &[(&str, &str, &str)] = &[
        (
            "greetings",
            "2 (default)",
            "#[topic] in cli_app, input of agent greet",
        ),
        ("announcements", "3", "#[topic] in cli_app"),
        ("orders", "2 (default)", "input of agent bill"),
        ("receipts", "2 (default)", "sink of agent bill"),
        ("orders-dlq", "2 (default)", "dead letters of agent bill"),
        (
            "cli-app-counts-changelog",
            "2",
            "changelog of table counts (compacted)",
        ),
        (
            "cli-app-last-order-changelog",
            "4",
            "changelog of table last-order (compacted)",
        ),
        (
            "cli-app-__leader",
            "1",
            "leader election (for hourly_report)",
        ),
        (
            "cli-app-__workers",
            "1",
            "worker directory for table queries (internal, compacted)",
        ),
    ];
    for (topic, partitions, used_by) in expected {
        assert_eq!(
            row(&table, topic),
            [*topic, *partitions, *used_by],
            "{printed}"
        );
    }
    assert_eq!(table.len(), expected.len() + 1, "{printed}");
    // No broker is needed to list them: nothing warns about one.
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn topics_uses_the_partitions_the_settings_give() {
    let dir = WorkDir::new("topics-settings");
    dir.write("faust.toml", "topic_partitions = 6\n");
    let out = dir.run(&["topics"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = cells(&stdout(&out));
    assert_eq!(row(&table, "orders")[1], "6 (default)");
    assert_eq!(row(&table, "cli-app-counts-changelog")[1], "6");
    // A table that names its partitions keeps them.
    assert_eq!(row(&table, "cli-app-last-order-changelog")[1], "4");
    assert_eq!(row(&table, "announcements")[1], "3");
}

#[test]
fn model_lists_the_records_the_agents_and_tables_use() {
    let dir = WorkDir::new("model");
    let out = dir.run(&["model"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let table = cells(&printed);
    assert_eq!(
        table[0],
        ["record", "module", "fields", "used by"],
        "{printed}"
    );
    assert_eq!(
        row(&table, "Order"),
        [
            "Order",
            "cli_app",
            "3",
            "input of agent bill, value of table last-order"
        ],
        "{printed}"
    );
    assert_eq!(
        row(&table, "Receipt"),
        ["Receipt", "cli_app", "2", "output of agent bill"],
        "{printed}"
    );
    assert_eq!(
        row(&table, "Address"),
        ["Address", "cli_app", "1", "field ship_to of Order"],
        "{printed}"
    );
    assert_eq!(table.len(), 4, "only records: no String, no u64\n{printed}");
}

#[test]
fn model_name_prints_the_fields_types_rules_and_docs() {
    let dir = WorkDir::new("model-order");
    let out = dir.run(&["model", "Order"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "Order (cli_app)",
            "  An order as the shop sends it.",
            "",
            "  Amounts are in euros.",
            "  serializer json, namespace shop.Order, validated",
            "  used by: input of agent bill, value of table last-order",
        ],
        "{printed}"
    );
    let table = cells(&lines[7..].join("\n"));
    assert_eq!(table[0], ["field", "type", "rules", "doc"], "{printed}");
    assert_eq!(
        table[1..],
        [
            vec!["account", "String", "length(min = 1)", "Who pays."],
            vec!["amount", "f64", "range(min = 0.0)", "What it costs."],
            vec![
                "ship_to",
                "Option<Address>",
                "nested",
                "Where it goes, if anywhere."
            ],
        ],
        "{printed}"
    );

    // Also by module path; a record without rules says so.
    let out = dir.run(&["model", "cli_app::Receipt"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(
        printed.contains("serializer json, not validated"),
        "{printed}"
    );
    assert!(printed.contains("cents    u64"), "{printed}");
}

#[test]
fn model_of_an_unknown_record_names_the_known_ones() {
    let dir = WorkDir::new("model-unknown");
    let out = dir.run(&["model", "Ordr"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert_eq!(
        stderr(&out).trim_end(),
        "error: no record named `Ordr` in app `cli-app`; its records are: Order, Receipt, Address"
    );
}

#[test]
fn a_user_command_sends_through_the_broker_with_its_arguments() {
    let dir = WorkDir::new("command");
    // The default broker: the embedded Kafka-protocol one.
    let out = dir.run(
        &[
            "greet-someone",
            "--name",
            "alice",
            "--times",
            "3",
            "--shout",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3, "{printed}");
    // One key, one partition: the offsets follow each other.
    let partition = lines[0]
        .strip_prefix("sent ALICE to greetings[")
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("unexpected line {:?}", lines[0]));
    for (offset, line) in lines.iter().enumerate() {
        assert_eq!(
            *line,
            format!("sent ALICE to greetings[{partition}]@{offset}"),
            "{printed}"
        );
    }
    assert!(
        stderr(&out).contains("a running worker will not see what it sends"),
        "{}",
        stderr(&out)
    );

    // Optional arguments left out, global flags after the command.
    let out = dir.run(
        &["greet-someone", "--name", "bob", "--broker", "memory://"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>().len(),
        1,
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).starts_with("sent bob to greetings["),
        "{}",
        stdout(&out)
    );

    // A command renamed with `name = ...`, whose send is not awaited.
    let out = dir.run(
        &["announce", "--text", "hello", "--broker", "memory://"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_failing_user_command_exits_1_with_its_error() {
    let dir = WorkDir::new("command-fails");
    let out = dir.run(
        &[
            "greet-someone",
            "--name",
            "a",
            "--times",
            "0",
            "--broker",
            "memory://",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error: command `greet-someone` failed: --times must be at least 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn user_command_arguments_are_checked_before_it_runs() {
    let dir = WorkDir::new("command-args");
    let out = dir.run(&["greet-someone", "--name", "a", "--times", "many"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("invalid value 'many' for '--times <TIMES>'") && err.contains("invalid digit"),
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "it did not run: {}", stdout(&out));

    let out = dir.run(&["greet-someone", "--times", "2"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--name <NAME>"), "{}", stderr(&out));

    let out = dir.run(&["greet-someone", "--help"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let help = stdout(&out);
    for expect in [
        "Sends a greeting to `greetings`, as a worker would receive it.",
        "Each copy is sent keyed by the name",
        "--name <NAME>",
        "--times <TIMES>",
        "Option<u32>",
        "--shout",
        "--broker <URL>",
    ] {
        assert!(help.contains(expect), "{expect} missing from\n{help}");
    }
}

/// A loopback port nothing listens on (bound, then let go).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn status_asks_a_running_worker_and_prints_its_state_agents_partitions_and_tables() {
    let dir = WorkDir::new("status");
    let port = closed_port().to_string();
    let env = [("FAUST_WEB_PORT", port.as_str())];
    let mut worker = dir
        .command(&["worker", "--broker", "memory://"], &env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the worker");
    let url = format!("http://127.0.0.1:{port}");
    // The worker takes a moment to listen: ask until it answers running.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let out = loop {
        let out = dir.run(&["status", "--url", &url], &[]);
        if out.status.success() && stdout(&out).contains(": running") {
            break out;
        }
        if std::time::Instant::now() > deadline {
            let _ = worker.kill();
            let _ = worker.wait();
            panic!(
                "no running worker at {url}: {}{}",
                stdout(&out),
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Without --url: the address the settings give (FAUST_WEB_PORT here).
    let default = dir.run(&["status"], &env);
    let json = dir.run(&["status", "--url", &url, "--json"], &[]);
    let _ = worker.kill();
    let _ = worker.wait();

    let text = stdout(&out);
    assert!(
        text.starts_with("app cli-app: running, up ") && text.contains(&url),
        "{text}"
    );
    let table = cells(&text);
    assert_eq!(
        row(&table, "greet")[1..],
        ["greetings", "0", "0", "0"],
        "{text}"
    );
    assert_eq!(
        row(&table, "bill")[1..],
        ["orders", "0", "0", "0"],
        "{text}"
    );
    // Nothing was sent: every partition is empty, so none lags.
    let orders: Vec<&Vec<String>> = table
        .iter()
        .filter(|r| r.first().is_some_and(|c| c == "orders"))
        .collect();
    assert_eq!(orders.len(), 2, "orders has 2 partitions: {text}");
    assert!(
        orders
            .iter()
            .all(|r| r.last().map(String::as_str) == Some("0")),
        "{text}"
    );
    assert!(
        !text.contains("cli-app-__leader"),
        "the election is not an input: {text}"
    );
    assert_eq!(
        row(&table, "last-order")[1..],
        ["Table", "memory", "0,1,2,3", "0", "nothing to recover"],
        "{text}"
    );

    assert!(default.status.success(), "{}", stderr(&default));
    assert!(
        stdout(&default).contains("app cli-app: running"),
        "{}",
        stdout(&default)
    );

    assert!(json.status.success(), "{}", stderr(&json));
    let status: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("JSON");
    assert_eq!(status["app"], "cli-app");
    assert_eq!(status["state"], "running");
    assert_eq!(status["web"], url.as_str());
    // Both agents, in the order they were linked (not a fixed one).
    let mut agents: Vec<&str> = status["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    agents.sort_unstable();
    assert_eq!(agents, ["bill", "greet"], "{}", stdout(&json));
}

#[test]
fn status_without_a_worker_names_the_address_and_what_to_check() {
    let dir = WorkDir::new("status-closed");
    let port = closed_port();
    let out = dir.run(
        &["status", "--url", &format!("http://127.0.0.1:{port}")],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("no worker answers at http://127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("is `worker` running?"), "{err}");
    assert!(err.contains("--url") && err.contains("web_port"), "{err}");
    let out = dir.run(&["status", "--url", "https://127.0.0.1:6066"], &[]);
    assert!(stderr(&out).contains("plain http"), "{}", stderr(&out));
}
