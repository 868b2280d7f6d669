//! The runtime behind [faust-rs](https://docs.rs/faust-rs): everything that
//! runs. Users depend on the `faust-rs` crate (`faust`), which re-exports
//! what they need from here; this crate's layout is not a stable API.
//!
//! | module | what lives there |
//! | --- | --- |
//! | `app` | the [`App`] builder, the registry of definitions |
//! | `codec` | keys and values to bytes and back; [`Payload`] |
//! | `record` | validation of records |
//! | `topic` | [`Topic`] handles |
//! | `agent` | agents, events, error policies, acks |
//! | `sensor` | [`Sensor`](sensor::Sensor)s: hooks into each step of the work |
//! | `stream` | [`Stream`], what a stream agent iterates |
//! | `table` | [`Table`]s, their stores, changelogs and recovery |
//! | `window` | windowed tables: tumbling, hopping and sliding windows |
//! | `transport` | messages, producers, the in-memory broker |
//! | `time` | the real and virtual clocks |
//! | `worker` | running an app until it stops |
//! | `cli` | the command line `faust::main!` generates |
//! | `testing` | the [`TestDriver`](testing::TestDriver) |

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

#[doc(hidden)]
pub mod __bench;
#[doc(hidden)]
pub mod __fuzz;
pub mod agent;
pub mod app;
pub mod cli;
pub mod codec;
pub(crate) mod context;
pub mod error;
pub mod origin;
pub mod record;
pub mod sensor;
pub mod stream;
pub mod table;
pub mod testing;
pub mod time;
pub mod topic;
pub mod transport;
pub mod web;
pub mod window;
pub mod worker;

pub use agent::{Event, Many, OnError};
pub use app::{AgentOptions, App, ProcessingGuarantee};
pub use codec::Payload;
pub use error::{BoxError, Error, Result};
pub use stream::Stream;
pub use table::Table;
pub use time::sleep;
pub use topic::{IntoPayload, Topic};

#[doc(hidden)]
pub use bytes as __bytes;
#[doc(hidden)]
pub use linkme as __linkme;
#[doc(hidden)]
pub use serde as __serde;
