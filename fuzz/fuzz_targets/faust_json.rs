//! Any bytes, decoded as a record declared with a Python Faust namespace
//! (`#[record(namespace = "shop.models.Order")]`) from the JSON a Python
//! Faust app writes (`{"account": ..., "__faust": {"ns": ...}}`): never a
//! panic; the `__faust` entry and unknown fields are ignored wherever they
//! are (the codec reads what serde reads); and a decoded order encodes with
//! `json` and `msgpack` as Python Faust reads it, its fields then
//! `"__faust": {"ns": "shop.models.Order"}`, and decodes back to itself.

#![no_main]

use faust::codec::CodecRef;
use faust_rs_fuzz::{Expected, PY_ORDER_NS, PyOrder, check_decode, round_trip};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let expected = if data.is_empty() {
        Expected::Unreadable
    } else {
        Expected::from_serde(serde_json::from_slice::<PyOrder>(data))
    };
    let Some(order) = check_decode(&CodecRef::JSON, data, expected, "PyOrder") else {
        return;
    };
    let fields = serde_json::to_value(&order).expect("an order is JSON");

    let json = CodecRef::JSON.encode(&order).expect("an order encodes as json");
    let tail = format!(r#","__faust":{{"ns":"{PY_ORDER_NS}"}}}}"#);
    assert!(
        json.ends_with(tail.as_bytes()),
        "json does not end with the namespace: {}",
        String::from_utf8_lossy(&json)
    );
    let written: Value = serde_json::from_slice(&json).expect("the codec writes JSON");
    check_envelope(written, &fields);

    let msgpack = CodecRef::MSGPACK.encode(&order).expect("an order encodes as msgpack");
    let written: Value = rmp_serde::from_slice(&msgpack).expect("the codec writes MessagePack");
    check_envelope(written, &fields);
    round_trip(&CodecRef::MSGPACK, &order);
});

/// `written` is the record's fields plus `"__faust": {"ns": ...}`.
fn check_envelope(written: Value, fields: &Value) {
    let Value::Object(mut written) = written else {
        panic!("a record is not written as a map: {written}");
    };
    assert_eq!(written.remove("__faust"), Some(json!({ "ns": PY_ORDER_NS })));
    assert_eq!(&Value::Object(written), fields);
}
