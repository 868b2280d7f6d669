//! The runtime's error type.
//!
//! [`enum@Error`] is what the framework's own calls return: start-up checks,
//! codecs, topics, and the reasons a worker stopped. A user's handler may
//! return any error type that converts into [`BoxError`]; the framework wraps
//! it as [`Error::Handler`] with the event it failed on.

use std::fmt;

use crate::app::registry::Location;
use crate::codec::CodecError;

/// A boxed error from user code: what handlers, tasks and timers may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with this crate's [`enum@Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the faust runtime can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key or value could not be encoded or decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),

    /// Two definitions of the same kind share a name.
    #[error(
        "two {kind}s are named `{name}`: one at {first}, one at {second}; \
         rename one of them (the `name = \"...\"` option)"
    )]
    Duplicate {
        /// `agent`, `task`, `timer`, `topic`, `table` or `command`.
        kind: &'static str,
        /// The shared name.
        name: String,
        /// The first definition.
        first: Location,
        /// The second definition.
        second: Location,
    },

    /// The app's configuration is wrong; the message says which setting and
    /// how to fix it.
    #[error("configuration error: {0}")]
    Config(String),

    /// An agent's error policy is `stop` and an event failed.
    #[error(
        "agent `{agent}` stopped the worker: event at {topic}[{partition}] offset {offset} failed: {source}"
    )]
    AgentStopped {
        /// The agent's name.
        agent: String,
        /// Source topic of the failed event.
        topic: String,
        /// Source partition.
        partition: i32,
        /// Source offset (not committed: it is processed again after a restart).
        offset: i64,
        /// What went wrong.
        #[source]
        source: BoxError,
    },

    /// A stream agent's function returned (or failed) while its stream was
    /// still open.
    #[error("agent `{agent}` ended while its stream was still open: {reason}")]
    AgentEnded {
        /// The agent's name.
        agent: String,
        /// `returned Ok(())` or the error it returned.
        reason: String,
    },

    /// A transaction (`processing_guarantee = "exactly_once"`) failed and
    /// was aborted; the worker stops.
    #[error(
        "transaction of transactional id `{id}`: {step} failed: {source}; the transaction is \
         aborted (read_committed readers never see what it wrote) and the worker stops: \
         restart it and it resumes from the last committed transaction (if another worker \
         fenced this id, give each worker its own `transactional_id`)"
    )]
    Transaction {
        /// The producer's transactional id.
        id: String,
        /// What the cycle was doing: `beginning a transaction`,
        /// `writing a record`, `adding the input offsets`, `committing`.
        step: &'static str,
        /// The broker's or client's error.
        #[source]
        source: BoxError,
    },

    /// A `#[task]` returned an error.
    #[error("task `{task}` failed: {source}")]
    TaskFailed {
        /// The task's name.
        task: String,
        /// What it returned.
        #[source]
        source: BoxError,
    },

    /// A `#[command]` returned an error.
    #[error("command `{command}` failed: {source}")]
    CommandFailed {
        /// The command's name.
        command: String,
        /// What it returned.
        #[source]
        source: BoxError,
    },

    /// A call that needs a running app (`Topic::send`, `faust::sleep`) was
    /// made outside an agent, task, timer or command.
    #[error(
        "`{what}` was called outside a running faust app; call it from an agent, task, \
         timer or #[command], or in tests use `TestDriver`"
    )]
    NoContext {
        /// The call that was made.
        what: &'static str,
    },

    /// The transport (broker connection) failed.
    #[error("transport error on {what}: {source}")]
    Transport {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// A table's store failed (RocksDB: disk full, I/O error, damage found
    /// while reading).
    #[error("store error {what}: {reason}")]
    Store {
        /// What was being done, naming the table partition or folder.
        what: String,
        /// What the store said.
        reason: String,
    },

    /// An error raised by user code, e.g. through [`Error::msg`].
    #[error(transparent)]
    Handler(BoxError),

    /// The app stopped earlier (the message says why); it runs no more.
    #[error("the app already stopped: {0}")]
    Stopped(String),

    /// The worker is shutting down; the operation was not done.
    #[error("the worker is shutting down")]
    ShuttingDown,
}

impl Error {
    /// An error with a plain message, for user code: `Err(Error::msg("no such account"))`.
    pub fn msg(message: impl fmt::Display) -> Self {
        Error::Handler(message.to_string().into())
    }

    pub(crate) fn config(message: impl fmt::Display) -> Self {
        Error::Config(message.to_string())
    }
}
