//! The `raw` and `str` codecs: bytes and text without structure.
//!
//! Both are a small serde `Serializer` and `Deserializer` over a byte
//! buffer. `raw` carries bytes as they are (`Bytes`, `Vec<u8>`) and text as
//! its UTF-8 bytes (`String`); `str` carries text, and numbers, bools and
//! chars as their text form (`42`, `true`), parsed back on decode. Anything
//! with structure (records, maps, sequences, enums, options) is rejected
//! with an error that names the codec to use instead.

use std::any::Any;
use std::fmt::Display;
use std::io::Write as _;
use std::str::FromStr;

use bytes::Bytes;
use serde::de::value::SeqDeserializer;
use serde::de::{self, DeserializeOwned, Visitor};
use serde::ser::{self, Impossible, Serialize};

use super::error::DecodeFailure;
use crate::error::BoxError;

/// Which of the two plain codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plain {
    /// `raw`: bytes, and text as UTF-8.
    Raw,
    /// `str`: text, and scalars as text.
    Str,
}

impl Plain {
    pub(super) fn name(self) -> &'static str {
        match self {
            Plain::Raw => "raw",
            Plain::Str => "str",
        }
    }
}

pub(super) fn encode<T: Serialize + 'static>(plain: Plain, value: &T) -> Result<Bytes, BoxError> {
    if plain == Plain::Raw {
        // Shortcuts for the common byte types: `Bytes` is shared, not
        // copied; `Vec<u8>` is copied at once rather than element by element.
        let any: &dyn Any = value;
        if let Some(bytes) = any.downcast_ref::<Bytes>() {
            return Ok(bytes.clone());
        }
        if let Some(vec) = any.downcast_ref::<Vec<u8>>() {
            return Ok(Bytes::copy_from_slice(vec));
        }
    }
    let mut out = Vec::new();
    let mode = match plain {
        Plain::Raw => Mode::Raw,
        Plain::Str => Mode::Str,
    };
    value.serialize(PlainSerializer {
        mode,
        out: &mut out,
    })?;
    Ok(Bytes::from(out))
}

pub(super) fn decode<T: DeserializeOwned + 'static>(
    plain: Plain,
    bytes: &[u8],
) -> Result<T, DecodeFailure> {
    if plain == Plain::Raw {
        // `Vec<u8>` in one copy rather than through a byte-by-byte sequence.
        let mut slot: Option<T> = None;
        if let Some(vec) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Vec<u8>>>() {
            *vec = Some(bytes.to_vec());
        }
        if let Some(value) = slot {
            return Ok(value);
        }
    }
    T::deserialize(PlainDeserializer { plain, bytes }).map_err(PlainError::into_failure)
}

/// Why a value does not fit a plain codec.
#[derive(Debug, thiserror::Error)]
pub(super) enum PlainError {
    /// The text is not UTF-8.
    #[error("the bytes are not valid UTF-8 ({0})")]
    InvalidUtf8(#[from] std::str::Utf8Error),
    /// The type has a shape the codec cannot carry.
    #[error("the {codec} codec carries {carries}, not {what}; {fix}")]
    Unsupported {
        codec: &'static str,
        carries: &'static str,
        what: &'static str,
        fix: &'static str,
    },
    /// The text is not the scalar the type wants.
    #[error("expected {expected} written as text, found {found}")]
    Parse {
        expected: &'static str,
        found: String,
    },
    /// A serde impl's own message.
    #[error("{0}")]
    Custom(String),
}

impl PlainError {
    fn unsupported(mode: Mode, what: &'static str, scalar: bool) -> Self {
        let (codec, carries, fix) = match mode {
            Mode::Raw => (
                "raw",
                "bytes or UTF-8 text only (Bytes, Vec<u8>, String)",
                if scalar {
                    "use the str or json codec for it"
                } else {
                    "use the json codec for it"
                },
            ),
            Mode::Str => (
                "str",
                "text and plain scalars only (String, numbers, bool, char)",
                if what == "bytes" {
                    "use the raw codec for bytes"
                } else {
                    "use the json codec for it"
                },
            ),
            Mode::RawByte => ("raw", "sequences of u8 only", "use the json codec for it"),
        };
        PlainError::Unsupported {
            codec,
            carries,
            what,
            fix,
        }
    }

    #[cold]
    fn into_failure(self) -> DecodeFailure {
        match self {
            PlainError::InvalidUtf8(_) => DecodeFailure::Malformed(Box::new(self)),
            _ => DecodeFailure::Field {
                path: String::new(),
                message: self.to_string(),
            },
        }
    }
}

impl ser::Error for PlainError {
    fn custom<T: Display>(msg: T) -> Self {
        PlainError::Custom(msg.to_string())
    }
}

impl de::Error for PlainError {
    fn custom<T: Display>(msg: T) -> Self {
        PlainError::Custom(msg.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Raw,
    Str,
    /// An element of a byte sequence under `raw`: only `u8` fits.
    RawByte,
}

/// Writes one value into `out`.
struct PlainSerializer<'a> {
    mode: Mode,
    out: &'a mut Vec<u8>,
}

impl PlainSerializer<'_> {
    fn reject(&self, what: &'static str) -> PlainError {
        PlainError::unsupported(self.mode, what, false)
    }

    /// A scalar: its text form under `str`, an error otherwise.
    fn text(self, what: &'static str, value: impl Display) -> Result<(), PlainError> {
        if self.mode == Mode::Str {
            write!(self.out, "{value}").map_err(|e| PlainError::Custom(e.to_string()))
        } else {
            Err(PlainError::unsupported(self.mode, what, true))
        }
    }
}

macro_rules! ser_text {
    ($($method:ident($ty:ty) => $what:literal;)*) => {
        $(fn $method(self, v: $ty) -> Result<(), PlainError> {
            self.text($what, v)
        })*
    };
}

macro_rules! ser_reject {
    ($($method:ident($($ty:ty),*) -> $ret:ty => $what:literal;)*) => {
        $(fn $method(self, $(_: $ty),*) -> Result<$ret, PlainError> {
            Err(self.reject($what))
        })*
    };
}

impl<'a> ser::Serializer for PlainSerializer<'a> {
    type Ok = ();
    type Error = PlainError;
    type SerializeSeq = ByteSeq<'a>;
    type SerializeTuple = Impossible<(), PlainError>;
    type SerializeTupleStruct = Impossible<(), PlainError>;
    type SerializeTupleVariant = Impossible<(), PlainError>;
    type SerializeMap = Impossible<(), PlainError>;
    type SerializeStruct = Impossible<(), PlainError>;
    type SerializeStructVariant = Impossible<(), PlainError>;

    ser_text! {
        serialize_bool(bool) => "a bool";
        serialize_i8(i8) => "an integer";
        serialize_i16(i16) => "an integer";
        serialize_i32(i32) => "an integer";
        serialize_i64(i64) => "an integer";
        serialize_i128(i128) => "an integer";
        serialize_u16(u16) => "an integer";
        serialize_u32(u32) => "an integer";
        serialize_u64(u64) => "an integer";
        serialize_u128(u128) => "an integer";
        serialize_f32(f32) => "a float";
        serialize_f64(f64) => "a float";
        serialize_char(char) => "a char";
    }

    fn serialize_u8(self, v: u8) -> Result<(), PlainError> {
        if self.mode == Mode::RawByte {
            self.out.push(v);
            Ok(())
        } else {
            self.text("an integer", v)
        }
    }

    fn serialize_str(self, v: &str) -> Result<(), PlainError> {
        match self.mode {
            Mode::Raw | Mode::Str => {
                self.out.extend_from_slice(v.as_bytes());
                Ok(())
            }
            Mode::RawByte => Err(self.reject("text")),
        }
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), PlainError> {
        match self.mode {
            Mode::Raw => {
                self.out.extend_from_slice(v);
                Ok(())
            }
            Mode::Str | Mode::RawByte => Err(self.reject("bytes")),
        }
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<ByteSeq<'a>, PlainError> {
        match self.mode {
            Mode::Raw => {
                self.out.reserve(len.unwrap_or(0));
                Ok(ByteSeq { out: self.out })
            }
            Mode::Str | Mode::RawByte => Err(self.reject("a sequence")),
        }
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), PlainError> {
        value.serialize(self)
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), PlainError> {
        Err(self.reject("an Option"))
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), PlainError> {
        Err(self.reject("an enum"))
    }

    ser_reject! {
        serialize_none() -> () => "an Option";
        serialize_unit() -> () => "()";
        serialize_unit_struct(&'static str) -> () => "a unit struct";
        serialize_unit_variant(&'static str, u32, &'static str) -> () => "an enum";
        serialize_tuple(usize) -> Self::SerializeTuple => "a tuple";
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct => "a tuple struct";
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant => "an enum";
        serialize_map(Option<usize>) -> Self::SerializeMap => "a map";
        serialize_struct(&'static str, usize) -> Self::SerializeStruct => "a struct";
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant => "an enum";
    }

    fn is_human_readable(&self) -> bool {
        self.mode == Mode::Str
    }
}

/// The elements of a byte sequence under `raw`.
struct ByteSeq<'a> {
    out: &'a mut Vec<u8>,
}

impl ser::SerializeSeq for ByteSeq<'_> {
    type Ok = ();
    type Error = PlainError;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), PlainError> {
        value.serialize(PlainSerializer {
            mode: Mode::RawByte,
            out: self.out,
        })
    }

    fn end(self) -> Result<(), PlainError> {
        Ok(())
    }
}

/// Reads one value from the whole of `bytes`.
struct PlainDeserializer<'de> {
    plain: Plain,
    bytes: &'de [u8],
}

impl<'de> PlainDeserializer<'de> {
    fn mode(&self) -> Mode {
        match self.plain {
            Plain::Raw => Mode::Raw,
            Plain::Str => Mode::Str,
        }
    }

    fn reject(&self, what: &'static str) -> PlainError {
        PlainError::unsupported(self.mode(), what, false)
    }

    fn text(&self) -> Result<&'de str, PlainError> {
        Ok(std::str::from_utf8(self.bytes)?)
    }

    /// A scalar from its text form under `str`, an error otherwise.
    fn parse<T: FromStr>(&self, expected: &'static str) -> Result<T, PlainError> {
        if self.plain == Plain::Raw {
            return Err(PlainError::unsupported(Mode::Raw, expected, true));
        }
        let text = self.text()?;
        text.parse().map_err(|_| PlainError::Parse {
            expected,
            found: excerpt(text),
        })
    }
}

/// Text quoted, cut after 64 characters: the whole payload may be huge.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(64) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}...", &text[..cut]),
    }
}

macro_rules! de_parse {
    ($($method:ident => $visit:ident($ty:ty, $what:literal);)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PlainError> {
            visitor.$visit(self.parse::<$ty>($what)?)
        })*
    };
}

macro_rules! de_reject {
    ($($method:ident($($ty:ty),*) => $what:literal;)*) => {
        $(fn $method<V: Visitor<'de>>(self, $(_: $ty,)* _: V) -> Result<V::Value, PlainError> {
            Err(self.reject($what))
        })*
    };
}

impl<'de> de::Deserializer<'de> for PlainDeserializer<'de> {
    type Error = PlainError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PlainError> {
        match self.plain {
            Plain::Raw => visitor.visit_borrowed_bytes(self.bytes),
            Plain::Str => visitor.visit_borrowed_str(self.text()?),
        }
    }

    de_parse! {
        deserialize_bool => visit_bool(bool, "a bool");
        deserialize_i8 => visit_i8(i8, "an i8");
        deserialize_i16 => visit_i16(i16, "an i16");
        deserialize_i32 => visit_i32(i32, "an i32");
        deserialize_i64 => visit_i64(i64, "an i64");
        deserialize_i128 => visit_i128(i128, "an i128");
        deserialize_u8 => visit_u8(u8, "a u8");
        deserialize_u16 => visit_u16(u16, "a u16");
        deserialize_u32 => visit_u32(u32, "a u32");
        deserialize_u64 => visit_u64(u64, "a u64");
        deserialize_u128 => visit_u128(u128, "a u128");
        deserialize_f32 => visit_f32(f32, "an f32");
        deserialize_f64 => visit_f64(f64, "an f64");
        deserialize_char => visit_char(char, "a single char");
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PlainError> {
        visitor.visit_borrowed_str(self.text()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PlainError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PlainError> {
        match self.plain {
            Plain::Raw => visitor.visit_borrowed_bytes(self.bytes),
            Plain::Str => Err(self.reject("bytes")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PlainError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PlainError> {
        match self.plain {
            Plain::Raw => {
                let mut seq = SeqDeserializer::<_, PlainError>::new(self.bytes.iter().copied());
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Plain::Str => Err(self.reject("a sequence")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, PlainError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PlainError> {
        visitor.visit_unit()
    }

    de_reject! {
        deserialize_option() => "an Option";
        deserialize_unit() => "()";
        deserialize_unit_struct(&'static str) => "a unit struct";
        deserialize_tuple(usize) => "a tuple";
        deserialize_tuple_struct(&'static str, usize) => "a tuple struct";
        deserialize_map() => "a map";
        deserialize_struct(&'static str, &'static [&'static str]) => "a struct";
        deserialize_enum(&'static str, &'static [&'static str]) => "an enum";
        deserialize_identifier() => "an identifier";
    }

    fn is_human_readable(&self) -> bool {
        self.plain == Plain::Str
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    fn enc<T: Serialize + 'static>(plain: Plain, value: &T) -> Result<Vec<u8>, String> {
        encode(plain, value)
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string())
    }

    fn dec<T: DeserializeOwned + 'static>(plain: Plain, bytes: &[u8]) -> Result<T, String> {
        decode(plain, bytes).map_err(|f| match f {
            DecodeFailure::Malformed(e) => format!("malformed: {e}"),
            DecodeFailure::Field { message, .. } => format!("field: {message}"),
        })
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(transparent)]
    struct Blob(Vec<u8>);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        a: u8,
    }

    #[test]
    fn raw_passes_bytes_through_without_copying_bytes() {
        let shared = Bytes::from_static(b"\x00\xffabc");
        let out = encode(Plain::Raw, &shared).unwrap();
        assert_eq!(out.as_ptr(), shared.as_ptr());
        assert_eq!(
            dec::<Bytes>(Plain::Raw, b"\x00\xff").unwrap(),
            &b"\x00\xff"[..]
        );
        assert_eq!(enc(Plain::Raw, &vec![0u8, 255]).unwrap(), [0, 255]);
        assert_eq!(dec::<Vec<u8>>(Plain::Raw, b"\x01\x02").unwrap(), [1, 2]);
    }

    #[test]
    fn raw_handles_wrapped_byte_vectors_through_serde() {
        assert_eq!(enc(Plain::Raw, &Blob(vec![7, 8])).unwrap(), [7, 8]);
        assert_eq!(
            dec::<Blob>(Plain::Raw, b"\x07\x08").unwrap(),
            Blob(vec![7, 8])
        );
    }

    #[test]
    fn raw_carries_strings_as_utf8_and_rejects_invalid_utf8_as_malformed() {
        assert_eq!(
            enc(Plain::Raw, &"héllo".to_owned()).unwrap(),
            "héllo".as_bytes()
        );
        assert_eq!(
            dec::<String>(Plain::Raw, "héllo".as_bytes()).unwrap(),
            "héllo"
        );
        let err = dec::<String>(Plain::Raw, b"\xff\xfe").unwrap_err();
        assert!(
            err.starts_with("malformed: the bytes are not valid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn raw_rejects_records_and_numbers_naming_the_fix() {
        let err = enc(Plain::Raw, &Record { a: 1 }).unwrap_err();
        assert_eq!(
            err,
            "the raw codec carries bytes or UTF-8 text only (Bytes, Vec<u8>, String), \
             not a struct; use the json codec for it"
        );
        let err = enc(Plain::Raw, &5u32).unwrap_err();
        assert!(
            err.ends_with("not an integer; use the str or json codec for it"),
            "{err}"
        );
        let err = enc(Plain::Raw, &vec![1u16]).unwrap_err();
        assert!(err.contains("sequences of u8 only"), "{err}");
        let err = dec::<Record>(Plain::Raw, b"x").unwrap_err();
        assert!(err.starts_with("field: the raw codec"), "{err}");
        let err = dec::<u64>(Plain::Raw, b"5").unwrap_err();
        assert!(err.ends_with("use the str or json codec for it"), "{err}");
    }

    #[test]
    fn str_writes_scalars_as_text_and_parses_them_back() {
        assert_eq!(enc(Plain::Str, &42i64).unwrap(), b"42");
        assert_eq!(enc(Plain::Str, &-7i8).unwrap(), b"-7");
        assert_eq!(enc(Plain::Str, &true).unwrap(), b"true");
        assert_eq!(enc(Plain::Str, &2.5f64).unwrap(), b"2.5");
        assert_eq!(enc(Plain::Str, &'é').unwrap(), "é".as_bytes());
        assert_eq!(enc(Plain::Str, &"text".to_owned()).unwrap(), b"text");
        assert_eq!(dec::<i64>(Plain::Str, b"42").unwrap(), 42);
        assert_eq!(dec::<u8>(Plain::Str, b"255").unwrap(), 255);
        assert!(!dec::<bool>(Plain::Str, b"false").unwrap());
        assert_eq!(dec::<f32>(Plain::Str, b"2.5").unwrap(), 2.5);
        assert_eq!(dec::<char>(Plain::Str, "é".as_bytes()).unwrap(), 'é');
        assert_eq!(dec::<String>(Plain::Str, b"text").unwrap(), "text");
        assert_eq!(
            dec::<serde_json::Value>(Plain::Str, b"{}").unwrap(),
            serde_json::Value::String("{}".to_owned())
        );
    }

    #[test]
    fn str_parse_failures_name_expected_and_found() {
        assert_eq!(
            dec::<u8>(Plain::Str, b"256").unwrap_err(),
            "field: expected a u8 written as text, found \"256\""
        );
        assert_eq!(
            dec::<char>(Plain::Str, b"ab").unwrap_err(),
            "field: expected a single char written as text, found \"ab\""
        );
        let long = "x".repeat(100);
        let err = dec::<i32>(Plain::Str, long.as_bytes()).unwrap_err();
        assert!(err.ends_with("...") && err.len() < 120, "{err}");
    }

    #[test]
    fn str_rejects_records_maps_and_bytes_naming_the_fix() {
        let err = enc(Plain::Str, &Record { a: 1 }).unwrap_err();
        assert!(
            err.ends_with("not a struct; use the json codec for it"),
            "{err}"
        );
        let map = std::collections::BTreeMap::from([(1u8, 2u8)]);
        let err = enc(Plain::Str, &map).unwrap_err();
        assert!(
            err.ends_with("not a map; use the json codec for it"),
            "{err}"
        );
        let err = enc(Plain::Str, &Bytes::from_static(b"x")).unwrap_err();
        assert!(
            err.ends_with("not bytes; use the raw codec for bytes"),
            "{err}"
        );
        let err = dec::<Record>(Plain::Str, b"a=1").unwrap_err();
        assert!(
            err.ends_with("not a struct; use the json codec for it"),
            "{err}"
        );
    }
}
