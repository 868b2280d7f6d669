//! The faust-rs guide: one chapter per module, from `docs/guide/*.md`.
//!
//! Every code block of a chapter is a doc test, so each compiles (and
//! most run) as written.

#[doc = include_str!("../../docs/guide/concepts.md")]
pub mod concepts {}

#[doc = include_str!("../../docs/guide/agents.md")]
pub mod agents {}

#[doc = include_str!("../../docs/guide/macros.md")]
pub mod macros {}

#[doc = include_str!("../../docs/guide/records.md")]
pub mod records {}

#[doc = include_str!("../../docs/guide/tables.md")]
pub mod tables {}

#[doc = include_str!("../../docs/guide/windows.md")]
pub mod windows {}

#[doc = include_str!("../../docs/guide/exactly_once.md")]
pub mod exactly_once {}

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
