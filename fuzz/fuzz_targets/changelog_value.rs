//! Table changelog values, as a worker writes them and as readers
//! (recovery, `faust::table::{changelog_value, changelog_origin}`) read
//! them back.
//!
//! Any bytes read as a changelog value: never a panic; a value whose frame
//! names an origin is exactly that frame around the value (framing it again
//! gives the same bytes); one without a frame is the value as it is. And
//! any table write (a value or a delete, with or without the input event
//! that made it) reads back as what was written: the same value, the same
//! origin, a tombstone for a delete.

#![no_main]

use bytes::Bytes;
use faust::table::{changelog_origin, changelog_value};
use faust_rs_runtime::__fuzz::changelog_record_value;
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

/// A table write: the input event's topic, partition and offset, and the
/// value (`None`: a delete).
#[derive(Arbitrary, Debug)]
struct Write {
    origin: Option<(String, i32, i64)>,
    value: Option<Vec<u8>>,
}

fuzz_target!(|data: &[u8]| {
    read_any(data);
    if let Ok(write) = Write::arbitrary_take_rest(Unstructured::new(data)) {
        write_then_read(&write);
    }
});

fn read_any(raw: &[u8]) {
    let value = changelog_value(raw);
    match changelog_origin(raw) {
        Some(origin) => {
            let again = changelog_record_value(Some(origin), Some(Bytes::copy_from_slice(value)));
            assert_eq!(
                again.as_deref(),
                Some(raw),
                "the frame of {origin:?} around {value:?} is not the bytes read"
            );
        }
        None => assert_eq!(value, raw, "a value without a frame was changed"),
    }
}

fn write_then_read(write: &Write) {
    let origin = write.origin.as_ref().map(|(t, p, o)| (t.as_str(), *p, *o));
    let record = changelog_record_value(origin, write.value.clone().map(Bytes::from));
    let Some(value) = &write.value else {
        assert_eq!(record, None, "a delete must be a tombstone");
        return;
    };
    let Some(record) = record else {
        panic!("a write of {value:?} gave a tombstone");
    };
    assert_eq!(changelog_value(&record), &value[..], "{write:?} read back another value");
    assert_eq!(changelog_origin(&record), origin, "{write:?} read back another origin");
}
