//! Codecs: how keys and values become bytes on a topic and come back.
//!
//! A topic names a codec for its keys and one for its values (Faust's
//! `key_serializer` / `value_serializer`); when it names none, the type's own
//! default applies ([`Payload::DEFAULT_CODEC`]): `json` for records, `str`
//! for `String`, `raw` for bytes. Built-in codecs:
//!
//! | name | bytes |
//! | --- | --- |
//! | `json` | JSON (records may carry Python Faust's `__faust` metadata) |
//! | `msgpack` | MessagePack with named fields, as Faust writes it |
//! | `raw` | the bytes as they are (`Bytes`, `Vec<u8>`, and UTF-8 `String`) |
//! | `str` | UTF-8 text; scalars (numbers, bools) as their text form |
//!
//! Custom codecs implement [`Codec`] and are registered by name on the
//! [`App`](crate::App). Decoding a value also validates it
//! ([`Payload::validate`]): a message that decodes but breaks a field
//! constraint is an error like any malformed one, and goes where the agent's
//! error policy says.
//!
//! # What can travel
//!
//! Anything that implements [`Payload`]: records (`#[faust::record]`),
//! `String`, `Bytes`, `Vec<u8>`, `bool`, the integers, `f32`, `f64`, `char`,
//! `serde_json::Value`, and any serde type wrapped in [`Json<T>`]. A type
//! that is not a `Payload` is a compile error on the agent or topic that
//! uses it, telling which of these to reach for.
//!
//! # Decoding, step by step
//!
//! [`CodecRef::decode`] turns a message's key or value into a `T`, and each
//! step has its own error, so a dead-letter entry says exactly what was
//! wrong:
//!
//! 1. no bytes (a tombstone, or zero bytes): [`CodecError::EmptyPayload`];
//! 2. bytes the codec cannot read (broken JSON, truncated MessagePack,
//!    invalid UTF-8): [`CodecError::Malformed`];
//! 3. readable bytes that do not fit `T` (a wrong type, a missing field, an
//!    unknown enum variant): [`CodecError::Field`], with the path of the
//!    field (`items[0].price`) and serde's expected-versus-found message;
//! 4. a value that breaks its record's constraints:
//!    [`CodecError::Validation`].
//!
//! [`CodecError::kind`] sorts them into `decode`, `validation`, `encode`
//! and `config` for error policies and metrics.
//!
//! # Python Faust interop
//!
//! Python Faust writes a record as its fields plus
//! `"__faust": {"ns": "orders.models.Order"}`. Decoding ignores that entry
//! like any unknown field. Encoding writes it (with `json` and `msgpack`)
//! when the type has a [`Payload::FAUST_NAMESPACE`] (`#[record(namespace =
//! "...")]`); custom codecs get the value without it. `msgpack` writes
//! records as maps with named fields, as Python's `msgpack` does for dicts.
//!
//! A record with serde's `deny_unknown_fields` rejects `__faust`; give it a
//! field that takes it:
//!
//! ```
//! use faust_rs_runtime::codec::{CodecRef, Payload};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Order {
//!     account: String,
//!     #[serde(rename = "__faust", default, skip_serializing)]
//!     _faust: Option<serde::de::IgnoredAny>,
//! }
//! impl Payload for Order {}
//!
//! let python = br#"{"account": "alice", "__faust": {"ns": "orders.models.Order"}}"#;
//! let order: Order = CodecRef::JSON.decode(Some(python))?;
//! assert_eq!(order.account, "alice");
//! # Ok::<(), faust_rs_runtime::codec::CodecError>(())
//! ```
//!
//! # Cost
//!
//! Decoding is on every message's path. The built-in codecs are dispatched
//! statically (a `match`, no virtual call, monomorphized per type); a
//! message that decodes costs what serde costs, nothing more: the field
//! path is computed only when decoding fails, by decoding the bytes a
//! second time with path tracking. Validation allocates only for failures.
//! [`CodecRef::encode`] returns [`bytes::Bytes`] without copying the
//! serialized buffer, and `raw` hands a `Bytes` value back shared, not
//! copied.
//!
//! This module may call `record` (validation errors); nothing else.

mod error;
mod payload;
mod plain;
mod registry;
mod structured;

pub use error::CodecError;
pub use payload::{EventTime, Json, Payload};
pub use registry::{Codec, CodecRef, Codecs};

/// Bytes written by `write` into this thread's scratch buffer, then copied
/// out at their exact size: one allocation per value. (A `Vec` grown by
/// the writer and handed to `Bytes` costs two when its capacity is not
/// its length, the buffer and `Bytes`' shared header, on the hot path of
/// every encoded record.)
pub(crate) fn exact_bytes<E>(
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<bytes::Bytes, E> {
    use std::cell::RefCell;
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    /// A buffer grown past this is not kept (one huge record would pin it).
    const KEEP_BYTES: usize = 64 * 1024;
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.clear();
            let written = write(&mut buffer).map(|()| bytes::Bytes::copy_from_slice(&buffer));
            if buffer.capacity() > KEEP_BYTES {
                *buffer = Vec::new();
            }
            written
        }
        // Called from inside a value's own serialization: a buffer of its own.
        Err(_) => {
            let mut buffer = Vec::new();
            write(&mut buffer).map(|()| bytes::Bytes::from(buffer))
        }
    })
}

/// The `erased_serde` version [`Codec`] is written against, so a custom
/// codec needs no dependency of its own.
pub use erased_serde;
