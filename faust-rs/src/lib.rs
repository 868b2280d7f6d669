//! # faust-rs
//!
//! Python [Faust](https://faust-streaming.github.io/faust/)'s
//! stream-processing model in Rust. Annotate async functions and structs;
//! `cargo run` gives a worker that consumes topics, runs your agents, and
//! sends what they return to sinks, with dead letters, retries and
//! at-least-once commits. Test an agent with [`testing::TestDriver`]: no
//! broker, no sleeps.
//!
//! ```
//! use faust::prelude::*;
//!
//! #[record(validate)]
//! #[derive(Debug, Clone, PartialEq)]
//! struct Order {
//!     account: String,
//!     #[validate(range(min = 0.0))]
//!     amount: f64,
//! }
//!
//! #[record]
//! #[derive(Debug, Clone, PartialEq)]
//! struct Receipt {
//!     account: String,
//!     cents: u64,
//! }
//!
//! #[agent(topic = "orders", sink = "receipts", dead_letter = "orders-dlq")]
//! async fn process(order: Order) -> Result<Receipt> {
//!     Ok(Receipt { account: order.account, cents: (order.amount * 100.0) as u64 })
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> faust::Result<()> {
//! let mut t = faust::testing::TestDriver::for_agent(&process::AGENT);
//! t.send("orders", "alice", Order { account: "alice".into(), amount: 2.5 }).await;
//! t.run_until_idle().await?;
//! t.topic::<Receipt>("receipts")
//!     .assert_values(&[Receipt { account: "alice".into(), cents: 250 }]);
//! # Ok(())
//! # }
//! ```
//!
//! A program runs its agents with [`main!`]:
//!
//! ```no_run
//! faust::main!(faust::App::new("orders-app"));
//! ```

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

#[doc(inline)]
pub use faust_rs_macros::{agent, command, crontab, page, record, table, task, timer, topic};

#[doc(inline)]
pub use faust_rs_runtime::{
    AgentOptions, App, BoxError, Error, Event, IntoPayload, Many, OnError, Payload,
    ProcessingGuarantee, Result, Stream, Table, Topic, sleep,
};

#[doc(inline)]
pub use faust_rs_runtime::codec::{CodecError, Json};

/// Codecs: keys and values to bytes and back, and custom codecs.
pub mod codec {
    /// Re-exported for implementing [`Codec`].
    pub use faust_rs_runtime::codec::erased_serde;
    #[doc(inline)]
    pub use faust_rs_runtime::codec::{
        Codec, CodecError, CodecRef, Codecs, EventTime, Json, Payload,
    };
}

#[doc(inline)]
pub use faust_rs_runtime::record::{
    FieldFailure, FieldRule, FieldSchema, RecordSchema, ValidationError,
};

/// Time: the app's clock (virtual under the test driver).
pub mod time {
    #[doc(inline)]
    pub use faust_rs_runtime::time::{now_ms, sleep};
}

/// Windowed tables: values per key and time window (tumbling, hopping,
/// sliding), final results, late events.
pub mod window {
    #[doc(inline)]
    pub use faust_rs_runtime::window::{
        JoinWindow, Window, WindowClosed, WindowSet, WindowedTable,
    };
}

/// Tables: partitioned and global, maps and sets, in memory or RocksDB.
pub mod table {
    #[doc(inline)]
    pub use faust_rs_runtime::table::{
        AnyTable, GlobalTable, RebuildReport, SetGlobalTable, SetTable, Table, changelog_origin,
        changelog_topic, changelog_value, rebuild,
    };
}

#[doc(inline)]
pub use faust_rs_runtime::transport::{
    Headers, Message, OutgoingRecord, RecordMetadata, partition_for_key,
};

#[doc(inline)]
pub use faust_rs_runtime::agent::dead_letter;

#[doc(inline)]
pub use faust_rs_runtime::origin;

#[doc(no_inline)]
pub use faust_rs_runtime::__bytes::Bytes;

/// Configuration: every setting, its default, its TOML key and environment
/// variable, and the order the layers apply in.
pub mod config {
    #[doc(inline)]
    pub use faust_rs_runtime::app::config::{
        CliOverrides, DEFAULT_CONFIG_FILE, MetricsExporter, ProcessingGuarantee, RocksDbSettings,
        Settings, Source, is_secret, resolve,
    };
    #[doc(inline)]
    pub use faust_rs_runtime::transport::kafka::{CONSUMER_DEFAULTS, PRODUCER_DEFAULTS};
}

/// Sensors: your code called at each step of the worker's work (records
/// in, events handled, sends, table reads and writes, commits, errors,
/// rebalances), Python Faust's `faust.Sensor`.
pub mod sensor {
    #[doc(inline)]
    pub use faust_rs_runtime::sensor::*;
}

/// The test driver: agents under test with no broker and virtual time.
pub mod testing {
    #[doc(inline)]
    pub use faust_rs_runtime::testing::{DeadLetter, TableView, TestDriver, TopicRecords};
}

/// The in-memory broker behind the test driver and `memory://` workers.
pub mod memory {
    #[doc(inline)]
    pub use faust_rs_runtime::transport::memory::{MemoryBroker, MemoryConsumer};
}

/// The worker's web endpoint: what a `#[page]` answers.
pub mod web {
    #[doc(inline)]
    pub use faust_rs_runtime::web::{IntoReply, Reply};
}

/// Running an app: the worker loop and the command line.
pub mod worker {
    #[doc(inline)]
    pub use faust_rs_runtime::cli::main as cli_main;
    #[doc(inline)]
    pub use faust_rs_runtime::worker::{run, run_until};
}

pub mod guide;

/// What most programs need: `use faust::prelude::*;`.
pub mod prelude {
    #[doc(no_inline)]
    pub use crate::sensor::Sensor;
    #[doc(no_inline)]
    pub use crate::{
        App, BoxError, Event, Headers, Json, Many, OnError, Payload, ProcessingGuarantee, Result,
        Stream, Table, Topic, agent, command, crontab, page, record, table, task, timer, topic,
    };
}

/// The program's `main`: parses the command line (`worker`, `agents`,
/// `topics`, `model`, the `#[command]`s, `--help`, ...) and runs the app.
///
/// ```no_run
/// # #![allow(dead_code)]
/// use faust::prelude::*;
///
/// mod agents {
///     use faust::prelude::*;
///
///     #[agent(topic = "greetings")]
///     pub async fn greet(name: String) -> Result<()> {
///         println!("hello, {name}");
///         Ok(())
///     }
/// }
///
/// faust::main!(App::new("hello-app"));
/// ```
///
/// Without the macro:
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     faust::worker::cli_main(faust::App::new("hello-app"))
/// }
/// ```
///
/// It also declares the program's global allocator: jemalloc, with the
/// `jemalloc` feature (on by default); see [`global_allocator!`].
#[macro_export]
macro_rules! main {
    ($app:expr $(,)?) => {
        $crate::global_allocator!();

        fn main() -> ::std::process::ExitCode {
            $crate::worker::cli_main($app)
        }
    };
}

/// Declares jemalloc the program's `#[global_allocator]`, as [`main!`]
/// does: for a program with a `main` of its own.
///
/// A worker frees on one thread what another allocated: records cross from
/// the fetch task to the agents' tasks, and librdkafka's threads free what
/// the producer handed them. glibc's allocator takes a lock per arena for
/// that; jemalloc does not, and the stateless benchmark (W1) spends about
/// 20% less CPU per event on it, the test driver runs 1.1–1.8× faster.
///
/// With the `jemalloc` feature off (or on MSVC targets) it declares
/// nothing and the system allocator stays. A program with a
/// `#[global_allocator]` of its own turns the feature off:
/// `faust-rs = { version = "0.1", default-features = false, features =
/// ["rocksdb"] }`; otherwise rustc refuses the second allocator.
///
/// ```no_run
/// faust::global_allocator!();
///
/// fn main() -> std::process::ExitCode {
///     faust::worker::cli_main(faust::App::new("hello-app"))
/// }
/// ```
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[macro_export]
macro_rules! global_allocator {
    () => {
        #[global_allocator]
        static FAUST_GLOBAL_ALLOCATOR: $crate::__private::Jemalloc = $crate::__private::Jemalloc;
    };
}

/// Declares jemalloc the program's `#[global_allocator]`, as [`main!`]
/// does; this build has the `jemalloc` feature off (or targets MSVC), so
/// it declares nothing and the system allocator stays.
#[cfg(not(all(feature = "jemalloc", not(target_env = "msvc"))))]
#[macro_export]
macro_rules! global_allocator {
    () => {};
}

/// Support for generated code. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use core::time::Duration;
    pub use faust_rs_runtime::__bytes::Bytes;
    pub use faust_rs_runtime::__register as register;
    pub use faust_rs_runtime::__serde as serde;
    pub use faust_rs_runtime::agent::rpc::{AgentRef, NoReply};
    pub use faust_rs_runtime::agent::{AgentHandler, per_event, stream};
    pub use faust_rs_runtime::agent::{AgentInput, HandlerResult, InputCodecs, regroup};
    pub use faust_rs_runtime::app::registry::{
        AgentDef, ArgKind, CommandArg, CommandDef, Location, OnError, PageDef, Repartition,
        SinkRef, TableDef, TableKind, TableTypes, TaskDef, TimerDef, TopicDef,
    };
    pub use faust_rs_runtime::cli::{CommandArgs, CommandValue, parse_arg as parse_command_arg};
    pub use faust_rs_runtime::codec::{CodecError, Codecs};
    pub use faust_rs_runtime::codec::{EventTime, Payload};
    pub use faust_rs_runtime::record::{FieldRule, FieldSchema, RecordSchema};
    pub use faust_rs_runtime::record::{ValidationError, validate};
    pub use faust_rs_runtime::table::Table;
    pub use faust_rs_runtime::time::{TaskFuture, task_future};
    pub use faust_rs_runtime::topic::Topic;
    pub use faust_rs_runtime::transport::Message;
    pub use faust_rs_runtime::web::{PageFuture, page_future};
    pub use faust_rs_runtime::window::{
        ClosedWindow, LateEvent, LatePolicy, TimeSource, WindowDef, WindowKind,
    };
    pub use faust_rs_runtime::{Error, Result};
    #[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
    pub use tikv_jemallocator::Jemalloc;
}
