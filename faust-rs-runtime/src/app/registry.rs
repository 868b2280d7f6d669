//! Registration: the definitions the attribute macros emit, and the `linkme`
//! distributed slices that collect them.
//!
//! Each macro emits its item plus one `static` definition (`AgentDef`,
//! `TaskDef`, `TimerDef`, `TopicDef`, `TableDef`, `CommandDef`, `PageDef`) and registers a reference to it in a
//! slice through [`__register!`](crate::__register). The worker reads the
//! slices at start; nothing runs before `main`. Tests may instead build an
//! [`App`](crate::App) from an explicit list of definitions.
//!
//! Everything here is `#[doc(hidden)]` support for generated code: the
//! field layout is not a stable API.

use std::fmt;
use std::time::Duration;

use crate::agent::AgentHandler;
use crate::codec::Codecs;
use crate::time::TaskFuture;

/// Where an item was defined, for error messages that name both sides of a
/// duplicate.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// `module_path!()` of the definition.
    pub module: &'static str,
    /// `file!()` of the definition.
    pub file: &'static str,
    /// `line!()` of the definition.
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{})", self.module, self.file, self.line)
    }
}

/// Where an agent sends what its handler returns.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum SinkRef {
    /// A topic, by name.
    Topic(&'static str),
    /// Another agent: its first input topic.
    Agent(&'static AgentDef),
}

/// What happens to an event whose handler (or decoding) failed after its
/// retries ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnError {
    /// Stop the worker; the event's offset is not committed, so it is
    /// processed again after a restart.
    Stop,
    /// Write the event to the agent's dead-letter topic with the error in
    /// its headers, and go on with the next event.
    DeadLetter,
}

/// How an agent's events are repartitioned before its handler sees them
/// (Faust's `stream.group_by(...)` and `stream.through(...)`).
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum Repartition {
    /// Re-keyed by `key` and sent through
    /// `<app id>-<agent>-<name>-repartition`, so each key's events land in
    /// one partition (co-partitioned with the agent's tables).
    GroupBy {
        /// The repartition's name (default: the key function's).
        name: &'static str,
        /// The new key of a record: its value decoded as the agent's input,
        /// given to the key function, the result encoded.
        key: GroupKey,
    },
    /// Sent as they are through `topic`, which the handler then reads.
    Through {
        /// The intermediate topic.
        topic: &'static str,
    },
}

/// Computes the key of a record for [`Repartition::GroupBy`]; built by
/// generated code around the user's key function.
#[doc(hidden)]
pub type GroupKey = fn(
    &std::sync::Arc<crate::transport::Message>,
    &crate::agent::InputCodecs,
    &Codecs,
) -> Result<bytes::Bytes, crate::codec::CodecError>;

impl fmt::Debug for Repartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repartition::GroupBy { name, .. } => write!(f, "GroupBy({name})"),
            Repartition::Through { topic } => write!(f, "Through({topic})"),
        }
    }
}

/// An agent as declared by `#[agent]`.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct AgentDef {
    /// The agent's name (defaults to the function's name).
    pub name: &'static str,
    /// Topics it consumes.
    pub topics: &'static [&'static str],
    /// Where the per-event form's return values go.
    pub sinks: &'static [SinkRef],
    /// How many handlers run at once.
    pub concurrency: usize,
    /// Dead-letter topic, if any.
    pub dead_letter: Option<&'static str>,
    /// Policy after retries; `None` means: dead letter when a dead-letter
    /// topic is set, otherwise stop.
    pub on_error: Option<OnError>,
    /// Retries before the policy applies.
    pub retries: u32,
    /// First retry delay; doubles on each retry.
    pub retry_backoff: Duration,
    /// Repartitioning before the handler (`group_by`, `through`).
    pub repartition: Option<Repartition>,
    /// Where the agent is defined.
    pub location: Location,
    /// Builds the type-erased handler around the user's function.
    pub build: fn() -> AgentHandler,
}

impl fmt::Debug for AgentDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentDef")
            .field("name", &self.name)
            .field("topics", &self.topics)
            .field("concurrency", &self.concurrency)
            .field("dead_letter", &self.dead_letter)
            .field("on_error", &self.on_error)
            .field("retries", &self.retries)
            .field("repartition", &self.repartition)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// A `#[task]`: runs once when the worker starts.
#[doc(hidden)]
pub struct TaskDef {
    /// The task's name (the function's name).
    pub name: &'static str,
    /// Where the task is defined.
    pub location: Location,
    /// Starts one run of the task.
    pub run: fn() -> TaskFuture,
}

impl fmt::Debug for TaskDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskDef")
            .field("name", &self.name)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// A `#[command]`: a subcommand of the program's command line, run with
/// the app's context (see [`cli`](crate::cli)).
#[doc(hidden)]
pub struct CommandDef {
    /// The subcommand's name (the function's, `_` written `-`).
    pub name: &'static str,
    /// The function's doc comment: the command's help.
    pub doc: &'static str,
    /// Its arguments, in the function's order.
    pub args: &'static [CommandArg],
    /// Where the command is defined.
    pub location: Location,
    /// Starts one run with the parsed arguments.
    pub run: fn(&crate::cli::CommandArgs) -> crate::Result<TaskFuture>,
}

impl fmt::Debug for CommandDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandDef")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// A `#[page]`: a route of the worker's web endpoint served by a user
/// function (see [`web`](crate::web)).
#[doc(hidden)]
pub struct PageDef {
    /// The route (`/counts/{word}`), each `{name}` a path parameter.
    pub path: &'static str,
    /// The function's doc comment.
    pub doc: &'static str,
    /// Its arguments, in the function's order: `Required` ones are path
    /// parameters, `Optional` ones and flags come from the query string.
    pub args: &'static [CommandArg],
    /// Where the page is defined.
    pub location: Location,
    /// Starts one answer with the request's parameters.
    pub run: fn(&crate::cli::CommandArgs) -> crate::Result<crate::web::PageFuture>,
}

impl fmt::Debug for PageDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageDef")
            .field("path", &self.path)
            .field("args", &self.args)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// One argument of a `#[command]`, given as `--long VALUE` (or `--long`
/// alone for a flag).
#[doc(hidden)]
pub struct CommandArg {
    /// The function argument's name (`dry_run`).
    pub name: &'static str,
    /// The flag's name (`dry-run`, for `--dry-run`).
    pub long: &'static str,
    /// The value's placeholder in the help (`DRY_RUN`).
    pub value_name: &'static str,
    /// Its Rust type, as written (`Option<u32>`).
    pub ty: &'static str,
    /// Required, optional or a flag.
    pub kind: ArgKind,
    /// Parses a value (of the inner type, for an `Option`): the parsed
    /// value, or the message of the type's `FromStr` error.
    pub parse: fn(&str) -> Result<Box<dyn std::any::Any>, String>,
}

impl fmt::Debug for CommandArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandArg")
            .field("name", &self.name)
            .field("ty", &self.ty)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// How a `#[command]` argument is given.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// `name: T`: `--name VALUE` must be given.
    Required,
    /// `name: Option<T>`: `--name VALUE` may be given.
    Optional,
    /// `name: bool`: `--name` alone sets it.
    Flag,
}

/// A `#[timer]` (runs every `interval`, first after one interval) or a
/// `#[crontab]` (runs at the times its cron expression names).
#[doc(hidden)]
pub struct TimerDef {
    /// The timer's name (the function's name).
    pub name: &'static str,
    /// Time between two runs (zero for a crontab).
    pub interval: Duration,
    /// A crontab's expression: `"*/5 * * * *"` (5 fields, or 6 with
    /// seconds first).
    pub cron: Option<&'static str>,
    /// A crontab's time zone (IANA name); `None`: UTC.
    pub timezone: Option<&'static str>,
    /// Run only on the group's leader worker.
    pub on_leader: bool,
    /// Where the timer is defined.
    pub location: Location,
    /// Starts one run of the timer.
    pub run: fn() -> TaskFuture,
}

impl fmt::Debug for TimerDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerDef")
            .field("name", &self.name)
            .field("interval", &self.interval)
            .field("cron", &self.cron)
            .field("timezone", &self.timezone)
            .field("on_leader", &self.on_leader)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// A topic as declared by `#[topic]` (or `Topic::new`, which is not
/// registered).
#[doc(hidden)]
#[derive(Debug)]
pub struct TopicDef {
    /// The topic's name on the broker.
    pub name: &'static str,
    /// Partition count when the app creates it; `None` uses the app default.
    pub partitions: Option<u32>,
    /// Key codec name; `None` uses the key type's default.
    pub key_serializer: Option<&'static str>,
    /// Value codec name; `None` uses the value type's default.
    pub value_serializer: Option<&'static str>,
    /// Where the topic is declared; `None` for `Topic::new`.
    pub location: Option<Location>,
}

/// A table as declared by `#[table]`.
#[doc(hidden)]
#[derive(Debug)]
pub struct TableDef {
    /// The table's name; its changelog topic is `<app id>-<name>-changelog`.
    pub name: &'static str,
    /// Partition count; `None` uses the app default. Must match the source
    /// topics' (co-partitioning).
    pub partitions: Option<u32>,
    /// Key codec name; `None` uses the key type's default.
    pub key_serializer: Option<&'static str>,
    /// Value codec name; `None` uses the value type's default.
    pub value_serializer: Option<&'static str>,
    /// Store: `memory` or `rocksdb`; `None` uses the app default.
    pub store: Option<&'static str>,
    /// What the table holds, for `tables` and the docs.
    pub help: &'static str,
    /// Missing keys read as `V::default()` in `update`.
    pub default: bool,
    /// Which kind of table: partitioned or global, map or set.
    pub kind: TableKind,
    /// Its key and value types, erased: for the CLI's `table get`.
    pub types: TableTypes,
    /// A windowed table's windows.
    pub window: Option<&'static crate::window::WindowDef>,
    /// Where it is declared.
    pub location: Option<Location>,
}

/// The kinds of table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableKind {
    /// [`Table`](crate::table::Table): each worker holds the partitions it
    /// owns.
    Table,
    /// [`GlobalTable`](crate::table::GlobalTable): every worker holds every
    /// partition.
    Global,
    /// [`SetTable`](crate::table::SetTable): set-valued, partitioned.
    Set,
    /// [`SetGlobalTable`](crate::table::SetGlobalTable): set-valued, global.
    SetGlobal,
    /// [`WindowedTable`](crate::window::WindowedTable): values per key and
    /// time window, partitioned.
    Windowed,
    /// [`JoinWindow`](crate::window::JoinWindow): a stream-stream join's
    /// events, in buckets of its window.
    Join,
}

impl TableKind {
    /// Whether every worker holds every partition.
    pub fn is_global(self) -> bool {
        matches!(self, TableKind::Global | TableKind::SetGlobal)
    }

    /// The type's name: `Table`, `GlobalTable`, `SetTable`, `SetGlobalTable`.
    pub fn type_name(self) -> &'static str {
        match self {
            TableKind::Table => "Table",
            TableKind::Global => "GlobalTable",
            TableKind::Set => "SetTable",
            TableKind::SetGlobal => "SetGlobalTable",
            TableKind::Windowed => "WindowedTable",
            TableKind::Join => "JoinWindow",
        }
    }
}

/// A table's key and value types behind plain functions, so tools that do
/// not know the types (the CLI) can look a key up and show its value.
#[derive(Clone, Copy)]
pub struct TableTypes {
    /// Encodes a key written as text (JSON, or a bare string) with the
    /// key codec named (or the type's default).
    pub key_from_text: fn(&Codecs, Option<&str>, &str) -> crate::Result<bytes::Bytes>,
    /// Decodes a stored value with the value codec and renders it as JSON.
    pub value_to_json: fn(&Codecs, Option<&str>, &[u8]) -> crate::Result<serde_json::Value>,
    /// The key type's record schema, if it is a `#[record]`.
    pub key_record: Option<&'static crate::record::RecordSchema>,
    /// The value type's record schema, if it is a `#[record]`.
    pub value_record: Option<&'static crate::record::RecordSchema>,
}

impl fmt::Debug for TableTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableTypes").finish_non_exhaustive()
    }
}

/// Every `#[agent]` linked into the program.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static AGENTS: [&'static AgentDef];

/// Every `#[task]` linked into the program.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static TASKS: [&'static TaskDef];

/// Every `#[timer]` linked into the program.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static TIMERS: [&'static TimerDef];

/// Every `#[topic]` linked into the program.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static TOPICS: [&'static TopicDef];

/// Every `#[table]` linked into the program.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static TABLES: [&'static TableDef];

/// Every `#[command]` linked into the program.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static COMMANDS: [&'static CommandDef];

/// Every `#[page]` linked into the program.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static PAGES: [&'static PageDef];

/// Registers a definition in its slice. Called by generated code only:
/// `__register!(agent PATH_TO_STATIC)`, likewise `task`, `timer`, `topic`,
/// `table`, `command`, `page`.
#[doc(hidden)]
#[macro_export]
macro_rules! __register {
    (agent $def:path) => {
        $crate::__register!(@slice AGENTS, AgentDef, $def);
    };
    (task $def:path) => {
        $crate::__register!(@slice TASKS, TaskDef, $def);
    };
    (timer $def:path) => {
        $crate::__register!(@slice TIMERS, TimerDef, $def);
    };
    (topic $def:path) => {
        $crate::__register!(@slice TOPICS, TopicDef, $def);
    };
    (table $def:path) => {
        $crate::__register!(@slice TABLES, TableDef, $def);
    };
    (command $def:path) => {
        $crate::__register!(@slice COMMANDS, CommandDef, $def);
    };
    (page $def:path) => {
        $crate::__register!(@slice PAGES, PageDef, $def);
    };
    (@slice $slice:ident, $ty:ident, $def:path) => {
        const _: () = {
            #[$crate::__linkme::distributed_slice($crate::app::registry::$slice)]
            #[linkme(crate = $crate::__linkme)]
            static ENTRY: &'static $crate::app::registry::$ty = &$def;
        };
    };
}
