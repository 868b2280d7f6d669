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
    use rmp::Marker;
    use rmp_serde::decode::Error;
    match e {
        // 0xc1 is no MessagePack at all, whatever the type wanted (rmp
        // reports it as a type mismatch, even while skipping a field the
        // record does not have).
        Error::TypeMismatch(Marker::Reserved) => DecodeFailure::Malformed(Box::new(e)),
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
///
/// A map key that is not text (MessagePack allows any) has no name:
/// `serde_path_to_error` writes it `?`, which says nothing, so the path
/// stops at the map the key is in (the message says what the key was).
pub(super) fn error_path<'de, D, T>(de: D) -> String
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    use serde_path_to_error::Segment;
    use std::fmt::Write as _;
    let Err(e) = serde_path_to_error::deserialize::<D, T>(de) else {
        return String::new();
    };
    let mut path = String::new();
    for segment in e.path() {
        // Writing to a String cannot fail.
        let _ = match segment {
            Segment::Seq { index } => write!(path, "[{index}]"),
            Segment::Map { key } | Segment::Enum { variant: key } if path.is_empty() => {
                write!(path, "{key}")
            }
            Segment::Map { key } | Segment::Enum { variant: key } => write!(path, ".{key}"),
            Segment::Unknown => break,
        };
    }
    path
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
    fn msgpack_key_that_is_not_text_is_named_by_its_map_not_by_a_question_mark() {
        // Found by fuzzing (record_msgpack): a record's key that was itself
        // a map failed as "field `?`: invalid type: map, expected field
        // identifier".
        let mut bytes = vec![0x81, 0x80, 0x01]; // {{}: 1}
        let Err(DecodeFailure::Field { path, message }) = decode_msgpack::<Plain>(&bytes) else {
            panic!("expected a field failure");
        };
        assert_eq!(path, "", "the record's own key");
        assert_eq!(message, "invalid type: map, expected field identifier");
        #[derive(Debug, Deserialize, Serialize)]
        struct Tags {
            tags: std::collections::BTreeMap<String, u8>,
        }
        impl Payload for Tags {}
        bytes = vec![0x81, 0xa4, b't', b'a', b'g', b's', 0x81, 0x07, 0x01]; // {"tags": {7: 1}}
        let Err(DecodeFailure::Field { path, .. }) = decode_msgpack::<Tags>(&bytes) else {
            panic!("expected a field failure");
        };
        // A key serde can print (a number here) is named as it is.
        assert_eq!(path, "tags.7", "the map and the key that is wrong");
    }

    #[test]
    fn msgpack_reserved_marker_is_malformed_even_in_a_field_the_record_does_not_have() {
        // Found by fuzzing (record_msgpack): 0xc1 inside an unknown field
        // was a field failure at `li.48`, "expected a number".
        // {"a": 1, "li": {48: 0xc1}}
        let bytes = [0x82, 0xa1, b'a', 0x01, 0xa2, b'l', b'i', 0x81, 0x30, 0xc1];
        assert!(
            matches!(
                decode_msgpack::<Plain>(&bytes),
                Err(DecodeFailure::Malformed(_))
            ),
            "{:?}",
            decode_msgpack::<Plain>(&bytes)
        );
    }

    #[test]
    fn json_floats_read_back_as_the_floats_written() {
        // Found by fuzzing (faust_envelope): without serde_json's
        // `float_roundtrip`, 9.588541148179649e228 (as faust-rs and
        // Python's json.dumps write it) read back as 9.588541148179647e228.
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Amount {
            amount: f64,
        }
        impl Payload for Amount {}
        for amount in [
            9.588541148179649e228,
            5.4565656107556e-310,
            0.1 + 0.2,
            f64::MAX,
        ] {
            let bytes = encode_json(&Amount { amount }).unwrap();
            let back = decode_json::<Amount>(&bytes).unwrap();
            assert_eq!(back.amount.to_bits(), amount.to_bits(), "{amount:e}");
        }
        let python = br#"{"amount": 9.588541148179649e+228}"#;
        let back = decode_json::<Amount>(python).unwrap();
        assert_eq!(back.amount, 9.588541148179649e228);
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
