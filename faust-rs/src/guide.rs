//! The faust-rs guide: one chapter per module, from `docs/guide/*.md`.
//!
//! Every code block of a chapter is a doc test, so each compiles (and
//! most run) as written.
//!
//! The chapters on concepts, agents, records, tables, windows and
//! exactly-once are still the README's tour (`README.md`, "The tour").

#[doc = include_str!("../../docs/guide/testing.md")]
pub mod testing {}

#[doc = include_str!("../../docs/guide/configuration.md")]
pub mod configuration {}

#[doc = include_str!("../../docs/guide/operations.md")]
pub mod operations {}

#[doc = include_str!("../../docs/guide/deployment.md")]
pub mod deployment {}

#[doc = include_str!("../../docs/guide/tuning.md")]
pub mod tuning {}

#[doc = include_str!("../../docs/guide/troubleshooting.md")]
pub mod troubleshooting {}

#[doc = include_str!("../../docs/guide/migrating.md")]
pub mod migrating {}
