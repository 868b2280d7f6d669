//! The command line every faust program gets from `faust::main!`.
//!
//! ```text
//! my-app [worker] [--broker URL] [--config FILE] [--loglevel LEVEL]
//!                                         run the worker (the default command)
//! my-app agents                           list the agents, their topics, sinks and error policies
//! my-app send TOPIC [--key K] VALUE [--partition N] [--header NAME=VALUE ...]
//!                                         send one record through the configured broker
//! my-app tables                           list the tables: kind, partitions, store, changelog, keys
//! my-app table get TABLE KEY              print KEY's value in TABLE as JSON
//! my-app topics                           list every topic the app uses: partitions, what uses it
//! my-app model [NAME]                     list the records the app uses, or print NAME's schema
//! my-app status [--url URL] [--json]      ask a running worker how it is doing (its /status)
//! my-app NAME [--ARG VALUE ...]           run a #[command] (each is listed in --help)
//! my-app --help, my-app COMMAND --help
//! ```
//!
//! `--broker`, `--config` and `--loglevel` may be given before or after the
//! command. At start, `worker` and `send` stack the config file, the
//! environment and these flags on the app's settings with
//! [`config::resolve`] (defaults < `App` builder < TOML file < environment <
//! command line; the [`config`] chapter lists every setting). With
//! `--loglevel debug` the worker logs each setting and where it came from.
//!
//! `tables` and `table get` read the tables' changelogs from the broker
//! (outside the app's consumer group, so a running worker is not
//! disturbed) and rebuild them in memory: what they show is what every
//! worker would recover, whatever store the workers use. `table get`
//! parses KEY as JSON when it can (`42`, `"a b"`, `{"id": 1}`), else takes
//! it as a string, encodes it with the table's key codec, and prints the
//! value as JSON; a missing key prints `null` and exits with code 1.
//!
//! `send` writes VALUE's UTF-8 bytes as the record's value (and `--key`'s
//! as its key) through the same transport the worker uses, waits for the
//! broker's acknowledgement and prints `sent to TOPIC[partition]@offset`.
//!
//! `topics` prints the topics the worker would declare, with the
//! partition counts the settings give them (`(default)`: the app's
//! `topic_partitions`) and what uses each one (an agent's input, sink,
//! repartition or dead letters, a table's changelog or closed windows,
//! the leader election); it connects to no broker. `model` lists the
//! `#[record]` types the app's agents and tables use, and `model NAME`
//! prints one's fields, Rust types, `#[validate]` rules and doc comments
//! ([`RecordSchema`](crate::record::RecordSchema)).
//!
//! `status` asks a running worker's web endpoint (`--url`, by default
//! `http://WEB_BIND:WEB_PORT` from the settings) for its `/status` and
//! prints its state (starting, waiting for partitions, recovering,
//! running, stopping), its agents with the events they handled, errors and
//! dead letters, its partitions with read and committed offsets, high
//! watermark and lag, and its tables with their recovery; `--json` prints
//! the JSON as the worker answered it. When nothing answers there it says
//! so, naming the address.
//!
//! Every `#[command]` in the program is a subcommand too: `my-app NAME
//! --ARG VALUE`, its doc comment as its help. An argument `name: T` is
//! `--name VALUE` (required), `name: Option<T>` is optional, `name: bool`
//! a flag, with `_` written `-`; `T` is any `FromStr` type, and a value
//! that does not parse is a usage error. The command runs like a
//! `#[task]`, with the app's context (so `Topic::send` and agents' `ask`
//! work) through the configured broker; it joins no consumer group and
//! holds no table partitions. The program exits once what it sent is
//! acknowledged: 0 when it returned `Ok`, 1 after printing its error. A
//! command named like a built-in one, or with an argument named like a
//! global flag (`--broker`, `--config`, `--loglevel`), stops every start
//! with an error naming it.

mod command;
mod model;
mod status;
mod topics;

#[doc(hidden)]
pub use command::{CommandArgs, CommandValue, parse_arg};

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::app::App;
use crate::app::config::{self, CliOverrides, Settings};
use crate::error::{Error, Result};
use crate::transport::{Headers, OutgoingRecord, RecordMetadata};

/// How long `send` waits for the broker to acknowledge the record.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the command line for `app`: what `faust::main!` expands to.
///
/// Parses `std::env::args()`, sets up logging, and runs the command;
/// returns the process's exit code (failure after printing the error).
/// A command-line mistake prints clap's message and exits with code 2.
pub fn main(app: App) -> ExitCode {
    let base = base_command();
    if let Err(e) = command::check(&app, &base) {
        return fail(e);
    }
    let mut cli_command = base.about(format!("faust-rs app `{}`", app.id()));
    for def in &app.commands {
        cli_command = cli_command.subcommand(command::subcommand(def));
    }
    let matches = cli_command.get_matches();
    let user_command = matches
        .subcommand()
        .and_then(|(name, sub)| Some((*app.commands.iter().find(|c| c.name == name)?, sub)));
    if let Some((def, sub)) = user_command {
        let global = match GlobalArgs::from_arg_matches(&matches) {
            Ok(global) => global,
            Err(e) => e.exit(),
        };
        init_logging(global.loglevel.as_deref());
        let args = command::args_of(def, sub);
        return command::run(app, &global.overrides(), def, args);
    }
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_logging(cli.global.loglevel.as_deref());
    let overrides = cli.global.overrides();
    match cli.command.unwrap_or(Command::Worker) {
        Command::Worker => run_worker(app, &overrides),
        Command::Agents => {
            print_agents(&app);
            ExitCode::SUCCESS
        }
        Command::Send(args) => run_send(&app, &overrides, args),
        Command::Tables => run_tables(&app, &overrides),
        Command::Table(TableCommand::Get { table, key }) => {
            run_table_get(&app, &overrides, &table, &key)
        }
        Command::Topics => topics::run(app, &overrides),
        Command::Model { name } => model::run(&app, name.as_deref()),
        Command::Status { url, json } => status::run(&app, &overrides, url.as_deref(), json),
    }
}

/// The built-in command line, before the app's name and `#[command]`s are
/// added.
fn base_command() -> clap::Command {
    Cli::command()
}

/// The parsed command line.
#[derive(Debug, Parser)]
#[command(about = "A faust-rs stream-processing app", long_about = None)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Flags every command takes, before or after its name.
#[derive(Debug, Args)]
struct GlobalArgs {
    /// Broker URL: kafka://HOST:PORT[,HOST:PORT], embedded:// or memory://
    /// (overrides FAUST_BROKER, the config file and the app).
    #[arg(long, global = true, value_name = "URL")]
    broker: Option<String>,
    /// TOML config file (overrides FAUST_CONFIG; default ./faust.toml if it
    /// exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log level: error, warn, info, debug or trace, or a tracing filter
    /// such as `faust_rs_runtime=debug,info` [default: RUST_LOG, else info].
    #[arg(
        long,
        short = 'l',
        global = true,
        env = "FAUST_LOGLEVEL",
        value_name = "LEVEL"
    )]
    loglevel: Option<String>,
}

impl GlobalArgs {
    fn overrides(&self) -> CliOverrides {
        CliOverrides {
            broker: self.broker.clone(),
            config: self.config.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the worker: consume, process, produce, until SIGINT/SIGTERM (the
    /// default command).
    Worker,
    /// List the agents, their topics, sinks and error policies.
    Agents,
    /// Send one record to a topic and print where it landed.
    Send(SendArgs),
    /// List the tables: kind, partitions, store, changelog topic and keys
    /// (read from the changelogs).
    Tables,
    /// Look into one table.
    #[command(subcommand)]
    Table(TableCommand),
    /// List every topic the app uses: partitions, and what uses it (agents'
    /// inputs, sinks and dead letters, changelogs, repartition topics, the
    /// leader election).
    Topics,
    /// List the records the app's agents and tables use, or print one's
    /// schema: fields, types, validation rules.
    Model {
        /// The record's name (`Order`, or `module::Order` when two share
        /// it); none lists the records.
        #[arg(value_name = "NAME")]
        name: Option<String>,
    },
    /// Ask a running worker how it is doing: state, agents, partitions with
    /// their lag, table recovery (its web endpoint's /status).
    Status {
        /// The worker's web endpoint [default: http://WEB_BIND:WEB_PORT from
        /// the settings, 127.0.0.1:6066 unless set].
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// Print the JSON the worker answered, as it came.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TableCommand {
    /// Print KEY's value in TABLE as JSON, rebuilt from the changelog.
    Get {
        /// The table's name.
        #[arg(value_name = "TABLE")]
        table: String,
        /// The key: JSON (`42`, `"a"`, `{"id":1}`) or a bare string.
        #[arg(value_name = "KEY", allow_hyphen_values = true)]
        key: String,
    },
}

#[derive(Debug, Args)]
struct SendArgs {
    /// Topic to send to.
    #[arg(value_name = "TOPIC")]
    topic: String,
    /// Record key (sent as its UTF-8 bytes; none by default).
    #[arg(long, short = 'k', value_name = "K")]
    key: Option<String>,
    /// Record value (sent as its UTF-8 bytes), e.g. '{"id": 1}'.
    #[arg(value_name = "VALUE", allow_hyphen_values = true)]
    value: String,
    /// Partition to write to [default: the key's partition, as the worker's
    /// producer picks it].
    #[arg(
        long,
        short = 'p',
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i32).range(0..)
    )]
    partition: Option<i32>,
    /// A record header, NAME=VALUE; repeat for more.
    #[arg(long = "header", short = 'H', value_name = "NAME=VALUE", value_parser = parse_header)]
    headers: Vec<(String, String)>,
}

fn run_worker(mut app: App, overrides: &CliOverrides) -> ExitCode {
    let settings = match resolve_settings(&app, overrides) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    for (key, value, source) in settings.entries() {
        tracing::debug!("setting {key} = {value} ({source})");
    }
    app.settings = settings;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(crate::worker::run(app)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            fail(e)
        }
    }
}

fn run_send(app: &App, overrides: &CliOverrides, args: SendArgs) -> ExitCode {
    let settings = match resolve_settings(app, overrides) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    warn_if_ephemeral(&settings, "a running worker will not see the record");
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let topic = args.topic.clone();
    match runtime.block_on(send(&settings, args)) {
        Ok(meta) => {
            println!("sent to {topic}[{}]@{}", meta.partition, meta.offset);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Sends one record through the configured transport and waits for the
/// broker's acknowledgement.
async fn send(settings: &Settings, args: SendArgs) -> Result<RecordMetadata> {
    let transport = crate::transport::connect(settings, crate::time::Clock::real())?;
    let record = OutgoingRecord {
        topic: args.topic.as_str().into(),
        partition: args.partition,
        key: args.key.map(|k| Bytes::from(k.into_bytes())),
        value: Some(Bytes::from(args.value.into_bytes())),
        headers: args.headers.into_iter().collect::<Headers>(),
        timestamp: None,
    };
    let delivery = transport.producer().send(record);
    match tokio::time::timeout(SEND_TIMEOUT, delivery).await {
        Ok(result) => result,
        Err(_) => Err(Error::config(format!(
            "no acknowledgement from {} within {SEND_TIMEOUT:?}; is the broker running \
             and does topic `{}` exist?",
            settings.broker, args.topic
        ))),
    }
}

fn run_tables(app: &App, overrides: &CliOverrides) -> ExitCode {
    let names: Vec<&str> = app.tables.iter().map(|t| t.name).collect();
    with_tables(app, overrides, &names, |tables, settings| {
        println!(
            "{:<24} {:<15} {:>10} {:<28} {:<40} {:>10}",
            "table", "kind", "partitions", "store", "changelog", "keys"
        );
        for table in tables.all() {
            let keys: usize = table.partition_sizes()?.iter().map(|(_, n)| n).sum();
            // The store the workers use, from the same settings they
            // resolve (FAUST_STORE, the config file, ...).
            let store = crate::table::TableState::new(table.def, &app.id, settings)
                .map(|t| t.describe_store())
                .unwrap_or_else(|e| format!("({e})"));
            println!(
                "{:<24} {:<15} {:>10} {:<28} {:<40} {:>10}",
                table.def.name,
                table.def.kind.type_name(),
                table.partitions,
                store,
                table.changelog,
                keys
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn run_table_get(app: &App, overrides: &CliOverrides, name: &str, key: &str) -> ExitCode {
    let Some(def) = app.tables.iter().find(|t| t.name == name) else {
        let known: Vec<&str> = app.tables.iter().map(|t| t.name).collect();
        return fail(format!(
            "no table named `{name}` in app `{}`; its tables are: {}",
            app.id,
            if known.is_empty() {
                "(none)".to_owned()
            } else {
                known.join(", ")
            }
        ));
    };
    let key_bytes = match (def.types.key_from_text)(&app.codecs, def.key_serializer, key) {
        Ok(bytes) => bytes,
        Err(e) => return fail(format!("table `{name}`: {e}")),
    };
    with_tables(app, overrides, &[name], |tables, _| {
        let Some(table) = tables.get(name) else {
            return Ok(ExitCode::FAILURE);
        };
        // A windowed table: every window of the key, oldest first.
        match crate::table::lookup_json(&app.codecs, def, table, &key_bytes)? {
            Some(json) => {
                println!("{json}");
                Ok(ExitCode::SUCCESS)
            }
            None => {
                println!("null");
                let what = if table.window.is_some() {
                    "window"
                } else {
                    "value"
                };
                eprintln!("table `{name}` has no {what} for key {key:?}");
                Ok(ExitCode::FAILURE)
            }
        }
    })
}

/// Rebuilds the tables named `names` in memory from their changelogs on
/// the configured broker, then calls `f` with them and the resolved
/// settings.
fn with_tables(
    app: &App,
    overrides: &CliOverrides,
    names: &[&str],
    f: impl FnOnce(&crate::table::Tables, &Settings) -> Result<ExitCode>,
) -> ExitCode {
    let settings = match resolve_settings(app, overrides) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    warn_if_ephemeral(&settings, "the tables read empty");
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let result = runtime.block_on(async {
        let transport = crate::transport::connect(&settings, crate::time::Clock::real())?;
        let list: Vec<_> = app
            .tables
            .iter()
            .filter(|t| names.contains(&t.name))
            .map(|def| {
                std::sync::Arc::new(crate::table::TableState::in_memory(def, &app.id, &settings))
            })
            .collect();
        let tables = crate::table::Tables::new(list, false);
        let partitions: Vec<i32> =
            (0..tables.all().iter().map(|t| t.partitions).max().unwrap_or(0))
                .map(|p| p as i32)
                .collect();
        let reader = transport.changelog_reader(&app.id)?;
        // Blocking reads: nothing else runs on this runtime meanwhile.
        tables
            .assign(&partitions, &*reader, None)
            .or_else(|e| match e {
                // A changelog that does not exist yet: the table is empty.
                Error::Transport { .. } if e.to_string().contains("Unknown") => Ok(0),
                e => Err(e),
            })?;
        f(&tables, &settings)
    });
    match result {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

/// Warns on stderr when the broker lives only as long as this command
/// (`embedded://`, `memory://`); `consequence` says what that means here.
fn warn_if_ephemeral(settings: &Settings, consequence: &str) {
    if let Some(scheme @ ("embedded" | "memory")) =
        settings.broker.split_once("://").map(|(s, _)| s)
    {
        eprintln!(
            "warning: the broker is {scheme}:// ({}), which lives only as long as this \
             command: {consequence}; pass --broker kafka://HOST:PORT or set FAUST_BROKER",
            settings.source("broker")
        );
    }
}

/// The app's settings with the file, the environment and the flags on top;
/// on error, prints it and gives the exit code.
fn resolve_settings(app: &App, overrides: &CliOverrides) -> Result<Settings, ExitCode> {
    config::resolve(app.settings(), process_env(), overrides).map_err(fail)
}

/// The process environment as UTF-8 pairs. A variable that is not UTF-8
/// cannot be a faust setting's value; it is skipped with a warning if it
/// looks like one.
fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            match value.into_string() {
                Ok(value) => Some((name, value)),
                Err(_) => {
                    if name.starts_with("FAUST_") {
                        tracing::warn!("ignoring {name}: its value is not UTF-8");
                    }
                    None
                }
            }
        })
        .collect()
}

fn print_agents(app: &App) {
    println!("{:<24} {:<30} {:<30} on_error", "agent", "topics", "sinks");
    for agent in app.agents() {
        let sinks: Vec<String> = agent
            .sinks
            .iter()
            .map(|s| match s {
                crate::app::registry::SinkRef::Topic(t) => (*t).to_owned(),
                crate::app::registry::SinkRef::Agent(a) => format!("agent:{}", a.name),
            })
            .collect();
        let policy = match (agent.on_error, agent.dead_letter) {
            (Some(p), _) => format!("{p:?}"),
            (None, Some(d)) => format!("DeadLetter -> {d}"),
            (None, None) => "Stop".to_owned(),
        };
        println!(
            "{:<24} {:<30} {:<30} {}",
            agent.name,
            agent.topics.join(","),
            sinks.join(","),
            policy
        );
    }
}

/// `NAME=VALUE` → `(NAME, VALUE)`; the value may contain `=`.
fn parse_header(arg: &str) -> std::result::Result<(String, String), String> {
    match arg.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!(
            "expected NAME=VALUE, e.g. --header trace-id=abc123, got `{arg}`"
        )),
    }
}

/// `--loglevel` (or `FAUST_LOGLEVEL`) wins over `RUST_LOG`; `info` when
/// neither is set. A filter that does not parse falls back to `info` with a
/// note on stderr.
fn init_logging(level: Option<&str>) {
    let filter = match level {
        Some(level) => EnvFilter::try_new(level).unwrap_or_else(|e| {
            eprintln!("warning: log level `{level}` is not a tracing filter ({e}); using info");
            EnvFilter::new("info")
        }),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    use std::io::IsTerminal;
    // Logs go to stderr (stdout is the program's own output), coloured only
    // on a terminal.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .try_init();
}

fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

/// Prints `rows` under `header` in aligned columns (see [`columns`]).
fn print_columns(header: &[&str], rows: &[Vec<String>]) {
    print!("{}", columns(header, rows));
}

/// `rows` under `header`, each column as wide as its widest cell plus two
/// spaces; the last column is not padded, and lines carry no trailing
/// spaces.
fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                let pad = widths.get(i).copied().unwrap_or(0) + 2;
                line.push_str(&format!("{cell:<pad$}"));
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use std::path::Path;

    fn parse(args: &[&str]) -> std::result::Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("my-app").chain(args.iter().copied()))
    }

    fn send_args(args: &[&str]) -> SendArgs {
        match parse(args).unwrap().command {
            Some(Command::Send(send)) => send,
            other => panic!("expected send, got {other:?}"),
        }
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_means_worker() {
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none());
        let cli = parse(&["--broker", "memory://"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.global.broker.as_deref(), Some("memory://"));
    }

    #[test]
    fn worker_takes_broker_loglevel_and_config_before_or_after_the_command() {
        let cli = parse(&[
            "worker",
            "--broker",
            "kafka://k:9092",
            "-l",
            "debug",
            "--config",
            "prod.toml",
        ])
        .unwrap();
        assert!(matches!(cli.command, Some(Command::Worker)));
        assert_eq!(cli.global.loglevel.as_deref(), Some("debug"));
        let overrides = cli.global.overrides();
        assert_eq!(overrides.broker.as_deref(), Some("kafka://k:9092"));
        assert_eq!(overrides.config.as_deref(), Some(Path::new("prod.toml")));

        let cli = parse(&["--config", "prod.toml", "worker"]).unwrap();
        assert_eq!(cli.global.config.as_deref(), Some(Path::new("prod.toml")));
    }

    #[test]
    fn send_takes_topic_key_value_partition_and_headers() {
        let send = send_args(&[
            "send",
            "orders",
            "--key",
            "alice",
            r#"{"amount": 5}"#,
            "--partition",
            "2",
            "--header",
            "trace-id=abc",
            "-H",
            "query=a=b",
        ]);
        assert_eq!(send.topic, "orders");
        assert_eq!(send.key.as_deref(), Some("alice"));
        assert_eq!(send.value, r#"{"amount": 5}"#);
        assert_eq!(send.partition, Some(2));
        assert_eq!(
            send.headers,
            [
                ("trace-id".to_owned(), "abc".to_owned()),
                ("query".to_owned(), "a=b".to_owned())
            ]
        );
    }

    #[test]
    fn send_needs_only_topic_and_value_and_takes_values_that_start_with_a_dash() {
        let send = send_args(&["send", "numbers", "-5"]);
        assert_eq!(
            (send.topic.as_str(), send.value.as_str()),
            ("numbers", "-5")
        );
        assert_eq!((send.key, send.partition), (None, None));
        assert!(send.headers.is_empty());
    }

    #[test]
    fn send_refuses_bad_headers_negative_partitions_and_a_missing_value() {
        let e = parse(&["send", "t", "v", "--header", "novalue"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
        assert!(e.to_string().contains("expected NAME=VALUE"), "{e}");
        let e = parse(&["send", "t", "v", "--partition", "-1"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
        let e = parse(&["send", "t"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn every_command_has_help() {
        for (args, expect) in [
            (&["--help"][..], "agents"),
            (&["worker", "--help"][..], "--config <FILE>"),
            (&["agents", "--help"][..], "List the agents"),
            (&["send", "--help"][..], "--header <NAME=VALUE>"),
            (&["help", "send"][..], "--partition <N>"),
            (&["topics", "--help"][..], "what uses it"),
            (&["model", "--help"][..], "[NAME]"),
            (&["status", "--help"][..], "--url <URL>"),
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::DisplayHelp, "{args:?}");
            assert!(e.to_string().contains(expect), "{args:?}: {e}");
        }
    }

    #[test]
    fn unknown_commands_and_flags_are_errors() {
        assert_eq!(
            parse(&["wrker"]).unwrap_err().kind(),
            ErrorKind::InvalidSubcommand
        );
        assert_eq!(
            parse(&["worker", "--brokr", "x"]).unwrap_err().kind(),
            ErrorKind::UnknownArgument
        );
    }

    #[test]
    fn model_takes_an_optional_name_and_topics_none() {
        assert!(matches!(
            parse(&["model"]).unwrap().command,
            Some(Command::Model { name: None })
        ));
        assert!(matches!(
            parse(&["model", "Order"]).unwrap().command,
            Some(Command::Model { name: Some(n) }) if n == "Order"
        ));
        assert!(matches!(
            parse(&["topics"]).unwrap().command,
            Some(Command::Topics)
        ));
        assert_eq!(
            parse(&["topics", "extra"]).unwrap_err().kind(),
            ErrorKind::UnknownArgument
        );
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let text = columns(
            &["a", "bb", "c"],
            &[
                vec!["long-name".into(), "1".into(), "x, y".into()],
                vec!["s".into(), "22".into(), String::new()],
            ],
        );
        assert_eq!(
            text,
            "a          bb  c\nlong-name  1   x, y\ns          22\n"
        );
    }

    #[test]
    fn header_parser_splits_at_the_first_equals_sign() {
        assert_eq!(parse_header("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_header("a="), Ok(("a".into(), String::new())));
        assert!(parse_header("=b").is_err());
    }
}
