//! Any bytes, decoded and validated as an `Order` record by the `json`
//! codec: never a panic; the value serde reads with the failures
//! `validate()` finds, or a decoding error naming the field; and a decoded
//! order encodes and decodes back to itself.

#![no_main]

use faust::codec::CodecRef;
use faust_rs_fuzz::{Expected, Order, check_decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let expected = if data.is_empty() {
        Expected::Unreadable
    } else {
        Expected::from_serde(serde_json::from_slice::<Order>(data))
    };
    check_decode(&CodecRef::JSON, data, expected, "Order");
});
