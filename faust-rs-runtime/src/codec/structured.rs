//! The `json` and `msgpack` codecs: structured data, as Python Faust writes
//! it, `__faust` namespace included.
//!
//! Decoding runs serde once, without path tracking, so a good message costs
//! what serde costs. Only when it fails is the message decoded a second time
//! through `serde_path_to_error`, which allocates for every key it passes,
//! to name the failing field.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::DecodeFailure;
use super::payload::Payload;
use crate::error::BoxError;

pub(super) fn encode_json<T: Payload>(value: &T) -> Result<Bytes, BoxError> {
    let bytes = super::exact_bytes(|out| match T::FAUST_NAMESPACE {
        None => serde_json::to_writer(out, value),
        Some(ns) => serde_json::to_writer(out, &WithFaustMeta::new(value, ns)),
    })?;
    Ok(bytes)
}

pub(super) fn encode_msgpack<T: Payload>(value: &T) -> Result<Bytes, BoxError> {
    // Named maps, not arrays: Python Faust's msgpack codec reads dicts.
    let bytes = super::exact_bytes(|out| match T::FAUST_NAMESPACE {
        None => rmp_serde::encode::write_named(out, value),
        Some(ns) => rmp_serde::encode::write_named(out, &WithFaustMeta::new(value, ns)),
    })?;
    Ok(bytes)
}

pub(super) fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeFailure> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match T::deserialize(&mut de).and_then(|value| de.end().map(|()| value)) {
        Ok(value) => Ok(value),
        Err(e) => Err(json_failure::<T>(bytes, e)),
    }
}

/// Trailing bytes after the value are not detected: `rmp_serde` does not
/// expose how much of a borrowed slice it read.
pub(super) fn decode_msgpack<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeFailure> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    match T::deserialize(&mut de) {
        Ok(value) => Ok(value),
        Err(e) => Err(msgpack_failure::<T>(bytes, e)),
    }
}

/// A record followed by Python Faust's `"__faust": {"ns": ...}` entry.
#[derive(Serialize)]
struct WithFaustMeta<'a, T> {
    #[serde(flatten)]
    record: &'a T,
    #[serde(rename = "__faust")]
    meta: FaustMeta<'a>,
}

#[derive(Serialize)]
struct FaustMeta<'a> {
    ns: &'a str,
}

impl<'a, T> WithFaustMeta<'a, T> {
    fn new(record: &'a T, ns: &'a str) -> Self {
        WithFaustMeta {
            record,
            meta: FaustMeta { ns },
        }
    }
}

#[cold]
fn json_failure<T: DeserializeOwned>(bytes: &[u8], e: serde_json::Error) -> DecodeFailure {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let path = error_path::<_, T>(&mut de);
            // The path says where; serde_json's " at line 1 column 15" is noise next to it.
            let mut message = e.to_string();
            let position = format!(" at line {} column {}", e.line(), e.column());
            if message.ends_with(&position) {
                message.truncate(message.len() - position.len());
            }
            DecodeFailure::Field { path, message }
        }
        Category::Syntax | Category::Eof | Category::Io => DecodeFailure::Malformed(Box::new(e)),
    }
}

#[cold]
fn msgpack_failure<T: DeserializeOwned>(
    bytes: &[u8],
    e: rmp_serde::decode::Error,
) -> DecodeFailure {
    use rmp_serde::decode::Error;
    match e {
        // serde's own messages (invalid type, missing field, unknown
        // variant) arrive as `Syntax`; the others are rmp's type checks.
        Error::Syntax(_) | Error::TypeMismatch(_) | Error::OutOfRange | Error::Uncategorized(_) => {
            let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
            let path = error_path::<_, T>(&mut de);
            let message = match e {
                // rmp raises this where the type asked for a number (its
                // own message is only "wrong msgpack marker FixStr(1)").
                Error::TypeMismatch(marker) => format!(
                    "invalid type: {}, expected a number (msgpack marker {marker:?})",
                    marker_kind(marker.to_u8())
                ),
                _ => e.to_string(),
            };
            DecodeFailure::Field { path, message }
        }
        _ => DecodeFailure::Malformed(Box::new(e)),
    }
}

/// What a MessagePack marker byte announces, in words (MessagePack spec's
/// format table).
fn marker_kind(byte: u8) -> &'static str {
    match byte {
        0x00..=0x7f | 0xcc..=0xd3 | 0xe0..=0xff => "an integer",
        0x80..=0x8f | 0xde | 0xdf => "a map",
        0x90..=0x9f | 0xdc | 0xdd => "an array",
        0xa0..=0xbf | 0xd9..=0xdb => "a string",
        0xc0 => "nil",
        0xc2 | 0xc3 => "a bool",
        0xc4..=0xc6 => "bytes",
        0xc7..=0xc9 | 0xd4..=0xd8 => "an extension value",
        0xca | 0xcb => "a float",
        0xc1 => "a reserved marker",
    }
}

/// Decodes again, tracking the path, to find where the first decode failed;
/// empty for the value as a whole.
pub(super) fn error_path<'de, D, T>(de: D) -> String
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    match serde_path_to_error::deserialize::<D, T>(de) {
        Ok(_) => String::new(),
        Err(e) => {
            let path = e.path();
            if path.iter().next().is_none() {
                String::new()
            } else {
                path.to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Plain {
        a: u8,
    }

    impl Payload for Plain {}

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Spaced {
        a: u8,
    }

    impl Payload for Spaced {
        const FAUST_NAMESPACE: Option<&'static str> = Some("m.Spaced");
    }

    #[test]
    fn json_without_namespace_writes_only_fields() {
        assert_eq!(&encode_json(&Plain { a: 1 }).unwrap()[..], br#"{"a":1}"#);
    }

    #[test]
    fn json_with_namespace_appends_faust_meta() {
        assert_eq!(
            &encode_json(&Spaced { a: 1 }).unwrap()[..],
            br#"{"a":1,"__faust":{"ns":"m.Spaced"}}"#
        );
    }

    #[test]
    fn msgpack_with_namespace_is_a_named_map_with_faust_meta() {
        let bytes = encode_msgpack(&Spaced { a: 1 }).unwrap();
        let as_json: serde_json::Value = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(
            as_json,
            serde_json::json!({"a": 1, "__faust": {"ns": "m.Spaced"}})
        );
        assert_eq!(decode_msgpack::<Spaced>(&bytes).unwrap(), Spaced { a: 1 });
    }

    #[test]
    fn json_trailing_garbage_is_malformed() {
        assert!(matches!(
            decode_json::<Plain>(br#"{"a":1} x"#),
            Err(DecodeFailure::Malformed(_))
        ));
    }

    #[test]
    fn json_field_message_drops_line_and_column() {
        let Err(DecodeFailure::Field { path, message }) = decode_json::<Plain>(br#"{"a":"x"}"#)
        else {
            panic!("expected a field failure");
        };
        assert_eq!(path, "a");
        assert_eq!(message, "invalid type: string \"x\", expected u8");
    }

    #[test]
    fn msgpack_truncated_is_malformed_and_wrong_type_is_field() {
        let bytes = encode_msgpack(&Plain { a: 1 }).unwrap();
        assert!(matches!(
            decode_msgpack::<Plain>(&bytes[..bytes.len() - 1]),
            Err(DecodeFailure::Malformed(_))
        ));
        let wrong = rmp_serde::to_vec_named(&serde_json::json!({"a": "x"})).unwrap();
        let Err(DecodeFailure::Field { path, message }) = decode_msgpack::<Plain>(&wrong) else {
            panic!("expected a field failure");
        };
        assert_eq!(path, "a");
        assert_eq!(
            message,
            "invalid type: a string, expected a number (msgpack marker FixStr(1))"
        );
    }
}
