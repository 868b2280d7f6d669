//! [`CodecError`]: why a value could not become bytes, or bytes a value.

use std::fmt;

use crate::error::BoxError;
use crate::record::ValidationError;

/// A value could not be encoded, a message could not be decoded or
/// validated, or a codec name is unknown.
///
/// [`kind`](CodecError::kind) sorts them for error policies and metrics.
/// Type names in messages are written without their module path (`Order`,
/// `Json<Vec<u8>>`).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The message carries no value to decode: a tombstone (`None`) or zero
    /// bytes.
    #[error(
        "cannot decode value as {} (codec {codec}): the message is empty (a tombstone or zero bytes); \
         skip empty messages before decoding, or have the producer send a value",
        ShortTypeName(type_name)
    )]
    EmptyPayload {
        /// The type the message was to be decoded as.
        type_name: &'static str,
        /// The codec's name.
        codec: String,
    },

    /// The bytes are not valid for the codec at all: broken JSON or
    /// MessagePack, invalid UTF-8, trailing garbage.
    #[error(
        "cannot decode value as {} (codec {codec}): the bytes are not valid {codec}: {source}; \
         check what the producer writes to this topic",
        ShortTypeName(type_name)
    )]
    Malformed {
        /// The type the message was to be decoded as.
        type_name: &'static str,
        /// The codec's name.
        codec: String,
        /// The codec's own error.
        #[source]
        source: BoxError,
    },

    /// The bytes are well-formed but do not fit the type: a wrong type, a
    /// missing field, an unknown enum variant.
    #[error(
        "cannot decode value as {} (codec {codec}): {}{message}",
        ShortTypeName(type_name),
        FieldPrefix(path)
    )]
    Field {
        /// The type the message was to be decoded as.
        type_name: &'static str,
        /// The codec's name.
        codec: String,
        /// Where in the value: `amount`, `items[0].price`; empty for the
        /// value as a whole.
        path: String,
        /// What serde found wrong, with expected and found
        /// (`invalid type: string "x", expected f64`).
        message: String,
    },

    /// The value decoded but broke its record's field constraints.
    #[error(transparent)]
    Validation(#[from] ValidationError),

    /// The value could not be encoded with the codec.
    #[error(
        "cannot encode {} with codec {codec}: {source}",
        ShortTypeName(type_name)
    )]
    Encode {
        /// The type of the value.
        type_name: &'static str,
        /// The codec's name.
        codec: String,
        /// Why, from the codec.
        #[source]
        source: BoxError,
    },

    /// No codec is registered under this name.
    #[error(
        "unknown codec `{name}`; known codecs: {}; fix the name, or register a custom codec \
         under it with `App::codec`",
        Joined(known)
    )]
    UnknownCodec {
        /// The name asked for.
        name: String,
        /// The registered names, sorted.
        known: Vec<String>,
    },
}

impl CodecError {
    /// `"decode"` (empty, malformed or ill-typed message), `"validation"`
    /// (a broken field constraint), `"encode"` or `"config"` (unknown
    /// codec name).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            CodecError::EmptyPayload { .. }
            | CodecError::Malformed { .. }
            | CodecError::Field { .. } => "decode",
            CodecError::Validation(_) => "validation",
            CodecError::Encode { .. } => "encode",
            CodecError::UnknownCodec { .. } => "config",
        }
    }
}

/// How a codec failed to decode, before the type and codec names are
/// attached.
#[derive(Debug)]
pub(super) enum DecodeFailure {
    /// See [`CodecError::Malformed`].
    Malformed(BoxError),
    /// See [`CodecError::Field`].
    Field { path: String, message: String },
}

impl DecodeFailure {
    #[cold]
    pub(super) fn into_codec_error(self, type_name: &'static str, codec: &str) -> CodecError {
        let codec = codec.to_owned();
        match self {
            DecodeFailure::Malformed(source) => CodecError::Malformed {
                type_name,
                codec,
                source,
            },
            DecodeFailure::Field { path, message } => CodecError::Field {
                type_name,
                codec,
                path,
                message,
            },
        }
    }
}

/// Writes `field `path`: ` unless the path is empty (the whole value).
struct FieldPrefix<'a>(&'a str);

impl fmt::Display for FieldPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "field `{}`: ", self.0)
        }
    }
}

/// Writes names separated by `, `.
struct Joined<'a>(&'a [String]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// Writes a `std::any::type_name` without module paths:
/// `faust_rs_runtime::codec::Json<alloc::vec::Vec<u8>>` as `Json<Vec<u8>>`.
pub(super) struct ShortTypeName(pub(super) &'static str);

impl fmt::Display for ShortTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while !rest.is_empty() {
            // A path is a run of identifier characters and `::`; keep only
            // its last segment, copy everything between paths as is.
            let path_len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let (path, tail) = rest.split_at(path_len);
            f.write_str(path.rsplit("::").next().unwrap_or(path))?;
            let sep_len = tail
                .find(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
                .unwrap_or(tail.len());
            f.write_str(&tail[..sep_len])?;
            rest = &tail[sep_len..];
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_type_name_drops_module_paths_everywhere() {
        let short = |s| ShortTypeName(s).to_string();
        assert_eq!(short("orders::Order"), "Order");
        assert_eq!(
            short("faust_rs_runtime::codec::Json<alloc::vec::Vec<u8>>"),
            "Json<Vec<u8>>"
        );
        assert_eq!(
            short("std::collections::HashMap<alloc::string::String, (u8, &str)>"),
            "HashMap<String, (u8, &str)>"
        );
        assert_eq!(short("[core::option::Option<i32>; 3]"), "[Option<i32>; 3]");
        assert_eq!(short("u64"), "u64");
    }

    #[test]
    fn field_error_names_type_codec_path_and_message() {
        let err = CodecError::Field {
            type_name: "orders::Order",
            codec: "json".to_owned(),
            path: "amount".to_owned(),
            message: "invalid type: string \"x\", expected f64".to_owned(),
        };
        assert_eq!(
            err.to_string(),
            "cannot decode value as Order (codec json): field `amount`: invalid type: string \"x\", expected f64"
        );
        assert_eq!(err.kind(), "decode");
    }

    #[test]
    fn field_error_on_whole_value_has_no_field_prefix() {
        let err = CodecError::Field {
            type_name: "u32",
            codec: "str".to_owned(),
            path: String::new(),
            message: "expected u32".to_owned(),
        };
        assert_eq!(
            err.to_string(),
            "cannot decode value as u32 (codec str): expected u32"
        );
    }

    #[test]
    fn unknown_codec_lists_known_names_and_is_config() {
        let err = CodecError::UnknownCodec {
            name: "avro".to_owned(),
            known: vec!["json".to_owned(), "raw".to_owned()],
        };
        assert_eq!(
            err.to_string(),
            "unknown codec `avro`; known codecs: json, raw; fix the name, or register a custom codec \
             under it with `App::codec`"
        );
        assert_eq!(err.kind(), "config");
    }

    #[test]
    fn kinds_sort_errors_for_policies() {
        let empty = CodecError::EmptyPayload {
            type_name: "u8",
            codec: "json".to_owned(),
        };
        let validation = CodecError::from(ValidationError {
            record: "Order",
            failures: Vec::new(),
        });
        let encode = CodecError::Encode {
            type_name: "u8",
            codec: "raw".to_owned(),
            source: "no".into(),
        };
        assert_eq!(empty.kind(), "decode");
        assert_eq!(validation.kind(), "validation");
        assert_eq!(encode.kind(), "encode");
    }
}
