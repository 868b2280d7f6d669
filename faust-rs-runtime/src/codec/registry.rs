//! Codecs by name: the [`Codec`] trait for custom codecs, a resolved
//! [`CodecRef`], and the [`Codecs`] registry.

use std::any::type_name;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::error::{CodecError, DecodeFailure};
use super::payload::Payload;
use super::plain::{self, Plain};
use super::structured;
use crate::error::BoxError;

/// A custom codec: turns any serde value into bytes and back.
///
/// Values reach it type-erased through [`erased_serde`], so one codec serves
/// every payload type. Register it by name ([`Codecs::register`]) and name
/// it in a topic's `value_serializer` or a record's `serializer`.
///
/// ```
/// use faust_rs_runtime::codec::erased_serde::{Deserializer, Error, Serialize};
/// use faust_rs_runtime::codec::{Codec, Codecs};
/// use faust_rs_runtime::error::BoxError;
///
/// /// JSON, indented.
/// struct PrettyJson;
///
/// impl Codec for PrettyJson {
///     fn encode(&self, value: &dyn Serialize) -> Result<Vec<u8>, BoxError> {
///         Ok(serde_json::to_vec_pretty(value)?)
///     }
///
///     fn decode(
///         &self,
///         bytes: &[u8],
///         seed: &mut dyn FnMut(&mut dyn Deserializer<'_>) -> Result<(), Error>,
///     ) -> Result<(), BoxError> {
///         let mut de = serde_json::Deserializer::from_slice(bytes);
///         seed(&mut <dyn Deserializer>::erase(&mut de))?;
///         de.end()?;
///         Ok(())
///     }
/// }
///
/// let mut codecs = Codecs::default();
/// codecs.register("pretty-json", PrettyJson);
/// let codec = codecs.get("pretty-json")?;
/// let bytes = codec.encode(&faust_rs_runtime::codec::Json(vec![1u32, 2]))?;
/// assert_eq!(&bytes[..], b"[\n  1,\n  2\n]");
/// let back: u32 = codec.decode(Some(b" 7 "))?;
/// assert_eq!(back, 7);
/// # Ok::<(), faust_rs_runtime::codec::CodecError>(())
/// ```
pub trait Codec: Send + Sync + 'static {
    /// Writes `value` as bytes.
    ///
    /// # Errors
    ///
    /// Whatever keeps the value from being written; reported as
    /// [`CodecError::Encode`].
    fn encode(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>, BoxError>;

    /// Reads `bytes`: builds a serde deserializer over them, erases it with
    /// `<dyn erased_serde::Deserializer>::erase`, and calls `seed` with it
    /// exactly once, returning `seed`'s error if it fails.
    ///
    /// # Errors
    ///
    /// An error from `seed` becomes [`CodecError::Field`] (the bytes do not
    /// fit the type); any other error becomes [`CodecError::Malformed`].
    fn decode(
        &self,
        bytes: &[u8],
        seed: &mut dyn FnMut(
            &mut dyn erased_serde::Deserializer<'_>,
        ) -> Result<(), erased_serde::Error>,
    ) -> Result<(), BoxError>;
}

/// A resolved codec, cheap to clone: the built-ins are dispatched
/// statically, a custom codec through its `Arc<dyn Codec>`.
#[derive(Clone)]
pub struct CodecRef(Kind);

impl CodecRef {
    /// The `json` codec.
    pub const JSON: CodecRef = CodecRef(Kind::Json);
    /// The `msgpack` codec.
    pub const MSGPACK: CodecRef = CodecRef(Kind::Msgpack);
    /// The `raw` codec.
    pub const RAW: CodecRef = CodecRef(Kind::Plain(Plain::Raw));
    /// The `str` codec.
    pub const STR: CodecRef = CodecRef(Kind::Plain(Plain::Str));

    /// A custom codec under `name`.
    pub fn custom(name: impl Into<String>, codec: impl Codec) -> CodecRef {
        CodecRef(Kind::Custom(Arc::new(Named {
            name: name.into(),
            codec,
        })))
    }

    /// The codec's name (`json`, or the name a custom codec was given).
    #[must_use]
    pub fn name(&self) -> &str {
        match &self.0 {
            Kind::Json => "json",
            Kind::Msgpack => "msgpack",
            Kind::Plain(plain) => plain.name(),
            Kind::Custom(custom) => &custom.name,
        }
    }

    /// Writes `value` as bytes.
    ///
    /// With `json` and `msgpack`, a type whose
    /// [`FAUST_NAMESPACE`](Payload::FAUST_NAMESPACE) is set gets Python
    /// Faust's `"__faust": {"ns": ...}` entry after its fields.
    ///
    /// # Errors
    ///
    /// [`CodecError::Encode`] when the codec cannot carry the value (a
    /// record through `raw`, a map with non-string keys through `json`,
    /// a custom codec's own failure).
    pub fn encode<T: Payload>(&self, value: &T) -> Result<Bytes, CodecError> {
        let encoded = match &self.0 {
            Kind::Json => structured::encode_json(value),
            Kind::Msgpack => structured::encode_msgpack(value),
            Kind::Plain(plain) => plain::encode(*plain, value),
            Kind::Custom(custom) => custom.codec.encode(value).map(Bytes::from),
        };
        encoded.map_err(|source| CodecError::Encode {
            type_name: type_name::<T>(),
            codec: self.name().to_owned(),
            source,
        })
    }

    /// Reads a `T` from a message's key or value, then validates it
    /// ([`Payload::validate`]).
    ///
    /// # Errors
    ///
    /// In the order they are checked: [`CodecError::EmptyPayload`] for
    /// `None` (a tombstone) or zero bytes; [`CodecError::Malformed`] when
    /// the bytes are not valid for the codec; [`CodecError::Field`] when
    /// they do not fit `T`, with the path of the failing field;
    /// [`CodecError::Validation`] when the value breaks a constraint.
    pub fn decode<T: Payload>(&self, bytes: Option<&[u8]>) -> Result<T, CodecError> {
        // Zero bytes are a value for `raw` and `str` (empty bytes, an empty
        // string); for structured codecs they are no value at all.
        let empty_is_a_value = matches!(self.0, Kind::Plain(_));
        let bytes = match bytes {
            Some(bytes) if !bytes.is_empty() || empty_is_a_value => bytes,
            _ => {
                return Err(CodecError::EmptyPayload {
                    type_name: type_name::<T>(),
                    codec: self.name().to_owned(),
                });
            }
        };
        let decoded = match &self.0 {
            Kind::Json => structured::decode_json::<T>(bytes),
            Kind::Msgpack => structured::decode_msgpack::<T>(bytes),
            Kind::Plain(plain) => plain::decode::<T>(*plain, bytes),
            Kind::Custom(custom) => decode_custom::<T>(&custom.codec, bytes),
        };
        let value = decoded.map_err(|f| f.into_codec_error(type_name::<T>(), self.name()))?;
        value.validate()?;
        Ok(value)
    }
}

impl fmt::Debug for CodecRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CodecRef").field(&self.name()).finish()
    }
}

/// The codecs an app knows, by name.
///
/// `Codecs::default()` holds the built-ins `json`, `msgpack`, `raw` and
/// `str`; [`register`](Codecs::register) adds custom ones.
#[derive(Clone)]
pub struct Codecs {
    by_name: BTreeMap<String, CodecRef>,
}

impl Default for Codecs {
    fn default() -> Self {
        let by_name = [
            CodecRef::JSON,
            CodecRef::MSGPACK,
            CodecRef::RAW,
            CodecRef::STR,
        ]
        .into_iter()
        .map(|codec| (codec.name().to_owned(), codec))
        .collect();
        Codecs { by_name }
    }
}

impl Codecs {
    /// Adds a custom codec under `name`, replacing any codec (built-in
    /// included) of that name.
    pub fn register(&mut self, name: impl Into<String>, codec: impl Codec) {
        let name = name.into();
        let codec = CodecRef::custom(name.clone(), codec);
        self.by_name.insert(name, codec);
    }

    /// The codec registered under `name`.
    ///
    /// # Errors
    ///
    /// [`CodecError::UnknownCodec`], listing the known names.
    pub fn get(&self, name: &str) -> Result<CodecRef, CodecError> {
        match self.by_name.get(name) {
            Some(codec) => Ok(codec.clone()),
            None => Err(CodecError::UnknownCodec {
                name: name.to_owned(),
                known: self.by_name.keys().cloned().collect(),
            }),
        }
    }

    /// The codec for `T` on a topic: the topic's `explicit` codec when it
    /// names one, else `T`'s [`DEFAULT_CODEC`](Payload::DEFAULT_CODEC).
    ///
    /// # Errors
    ///
    /// [`CodecError::UnknownCodec`] when that name is not registered.
    pub fn for_type<T: Payload>(&self, explicit: Option<&str>) -> Result<CodecRef, CodecError> {
        self.get(explicit.unwrap_or(T::DEFAULT_CODEC))
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

impl fmt::Debug for Codecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

#[derive(Clone)]
enum Kind {
    Json,
    Msgpack,
    Plain(Plain),
    /// One allocation for name and codec: `Arc<Named<C>>` unsizes to this.
    Custom(Arc<Named<dyn Codec>>),
}

struct Named<C: ?Sized> {
    name: String,
    codec: C,
}

fn decode_custom<T: DeserializeOwned>(codec: &dyn Codec, bytes: &[u8]) -> Result<T, DecodeFailure> {
    let mut slot: Option<T> = None;
    let mut seed_error: Option<String> = None;
    let result = codec.decode(bytes, &mut |de| match erased_serde::deserialize::<T>(de) {
        Ok(value) => {
            slot = Some(value);
            Ok(())
        }
        Err(e) => {
            seed_error = Some(e.to_string());
            Err(e)
        }
    });
    match (result, slot, seed_error) {
        (_, _, Some(message)) => Err(DecodeFailure::Field {
            path: custom_error_path::<T>(codec, bytes),
            message,
        }),
        (Err(e), _, None) => Err(DecodeFailure::Malformed(e)),
        (Ok(()), Some(value), None) => Ok(value),
        (Ok(()), None, None) => Err(DecodeFailure::Malformed(
            "the codec returned without reading a value: its `decode` must call `seed` once".into(),
        )),
    }
}

#[cold]
fn custom_error_path<T: DeserializeOwned>(codec: &dyn Codec, bytes: &[u8]) -> String {
    let mut path = String::new();
    // The codec already failed once on these bytes; only the path matters now.
    let _ = codec.decode(bytes, &mut |de| {
        path = structured::error_path::<_, T>(de);
        Ok(())
    });
    path
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::codec::Json;
    use crate::record::{ValidationError, validate};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Order {
        account: String,
        amount: f64,
    }

    impl Payload for Order {
        const FAUST_NAMESPACE: Option<&'static str> = Some("orders.models.Order");

        fn validate(&self) -> Result<(), ValidationError> {
            let mut c = validate::Checker::new();
            validate::range(&mut c, "amount", &self.amount, Some(0.0), None);
            validate::length(&mut c, "account", &self.account, Some(1usize), None);
            c.finish("Order")
        }
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Line {
        sku: String,
        price: f64,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Status {
        Open,
        Closed,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Cart {
        items: Vec<Line>,
        status: Status,
    }

    impl Payload for Cart {}

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        account: String,
        // The documented way to accept Python Faust's metadata in a strict record.
        #[serde(rename = "__faust", default, skip_serializing)]
        faust: Option<serde::de::IgnoredAny>,
    }

    impl Payload for Strict {}

    fn order() -> Order {
        Order {
            account: "alice".to_owned(),
            amount: 5.0,
        }
    }

    const PYTHON_ORDER: &[u8] =
        br#"{"account": "alice", "amount": 5.0, "__faust": {"ns": "orders.models.Order"}}"#;

    #[test]
    fn decodes_python_faust_json_record_ignoring_faust_meta() {
        let decoded: Order = CodecRef::JSON.decode(Some(PYTHON_ORDER)).unwrap();
        assert_eq!(decoded, order());
    }

    #[test]
    fn json_round_trip_writes_namespace_like_python_faust() {
        let bytes = CodecRef::JSON.encode(&order()).unwrap();
        let written: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let python: serde_json::Value = serde_json::from_slice(PYTHON_ORDER).unwrap();
        assert_eq!(written, python);
        assert_eq!(
            CodecRef::JSON.decode::<Order>(Some(&bytes)).unwrap(),
            order()
        );
    }

    #[test]
    fn decodes_python_faust_msgpack_record() {
        // Python: msgpack.packb({"account": "alice", "amount": 5.0,
        //                        "__faust": {"ns": "orders.models.Order"}})
        let mut bytes = vec![0x83, 0xa7];
        bytes.extend_from_slice(b"account");
        bytes.push(0xa5);
        bytes.extend_from_slice(b"alice");
        bytes.push(0xa6);
        bytes.extend_from_slice(b"amount");
        bytes.push(0xcb);
        bytes.extend_from_slice(&5.0f64.to_be_bytes());
        bytes.push(0xa7);
        bytes.extend_from_slice(b"__faust");
        bytes.extend_from_slice(&[0x81, 0xa2]);
        bytes.extend_from_slice(b"ns");
        bytes.push(0xb3);
        bytes.extend_from_slice(b"orders.models.Order");
        assert_eq!(
            CodecRef::MSGPACK.decode::<Order>(Some(&bytes)).unwrap(),
            order()
        );
        // And what we write is what Python writes, byte for byte.
        assert_eq!(&CodecRef::MSGPACK.encode(&order()).unwrap()[..], &bytes[..]);
    }

    #[test]
    fn codec_errors_travel_between_threads() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<CodecError>();
        assert_send_sync::<CodecRef>();
        assert_send_sync::<Codecs>();
    }

    #[test]
    fn msgpack_round_trip_with_namespace() {
        let bytes = CodecRef::MSGPACK.encode(&order()).unwrap();
        assert_eq!(
            CodecRef::MSGPACK.decode::<Order>(Some(&bytes)).unwrap(),
            order()
        );
    }

    #[test]
    fn strict_record_with_faust_field_accepts_python_meta() {
        let bytes = br#"{"account": "a", "__faust": {"ns": "m.Strict"}}"#;
        let decoded: Strict = CodecRef::JSON.decode(Some(bytes)).unwrap();
        assert_eq!(decoded.account, "a");
        let encoded = CodecRef::JSON.encode(&decoded).unwrap();
        assert_eq!(&encoded[..], br#"{"account":"a"}"#);
    }

    #[test]
    fn none_and_empty_bytes_are_empty_payload() {
        for bytes in [None, Some(&b""[..])] {
            let err = CodecRef::JSON.decode::<Order>(bytes).unwrap_err();
            assert!(matches!(err, CodecError::EmptyPayload { .. }), "{err}");
            assert!(
                err.to_string()
                    .starts_with("cannot decode value as Order (codec json): the message is empty")
            );
        }
    }

    #[test]
    fn json_syntax_error_is_malformed() {
        let err = CodecRef::JSON
            .decode::<Order>(Some(b"{\"account\":"))
            .unwrap_err();
        assert!(matches!(err, CodecError::Malformed { .. }), "{err}");
        assert_eq!(err.kind(), "decode");
        let err = CodecRef::JSON
            .decode::<Order>(Some(b"not json"))
            .unwrap_err();
        assert!(matches!(err, CodecError::Malformed { .. }), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn wrong_type_names_field_path_expected_and_found() {
        let err = CodecRef::JSON
            .decode::<Order>(Some(br#"{"account": "a", "amount": "x"}"#))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot decode value as Order (codec json): field `amount`: invalid type: string \"x\", expected f64"
        );
    }

    #[test]
    fn nested_wrong_type_reports_indexed_path() {
        let bytes = br#"{"items": [{"sku": "a", "price": 1}, {"sku": "b", "price": true}], "status": "Open"}"#;
        let err = CodecRef::JSON.decode::<Cart>(Some(bytes)).unwrap_err();
        let CodecError::Field { path, message, .. } = &err else {
            panic!("expected a field error, got {err}");
        };
        assert_eq!(path, "items[1].price");
        assert_eq!(message, "invalid type: boolean `true`, expected f64");
    }

    #[test]
    fn missing_field_and_unknown_variant_are_field_errors() {
        let err = CodecRef::JSON
            .decode::<Order>(Some(br#"{"account": "a"}"#))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot decode value as Order (codec json): missing field `amount`"
        );
        let err = CodecRef::JSON
            .decode::<Cart>(Some(br#"{"items": [], "status": "Lost"}"#))
            .unwrap_err();
        let CodecError::Field { path, message, .. } = &err else {
            panic!("expected a field error, got {err}");
        };
        assert_eq!(path, "status");
        assert!(
            message.starts_with("unknown variant `Lost`, expected"),
            "{message}"
        );
    }

    #[test]
    fn msgpack_wrong_type_is_a_field_error_with_path() {
        let bytes = rmp_serde::to_vec_named(&serde_json::json!({
            "items": [{"sku": "a", "price": "free"}], "status": "Open"
        }))
        .unwrap();
        let err = CodecRef::MSGPACK.decode::<Cart>(Some(&bytes)).unwrap_err();
        let CodecError::Field { path, codec, .. } = &err else {
            panic!("expected a field error, got {err}");
        };
        assert_eq!(path, "items[0].price");
        assert_eq!(codec, "msgpack");
    }

    #[test]
    fn decoded_value_is_validated() {
        let err = CodecRef::JSON
            .decode::<Order>(Some(br#"{"account": "", "amount": -5}"#))
            .unwrap_err();
        assert_eq!(err.kind(), "validation");
        assert_eq!(
            err.to_string(),
            "Order failed validation: field `amount`: expected >= 0, found -5; \
             field `account`: expected length >= 1, found length 0"
        );
    }

    #[test]
    fn builtin_scalars_round_trip_through_their_default_codec() {
        let codecs = Codecs::default();
        let s = codecs.for_type::<String>(None).unwrap();
        assert_eq!(s.name(), "str");
        assert_eq!(&s.encode(&"hi".to_owned()).unwrap()[..], b"hi");
        let n = codecs.for_type::<u64>(None).unwrap();
        assert_eq!(n.decode::<u64>(Some(b"42")).unwrap(), 42);
        let v = codecs.for_type::<serde_json::Value>(None).unwrap();
        assert_eq!(
            v.decode::<serde_json::Value>(Some(b"[1]")).unwrap(),
            serde_json::json!([1])
        );
        let raw = codecs.for_type::<Bytes>(None).unwrap();
        assert_eq!(raw.decode::<Bytes>(Some(b"\x00")).unwrap(), &b"\x00"[..]);
    }

    #[test]
    fn raw_codec_refuses_a_record_with_the_fix() {
        let err = CodecRef::RAW.encode(&order()).unwrap_err();
        assert_eq!(err.kind(), "encode");
        assert_eq!(
            err.to_string(),
            "cannot encode Order with codec raw: the raw codec carries bytes or UTF-8 text only \
             (Bytes, Vec<u8>, String), not a struct; use the json codec for it"
        );
    }

    #[test]
    fn json_encode_failure_is_an_encode_error() {
        let map: Json<std::collections::HashMap<(u8, u8), u8>> =
            std::collections::HashMap::from([((1, 2), 3)]).into();
        let err = CodecRef::JSON.encode(&map).unwrap_err();
        assert!(matches!(err, CodecError::Encode { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("cannot encode Json<HashMap<(u8, u8), u8>> with codec json:"),
            "{err}"
        );
    }

    #[test]
    fn registry_has_builtins_and_lists_them_on_unknown_name() {
        let codecs = Codecs::default();
        assert_eq!(
            codecs.names().collect::<Vec<_>>(),
            ["json", "msgpack", "raw", "str"]
        );
        let err = codecs.get("avro").unwrap_err();
        assert_eq!(err.kind(), "config");
        assert!(
            err.to_string()
                .contains("known codecs: json, msgpack, raw, str"),
            "{err}"
        );
        assert_eq!(
            codecs.for_type::<Order>(Some("msgpack")).unwrap().name(),
            "msgpack"
        );
        assert_eq!(codecs.for_type::<Order>(None).unwrap().name(), "json");
        assert_eq!(
            format!("{codecs:?}"),
            r#"{"json", "msgpack", "raw", "str"}"#
        );
        assert_eq!(format!("{:?}", CodecRef::STR), r#"CodecRef("str")"#);
    }

    /// JSON with a one-byte `#` header: enough to exercise the erased path.
    struct Hashed;

    impl Codec for Hashed {
        fn encode(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>, BoxError> {
            let mut out = b"#".to_vec();
            serde_json::to_writer(&mut out, value)?;
            Ok(out)
        }

        fn decode(
            &self,
            bytes: &[u8],
            seed: &mut dyn FnMut(
                &mut dyn erased_serde::Deserializer<'_>,
            ) -> Result<(), erased_serde::Error>,
        ) -> Result<(), BoxError> {
            let body = bytes.strip_prefix(b"#").ok_or("missing `#` header")?;
            let mut de = serde_json::Deserializer::from_slice(body);
            seed(&mut <dyn erased_serde::Deserializer>::erase(&mut de))?;
            de.end()?;
            Ok(())
        }
    }

    struct Lazy;

    impl Codec for Lazy {
        fn encode(&self, _: &dyn erased_serde::Serialize) -> Result<Vec<u8>, BoxError> {
            Ok(Vec::new())
        }

        fn decode(
            &self,
            _: &[u8],
            _: &mut dyn FnMut(
                &mut dyn erased_serde::Deserializer<'_>,
            ) -> Result<(), erased_serde::Error>,
        ) -> Result<(), BoxError> {
            Ok(())
        }
    }

    #[test]
    fn custom_codec_round_trips_and_validates() {
        let mut codecs = Codecs::default();
        codecs.register("hashed", Hashed);
        let codec = codecs.for_type::<Order>(Some("hashed")).unwrap();
        assert_eq!(codec.name(), "hashed");
        let bytes = codec.encode(&order()).unwrap();
        // Custom codecs get the plain value: no `__faust` entry.
        assert_eq!(&bytes[..], br##"#{"account":"alice","amount":5.0}"##);
        assert_eq!(codec.decode::<Order>(Some(&bytes)).unwrap(), order());
        let err = codec
            .decode::<Order>(Some(br##"#{"account":"","amount":1}"##))
            .unwrap_err();
        assert_eq!(err.kind(), "validation");
    }

    #[test]
    fn custom_codec_errors_are_field_or_malformed() {
        let codec = CodecRef::custom("hashed", Hashed);
        let err = codec
            .decode::<Cart>(Some(
                br##"#{"items":[{"sku":"a","price":"x"}],"status":"Open"}"##,
            ))
            .unwrap_err();
        let CodecError::Field {
            path,
            message,
            codec: name,
            ..
        } = &err
        else {
            panic!("expected a field error, got {err}");
        };
        assert_eq!(path, "items[0].price");
        assert!(
            message.starts_with("invalid type: string \"x\", expected f64"),
            "{message}"
        );
        assert_eq!(name, "hashed");

        let err = codec.decode::<Order>(Some(b"{}")).unwrap_err();
        assert!(matches!(err, CodecError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("missing `#` header"), "{err}");

        let err = CodecRef::custom("lazy", Lazy)
            .decode::<Order>(Some(b"x"))
            .unwrap_err();
        assert!(err.to_string().contains("must call `seed` once"), "{err}");
    }

    #[test]
    fn registering_a_builtin_name_replaces_it() {
        let mut codecs = Codecs::default();
        codecs.register("json", Hashed);
        let codec = codecs.get("json").unwrap();
        assert!(codec.encode(&1u8).unwrap().starts_with(b"#"));
        assert_eq!(codecs.names().count(), 4);
    }
}

#[cfg(test)]
mod empty_payload_tests {
    use super::*;

    #[test]
    fn zero_bytes_are_a_value_for_raw_and_str_but_not_for_json() {
        let raw: Bytes = CodecRef::RAW.decode(Some(b"")).unwrap();
        assert!(raw.is_empty());
        let text: String = CodecRef::STR.decode(Some(b"")).unwrap();
        assert_eq!(text, "");
        assert!(matches!(
            CodecRef::JSON.decode::<String>(Some(b"")),
            Err(CodecError::EmptyPayload { .. })
        ));
        // A tombstone is no value for any codec.
        assert!(matches!(
            CodecRef::RAW.decode::<Bytes>(None),
            Err(CodecError::EmptyPayload { .. })
        ));
    }
}
