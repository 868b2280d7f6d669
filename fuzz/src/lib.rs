//! What the fuzz targets share: the records they decode, declared with
//! `#[record]` as a user would (nested records, lists, maps, `Option`,
//! `Box`, and every `#[validate]` rule kind), and the checks every decoding
//! outcome must pass.
//!
//! The properties, for any bytes: decoding never panics; it gives a value
//! that holds its constraints, or an error whose kind and message say what
//! was decoded, with which codec, and what was wrong; and a decoded value
//! encodes and decodes back to itself.

use std::collections::BTreeMap;
use std::fmt::Debug;

use faust::codec::{CodecRef, Payload};
use faust::{CodecError, ValidationError, record};
use libfuzzer_sys::arbitrary::{self, Arbitrary};

/// Rejects text with a space (a `custom` rule on `str`).
fn no_spaces(text: &str) -> Result<(), String> {
    match text.find(' ') {
        Some(at) => Err(format!("a space at byte {at}")),
        None => Ok(()),
    }
}

/// Rejects odd numbers (a `custom` rule on `u32`).
fn even(n: &u32) -> Result<(), &'static str> {
    if n % 2 == 0 { Ok(()) } else { Err("odd") }
}

/// Where an order goes.
#[record(validate)]
#[derive(Debug, Clone, PartialEq, Arbitrary)]
pub struct Address {
    #[validate(length(min = 1, max = 64))]
    pub city: String,
    #[validate(pattern = "^[0-9]{5}$")]
    pub zip: Option<String>,
}

/// One line of an order.
#[record(validate)]
#[derive(Debug, Clone, PartialEq, Arbitrary)]
pub struct LineItem {
    #[validate(pattern = "^[A-Z]{3}-[0-9]+$")]
    pub sku: String,
    #[validate(range(min = 1, max = 1000), custom = even)]
    pub quantity: u32,
    #[validate(range(min = 0.0))]
    pub price: f64,
}

/// An order: every rule kind, on plain, optional, boxed and collection
/// fields. Every float has a range, so `NaN` never validates (a decoded
/// value always equals itself).
#[record(validate)]
#[derive(Debug, Clone, PartialEq, Arbitrary)]
pub struct Order {
    #[validate(pattern = "^ord-[0-9]+$")]
    pub id: String,
    #[validate(length(min = 1, max = 32), custom = no_spaces)]
    pub account: String,
    #[validate(range(min = 0, max = 1_000_000))]
    pub amount: f64,
    #[validate(range(min = -10, max = 10))]
    pub delta: i32,
    #[validate(range(min = 0.5, max = 1e9))]
    pub discount: Option<f64>,
    #[validate(length(min = 3, max = 3))]
    pub currency: String,
    pub created_at: i64,
    #[validate(nested)]
    pub address: Address,
    #[validate(nested)]
    pub billing: Option<Address>,
    #[validate(nested)]
    pub gift_to: Option<Box<Address>>,
    #[validate(nested)]
    #[validate(length(max = 8))]
    pub items: Vec<LineItem>,
    #[validate(length(max = 4))]
    pub tags: BTreeMap<String, u32>,
    #[validate(pattern = "^[a-z ]*$", length(max = 40))]
    pub note: Option<String>,
    #[serde(default)]
    pub flags: Vec<bool>,
}

/// A line of a Python Faust order: `class Item(faust.Record,
/// namespace="shop.models.Item")`.
#[record(validate, namespace = "shop.models.Item")]
#[derive(Debug, Clone, PartialEq, Arbitrary)]
pub struct PyItem {
    #[validate(length(min = 1))]
    pub sku: String,
    #[validate(range(min = 0.0, max = 1e12))]
    pub price: f64,
}

/// Where a Python Faust order goes.
#[record(validate, namespace = "shop.models.Address")]
#[derive(Debug, Clone, PartialEq, Arbitrary)]
pub struct PyAddress {
    #[validate(length(min = 1, max = 64))]
    pub city: String,
}

/// An order as a Python Faust app declares it: `class Order(faust.Record,
/// namespace="shop.models.Order")`, with nested records that carry their
/// own namespace.
#[record(validate, namespace = "shop.models.Order")]
#[derive(Debug, Clone, PartialEq, Arbitrary)]
pub struct PyOrder {
    #[validate(length(min = 1, max = 32))]
    pub account: String,
    #[validate(range(min = -1e9, max = 1e9))]
    pub amount: f64,
    pub quantity: i64,
    pub paid: bool,
    #[validate(nested)]
    pub address: Option<PyAddress>,
    #[validate(nested)]
    pub items: Vec<PyItem>,
}

/// The namespace `PyOrder` is written with.
pub const PY_ORDER_NS: &str = "shop.models.Order";

/// The names of `T`'s fields, from its schema.
fn field_names<T: Payload>() -> Vec<&'static str> {
    T::SCHEMA
        .map(|schema| schema.fields.iter().map(|f| f.name).collect())
        .unwrap_or_default()
}

/// Checks a validation error as the codec reports it: it names `record`,
/// it lists at least one failure, and each failure's path starts at one of
/// the record's fields and says what was expected and found.
pub fn check_validation_error<T: Payload>(e: &ValidationError, record: &str) {
    assert_eq!(e.record, record, "{e}");
    assert!(!e.failures.is_empty(), "a validation error without failures: {e:?}");
    let fields = field_names::<T>();
    for failure in &e.failures {
        let top = failure
            .path
            .split(['.', '['])
            .next()
            .unwrap_or_default();
        assert!(
            fields.contains(&top),
            "failure path {:?} names no field of {record} ({fields:?})",
            failure.path
        );
        assert!(!failure.expected.is_empty(), "{failure:?}");
        assert!(!failure.found.is_empty(), "{failure:?}");
    }
    let shown = e.to_string();
    assert!(shown.starts_with(&format!("{record} failed validation: field `")), "{shown}");
}

/// Checks a decoding error: its kind, and a message naming the type and
/// the codec, with no position noise where a field path says where.
pub fn check_decode_error<T: Payload>(e: &CodecError, record: &str, codec: &str) {
    let shown = e.to_string();
    match e {
        CodecError::Validation(v) => check_validation_error::<T>(v, record),
        CodecError::EmptyPayload { .. } | CodecError::Malformed { .. } => {
            assert_eq!(e.kind(), "decode");
            assert!(
                shown.starts_with(&format!("cannot decode value as {record} (codec {codec}): ")),
                "{shown}"
            );
        }
        CodecError::Field { path, message, .. } => {
            assert_eq!(e.kind(), "decode");
            assert!(
                shown.starts_with(&format!("cannot decode value as {record} (codec {codec}): ")),
                "{shown}"
            );
            assert!(!message.is_empty(), "{shown}");
            if !path.is_empty() {
                // A record may come as a list of its fields in order (serde
                // reads either): then the path starts at an index. In
                // MessagePack a key may be a number: the field of that
                // index, or no field (then the key is the path of its own
                // failure).
                let top = path.split(['.', '[']).next().unwrap_or_default();
                assert!(
                    field_names::<T>().contains(&top)
                        || path.starts_with('[')
                        || top.parse::<i128>().is_ok()
                        || message.ends_with("expected field identifier"),
                    "field path {path:?} names no field of {record}: {shown}"
                );
                assert!(
                    shown.contains(&format!("field `{path}`")),
                    "the message does not show the path: {shown}"
                );
            }
        }
        other => panic!("decoding gave a {} error: {other}", other.kind()),
    }
}

/// The outcome of decoding with serde alone, then validating: what the
/// codec must agree with.
#[derive(Debug)]
pub enum Expected<T> {
    /// serde could not read the bytes as a `T`.
    Unreadable,
    /// A value, and what its validation says.
    Value(T, Result<(), ValidationError>),
}

impl<T: Payload> Expected<T> {
    /// What serde made of the bytes.
    pub fn from_serde<E>(decoded: Result<T, E>) -> Self {
        match decoded {
            Ok(value) => {
                let validation = value.validate();
                Expected::Value(value, validation)
            }
            Err(_) => Expected::Unreadable,
        }
    }
}

/// Decodes `bytes` with `codec` as `T` and checks the outcome against
/// serde's own reading plus validation (`expected`): the same value, the
/// same validation failures, or a decoding error when serde cannot read
/// it. A value that decodes is encoded and decoded again, and must come
/// back equal. Returns the decoded value.
pub fn check_decode<T>(codec: &CodecRef, bytes: &[u8], expected: Expected<T>, record: &str) -> Option<T>
where
    T: Payload + PartialEq + Debug,
{
    let decoded = codec.decode::<T>(Some(bytes));
    match (&decoded, expected) {
        (Ok(value), Expected::Value(serde_value, Ok(()))) => {
            assert_eq!(value, &serde_value, "the codec and serde read different values");
            assert!(value.validate().is_ok(), "a decoded value that breaks its rules");
        }
        (Err(CodecError::Validation(e)), Expected::Value(_, Err(serde_failures))) => {
            assert_eq!(e, &serde_failures, "the codec reports other failures than validate()");
        }
        (Err(e), Expected::Unreadable) => {
            assert!(
                !matches!(e, CodecError::Validation(_)),
                "bytes serde cannot read fail validation: {e}"
            );
        }
        (outcome, expected) => {
            panic!("the codec gave {outcome:?} where serde and validate() gave {expected:?}")
        }
    }
    match decoded {
        Ok(value) => {
            round_trip(codec, &value);
            Some(value)
        }
        Err(e) => {
            check_decode_error::<T>(&e, record, codec.name());
            None
        }
    }
}

/// Encodes `value` with `codec` and decodes it back: it must come back
/// equal (what faust-rs writes, faust-rs reads the same).
pub fn round_trip<T>(codec: &CodecRef, value: &T)
where
    T: Payload + PartialEq + Debug,
{
    let bytes = match codec.encode(value) {
        Ok(bytes) => bytes,
        Err(e) => panic!("a decoded value does not encode: {e}"),
    };
    match codec.decode::<T>(Some(&bytes)) {
        Ok(back) => assert_eq!(&back, value, "{} round trip changed the value", codec.name()),
        Err(e) => panic!(
            "{} round trip failed: {e}\nvalue: {value:?}\nbytes: {:?}",
            codec.name(),
            String::from_utf8_lossy(&bytes)
        ),
    }
}
