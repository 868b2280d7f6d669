//! The command line every faust program gets from `faust::main!`.
//!
//! ```text
//! my-app worker [--broker URL] [--loglevel LEVEL]   run the worker (the default)
//! my-app agents                                      list the agents and their topics
//! my-app --help
//! ```
//!
//! The broker URL also comes from the `FAUST_BROKER` environment variable;
//! the command line wins over the environment, which wins over the `App`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::app::App;

#[derive(Debug, Parser)]
#[command(about = "A faust-rs stream-processing app", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the worker: consume, process, produce, until SIGINT/SIGTERM.
    Worker {
        /// Broker URL, e.g. `memory://`.
        #[arg(long, env = "FAUST_BROKER")]
        broker: Option<String>,
        /// Log level: error, warn, info, debug or trace (or a tracing
        /// filter such as `faust=debug`).
        #[arg(long, short = 'l', default_value = "info", env = "FAUST_LOGLEVEL")]
        loglevel: String,
    },
    /// List the agents, their topics, sinks and error policies.
    Agents,
}

/// Runs the command line for `app`: what `faust::main!` expands to.
pub fn main(app: App) -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Worker {
        broker: std::env::var("FAUST_BROKER").ok(),
        loglevel: std::env::var("FAUST_LOGLEVEL").unwrap_or_else(|_| "info".into()),
    }) {
        Command::Worker { broker, loglevel } => {
            init_logging(&loglevel);
            let app = match broker {
                Some(url) => app.broker(url),
                None => app,
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(crate::worker::run(app)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e}");
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Agents => {
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
            ExitCode::SUCCESS
        }
    }
}

fn init_logging(level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}
