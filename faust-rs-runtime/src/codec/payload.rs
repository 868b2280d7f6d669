//! What can be a key or a value on a topic: [`Payload`], its built-in
//! implementations and the [`Json`] wrapper.

use std::ops::{Deref, DerefMut};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::record::{RecordSchema, ValidationError};

/// A type that can be a key or a value on a topic.
///
/// Records get it from `#[faust::record]`; the runtime implements it for
/// `String` (codec `str`), `bytes::Bytes` and `Vec<u8>` (`raw`), `bool`,
/// the integers, `f32`, `f64`, `char`, `serde_json::Value` and [`Json<T>`]
/// (`json`). Any other serde type can travel as `Json<T>`.
///
/// A hand-written implementation is a serde type plus optional items (the
/// schema, [`Payload::SCHEMA`], is left out here):
///
/// ```
/// use faust_rs_runtime::codec::Payload;
/// use faust_rs_runtime::record::{validate, ValidationError};
///
/// #[derive(Debug, serde::Serialize, serde::Deserialize)]
/// struct Order {
///     account: String,
///     amount: f64,
/// }
///
/// impl Payload for Order {
///     const DEFAULT_CODEC: &'static str = "json";
///     const FAUST_NAMESPACE: Option<&'static str> = Some("orders.models.Order");
///     fn validate(&self) -> Result<(), ValidationError> {
///         let mut c = validate::Checker::new();
///         validate::range(&mut c, "amount", &self.amount, Some(0.0), None);
///         c.finish("Order")
///     }
/// }
///
/// use faust_rs_runtime::codec::CodecRef;
///
/// let order = Order { account: "alice".to_owned(), amount: 5.0 };
/// let bytes = CodecRef::JSON.encode(&order)?;
/// assert_eq!(
///     &bytes[..],
///     br#"{"account":"alice","amount":5.0,"__faust":{"ns":"orders.models.Order"}}"#
/// );
/// let refund = br#"{"account": "alice", "amount": -5}"#;
/// let err = CodecRef::JSON.decode::<Order>(Some(refund)).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Order failed validation: field `amount`: expected >= 0, found -5"
/// );
/// # Ok::<(), faust_rs_runtime::codec::CodecError>(())
/// ```
///
/// A type that is not a `Payload` cannot be a key or value:
///
/// ```compile_fail
/// fn value_type<T: faust_rs_runtime::codec::Payload>() {}
/// struct NotSerde;
/// value_type::<NotSerde>(); // error: `NotSerde` cannot be a key or value on a topic
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a key or value on a topic",
    label = "`{Self}` is not a `Payload`",
    note = "mark the struct with `#[faust::record]`, wrap the type as `faust::Json<{Self}>`, or use a built-in payload type: String, Bytes, Vec<u8>, bool, an integer, f32, f64, char, serde_json::Value"
)]
pub trait Payload: Serialize + DeserializeOwned + Send + 'static {
    /// The codec used when the topic does not name one (`json`, `msgpack`,
    /// `raw`, `str`, or a registered custom codec).
    const DEFAULT_CODEC: &'static str = "json";

    /// Python Faust's namespace for the record (`"orders.models.Order"`).
    ///
    /// When set, the `json` and `msgpack` codecs write it next to the
    /// fields as `"__faust": {"ns": "orders.models.Order"}`, which Python
    /// Faust uses to pick the record class. Decoding never needs it.
    const FAUST_NAMESPACE: Option<&'static str> = None;

    /// The record's schema: its fields, their types and their validation
    /// rules. `#[record]` writes it; `None` for other types. The command
    /// line's `model` prints it.
    const SCHEMA: Option<&'static RecordSchema> = None;

    /// Checks the value's field constraints; runs after every decode.
    ///
    /// # Errors
    ///
    /// Every broken constraint, as a [`ValidationError`].
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }

    /// The event's time in milliseconds since the Unix epoch, when the
    /// value carries one (`#[record(timestamp = "field")]`): windowed tables
    /// use it instead of the record's Kafka timestamp.
    fn event_time(&self) -> Option<i64> {
        None
    }
}

/// A field that can be a record's event time (`#[record(timestamp =
/// "field")]`): milliseconds since the Unix epoch as `i64` or `u64`,
/// seconds as `f64` (Python's `time.time()`, as Faust writes it), a
/// [`SystemTime`](std::time::SystemTime), or an `Option` of one of these.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a record's event time",
    note = "the timestamp field must be i64 or u64 (milliseconds since the epoch), f64 (seconds), std::time::SystemTime, or an Option of one"
)]
pub trait EventTime {
    /// Milliseconds since the Unix epoch; `None` when there is no time.
    fn event_time_ms(&self) -> Option<i64>;
}

impl EventTime for i64 {
    fn event_time_ms(&self) -> Option<i64> {
        Some(*self)
    }
}

impl EventTime for u64 {
    fn event_time_ms(&self) -> Option<i64> {
        i64::try_from(*self).ok()
    }
}

impl EventTime for f64 {
    fn event_time_ms(&self) -> Option<i64> {
        self.is_finite().then(|| (*self * 1000.0).round() as i64)
    }
}

impl EventTime for std::time::SystemTime {
    fn event_time_ms(&self) -> Option<i64> {
        match self.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).ok(),
            Err(before) => i64::try_from(before.duration().as_millis())
                .ok()
                .map(|ms| -ms),
        }
    }
}

impl<T: EventTime> EventTime for Option<T> {
    fn event_time_ms(&self) -> Option<i64> {
        self.as_ref().and_then(EventTime::event_time_ms)
    }
}

/// Any serde type, carried as a topic key or value (codec `json` unless the
/// topic says otherwise).
///
/// Serialized exactly as the inner value (serde `transparent`), so
/// `Json<HashMap<String, u32>>` is a JSON object on the wire.
///
/// ```
/// use faust_rs_runtime::codec::{Codecs, Json};
/// use std::collections::BTreeMap;
///
/// let counts: Json<BTreeMap<String, u32>> = BTreeMap::from([("a".to_owned(), 1)]).into();
/// let codec = Codecs::default().for_type::<Json<BTreeMap<String, u32>>>(None)?;
/// assert_eq!(&codec.encode(&counts)?[..], br#"{"a":1}"#);
/// assert_eq!(counts["a"], 1); // Deref to the inner map
/// # Ok::<(), faust_rs_runtime::codec::CodecError>(())
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The inner value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Json<T> {
    fn from(value: T) -> Self {
        Json(value)
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> Payload for Json<T> {}

macro_rules! payload_with_codec {
    ($codec:literal: $($ty:ty),* $(,)?) => {
        $(impl Payload for $ty {
            const DEFAULT_CODEC: &'static str = $codec;
        })*
    };
}

payload_with_codec!("str": String);
payload_with_codec!("raw": bytes::Bytes, Vec<u8>);
payload_with_codec!(
    "json": bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, char, serde_json::Value
);

#[cfg(test)]
mod tests {
    use super::*;

    fn default_codec<T: Payload>() -> &'static str {
        T::DEFAULT_CODEC
    }

    #[test]
    fn built_in_types_pick_their_default_codec() {
        assert_eq!(default_codec::<String>(), "str");
        assert_eq!(default_codec::<bytes::Bytes>(), "raw");
        assert_eq!(default_codec::<Vec<u8>>(), "raw");
        assert_eq!(default_codec::<u64>(), "json");
        assert_eq!(default_codec::<f32>(), "json");
        assert_eq!(default_codec::<char>(), "json");
        assert_eq!(default_codec::<serde_json::Value>(), "json");
        assert_eq!(default_codec::<Json<Vec<String>>>(), "json");
    }

    #[test]
    fn built_in_types_have_no_namespace_and_always_validate() {
        assert_eq!(<i32 as Payload>::FAUST_NAMESPACE, None);
        assert_eq!(Payload::validate(&-1i32), Ok(()));
    }

    #[test]
    fn json_is_transparent_and_derefs_to_its_value() {
        let mut v: Json<Vec<u32>> = vec![1, 2].into();
        v.push(3);
        assert_eq!(v.len(), 3);
        assert_eq!(serde_json::to_string(&v).unwrap(), "[1,2,3]");
        let back: Json<Vec<u32>> = serde_json::from_str("[1,2,3]").unwrap();
        assert_eq!(back, v);
        assert_eq!(back.into_inner(), vec![1, 2, 3]);
    }
}
