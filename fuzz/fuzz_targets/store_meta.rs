//! What a RocksDB table store reads back from disk besides the table's
//! data, decoded without RocksDB: the meta column family (format marker,
//! changelog offset, origin offset per input partition) and window store
//! keys.
//!
//! Any meta column family: reading it never panics; it gives the meta, or
//! a reason (the store is then moved aside and rebuilt from the
//! changelog); what it gives is what the entries hold. What a store
//! writes, it reads back the same. Any window store key splits into a
//! start and a table key that make the same key again, and any start and
//! key come back from the key they make.

#![no_main]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use faust_rs_runtime::__bench::window_store_key;
use faust_rs_runtime::__fuzz::{
    STORE_FORMAT, STORE_META_FORMAT, STORE_META_OFFSET, STORE_META_SOURCE, StoreMeta,
    encode_store_offset, read_store_meta, split_window_store_key, store_source_key,
};
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

/// A meta column family, keys in RocksDB's (bytewise) order.
type Family = BTreeMap<Vec<u8>, Vec<u8>>;

/// What a store writes: its changelog offset and the origin offsets it
/// applied, in the order it applied them.
#[derive(Arbitrary, Debug)]
struct Written {
    offset: Option<i64>,
    sources: Vec<(String, i32, i64)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    found: Family,
    written: Written,
    window: (i64, Vec<u8>),
}

fuzz_target!(|data: &[u8]| {
    split_any_window_key(data);
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    read_any(&input.found);
    read_what_was_written(&input.written);
    let (start, key) = &input.window;
    let joined = window_store_key(*start, key);
    assert_eq!(split_window_store_key(&joined), Some((*start, &key[..])));
});

/// Reads `family` as a store does when it opens.
fn read(family: &Family) -> Result<StoreMeta, String> {
    let sources = family
        .range(STORE_META_SOURCE.to_vec()..)
        .map(|(k, v)| (&k[..], &v[..]));
    read_store_meta(
        family.get(STORE_META_FORMAT).map(Vec::as_slice),
        family.get(STORE_META_OFFSET).map(Vec::as_slice),
        sources,
    )
}

fn read_any(family: &Family) {
    match read(family) {
        Ok((marked, offset, sources)) => {
            let format = family.get(STORE_META_FORMAT).map(Vec::as_slice);
            assert_eq!(marked, format == Some(STORE_FORMAT));
            match offset {
                Some(offset) => assert_eq!(
                    family.get(STORE_META_OFFSET).map(Vec::as_slice),
                    Some(&encode_store_offset(offset)[..])
                ),
                None => assert!(!marked || !family.contains_key(STORE_META_OFFSET)),
            }
            for ((topic, partition), offset) in &sources {
                assert_eq!(
                    family.get(&store_source_key(topic, *partition)),
                    Some(&encode_store_offset(*offset).to_vec()),
                    "origin of {topic:?}/{partition} read from no entry"
                );
            }
        }
        Err(reason) => assert!(!reason.is_empty(), "a damaged store without a reason"),
    }
}

fn read_what_was_written(written: &Written) {
    let mut family = Family::new();
    family.insert(STORE_META_FORMAT.to_vec(), STORE_FORMAT.to_vec());
    if let Some(offset) = written.offset {
        family.insert(STORE_META_OFFSET.to_vec(), encode_store_offset(offset).to_vec());
    }
    let mut applied: HashMap<(Arc<str>, i32), i64> = HashMap::new();
    for (topic, partition, offset) in &written.sources {
        // A store raises each input partition's offset, never lowers it.
        let held = applied
            .entry((Arc::from(topic.as_str()), *partition))
            .or_insert(*offset);
        *held = (*held).max(*offset);
        family.insert(store_source_key(topic, *partition), encode_store_offset(*held).to_vec());
    }
    match read(&family) {
        Ok(meta) => assert_eq!(
            meta,
            (true, written.offset, applied),
            "a store read back other meta than it wrote"
        ),
        Err(reason) => panic!("a store cannot read what it wrote ({reason}): {written:?}"),
    }
}

fn split_any_window_key(raw: &[u8]) {
    match split_window_store_key(raw) {
        Some((start, key)) => assert_eq!(&window_store_key(start, key)[..], raw),
        None => assert!(raw.len() < 8, "a key of {} bytes did not split", raw.len()),
    }
}
