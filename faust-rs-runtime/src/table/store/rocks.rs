//! The RocksDB store (the `rocksdb` feature): one database per table
//! partition, its buffered writes, and the options all databases of the
//! process share. What it keeps beside the table's data is encoded in
//! `disk`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use bytes::Bytes;

use super::disk::{self, META_FORMAT, META_OFFSET, META_SOURCE, encode_offset, source_key};
use super::{ChangelogRecord, SourceKey, SourceOffsets, lock, raise};
use crate::app::config::RocksDbSettings;
use crate::error::{Error, Result};

/// The column family of the meta entries (see `disk`).
const META_CF: &str = "faust-meta";
/// Present while the partition holds standby records (see
/// `PartitionStore::was_followed`).
const META_FOLLOWED: &[u8] = b"followed";

/// Written buffered entries are flushed once this many are pending, even
/// before the next commit: bounds the buffer's memory.
const FLUSH_AT: usize = 16_384;

/// The RocksDB options every partition database of the process shares.
pub(crate) struct RocksEnv {
    options: rocksdb::Options,
}

impl fmt::Debug for RocksEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksEnv").finish_non_exhaustive()
    }
}

impl RocksEnv {
    /// Options from the settings, with one block cache and one write
    /// buffer budget for all databases.
    pub(crate) fn new(settings: &RocksDbSettings) -> Result<RocksEnv> {
        let cache = rocksdb::Cache::new_lru_cache(settings.block_cache as usize);
        let write_buffers = rocksdb::WriteBufferManager::new_write_buffer_manager_with_cache(
            settings.write_buffer as usize,
            false,
            cache.clone(),
        );
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_atomic_flush(true);
        options.set_block_based_table_factory(&table);
        options.set_write_buffer_manager(&write_buffers);
        // Each partition's memtable; the shared budget above caps the sum.
        options.set_write_buffer_size((settings.write_buffer as usize / 4).max(1 << 20));
        options.set_max_write_buffer_number(2);
        options.set_max_open_files(settings.max_open_files);
        options.set_compression_type(compression(&settings.compression)?);
        options.set_keep_log_file_num(2);
        options.set_max_background_jobs(2);
        Ok(RocksEnv { options })
    }

    /// The process-wide environment for `settings` (the first call's
    /// settings win: one cache per process).
    pub(crate) fn shared(settings: &RocksDbSettings) -> Result<Arc<RocksEnv>> {
        static ENV: OnceLock<Arc<RocksEnv>> = OnceLock::new();
        if let Some(env) = ENV.get() {
            return Ok(env.clone());
        }
        let env = Arc::new(RocksEnv::new(settings)?);
        Ok(ENV.get_or_init(|| env).clone())
    }
}

fn compression(name: &str) -> Result<rocksdb::DBCompressionType> {
    match name {
        "none" => Ok(rocksdb::DBCompressionType::None),
        "lz4" => Ok(rocksdb::DBCompressionType::Lz4),
        "zstd" => Ok(rocksdb::DBCompressionType::Zstd),
        other => Err(Error::config(format!(
            "rocksdb_compression = {other:?}: expected \"none\", \"lz4\" or \"zstd\""
        ))),
    }
}

/// Raises `seen`'s offset of `key` to `offset` (a batch's few input
/// partitions: a list beats a map).
fn raise_ref<'a>(seen: &mut Vec<(&'a SourceKey, i64)>, key: &'a SourceKey, offset: i64) {
    match seen.iter_mut().find(|(k, _)| *k == key) {
        Some((_, o)) => *o = (*o).max(offset),
        None => seen.push((key, offset)),
    }
}

/// A RocksDB database holding one table partition.
pub(super) struct RocksPartition {
    /// The open database. After a failed write (a full disk, an I/O
    /// error) RocksDB refuses every later write until it is opened again:
    /// the next flush swaps in a fresh handle (see `reopen`).
    db: RwLock<Arc<rocksdb::DB>>,
    /// A write failed since the database was opened.
    stuck: AtomicBool,
    /// The options it was opened with, to open it again.
    options: rocksdb::Options,
    path: PathBuf,
    pub(super) pending: Mutex<PendingWrites>,
}

/// Writes not yet in RocksDB, in the order they were made, and offsets.
#[derive(Default)]
pub(super) struct PendingWrites {
    /// The latest buffered value of each key (`None`: deleted), with the
    /// number of the write that set it: what reads see over the disk.
    overlay: BTreeMap<Bytes, (u64, Option<Bytes>)>,
    /// Buffered writes, oldest first; the first has number `first_seq`.
    log: std::collections::VecDeque<Entry>,
    first_seq: u64,
    /// The highest changelog offset the broker acknowledged.
    delivered: Option<i64>,
    /// The offset on disk.
    persisted: Option<i64>,
    /// The highest origin offset on disk, per input partition.
    sources: SourceOffsets,
    /// The committable offsets of the last flush, for flushes the
    /// buffer's size forces between commits (exact state).
    committed: SourceOffsets,
    /// Exact state: even forced flushes write only committable events.
    exact: bool,
    /// Writes numbered below it were dropped (revoke, clear): their late
    /// acknowledgements count for nothing.
    valid_from: u64,
    /// The buffer length that forces the next early flush.
    flush_at: usize,
}

/// One buffered write.
struct Entry {
    key: Bytes,
    value: Option<Bytes>,
    origin: Option<(SourceKey, i64)>,
    /// Its changelog record's offset, once the broker has it.
    offset: Option<i64>,
}

impl Entry {
    /// Whether it may go to disk: everything may at least once; under
    /// exact state, once its record is on the broker and its event is
    /// committable.
    /// `last` keeps the last input partition looked up (entries come in
    /// runs of one).
    fn flushable<'a>(
        &'a self,
        committed: Option<&SourceOffsets>,
        last: &mut Option<(&'a SourceKey, Option<i64>)>,
    ) -> bool {
        let Some(committed) = committed else {
            return true;
        };
        if self.offset.is_none() {
            return false;
        }
        let Some((source, offset)) = &self.origin else {
            return true;
        };
        let next = match last {
            Some((s, next)) if Arc::ptr_eq(&s.0, &source.0) && s.1 == source.1 => *next,
            _ => {
                let next = committed.get(source).copied();
                *last = Some((source, next));
                next
            }
        };
        next.is_some_and(|next| *offset < next)
    }
}

/// Databases open in this process, by folder: a partition revoked and
/// assigned again, or opened by a second app in the same process, shares
/// the one handle (RocksDB allows one per folder).
fn open_databases() -> &'static Mutex<HashMap<PathBuf, Weak<RocksPartition>>> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<RocksPartition>>>> = OnceLock::new();
    OPEN.get_or_init(Mutex::default)
}

impl RocksPartition {
    pub(super) fn open(env: &RocksEnv, path: &Path, label: &str) -> Result<Arc<RocksPartition>> {
        let mut open = lock(open_databases());
        open.retain(|_, weak| weak.strong_count() > 0);
        if let Some(existing) = open.get(path).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        let partition = Arc::new(Self::open_or_rebuild(env, path, label)?);
        open.insert(path.to_owned(), Arc::downgrade(&partition));
        Ok(partition)
    }

    fn open_or_rebuild(env: &RocksEnv, path: &Path, label: &str) -> Result<RocksPartition> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::Store {
                what: format!("creating the store folder `{}`", parent.display()),
                reason: e.to_string(),
            })?;
        }
        let problem = match Self::try_open(env, path) {
            Ok(db) => return Ok(db),
            Err(Damage::InUse(e)) => {
                return Err(Error::config(format!(
                    "table partition {label}: the store folder `{}` is in use by another \
                     process ({e}); give each worker its own folder, e.g. \
                     store = \"rocksdb://worker-2-data\"",
                    path.display()
                )));
            }
            Err(Damage::Damaged(why)) => why,
        };
        let aside = PathBuf::from(format!("{}.broken", path.display()));
        tracing::warn!(
            "table partition {label}: the store `{}` cannot be used ({problem}); moving it to \
             `{}` and rebuilding it from the changelog",
            path.display(),
            aside.display()
        );
        let _ = std::fs::remove_dir_all(&aside);
        std::fs::rename(path, &aside).map_err(|e| Error::Store {
            what: format!(
                "moving the damaged store `{}` aside to `{}`",
                path.display(),
                aside.display()
            ),
            reason: format!("{e}; remove the folder by hand and start again"),
        })?;
        Self::try_open(env, path).map_err(|d| Error::Store {
            what: format!("creating a new store at `{}`", path.display()),
            reason: match d {
                Damage::InUse(e) | Damage::Damaged(e) => e,
            },
        })
    }

    /// The column families of a partition database.
    fn column_families(options: &rocksdb::Options) -> [rocksdb::ColumnFamilyDescriptor; 2] {
        [
            rocksdb::ColumnFamilyDescriptor::new(
                rocksdb::DEFAULT_COLUMN_FAMILY_NAME,
                options.clone(),
            ),
            rocksdb::ColumnFamilyDescriptor::new(META_CF, options.clone()),
        ]
    }

    fn try_open(env: &RocksEnv, path: &Path) -> std::result::Result<RocksPartition, Damage> {
        let cfs = Self::column_families(&env.options);
        let db = rocksdb::DB::open_cf_descriptors(&env.options, path, cfs).map_err(|e| {
            let text = e.clone().into_string();
            if text.contains("lock") && !text.contains("No such file") {
                Damage::InUse(text)
            } else {
                Damage::Damaged(text)
            }
        })?;
        let damaged = |e: rocksdb::Error| Damage::Damaged(e.into_string());
        let meta = db
            .cf_handle(META_CF)
            .ok_or_else(|| Damage::Damaged(format!("no `{META_CF}` column family")))?;
        let format = db.get_cf(meta, META_FORMAT).map_err(damaged)?;
        let offset = db.get_cf(meta, META_OFFSET).map_err(damaged)?;
        let mode = rocksdb::IteratorMode::From(META_SOURCE, rocksdb::Direction::Forward);
        let sources = db
            .iterator_cf(meta, mode)
            .map(|item| item.map_err(rocksdb::Error::into_string));
        let stored = disk::read_meta(format.as_deref(), offset.as_deref(), sources)
            .map_err(Damage::Damaged)?;
        if !stored.marked {
            let empty = db.iterator(rocksdb::IteratorMode::Start).next().is_none();
            if !empty {
                return Err(Damage::Damaged("data without a format marker".into()));
            }
            db.put_cf(meta, META_FORMAT, disk::FORMAT)
                .map_err(damaged)?;
        }
        Ok(RocksPartition {
            db: RwLock::new(Arc::new(db)),
            stuck: AtomicBool::new(false),
            options: env.options.clone(),
            path: path.to_owned(),
            pending: Mutex::new(PendingWrites {
                persisted: stored.offset,
                delivered: stored.offset,
                sources: stored.sources,
                ..PendingWrites::default()
            }),
        })
    }

    /// Whether the partition was last a standby (records of a changelog
    /// it did not own applied), as the disk says.
    pub(super) fn followed_on_disk(&self) -> bool {
        let db = self.db();
        matches!(db.get_cf(meta(&db), META_FOLLOWED), Ok(Some(_)))
    }

    pub(super) fn set_followed(&self, followed: bool) -> std::result::Result<(), rocksdb::Error> {
        let db = self.db();
        if followed {
            db.put_cf(meta(&db), META_FOLLOWED, b"1")
        } else {
            db.delete_cf(meta(&db), META_FOLLOWED)
        }
    }

    /// The database handle now (a flush may swap in a fresh one).
    fn db(&self) -> Arc<rocksdb::DB> {
        self.db.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The handle to write with: reopened first if a write failed since
    /// it was opened (see `reopen`).
    fn writable_db(&self) -> std::result::Result<Arc<rocksdb::DB>, rocksdb::Error> {
        if self.stuck.load(Ordering::Relaxed) {
            self.reopen()?;
        }
        Ok(self.db())
    }

    /// Writes `batch`; a failure marks the database for reopening.
    fn write_batch(
        &self,
        db: &rocksdb::DB,
        batch: rocksdb::WriteBatch,
    ) -> std::result::Result<(), rocksdb::Error> {
        let result = db.write(batch);
        if result.is_err() {
            self.stuck.store(true, Ordering::Relaxed);
        }
        result
    }

    /// After a failed write: RocksDB keeps refusing writes (its background
    /// error) even once the disk has space again, until the database is
    /// opened anew. A read-only handle stands in meanwhile, so reads go on
    /// whatever happens; then the database is opened for writing again,
    /// replaying its log. Should that fail (the disk still full), the
    /// read-only handle stays and the next flush tries again. Nothing
    /// buffered is lost either way: the buffer is only drained by a write
    /// that succeeded.
    fn reopen(&self) -> std::result::Result<(), rocksdb::Error> {
        let mut current = self.db.write().unwrap_or_else(|e| e.into_inner());
        let cfs = Self::column_families(&self.options);
        let read_only =
            rocksdb::DB::open_cf_descriptors_read_only(&self.options, &self.path, cfs, false)?;
        // The failed handle closes here (unless a reader still holds it:
        // then the open below finds the folder locked, and the next flush
        // tries again).
        *current = Arc::new(read_only);
        let cfs = Self::column_families(&self.options);
        let fresh = rocksdb::DB::open_cf_descriptors(&self.options, &self.path, cfs)?;
        *current = Arc::new(fresh);
        self.stuck.store(false, Ordering::Relaxed);
        tracing::info!(
            store = %self.path.display(),
            "the store writes again (reopened after a failed write)"
        );
        Ok(())
    }

    /// Raises `applied` to `seen` (the highest origin per input partition
    /// of a batch) and puts each raised offset in `batch`, once.
    fn write_sources(
        meta: &rocksdb::ColumnFamily,
        batch: &mut rocksdb::WriteBatch,
        applied: &mut SourceOffsets,
        seen: Vec<(&SourceKey, i64)>,
    ) {
        for (source, offset) in seen {
            raise(applied, source, offset);
            batch.put_cf(meta, source_key(source), encode_offset(applied[source]));
        }
    }

    /// The database's folder.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn get(&self, key: &[u8]) -> std::result::Result<Option<Bytes>, rocksdb::Error> {
        {
            let pending = lock(&self.pending);
            if let Some((_, value)) = pending.overlay.get(key) {
                return Ok(value.clone());
            }
        }
        Ok(self
            .db()
            .get_pinned(key)?
            .map(|v| Bytes::copy_from_slice(&v)))
    }

    /// Buffers a write and returns its number, unless `revoked` says no
    /// (asked under the buffer's lock, which a revoke's discard takes too).
    pub(super) fn write_unless(
        &self,
        key: Bytes,
        value: Option<Bytes>,
        origin: Option<(SourceKey, i64)>,
        revoked: impl FnOnce() -> bool,
    ) -> Option<u64> {
        let mut pending = lock(&self.pending);
        if revoked() {
            return None;
        }
        let seq = pending.first_seq + pending.log.len() as u64;
        pending.overlay.insert(key.clone(), (seq, value.clone()));
        pending.log.push_back(Entry {
            key,
            value,
            origin,
            offset: None,
        });
        // A full buffer is written out early (at least once: all of it;
        // under exact state what commits cover), then again only after as
        // many more writes: what no commit covers stays however long.
        // A failed early flush (a full disk) fails nothing: the write is
        // buffered, its changelog record on its way, and the next commit
        // tries again and reports it.
        if pending.log.len() >= pending.flush_at.max(FLUSH_AT) {
            if let Err(e) = self.flush_locked(&mut pending) {
                tracing::warn!(
                    store = %self.path.display(),
                    buffered = pending.log.len(),
                    "early flush of a full write buffer failed: {e}; kept in memory until a commit writes it"
                );
            }
            pending.flush_at = pending.log.len() + FLUSH_AT;
        }
        Some(seq)
    }

    pub(super) fn delivered(&self, seq: u64, offset: i64) {
        let mut pending = lock(&self.pending);
        if seq < pending.valid_from {
            return;
        }
        pending.delivered = Some(pending.delivered.map_or(offset, |d| d.max(offset)));
        if let Some(index) = seq.checked_sub(pending.first_seq)
            && let Some(entry) = pending.log.get_mut(index as usize)
        {
            entry.offset = Some(offset);
        }
    }

    /// Writes under exact state (see `PartitionStore::set_exact`).
    pub(super) fn set_exact(&self, exact: bool) {
        lock(&self.pending).exact = exact;
    }

    /// The highest origin offset on disk, per input partition.
    pub(super) fn sources(&self) -> SourceOffsets {
        lock(&self.pending).sources.clone()
    }

    /// Forgets buffered entries not on disk (see
    /// `PartitionStore::discard_buffered`).
    pub(super) fn discard_buffered(&self) {
        let mut pending = lock(&self.pending);
        pending.first_seq += pending.log.len() as u64;
        pending.valid_from = pending.first_seq;
        pending.log.clear();
        pending.overlay.clear();
        // What the disk holds: recovery reads the changelog past it.
        pending.delivered = pending.persisted;
    }

    pub(super) fn applied(&self) -> Option<i64> {
        lock(&self.pending).delivered
    }

    pub(super) fn flush(
        &self,
        committed: &SourceOffsets,
    ) -> std::result::Result<(), rocksdb::Error> {
        let mut pending = lock(&self.pending);
        if pending.exact {
            pending.committed.clone_from(committed);
        }
        self.flush_locked(&mut pending)
    }

    /// Writes the leading flushable entries (all of them at least once;
    /// under exact state, by the committable offsets last noted) with
    /// their offset and origins in one batch.
    fn flush_locked(&self, pending: &mut PendingWrites) -> std::result::Result<(), rocksdb::Error> {
        let committed = pending.exact.then_some(&pending.committed);
        let mut last: Option<(&SourceKey, Option<i64>)> = None;
        let mut count = pending
            .log
            .iter()
            .take_while(|e| e.flushable(committed, &mut last))
            .count();
        // Under exact state the cut falls between events: an event with a
        // write left behind (another agent's, or a concurrent handler's,
        // interleaved) stays whole in the buffer.
        if committed.is_some() && count > 0 && count < pending.log.len() {
            let mut left: HashMap<&SourceKey, i64> = HashMap::new();
            for entry in pending.log.iter().skip(count) {
                if let Some((source, offset)) = &entry.origin {
                    let min = left.entry(source).or_insert(*offset);
                    *min = (*min).min(*offset);
                }
            }
            if let Some(cut) = pending.log.iter().take(count).position(|e| {
                e.origin
                    .as_ref()
                    .is_some_and(|(source, offset)| left.get(source).is_some_and(|m| offset >= m))
            }) {
                count = cut;
            }
        }
        // At least once, the offset is the highest acknowledged one, as the
        // store holds every write; under exact state, that of the last
        // entry written.
        let mut offset = match committed {
            None => pending.delivered,
            Some(_) => pending.persisted,
        };
        if count == 0 && offset == pending.persisted {
            return Ok(());
        }
        let db = self.writable_db()?;
        let mut batch = rocksdb::WriteBatch::default();
        let next_seq = pending.first_seq + count as u64;
        // One put per key, the last value the flushed entries give it, in
        // key order: RocksDB's memtable takes a sorted batch of distinct
        // keys fastest, and a table updated many times per key between
        // flushes (a count) writes each key once.
        if count == pending.log.len() {
            // Everything goes: the overlay holds each key's last write,
            // sorted.
            for (key, (_, value)) in &pending.overlay {
                match value {
                    Some(v) => batch.put(key, v),
                    None => batch.delete(key),
                }
            }
        } else {
            let mut last: HashMap<&Bytes, &Option<Bytes>> = HashMap::with_capacity(count);
            for entry in pending.log.iter().take(count) {
                last.insert(&entry.key, &entry.value);
            }
            // A key the overlay no longer has was replaced by a changelog
            // record since (`apply`): the changelog is the newer truth, as
            // in the branch above.
            let mut last: Vec<_> = last
                .into_iter()
                .filter(|(key, _)| pending.overlay.contains_key(*key))
                .collect();
            last.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (key, value) in last {
                match value {
                    Some(v) => batch.put(key, v),
                    None => batch.delete(key),
                }
            }
        }
        let mut sources: Vec<(&SourceKey, i64)> = Vec::new();
        for entry in pending.log.iter().take(count) {
            if committed.is_some()
                && let Some(o) = entry.offset
            {
                offset = Some(offset.map_or(o, |p| p.max(o)));
            }
            if let Some((source, o)) = &entry.origin {
                raise_ref(&mut sources, source, *o);
            }
        }
        Self::write_sources(meta(&db), &mut batch, &mut pending.sources, sources);
        if let Some(offset) = offset {
            batch.put_cf(meta(&db), META_OFFSET, encode_offset(offset));
        }
        self.write_batch(&db, batch)?;
        pending.persisted = offset;
        for entry in pending.log.drain(..count) {
            if pending
                .overlay
                .get(&entry.key)
                .is_some_and(|(seq, _)| *seq < next_seq)
            {
                pending.overlay.remove(&entry.key);
            }
        }
        pending.first_seq = next_seq;
        pending.flush_at = pending.log.len() + FLUSH_AT;
        Ok(())
    }

    pub(super) fn apply(
        &self,
        records: &[ChangelogRecord],
        through: Option<i64>,
    ) -> std::result::Result<(), rocksdb::Error> {
        let mut pending = lock(&self.pending);
        let db = self.writable_db()?;
        let mut batch = rocksdb::WriteBatch::default();
        let mut last = pending.delivered;
        let mut sources: Vec<(&SourceKey, i64)> = Vec::new();
        for record in records {
            if last.is_some_and(|a| record.offset <= a) {
                continue;
            }
            last = Some(record.offset);
            // A record replayed over a buffered write of the same key: the
            // changelog is the newer truth. (Usually there is none: skip
            // the lookup then.)
            if !pending.overlay.is_empty() {
                pending.overlay.remove(&record.key);
            }
            match &record.value {
                Some(v) => batch.put(&record.key, v),
                None => batch.delete(&record.key),
            }
            if let Some((source, o)) = &record.origin {
                raise_ref(&mut sources, source, *o);
            }
        }
        if let Some(through) = through {
            last = Some(last.map_or(through, |l| l.max(through)));
        }
        if last == pending.delivered {
            return Ok(());
        }
        Self::write_sources(meta(&db), &mut batch, &mut pending.sources, sources);
        if let Some(offset) = last {
            batch.put_cf(meta(&db), META_OFFSET, encode_offset(offset));
        }
        self.write_batch(&db, batch)?;
        pending.delivered = last;
        pending.persisted = last;
        Ok(())
    }

    /// Flushes the memtables of both column families (atomically: the
    /// options set `atomic_flush`), data and offset together.
    pub(super) fn persist(&self) -> std::result::Result<(), rocksdb::Error> {
        let db = self.db();
        let data = db
            .cf_handle(rocksdb::DEFAULT_COLUMN_FAMILY_NAME)
            .expect("a partition database is opened with its default column family");
        db.flush_cfs_opt(&[data, meta(&db)], &rocksdb::FlushOptions::default())
    }

    pub(super) fn scan(
        &self,
        f: &mut dyn FnMut(&[u8], &[u8]),
    ) -> std::result::Result<(), rocksdb::Error> {
        self.scan_from(b"", &mut |k, v| {
            f(k, v);
            true
        })
    }

    /// Calls `f` with each key from `from` on, in order (buffered writes
    /// over what is on disk), until it returns false.
    pub(super) fn scan_from(
        &self,
        from: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> std::result::Result<(), rocksdb::Error> {
        // The buffer and the disk as of one moment: the iterator is
        // opened (a snapshot) before a flush can move entries between them.
        let db = self.db();
        let (overlay, disk) = {
            let pending = lock(&self.pending);
            let overlay: Vec<(Bytes, Option<Bytes>)> = pending
                .overlay
                .range::<[u8], _>((std::ops::Bound::Included(from), std::ops::Bound::Unbounded))
                .map(|(k, (_, v))| (k.clone(), v.clone()))
                .collect();
            let mode = rocksdb::IteratorMode::From(from, rocksdb::Direction::Forward);
            (overlay, db.iterator(mode))
        };
        let mut buffered = overlay.into_iter().peekable();
        let mut disk = disk.peekable();
        loop {
            let next_disk = match disk.peek() {
                Some(Ok((k, _))) => Some(k.clone()),
                Some(Err(_)) => return Err(disk.next().and_then(Result::err).expect("an error")),
                None => None,
            };
            let take_buffered = match (buffered.peek(), &next_disk) {
                (Some((bk, _)), Some(dk)) => bk.as_ref() <= dk.as_ref(),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return Ok(()),
            };
            if take_buffered {
                let (key, value) = buffered.next().expect("peeked");
                if next_disk.as_deref() == Some(key.as_ref()) {
                    disk.next();
                }
                if let Some(value) = value
                    && !f(&key, &value)
                {
                    return Ok(());
                }
            } else {
                let (key, value) = disk.next().expect("peeked")?;
                if !f(&key, &value) {
                    return Ok(());
                }
            }
        }
    }

    /// The last key, buffered writes over what is on disk.
    pub(super) fn last_live_key(&self) -> std::result::Result<Option<Bytes>, rocksdb::Error> {
        let pending = lock(&self.pending);
        let buffered = pending
            .overlay
            .iter()
            .rev()
            .find(|(_, (_, v))| v.is_some())
            .map(|(k, _)| k.clone());
        let db = self.db();
        for item in db.iterator(rocksdb::IteratorMode::End) {
            let (key, _) = item?;
            match pending.overlay.get(key.as_ref()) {
                // Deleted in the buffer: look further back.
                Some((_, None)) => continue,
                _ => {
                    let key = Bytes::copy_from_slice(&key);
                    return Ok(Some(match buffered {
                        Some(b) if b > key => b,
                        _ => key,
                    }));
                }
            }
        }
        Ok(buffered)
    }

    pub(super) fn clear(&self) -> std::result::Result<(), rocksdb::Error> {
        let mut pending = lock(&self.pending);
        // Write numbers keep rising: a late acknowledgement of a write
        // made before must not land on a new one.
        let next = pending.first_seq + pending.log.len() as u64;
        *pending = PendingWrites {
            first_seq: next,
            valid_from: next,
            exact: pending.exact,
            ..PendingWrites::default()
        };
        let db = self.writable_db()?;
        let mut batch = rocksdb::WriteBatch::default();
        if let (Some(first), Some(last)) = (self.first_key()?, self.last_key()?) {
            batch.delete_range(&first[..], &last[..]);
            batch.delete(&last[..]);
        }
        batch.delete_cf(meta(&db), META_OFFSET);
        let mut end = META_SOURCE.to_vec();
        end.push(0xff);
        batch.delete_range_cf(meta(&db), META_SOURCE, &end[..]);
        self.write_batch(&db, batch)
    }

    fn first_key(&self) -> std::result::Result<Option<Box<[u8]>>, rocksdb::Error> {
        self.db()
            .iterator(rocksdb::IteratorMode::Start)
            .next()
            .transpose()
            .map(|kv| kv.map(|(k, _)| k))
    }

    fn last_key(&self) -> std::result::Result<Option<Box<[u8]>>, rocksdb::Error> {
        self.db()
            .iterator(rocksdb::IteratorMode::End)
            .next()
            .transpose()
            .map(|kv| kv.map(|(k, _)| k))
    }
}

impl fmt::Debug for RocksPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksPartition")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A partition database's meta column family.
fn meta(db: &rocksdb::DB) -> &rocksdb::ColumnFamily {
    // try_open checked it exists, and column families are never dropped.
    db.cf_handle(META_CF)
        .expect("a partition database is opened with its meta column family")
}

enum Damage {
    /// Another process holds the folder's lock.
    InUse(String),
    /// Anything else: the folder cannot be used as it is.
    Damaged(String),
}

#[cfg(test)]
mod tests {
    use super::super::{Backend, PartitionStore};
    use super::*;

    fn env() -> RocksEnv {
        RocksEnv::new(&RocksDbSettings::default()).expect("options")
    }

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "faust-rs-store-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn rec(offset: i64, key: &str, value: Option<&str>) -> ChangelogRecord {
        ChangelogRecord {
            offset,
            key: b(key),
            value: value.map(b),
            origin: None,
        }
    }

    fn input(offset: i64) -> Option<(SourceKey, i64)> {
        Some(((Arc::from("in"), 0), offset))
    }

    fn committed_below(offset: i64) -> SourceOffsets {
        SourceOffsets::from([((Arc::from("in"), 0), offset)])
    }

    #[test]
    fn exact_flushes_write_only_delivered_writes_of_committable_events() {
        let path = dir("exact");
        let env = env();
        {
            let store = PartitionStore::rocksdb("t[3]".into(), &env, &path).unwrap();
            store.set_exact(true);
            let w0 = store.write(b("a"), Some(b("1")), input(10)).unwrap();
            let w1 = store.write(b("a"), Some(b("2")), input(11)).unwrap();
            let w2 = store.write(b("b"), Some(b("1")), input(11)).unwrap();
            let w3 = store.write(b("a"), Some(b("3")), input(12)).unwrap();
            store.delivered(w0, 100);
            store.delivered(w1, 101);
            store.delivered(w3, 103);
            // Event 11's second write is not on the broker yet: only event
            // 10 may go to disk, though 12 is committable too.
            store.flush(&committed_below(13)).unwrap();
            assert_eq!(
                store.get(b"a").unwrap(),
                Some(b("3")),
                "reads see the buffer"
            );
            store.delivered(w2, 102);
            // Event 12 is not committable: 10 and 11 go.
            store.flush(&committed_below(12)).unwrap();
            assert_eq!(store.get(b"a").unwrap(), Some(b("3")));
            assert_eq!(
                store.range(b"", None).unwrap(),
                vec![(b("a"), b("3")), (b("b"), b("1"))],
                "scans see the buffer over the disk"
            );
        }
        // Reopened as after a crash: events 10 and 11, changelog offset 102.
        let store = PartitionStore::rocksdb("t[3]".into(), &env, &path).unwrap();
        assert_eq!(store.applied_offset(), Some(102));
        assert_eq!(store.get(b"a").unwrap(), Some(b("2")));
        assert_eq!(store.get(b"b").unwrap(), Some(b("1")));
        assert_eq!(store.sources(), committed_below(11));
        assert!(store.is_replay(&(Arc::from("in"), 0), 11));
        assert!(!store.is_replay(&(Arc::from("in"), 0), 12));
        assert!(!store.is_replay(&(Arc::from("other"), 0), 1));
    }

    #[test]
    fn exact_flushes_cut_between_events_when_writes_interleave() {
        let path = dir("interleave");
        let env = env();
        {
            let store = PartitionStore::rocksdb("t[6]".into(), &env, &path).unwrap();
            store.set_exact(true);
            // Events 5 and 6 of one input partition, interleaved (two
            // agents, or a concurrent handler).
            let a = store.write(b("a"), Some(b("5")), input(5)).unwrap();
            let b6 = store.write(b("b"), Some(b("6")), input(6)).unwrap();
            let c = store.write(b("c"), Some(b("5")), input(5)).unwrap();
            for (seq, offset) in [(a, 0), (b6, 1), (c, 2)] {
                store.delivered(seq, offset);
            }
            // 5 is committable, 6 is not: event 5 must not go half.
            store.flush(&committed_below(6)).unwrap();
        }
        {
            let store = PartitionStore::rocksdb("t[6]".into(), &env, &path).unwrap();
            store.set_exact(true);
            assert_eq!(store.items().unwrap(), vec![], "nothing of event 5 alone");
            assert_eq!(store.applied_offset(), None);
            let a = store.write(b("a"), Some(b("5")), input(5)).unwrap();
            let c = store.write(b("c"), Some(b("5")), input(5)).unwrap();
            store.delivered(a, 3);
            store.delivered(c, 4);
            store.flush(&committed_below(6)).unwrap();
        }
        let store = PartitionStore::rocksdb("t[6]".into(), &env, &path).unwrap();
        assert_eq!(
            store.items().unwrap(),
            vec![(b("a"), b("5")), (b("c"), b("5"))]
        );
        assert_eq!(store.applied_offset(), Some(4));
    }

    #[test]
    fn a_full_buffer_under_exact_state_writes_only_committable_events() {
        let path = dir("full");
        let env = env();
        {
            let store = PartitionStore::rocksdb("t[7]".into(), &env, &path).unwrap();
            store.set_exact(true);
            for i in 0..FLUSH_AT as i64 + 10 {
                let seq = store
                    .write(b(&format!("k{i}")), Some(b("v")), input(i))
                    .unwrap();
                store.delivered(seq, i);
            }
            // No commit yet: the forced flushes wrote nothing.
        }
        let store = PartitionStore::rocksdb("t[7]".into(), &env, &path).unwrap();
        assert_eq!(store.len().unwrap(), 0);
        assert!(store.sources().is_empty());
    }

    #[test]
    fn revoking_drops_uncommitted_buffered_writes_and_rewinds_the_offset() {
        let store = PartitionStore::rocksdb("t[8]".into(), &env(), &dir("revoke")).unwrap();
        store.set_exact(true);
        let a = store.write(b("a"), Some(b("1")), input(1)).unwrap();
        let z = store.write(b("z"), Some(b("2")), input(2)).unwrap();
        store.delivered(a, 10);
        store.delivered(z, 11);
        store.flush(&committed_below(2)).unwrap();
        store.revoked(&committed_below(2)).unwrap();
        assert_eq!(
            store.get(b"z").unwrap(),
            None,
            "event 2 goes to the next owner"
        );
        assert_eq!(store.get(b"a").unwrap(), Some(b("1")));
        assert_eq!(
            store.applied_offset(),
            Some(10),
            "recovery reads past event 1"
        );
        // A late acknowledgement of the dropped write lands nowhere.
        let next = store.write(b("n"), Some(b("3")), input(3)).unwrap();
        assert!(next > z, "write numbers keep rising");
        store.delivered(z, 99);
        store.flush(&committed_below(4)).unwrap();
        assert_eq!(store.applied_offset(), Some(10), "{store:?}");
    }

    #[test]
    fn buffered_deletes_hide_keys_on_disk_from_scans_and_last_key() {
        let store = PartitionStore::rocksdb("t[4]".into(), &env(), &dir("scan")).unwrap();
        store
            .apply_changelog(
                &[
                    rec(0, "a", Some("1")),
                    rec(1, "c", Some("3")),
                    rec(2, "e", Some("5")),
                ],
                None,
            )
            .unwrap();
        store.write(b("e"), None, input(1)).unwrap();
        store.write(b("b"), Some(b("2")), input(1)).unwrap();
        store.write(b("c"), Some(b("33")), input(1)).unwrap();
        assert_eq!(
            store.items().unwrap(),
            vec![(b("a"), b("1")), (b("b"), b("2")), (b("c"), b("33"))]
        );
        assert_eq!(store.len().unwrap(), 3);
        assert_eq!(store.last_key().unwrap(), Some(b("c")));
        assert_eq!(store.first_key_from(b"bb").unwrap(), Some(b("c")));
    }

    #[test]
    fn recovery_records_carry_their_origins_to_disk_and_clear_forgets_them() {
        let path = dir("origins");
        let env = env();
        {
            let store = PartitionStore::rocksdb("t[5]".into(), &env, &path).unwrap();
            let mut record = rec(7, "k", Some("v"));
            record.origin = input(41);
            store.apply_changelog(&[record], Some(9)).unwrap();
            assert_eq!(store.applied_offset(), Some(9), "past records left out");
        }
        let store = PartitionStore::rocksdb("t[5]".into(), &env, &path).unwrap();
        assert_eq!(store.sources(), committed_below(41));
        store.clear().unwrap();
        assert!(store.sources().is_empty());
        drop(store);
        let store = PartitionStore::rocksdb("t[5]".into(), &env, &path).unwrap();
        assert!(store.sources().is_empty(), "cleared on disk too");
    }

    #[test]
    fn buffered_writes_reach_disk_at_flush_together_with_the_acknowledged_offset() {
        let path = dir("flush");
        let env = env();
        {
            let store = PartitionStore::rocksdb("t[0]".into(), &env, &path).unwrap();
            assert_eq!(store.applied_offset(), None);
            let a = store.write(b("a"), Some(b("1")), None).unwrap();
            let b1 = store.write(b("b"), Some(b("2")), None).unwrap();
            let b2 = store.write(b("b"), None, None).unwrap();
            assert_eq!(
                store.get(b"a").unwrap(),
                Some(b("1")),
                "reads see the buffer"
            );
            assert_eq!(store.get(b"b").unwrap(), None);
            store.delivered(b2, 41);
            store.delivered(a, 39);
            store.delivered(b1, 40);
            store.flush(&SourceOffsets::new()).unwrap();
            // Not flushed: lost with the process, like a crash.
            let c = store.write(b("c"), Some(b("3")), None).unwrap();
            store.delivered(c, 42);
        }
        let store = PartitionStore::rocksdb("t[0]".into(), &env, &path).unwrap();
        assert_eq!(store.applied_offset(), Some(41));
        assert_eq!(store.items().unwrap(), vec![(b("a"), b("1"))]);
        assert_eq!(store.len().unwrap(), 1);
    }

    #[test]
    fn a_write_whose_event_was_revoked_is_not_buffered() {
        for store in [
            PartitionStore::memory("m[0]".into()),
            PartitionStore::rocksdb("r[0]".into(), &env(), &dir("revoked-write")).unwrap(),
        ] {
            let written = store
                .write_unless(b("k"), Some(b("1")), input(7), || true)
                .unwrap();
            assert_eq!(written, None, "{store:?}");
            assert_eq!(store.get(b"k").unwrap(), None, "{store:?}");
            assert!(store.sources().is_empty(), "{store:?}");
            let written = store
                .write_unless(b("k"), Some(b("2")), input(8), || false)
                .unwrap();
            assert!(written.is_some(), "{store:?}");
            assert_eq!(store.get(b"k").unwrap(), Some(b("2")), "{store:?}");
        }
    }

    #[test]
    fn changelog_records_at_or_below_the_held_offset_are_skipped() {
        for store in [
            PartitionStore::memory("m[0]".into()),
            PartitionStore::rocksdb("r[0]".into(), &env(), &dir("skip")).unwrap(),
        ] {
            store
                .apply_changelog(&[rec(0, "k", Some("old")), rec(1, "k", Some("new"))], None)
                .unwrap();
            // A stale read of the same log (a standby racing recovery).
            store
                .apply_changelog(&[rec(0, "k", Some("old")), rec(2, "j", None)], None)
                .unwrap();
            assert_eq!(store.get(b"k").unwrap(), Some(b("new")), "{store:?}");
            assert_eq!(store.applied_offset(), Some(2), "{store:?}");
            store.clear().unwrap();
            assert_eq!(store.applied_offset(), None);
            assert_eq!(store.len().unwrap(), 0);
        }
    }

    #[test]
    fn a_store_of_another_format_version_is_moved_aside_and_started_empty() {
        let path = dir("format");
        let env = env();
        {
            let store = PartitionStore::rocksdb("t[1]".into(), &env, &path).unwrap();
            store
                .apply_changelog(&[rec(5, "k", Some("v"))], None)
                .unwrap();
            let Backend::Rocks(r) = &store.backend else {
                unreachable!()
            };
            let db = r.db();
            db.put_cf(meta(&db), META_FORMAT, b"faust-rs/0").unwrap();
        }
        let store = PartitionStore::rocksdb("t[1]".into(), &env, &path).unwrap();
        assert_eq!(store.applied_offset(), None, "rebuilt from offset 0");
        assert_eq!(store.len().unwrap(), 0);
        assert!(PathBuf::from(format!("{}.broken", path.display())).exists());
    }

    #[test]
    fn the_same_folder_opened_twice_in_one_process_shares_one_database() {
        let path = dir("shared");
        let env = env();
        let first = PartitionStore::rocksdb("t[2]".into(), &env, &path).unwrap();
        first.write(b("a"), Some(b("1")), None).unwrap();
        let second = PartitionStore::rocksdb("t[2]".into(), &env, &path).unwrap();
        assert_eq!(second.get(b"a").unwrap(), Some(b("1")));
    }
}
