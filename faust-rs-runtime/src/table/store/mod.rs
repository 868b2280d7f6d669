//! Where a table partition keeps its data: in memory, or in RocksDB.
//!
//! One [`PartitionStore`] per table partition. Both kinds remember the last
//! changelog offset whose write they hold, so a partition that comes back
//! (after a rebalance, or a restart with RocksDB) replays only the
//! changelog past it.
//!
//! RocksDB: one database per table partition, at
//! `DIR/<app id>/v1/<table>/<partition>`. Writes made while processing are
//! buffered and written at each commit (and on revoke and shutdown) in one
//! `WriteBatch` together with the last changelog offset the broker has
//! acknowledged, in a column family of its own (`faust-meta`): data and
//! offset never disagree after a crash. Recovery writes one `WriteBatch`
//! per chunk of changelog records, again with its offset. Every database
//! of the process shares one block cache and one write-buffer budget
//! (`rocksdb_block_cache`, `rocksdb_write_buffer`), which bounds memory
//! however many keys there are.
//!
//! A folder that cannot be opened (corrupt, truncated, written by another
//! format version) is moved aside to `<folder>.broken` and rebuilt from
//! the changelog, with a warning. A folder another process holds is an
//! error: two workers must not share a store folder.

//!
//! Without the `rocksdb` feature (on by default) there is only the memory
//! store, and a `rocksdb://` store URL is a configuration error that says
//! so. What a RocksDB store keeps beside the data is encoded in `disk`,
//! which needs no RocksDB.

pub(crate) mod disk;
#[cfg(feature = "rocksdb")]
mod rocks;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
#[cfg(feature = "rocksdb")]
use std::path::Path;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::error::{Error, Result};
#[cfg(feature = "rocksdb")]
pub(crate) use rocks::RocksEnv;
#[cfg(feature = "rocksdb")]
use rocks::RocksPartition;

/// Which kind of store a table uses, resolved from the app's `store`
/// setting and the table's own `store` option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StoreKind {
    /// In memory: rebuilt from the changelog at every start.
    Memory,
    /// RocksDB under this folder.
    RocksDb(PathBuf),
}

impl StoreKind {
    /// Parses a store URL: `memory://`, `rocksdb://` (folder
    /// `./<app id>-data`) or `rocksdb://DIR`; the last two only in a build
    /// with the `rocksdb` feature.
    pub(crate) fn parse(url: &str, app_id: &str) -> std::result::Result<StoreKind, String> {
        let url = url.trim();
        if url == "memory" || url == "memory://" {
            return Ok(StoreKind::Memory);
        }
        let rest = url
            .strip_prefix("rocksdb://")
            .or_else(|| (url == "rocksdb").then_some(""));
        match rest {
            Some(_) if cfg!(not(feature = "rocksdb")) => Err(format!(
                "store {url:?} needs RocksDB, which this build of faust-rs leaves out; turn on \
                 the `rocksdb` feature of the `faust-rs` dependency (on by default: remove \
                 `default-features = false`, or add `features = [\"rocksdb\"]`), or write \
                 \"memory://\""
            )),
            Some("") => Ok(StoreKind::RocksDb(PathBuf::from(format!("{app_id}-data")))),
            Some(dir) => Ok(StoreKind::RocksDb(PathBuf::from(dir))),
            None => Err(format!(
                "store {url:?} is not a store URL; write \"memory://\" or \"rocksdb://DIR\""
            )),
        }
    }

    /// The store a table uses: its own option when it names a URL, else
    /// the app's. `"rocksdb"` alone takes the app's folder when the app
    /// stores in RocksDB.
    pub(crate) fn for_table(
        table: &str,
        own: Option<&str>,
        app_default: &StoreKind,
        app_id: &str,
    ) -> Result<StoreKind> {
        let parse = |url: &str| {
            StoreKind::parse(url, app_id)
                .map_err(|e| Error::config(format!("table `{table}`: {e}")))
        };
        match own {
            None => Ok(app_default.clone()),
            Some("rocksdb") if matches!(app_default, StoreKind::RocksDb(_)) => {
                Ok(app_default.clone())
            }
            Some(url) => parse(url),
        }
    }
}

/// An input partition: topic and partition.
pub(crate) type SourceKey = (Arc<str>, i32);

/// An offset per input partition: the origins a store has applied, or the
/// offsets a worker resumes from.
pub(crate) type SourceOffsets = HashMap<SourceKey, i64>;

/// A changelog record: its offset, key, value (`None`: a tombstone), and
/// the input event that wrote it (from its `faust.source` header).
#[derive(Clone, Debug)]
pub(crate) struct ChangelogRecord {
    pub(crate) offset: i64,
    pub(crate) key: Bytes,
    pub(crate) value: Option<Bytes>,
    pub(crate) origin: Option<(SourceKey, i64)>,
}

/// Raises `sources`' offset of `key` to `offset`.
fn raise(sources: &mut SourceOffsets, key: &SourceKey, offset: i64) {
    match sources.get_mut(key) {
        Some(o) => *o = (*o).max(offset),
        None => {
            sources.insert(key.clone(), offset);
        }
    }
}

/// One table partition's data.
pub(crate) struct PartitionStore {
    /// `table[partition]`, for messages.
    label: String,
    backend: Backend,
    /// The origins held when the partition was last recovered: events at
    /// or below them are replays and leave the data alone.
    replayed: Mutex<Vec<(SourceKey, i64)>>,
    /// Records read from a changelog it does not own were applied (a
    /// standby): it may hold part of an event that was never committed.
    followed: std::sync::atomic::AtomicBool,
}

enum Backend {
    Memory(Mutex<MemoryData>),
    #[cfg(feature = "rocksdb")]
    Rocks(Arc<RocksPartition>),
}

impl fmt::Debug for PartitionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.backend {
            Backend::Memory(_) => "memory",
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(_) => "rocksdb",
        };
        f.debug_struct("PartitionStore")
            .field("label", &self.label)
            .field("kind", &kind)
            .finish()
    }
}

#[derive(Debug, Default)]
struct MemoryData {
    data: BTreeMap<Bytes, Bytes>,
    applied: Option<i64>,
    sources: SourceOffsets,
}

impl PartitionStore {
    /// An empty store in memory.
    pub(crate) fn memory(label: String) -> Self {
        PartitionStore {
            label,
            backend: Backend::Memory(Mutex::default()),
            replayed: Mutex::default(),
            followed: Default::default(),
        }
    }

    /// Opens (or creates) the RocksDB database at `path`; a damaged one is
    /// moved aside and started empty, to be rebuilt from the changelog.
    #[cfg(feature = "rocksdb")]
    pub(crate) fn rocksdb(label: String, env: &RocksEnv, path: &Path) -> Result<Self> {
        let partition = RocksPartition::open(env, path, &label)?;
        let followed = partition.followed_on_disk();
        let applied = partition.sources();
        Ok(PartitionStore {
            label,
            backend: Backend::Rocks(partition),
            replayed: Mutex::new(applied.into_iter().collect()),
            followed: std::sync::atomic::AtomicBool::new(followed),
        })
    }

    /// The value of `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        match &self.backend {
            Backend::Memory(m) => Ok(lock(m).data.get(key).cloned()),
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => r.get(key).map_err(|e| self.error("reading", e)),
        }
    }

    /// Sets (`Some`) or deletes (`None`) `key`, for the event at `origin`
    /// (`None` outside an event); returns the write's number, for
    /// [`delivered`](Self::delivered).
    pub(crate) fn write(
        &self,
        key: Bytes,
        value: Option<Bytes>,
        origin: Option<(SourceKey, i64)>,
    ) -> Result<u64> {
        self.write_unless(key, value, origin, || false)
            .map(Option::unwrap_or_default)
    }

    /// [`write`](Self::write), unless `revoked` says no: asked under the
    /// store's lock, which a revoke's drop of uncommitted writes takes too,
    /// so a write of an event whose partition is being revoked either
    /// lands before that drop or not at all. `None`: not written.
    pub(crate) fn write_unless(
        &self,
        key: Bytes,
        value: Option<Bytes>,
        origin: Option<(SourceKey, i64)>,
        revoked: impl FnOnce() -> bool,
    ) -> Result<Option<u64>> {
        match &self.backend {
            Backend::Memory(m) => {
                let mut m = lock(m);
                if revoked() {
                    return Ok(None);
                }
                match value {
                    Some(v) => m.data.insert(key, v),
                    None => m.data.remove(&key),
                };
                if let Some((source, offset)) = &origin {
                    raise(&mut m.sources, source, *offset);
                }
                Ok(Some(0))
            }
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => Ok(r.write_unless(key, value, origin, revoked)),
        }
    }

    /// Whether an event at `offset` of `source` was applied before the
    /// last recovery: a replay, whose writes are dropped.
    pub(crate) fn is_replay(&self, source: &SourceKey, offset: i64) -> bool {
        // A few input partitions: a list, matched by pointer first (the
        // topic names are shared) — this runs for every write.
        lock(&self.replayed)
            .iter()
            .find(|(s, _)| (Arc::ptr_eq(&s.0, &source.0) || s.0 == source.0) && s.1 == source.1)
            .is_some_and(|(_, applied)| offset <= *applied)
    }

    /// Takes the origins held now as the replay bound (after recovery),
    /// and forgets that it was a standby.
    pub(crate) fn mark_recovered(&self) -> Result<()> {
        *lock(&self.replayed) = self.sources().into_iter().collect();
        if self
            .followed
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            self.write_followed(false)?;
        }
        Ok(())
    }

    /// Writes under exact state: buffered writes go to disk only as
    /// commits cover them, also when the buffer is full.
    #[cfg_attr(not(feature = "rocksdb"), allow(unused_variables))]
    pub(crate) fn set_exact(&self, exact: bool) {
        match &self.backend {
            // Memory buffers nothing.
            Backend::Memory(_) => {}
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => r.set_exact(exact),
        }
    }

    /// The highest origin offset applied, per input partition.
    pub(crate) fn sources(&self) -> SourceOffsets {
        match &self.backend {
            Backend::Memory(m) => lock(m).sources.clone(),
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => r.sources(),
        }
    }

    /// Notes that records read from a changelog this worker does not own
    /// were applied (a standby); on disk too, for a restart.
    pub(crate) fn mark_followed(&self) -> Result<()> {
        if !self
            .followed
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            self.write_followed(true)?;
        }
        Ok(())
    }

    /// Writes the standby mark to disk (RocksDB; memory has no disk).
    #[cfg_attr(not(feature = "rocksdb"), allow(unused_variables))]
    fn write_followed(&self, followed: bool) -> Result<()> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => r
                .set_followed(followed)
                .map_err(|e| self.error("writing the standby mark of", e)),
        }
    }

    /// Whether standby records were applied since the last recovery.
    pub(crate) fn was_followed(&self) -> bool {
        self.followed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Number of keys (RocksDB: counted by a scan).
    pub(crate) fn len(&self) -> Result<usize> {
        match &self.backend {
            Backend::Memory(m) => Ok(lock(m).data.len()),
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => {
                let mut n = 0;
                r.scan(&mut |_, _| n += 1)
                    .map_err(|e| self.error("counting", e))?;
                Ok(n)
            }
        }
    }

    /// Every key and value, in key order.
    pub(crate) fn items(&self) -> Result<Vec<(Bytes, Bytes)>> {
        self.range(b"", None)
    }

    /// The keys and values from `from` (inclusive) to `to` (exclusive; `None`:
    /// to the end), in key order.
    pub(crate) fn range(&self, from: &[u8], to: Option<&[u8]>) -> Result<Vec<(Bytes, Bytes)>> {
        let before_end = |k: &[u8]| to.is_none_or(|to| k < to);
        match &self.backend {
            Backend::Memory(m) => Ok(lock(m)
                .data
                .range::<[u8], _>((std::ops::Bound::Included(from), std::ops::Bound::Unbounded))
                .take_while(|(k, _)| before_end(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()),
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => {
                let mut out = Vec::new();
                r.scan_from(from, &mut |k, v| {
                    if !before_end(k) {
                        return false;
                    }
                    out.push((Bytes::copy_from_slice(k), Bytes::copy_from_slice(v)));
                    true
                })
                .map_err(|e| self.error("reading", e))?;
                Ok(out)
            }
        }
    }

    /// The first key at or after `from`.
    pub(crate) fn first_key_from(&self, from: &[u8]) -> Result<Option<Bytes>> {
        match &self.backend {
            Backend::Memory(m) => Ok(lock(m)
                .data
                .range::<[u8], _>((std::ops::Bound::Included(from), std::ops::Bound::Unbounded))
                .next()
                .map(|(k, _)| k.clone())),
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => {
                let mut first = None;
                r.scan_from(from, &mut |k, _| {
                    first = Some(Bytes::copy_from_slice(k));
                    false
                })
                .map_err(|e| self.error("reading", e))?;
                Ok(first)
            }
        }
    }

    /// The last key.
    pub(crate) fn last_key(&self) -> Result<Option<Bytes>> {
        match &self.backend {
            Backend::Memory(m) => Ok(lock(m).data.keys().next_back().cloned()),
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => r.last_live_key().map_err(|e| self.error("reading", e)),
        }
    }

    /// The last changelog offset whose write this store holds.
    pub(crate) fn applied_offset(&self) -> Option<i64> {
        match &self.backend {
            Backend::Memory(m) => lock(m).applied,
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => r.applied(),
        }
    }

    /// Applies changelog records in offset order (recovery, standbys),
    /// skipping those at or below the offset already held; `through` is
    /// the last offset read, past records left out on purpose. In
    /// RocksDB, one `WriteBatch` with the new offset and origins.
    pub(crate) fn apply_changelog(
        &self,
        records: &[ChangelogRecord],
        through: Option<i64>,
    ) -> Result<()> {
        match &self.backend {
            Backend::Memory(m) => {
                let mut m = lock(m);
                for record in records {
                    if m.applied.is_some_and(|a| record.offset <= a) {
                        continue;
                    }
                    match &record.value {
                        Some(v) => m.data.insert(record.key.clone(), v.clone()),
                        None => m.data.remove(&record.key),
                    };
                    if let Some((source, offset)) = &record.origin {
                        raise(&mut m.sources, source, *offset);
                    }
                    m.applied = Some(record.offset);
                }
                if let Some(through) = through {
                    m.applied = Some(m.applied.map_or(through, |a| a.max(through)));
                }
                Ok(())
            }
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => r
                .apply(records, through)
                .map_err(|e| self.error("recovering", e)),
        }
    }

    /// Writes what RocksDB holds in memory for this partition into its data
    /// files (after a long replay), so the next open has no write-ahead log
    /// to replay. Nothing to do in memory.
    pub(crate) fn persist(&self) -> Result<()> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => r.persist().map_err(|e| self.error("persisting", e)),
        }
    }

    /// Notes that the broker holds write `seq`'s changelog record at
    /// `offset`.
    #[cfg_attr(not(feature = "rocksdb"), allow(unused_variables))]
    pub(crate) fn delivered(&self, seq: u64, offset: i64) {
        match &self.backend {
            Backend::Memory(m) => {
                let mut m = lock(m);
                m.applied = Some(m.applied.map_or(offset, |a| a.max(offset)));
            }
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => r.delivered(seq, offset),
        }
    }

    /// Writes buffered entries to disk, with their changelog offset and
    /// origins. Under exact state ([`set_exact`](Self::set_exact)), only
    /// the leading entries whose changelog record is on the broker and
    /// whose event is below its input partition's offset in `committed`
    /// (the committable offsets): the disk never holds part of an event,
    /// nor an event a crash would replay. At least once, all of them.
    #[cfg_attr(not(feature = "rocksdb"), allow(unused_variables))]
    pub(crate) fn flush(&self, committed: &SourceOffsets) -> Result<()> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => r.flush(committed).map_err(|e| self.error("flushing", e)),
        }
    }

    /// Forgets buffered entries not on disk (the partition goes to another
    /// worker, which replays their events).
    pub(crate) fn discard_buffered(&self) {
        match &self.backend {
            Backend::Memory(_) => {}
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => r.discard_buffered(),
        }
    }

    /// The partition goes to another worker, or through a rebalance
    /// (exact state): whatever holds writes of events not below their
    /// offset in `committed` is dropped — buffered writes of RocksDB, the
    /// whole data of a memory store that has some (rebuilt from the
    /// changelog if the partition comes back).
    pub(crate) fn revoked(&self, committed: &SourceOffsets) -> Result<()> {
        match &self.backend {
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(_) => {
                self.discard_buffered();
                Ok(())
            }
            Backend::Memory(_) if self.holds_from(committed, true) => self.clear(),
            Backend::Memory(_) => Ok(()),
        }
    }

    /// Whether the store holds writes of an event at or past its input
    /// partition's offset in `offsets`; `unknown`: what an input partition
    /// `offsets` does not name counts as.
    pub(crate) fn holds_from(&self, offsets: &SourceOffsets, unknown: bool) -> bool {
        self.sources()
            .iter()
            .any(|(source, offset)| offsets.get(source).map_or(unknown, |next| offset >= next))
    }

    /// Drops every key, the offset and the origins: the next recovery
    /// starts at 0.
    pub(crate) fn clear(&self) -> Result<()> {
        lock(&self.replayed).clear();
        match &self.backend {
            Backend::Memory(m) => {
                *lock(m) = MemoryData::default();
                Ok(())
            }
            #[cfg(feature = "rocksdb")]
            Backend::Rocks(r) => r.clear().map_err(|e| self.error("clearing", e)),
        }
    }

    #[cfg(feature = "rocksdb")]
    fn error(&self, doing: &str, e: rocksdb::Error) -> Error {
        let folder = match &self.backend {
            Backend::Rocks(r) => format!(" ({})", r.path().display()),
            Backend::Memory(_) => String::new(),
        };
        let mut reason = e.into_string();
        // RocksDB says "No space left on device" (the OS's ENOSPC) or
        // "NoSpace" (its own status, once it stops writing).
        if reason.contains("No space left") || reason.contains("NoSpace") {
            reason.push_str(
                "; free space on that disk: until then the table's writes wait in memory \
                 (its changelog has them) and each commit tries again",
            );
        }
        Error::Store {
            what: format!("{doing} table partition {}{folder}", self.label),
            reason,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_parse_and_tables_pick_theirs_or_the_apps() {
        let memory = StoreKind::parse("memory://", "app").unwrap();
        assert_eq!(memory, StoreKind::Memory);
        assert_eq!(
            StoreKind::parse("rocksdb://", "app").unwrap(),
            StoreKind::RocksDb("app-data".into())
        );
        let rocks = StoreKind::parse("rocksdb:///var/lib/faust", "app").unwrap();
        assert_eq!(rocks, StoreKind::RocksDb("/var/lib/faust".into()));
        let err = StoreKind::parse("redis://x", "app").unwrap_err();
        assert!(err.contains("rocksdb://DIR"), "{err}");
        assert_eq!(
            StoreKind::for_table("t", Some("rocksdb"), &rocks, "app").unwrap(),
            rocks
        );
        assert_eq!(
            StoreKind::for_table("t", Some("rocksdb"), &memory, "app").unwrap(),
            StoreKind::RocksDb("app-data".into())
        );
        assert_eq!(
            StoreKind::for_table("t", Some("memory"), &rocks, "app").unwrap(),
            StoreKind::Memory
        );
        assert_eq!(
            StoreKind::for_table("t", None, &rocks, "app").unwrap(),
            rocks
        );
    }
}
