//! Any bytes, decoded and validated as an `Order` record by the `msgpack`
//! codec: never a panic; the value `rmp_serde` reads with the failures
//! `validate()` finds, or a decoding error naming the field; and a decoded
//! order encodes (as a map with named fields, as Python Faust writes it)
//! and decodes back to itself.

#![no_main]

use faust::codec::CodecRef;
use faust_rs_fuzz::{Expected, Order, check_decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let expected = if data.is_empty() {
        Expected::Unreadable
    } else {
        Expected::from_serde(rmp_serde::from_slice::<Order>(data))
    };
    check_decode(&CodecRef::MSGPACK, data, expected, "Order");
});
