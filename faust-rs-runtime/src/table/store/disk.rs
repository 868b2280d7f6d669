//! What a RocksDB store keeps beside the table's own keys and values, as
//! bytes, in its meta column family: the format marker, the last changelog
//! offset the partition holds, and the origin offset applied per input
//! partition. (The standby mark is a key whose presence alone counts; it
//! lives with the RocksDB calls.)
//!
//! Encoded and decoded here, without RocksDB, so that reading a store's
//! meta can be tested (and fuzzed) alone; `rocks` does the reads and
//! writes. Whatever the bytes, decoding gives a value or says why the
//! store cannot be used as it is (it is then moved aside and rebuilt from
//! the changelog); it never panics.

use std::sync::Arc;

use super::{SourceKey, SourceOffsets};

/// The version of the on-disk layout; a store written by another version is
/// rebuilt.
pub(crate) const FORMAT: &[u8] = b"faust-rs/1";
/// The key of the format marker (its value: [`FORMAT`]).
pub(crate) const META_FORMAT: &[u8] = b"format";
/// The key of the last changelog offset the partition holds.
pub(crate) const META_OFFSET: &[u8] = b"changelog-offset";
/// Prefix of the meta keys holding the origin offset applied per input
/// partition (`source/<topic>\0<partition>`).
pub(crate) const META_SOURCE: &[u8] = b"source/";

/// What a partition's meta column family says, read when it opens.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StoredMeta {
    /// The format marker is there (`false`: nothing was ever written by
    /// faust-rs; the store must hold no data then).
    pub(crate) marked: bool,
    /// The last changelog offset the partition holds.
    pub(crate) offset: Option<i64>,
    /// The highest origin offset applied, per input partition.
    pub(crate) sources: SourceOffsets,
}

/// Reads a partition's meta: the value of [`META_FORMAT`], that of
/// [`META_OFFSET`], and the entries from [`META_SOURCE`] on, in key order
/// (read lazily: reading stops at the first key past the origins).
///
/// # Errors
///
/// Why the store cannot be used as it is: another format version, an
/// offset that is not 8 bytes, an error reading an entry.
pub(crate) fn read_meta<K, V>(
    format: Option<&[u8]>,
    offset: Option<&[u8]>,
    sources: impl IntoIterator<Item = Result<(K, V), String>>,
) -> Result<StoredMeta, String>
where
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let (marked, offset) = match format {
        Some(FORMAT) => match offset {
            Some(bytes) => (
                true,
                Some(
                    decode_offset(bytes)
                        .ok_or_else(|| format!("a changelog offset of {} bytes", bytes.len()))?,
                ),
            ),
            None => (true, None),
        },
        Some(other) => {
            return Err(format!(
                "written as {:?}, this build reads {:?}",
                String::from_utf8_lossy(other),
                String::from_utf8_lossy(FORMAT)
            ));
        }
        None => (false, None),
    };
    let mut applied = SourceOffsets::new();
    for entry in sources {
        let (key, value) = entry?;
        let key = key.as_ref();
        if !key.starts_with(META_SOURCE) {
            break;
        }
        // Written by `source_key` alone: a key of another shape is damage,
        // not the end of the origins (reading on past it would drop the
        // origins after it, and exact state with them).
        let source = parse_source_key(key).ok_or_else(|| {
            format!(
                "an origin key {:?} that names no topic and partition",
                String::from_utf8_lossy(key)
            )
        })?;
        let value = value.as_ref();
        let offset = decode_offset(value)
            .ok_or_else(|| format!("an origin offset of {} bytes", value.len()))?;
        applied.insert(source, offset);
    }
    Ok(StoredMeta {
        marked,
        offset,
        sources: applied,
    })
}

/// An offset as the meta entries hold it: 8 bytes, big-endian.
pub(crate) fn encode_offset(offset: i64) -> [u8; 8] {
    offset.to_be_bytes()
}

/// An offset from [`encode_offset`]'s bytes; `None` unless there are 8.
pub(crate) fn decode_offset(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.try_into().ok()?))
}

/// The meta key of `source`'s origin offset.
pub(crate) fn source_key(source: &SourceKey) -> Vec<u8> {
    let mut key = META_SOURCE.to_vec();
    key.extend_from_slice(source.0.as_bytes());
    key.push(0);
    key.extend_from_slice(&source.1.to_be_bytes());
    key
}

/// The source a meta key names, if it is a source key. The partition is
/// the last four bytes, after a NUL: a topic may hold any character.
pub(crate) fn parse_source_key(key: &[u8]) -> Option<SourceKey> {
    let rest = key.strip_prefix(META_SOURCE)?;
    let (topic, partition) = rest.split_last_chunk::<4>()?;
    let topic = std::str::from_utf8(topic.strip_suffix(&[0])?).ok()?;
    Some((Arc::from(topic), i32::from_be_bytes(*partition)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(
        list: &[(Vec<u8>, Vec<u8>)],
    ) -> impl Iterator<Item = Result<(&[u8], &[u8]), String>> {
        list.iter().map(|(k, v)| Ok((&k[..], &v[..])))
    }

    #[test]
    fn meta_written_by_this_build_reads_back() {
        let orders: SourceKey = (Arc::from("orders"), 3);
        let list = vec![(source_key(&orders), encode_offset(41).to_vec())];
        let meta = read_meta(Some(FORMAT), Some(&encode_offset(-7)), entries(&list)).unwrap();
        assert_eq!(
            meta,
            StoredMeta {
                marked: true,
                offset: Some(-7),
                sources: SourceOffsets::from([(orders, 41)]),
            }
        );
    }

    #[test]
    fn another_format_or_a_short_offset_is_damage_named_in_the_reason() {
        let none = entries(&[]);
        let err = read_meta(Some(b"faust-rs/0"), None, none).unwrap_err();
        assert!(
            err.contains("\"faust-rs/0\"") && err.contains("faust-rs/1"),
            "{err}"
        );
        let err = read_meta(Some(FORMAT), Some(b"\x01\x02"), entries(&[])).unwrap_err();
        assert_eq!(err, "a changelog offset of 2 bytes");
        let list = vec![(source_key(&(Arc::from("t"), 0)), vec![1])];
        let err = read_meta(None, None, entries(&list)).unwrap_err();
        assert_eq!(err, "an origin offset of 1 bytes");
    }

    #[test]
    fn origins_of_topics_with_a_nul_read_back() {
        // Found by fuzzing (store_meta): the topic ended at its first NUL,
        // the key did not parse, and reading stopped there, dropping the
        // origins of every topic after it.
        let odd: SourceKey = (Arc::from("a\0b"), 1);
        let next: SourceKey = (Arc::from("b"), 2);
        let list = vec![
            (source_key(&odd), encode_offset(5).to_vec()),
            (source_key(&next), encode_offset(6).to_vec()),
        ];
        let meta = read_meta(Some(FORMAT), None, entries(&list)).unwrap();
        assert_eq!(meta.sources, SourceOffsets::from([(odd, 5), (next, 6)]));
    }

    #[test]
    fn an_origin_key_of_another_shape_is_damage_not_the_end_of_the_origins() {
        let list = vec![
            (b"source/orders".to_vec(), encode_offset(1).to_vec()),
            (source_key(&(Arc::from("t"), 0)), encode_offset(2).to_vec()),
        ];
        let err = read_meta(Some(FORMAT), None, entries(&list)).unwrap_err();
        assert_eq!(
            err,
            "an origin key \"source/orders\" that names no topic and partition"
        );
    }

    #[test]
    fn reading_origins_stops_at_the_first_key_past_them() {
        let list = vec![
            (source_key(&(Arc::from("a"), 0)), encode_offset(1).to_vec()),
            (b"zzz".to_vec(), b"not an offset".to_vec()),
        ];
        let meta = read_meta(None, None, entries(&list)).unwrap();
        assert!(!meta.marked);
        assert_eq!(meta.sources.len(), 1);
    }
}
