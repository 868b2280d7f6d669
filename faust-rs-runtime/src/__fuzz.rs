//! Not API, for the fuzz targets only (`fuzz/fuzz_targets/`, run by
//! `scripts/fuzz`).
//!
//! Thin public handles on the crate-private encoders and decoders of what a
//! worker reads back from disk and from changelog topics: a RocksDB store's
//! meta entries (pure byte decoding, no RocksDB needed), the value of a
//! table's changelog record, window store keys. Each is one call into the
//! real item; nothing here has logic of its own. (A window's store key is
//! encoded by [`__bench::window_store_key`](crate::__bench::window_store_key).)
//! Hidden, unstable, and may change or vanish with any release.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::table::store::disk;

/// The meta key of a RocksDB store's format marker.
pub const STORE_META_FORMAT: &[u8] = disk::META_FORMAT;
/// The format marker's value this build writes and reads.
pub const STORE_FORMAT: &[u8] = disk::FORMAT;
/// The meta key of the last changelog offset a store holds.
pub const STORE_META_OFFSET: &[u8] = disk::META_OFFSET;
/// The prefix of the meta keys of origin offsets.
pub const STORE_META_SOURCE: &[u8] = disk::META_SOURCE;

/// What a store's meta says: the marker is there, the changelog offset,
/// the origin offset per input partition.
pub type StoreMeta = (bool, Option<i64>, HashMap<(Arc<str>, i32), i64>);

/// `disk::read_meta`: a store's meta from the format marker's value, the
/// offset's, and the entries from [`STORE_META_SOURCE`] on, in key order.
///
/// # Errors
///
/// Why the store cannot be used as it is (it is then rebuilt).
pub fn read_store_meta<'a>(
    format: Option<&[u8]>,
    offset: Option<&[u8]>,
    sources: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<StoreMeta, String> {
    disk::read_meta(format, offset, sources.into_iter().map(Ok))
        .map(|meta| (meta.marked, meta.offset, meta.sources))
}

/// `disk::encode_offset`: an offset as a store's meta entries hold it.
pub fn encode_store_offset(offset: i64) -> [u8; 8] {
    disk::encode_offset(offset)
}

/// `disk::source_key`: the meta key of an input partition's origin
/// offset.
pub fn store_source_key(topic: &str, partition: i32) -> Vec<u8> {
    disk::source_key(&(Arc::from(topic), partition))
}

/// `table::changelog_record_value`: the value of the changelog record of
/// a table write of `value` by the event at `origin` (topic, partition,
/// offset). Read back by `faust::table::{changelog_value,
/// changelog_origin}`.
pub fn changelog_record_value(
    origin: Option<(&str, i32, i64)>,
    value: Option<Bytes>,
) -> Option<Bytes> {
    let origin = origin.map(|(topic, partition, offset)| ((Arc::from(topic), partition), offset));
    crate::table::changelog_record_value(origin.as_ref(), value)
}

/// `window::split_store_key`: a window store key's start and table key.
pub fn split_window_store_key(key: &[u8]) -> Option<(i64, &[u8])> {
    crate::window::split_store_key(key)
}
