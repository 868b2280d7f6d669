//! The tables of a running app: their partitions' stores, and which
//! partitions this worker owns.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use super::recovery::{ChangelogRead, ChangelogTarget, recover_partitions};
#[cfg(feature = "rocksdb")]
use super::store::RocksEnv;
use super::store::{PartitionStore, SourceOffsets, StoreKind};
use crate::app::config::Settings;
use crate::app::registry::TableDef;
use crate::codec::{Codecs, Payload};
use crate::context::with_scope;
use crate::error::{Error, Result};
use crate::transport::{OutgoingRecord, partition_for_key};
use crate::window::WindowState;

/// One table of a running app: its stores by partition and its changelog.
pub(crate) struct TableState {
    pub(crate) def: &'static TableDef,
    pub(crate) changelog: Arc<str>,
    pub(crate) partitions: u32,
    kind: StoreKind,
    #[cfg(feature = "rocksdb")]
    rocks: Option<Arc<RocksEnv>>,
    app_id: String,
    stores: Mutex<HashMap<i32, Arc<PartitionStore>>>,
    /// A windowed table's windows.
    pub(crate) window: Option<WindowState>,
    /// Exact state (the `exact_state` setting; never for global tables,
    /// whose partitions many workers write).
    exact: bool,
    /// `faust_table_gets_total` and `faust_table_sets_total` of this table.
    gets: metrics::Counter,
    sets: metrics::Counter,
    /// How far its last recovery got (for the status page).
    pub(crate) recovery: super::recovery::RecoveryProgress,
    /// The app's sensors, told of each get and set.
    sensors: crate::sensor::Sensors,
}

impl fmt::Debug for TableState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableState")
            .field("name", &self.def.name)
            .field("changelog", &self.changelog)
            .field("partitions", &self.partitions)
            .field("store", &self.kind)
            .finish_non_exhaustive()
    }
}

impl TableState {
    pub(crate) fn new(def: &'static TableDef, app_id: &str, settings: &Settings) -> Result<Self> {
        let app_store = StoreKind::parse(&settings.store, app_id)
            .map_err(|e| Error::config(format!("setting `store`: {e}")))?;
        let kind = StoreKind::for_table(def.name, def.store, &app_store, app_id)?;
        #[cfg(feature = "rocksdb")]
        let rocks = match kind {
            StoreKind::RocksDb(_) => Some(RocksEnv::shared(&settings.rocksdb)?),
            StoreKind::Memory => None,
        };
        match (def.window, def.kind) {
            (
                Some(window),
                crate::app::registry::TableKind::Windowed | crate::app::registry::TableKind::Join,
            ) => {
                window.check(def.name).map_err(Error::config)?;
            }
            (
                None,
                crate::app::registry::TableKind::Windowed | crate::app::registry::TableKind::Join,
            ) => {
                return Err(Error::config(format!(
                    "table `{}` is a WindowedTable without windows; give it `tumbling`, \
                     `hopping` or `sliding`",
                    def.name
                )));
            }
            (Some(_), kind) => {
                return Err(Error::config(format!(
                    "table `{}` has windows but is declared as a {}; declare it \
                     `WindowedTable<K, V>`",
                    def.name,
                    kind.type_name()
                )));
            }
            (None, _) => {}
        }
        Ok(TableState {
            def,
            changelog: Arc::from(super::changelog_topic(app_id, def.name)),
            partitions: def.partitions.unwrap_or(settings.topic_partitions).max(1),
            kind,
            #[cfg(feature = "rocksdb")]
            rocks,
            app_id: app_id.to_owned(),
            stores: Mutex::new(HashMap::new()),
            window: def.window.map(WindowState::new),
            exact: settings.exact_state && !def.kind.is_global(),
            gets: metrics::counter!("faust_table_gets_total", "table" => def.name),
            sets: metrics::counter!("faust_table_sets_total", "table" => def.name),
            recovery: Default::default(),
            sensors: crate::sensor::Sensors::default(),
        })
    }

    /// The table with its partitions in memory whatever its store: for
    /// tools that rebuild it from the changelog (the CLI).
    pub(crate) fn in_memory(def: &'static TableDef, app_id: &str, settings: &Settings) -> Self {
        TableState {
            def,
            changelog: Arc::from(super::changelog_topic(app_id, def.name)),
            partitions: def.partitions.unwrap_or(settings.topic_partitions).max(1),
            kind: StoreKind::Memory,
            #[cfg(feature = "rocksdb")]
            rocks: None,
            app_id: app_id.to_owned(),
            stores: Mutex::new(HashMap::new()),
            window: def.window.map(WindowState::new),
            exact: settings.exact_state && !def.kind.is_global(),
            gets: metrics::Counter::noop(),
            sets: metrics::Counter::noop(),
            recovery: Default::default(),
            sensors: crate::sensor::Sensors::default(),
        }
    }

    /// The table, reporting its gets and sets to `sensors`.
    pub(crate) fn with_sensors(mut self, sensors: &crate::sensor::Sensors) -> Self {
        self.sensors = sensors.clone();
        self
    }

    /// Where its data lives, for people: `memory` or `rocksdb:DIR`.
    pub(crate) fn describe_store(&self) -> String {
        match &self.kind {
            StoreKind::Memory => "memory".to_owned(),
            StoreKind::RocksDb(dir) => format!("rocksdb://{}", dir.display()),
        }
    }

    /// Each held partition's number of keys (a windowed table's: of
    /// windows).
    pub(crate) fn partition_sizes(&self) -> Result<Vec<(i32, usize)>> {
        let mut stores: Vec<_> = self.lock().iter().map(|(p, s)| (*p, s.clone())).collect();
        stores.sort_by_key(|(p, _)| *p);
        stores
            .into_iter()
            .map(|(p, s)| {
                let mut n = s.len()?;
                if self.window.is_some() && s.get(crate::window::CLOCK_KEY)?.is_some() {
                    n -= 1;
                }
                Ok((p, n))
            })
            .collect()
    }

    /// A windowed table's windows of `key` in the partitions held, oldest
    /// first.
    pub(crate) fn find_windows(&self, key: &[u8]) -> Result<Vec<(crate::window::Window, Bytes)>> {
        let Some(windows) = &self.window else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for partition in self.held() {
            found.extend(crate::window::windows_of(
                self,
                windows.def,
                partition,
                key,
            )?);
        }
        found.sort_by_key(|(w, _)| *w);
        Ok(found)
    }

    /// The raw value of `key` in whichever held partition has it.
    pub(crate) fn find(&self, key: &[u8]) -> Result<Option<(i32, Bytes)>> {
        let mut stores: Vec<_> = self.lock().iter().map(|(p, s)| (*p, s.clone())).collect();
        stores.sort_by_key(|(p, _)| *p);
        for (p, store) in stores {
            if let Some(v) = store.get(key)? {
                return Ok(Some((p, v)));
            }
        }
        Ok(None)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i32, Arc<PartitionStore>>> {
        self.stores.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The folder of `partition`'s RocksDB store.
    #[cfg_attr(not(feature = "rocksdb"), allow(dead_code))]
    pub(crate) fn store_path(&self, partition: i32) -> Option<PathBuf> {
        match &self.kind {
            StoreKind::RocksDb(dir) => Some(
                dir.join(&self.app_id)
                    .join("v1")
                    .join(self.def.name)
                    .join(partition.to_string()),
            ),
            StoreKind::Memory => None,
        }
    }

    /// The store of `partition`, opened (or created empty) on first use.
    pub(crate) fn open(&self, partition: i32) -> Result<Arc<PartitionStore>> {
        let mut stores = self.lock();
        if let Some(store) = stores.get(&partition) {
            return Ok(store.clone());
        }
        let label = format!("{}[{partition}]", self.def.name);
        #[cfg(feature = "rocksdb")]
        let store = match (self.store_path(partition), &self.rocks) {
            (Some(path), Some(env)) => PartitionStore::rocksdb(label, env, &path)?,
            _ => PartitionStore::memory(label),
        };
        // A build without RocksDB refuses `rocksdb://` stores when it parses them.
        #[cfg(not(feature = "rocksdb"))]
        let store = PartitionStore::memory(label);
        store.set_exact(self.exact);
        let store = Arc::new(store);
        stores.insert(partition, store.clone());
        Ok(store)
    }

    /// Clears `partition`'s store if it was kept as a standby and holds
    /// writes of events at or past `resume`: records a standby applied may
    /// be part of an event only, which exact state cannot undo.
    fn drop_followed_state(&self, partition: i32, resume: &SourceOffsets) -> Result<()> {
        let Some(store) = self.lock().get(&partition).cloned() else {
            return Ok(());
        };
        if store.was_followed() && store.holds_from(resume, false) {
            tracing::info!(
                table = self.def.name,
                partition,
                "the standby copy holds writes of events not committed yet; rebuilding the \
                 partition from its changelog (exact state)"
            );
            store.clear()?;
        }
        Ok(())
    }

    /// Drops what the stores of `partitions` hold of events not
    /// committable (exact state): those events go to the next owner.
    fn revoked(&self, partitions: &[i32], committed: &SourceOffsets) -> Result<()> {
        if !self.exact {
            return Ok(());
        }
        let stores: Vec<_> = {
            let held = self.lock();
            partitions
                .iter()
                .filter_map(|p| held.get(p).cloned())
                .collect()
        };
        for store in stores {
            store.revoked(committed)?;
        }
        Ok(())
    }

    /// Whether this table keeps exact state.
    pub(crate) fn is_exact(&self) -> bool {
        self.exact
    }

    /// Flushes and closes `partition`'s store (the next owner has it):
    /// under exact state, writes of events not committable are dropped
    /// (the next owner replays those events).
    pub(crate) fn close(&self, partition: i32, committed: &SourceOffsets) -> Result<()> {
        let store = self.lock().remove(&partition);
        match store {
            Some(store) => {
                let result = store.flush(committed);
                store.discard_buffered();
                result
            }
            None => Ok(()),
        }
    }

    /// The partitions whose store is open here.
    pub(crate) fn held(&self) -> BTreeSet<i32> {
        self.lock().keys().copied().collect()
    }

    /// Writes every partition's buffered entries to disk (under exact
    /// state, those of committable events).
    pub(crate) fn flush(&self, committed: &SourceOffsets) -> Result<()> {
        let stores: Vec<_> = self.lock().values().cloned().collect();
        let mut first = None;
        for store in stores {
            if let Err(e) = store.flush(committed) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// The partition `key` is in: a global table's by the key's hash; a
    /// partitioned table's the current event's (co-partitioning), or the
    /// key's hash outside an event.
    pub(crate) fn partition_of(&self, key: &[u8]) -> i32 {
        if self.def.kind.is_global() {
            return partition_for_key(key, self.partitions);
        }
        with_scope(|scope| scope.source.partition())
            .flatten()
            .filter(|p| (*p as u32) < self.partitions)
            .unwrap_or_else(|| partition_for_key(key, self.partitions))
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.gets.increment(1);
        self.sensors.each(|s| {
            s.on_table_get(&crate::sensor::TableGet {
                table: self.def.name,
                key,
            })
        });
        self.get_at(self.partition_of(key), key)
    }

    /// The value of `key` in `partition`.
    pub(crate) fn get_at(&self, partition: i32, key: &[u8]) -> Result<Option<Bytes>> {
        self.open(partition)?.get(key)
    }

    /// The keys and values of `partition` from `from` to `to` (exclusive).
    pub(crate) fn range_at(
        &self,
        partition: i32,
        from: &[u8],
        to: Option<&[u8]>,
    ) -> Result<Vec<(Bytes, Bytes)>> {
        self.open(partition)?.range(from, to)
    }

    /// The first key of `partition` at or after `from`.
    pub(crate) fn first_key_at(&self, partition: i32, from: &[u8]) -> Result<Option<Bytes>> {
        self.open(partition)?.first_key_from(from)
    }

    /// The last key of `partition`.
    pub(crate) fn last_key_at(&self, partition: i32) -> Result<Option<Bytes>> {
        self.open(partition)?.last_key()
    }

    /// Writes `key` to its partition's store and to the changelog; the
    /// current event is acked only once the changelog has it.
    pub(crate) fn write(&self, key: Bytes, value: Option<Bytes>) -> Result<()> {
        self.write_at(self.partition_of(&key), key, value)
    }

    /// Writes `key` to `partition`'s store and changelog partition.
    ///
    /// Under exact state, the write of an event the partition applied
    /// before its last recovery (a replay after a crash) is dropped, and
    /// the changelog record carries the event's origin. The write of an
    /// event whose partition was revoked since it was read is dropped too.
    pub(crate) fn write_at(&self, partition: i32, key: Bytes, value: Option<Bytes>) -> Result<()> {
        with_scope(|scope| self.write_in(scope, partition, key, value)).unwrap_or(Err(
            Error::NoContext {
                what: self.def.kind.type_name(),
            },
        ))
    }

    fn write_in(
        &self,
        scope: &crate::context::Scope,
        partition: i32,
        key: Bytes,
        value: Option<Bytes>,
    ) -> Result<()> {
        // An event of a partition revoked since it was read (a rebalance
        // that did not wait for it) writes nothing: its next owner handles
        // it again from the committed offset, and the partition's store may
        // already be closed here, or given back with what it held then.
        if scope.source.is_revoked() {
            return self.drop_revoked_write(scope);
        }
        let store = self.open(partition)?;
        self.sets.increment(1);
        let origin = if self.exact {
            scope
                .source
                .position()
                .map(|(topic, p, offset)| ((topic, p), offset))
        } else {
            None
        };
        if let Some((source, offset)) = &origin
            && store.is_replay(source, *offset)
        {
            metrics::counter!("faust_table_replayed_writes_total", "table" => self.def.name)
                .increment(1);
            // Numbered all the same: the event's later records (its sink
            // records) keep the numbers of its first run.
            scope.source.skip_seq();
            return Ok(());
        }
        // A replayed write (above) changes nothing: only real ones are told.
        self.sensors.each(|s| {
            s.on_table_set(&crate::sensor::TableSet {
                table: self.def.name,
                partition,
                key: &key,
                value: value.as_deref(),
            })
        });
        // A handler that may fail and be retried (or dead-lettered) has
        // its writes taken back first: note what this one replaces.
        scope
            .pending
            .note_write(self.def.name, partition, &key, || store.get(&key))?;
        // The changelog record names its event: in a frame before the
        // value, or for a tombstone (which must stay empty) in a header.
        let record_value = super::changelog_record_value(origin.as_ref(), value.clone());
        let tombstone_origin = origin.is_some() && value.is_none();
        // Asked again under the store's lock: a revoke may have started
        // since, and its drop of uncommitted writes must not miss this one.
        let Some(seq) =
            store.write_unless(key.clone(), value, origin, || scope.source.is_revoked())?
        else {
            return self.drop_revoked_write(scope);
        };
        let mut record = OutgoingRecord {
            topic: self.changelog.clone(),
            partition: Some(partition),
            key: Some(key),
            value: record_value,
            ..OutgoingRecord::default()
        };
        if tombstone_origin {
            scope.source.stamp(&mut record.headers);
        } else {
            scope.source.skip_seq();
        }
        // A partitioned table's partition has one writer, its owner: the
        // offset of its own write is the store's offset. A global table's
        // partition has many (every worker writes its keys' partitions), so
        // its offset moves only as the follower reads the changelog, which
        // brings the other workers' writes (and this one's, again).
        let delivery = if self.def.kind.is_global() {
            scope.core.producer.send(record)
        } else {
            scope
                .core
                .send_then(record, move |meta| store.delivered(seq, meta.offset))
        };
        scope.pending.push(delivery);
        Ok(())
    }

    /// Drops a write of an event whose partition was revoked (numbered all
    /// the same, as its first run numbered it).
    fn drop_revoked_write(&self, scope: &crate::context::Scope) -> Result<()> {
        metrics::counter!("faust_table_revoked_writes_total", "table" => self.def.name)
            .increment(1);
        scope.source.skip_seq();
        Ok(())
    }

    pub(crate) fn len(&self) -> Result<usize> {
        let stores: Vec<_> = self.lock().values().cloned().collect();
        stores.iter().map(|s| s.len()).sum()
    }

    pub(crate) fn items(&self) -> Result<Vec<(Bytes, Bytes)>> {
        let mut stores: Vec<_> = self.lock().iter().map(|(p, s)| (*p, s.clone())).collect();
        stores.sort_by_key(|(p, _)| *p);
        let mut out = Vec::new();
        for (_, store) in stores {
            out.extend(store.items()?);
        }
        Ok(out)
    }

    pub(crate) fn encode_key<K: Payload>(&self, codecs: &Codecs, key: &K) -> Result<Bytes> {
        Ok(codecs.for_type::<K>(self.def.key_serializer)?.encode(key)?)
    }

    pub(crate) fn encode_value<V: Payload>(&self, codecs: &Codecs, value: &V) -> Result<Bytes> {
        Ok(codecs
            .for_type::<V>(self.def.value_serializer)?
            .encode(value)?)
    }

    pub(crate) fn decode_key<K: Payload>(&self, codecs: &Codecs, key: &[u8]) -> Result<K> {
        Ok(codecs
            .for_type::<K>(self.def.key_serializer)?
            .decode(Some(key))?)
    }

    pub(crate) fn decode_value<V: Payload>(&self, codecs: &Codecs, value: &[u8]) -> Result<V> {
        Ok(codecs
            .for_type::<V>(self.def.value_serializer)?
            .decode(Some(value))?)
    }
}

/// Every table of a running app, and the partitions this worker owns.
#[derive(Debug)]
pub(crate) struct Tables {
    list: Vec<Arc<TableState>>,
    by_name: HashMap<&'static str, Arc<TableState>>,
    /// Partitions assigned to this worker. Held while applying standby
    /// records, so an assignment never races a standby write.
    owned: Mutex<BTreeSet<i32>>,
    /// Keep warm copies of partitions owned elsewhere.
    standby: bool,
    /// Set at the first assignment: until then nothing is followed.
    assigned: std::sync::atomic::AtomicBool,
    /// Set while an assignment rebuilds partitions (the worker is not
    /// ready).
    recovering: std::sync::atomic::AtomicBool,
    /// A recovery that failed where it could not be returned (a rebalance
    /// callback): the fetcher stops the worker with it.
    failure: Mutex<Option<Error>>,
    /// Some table is windowed.
    windowed: bool,
    /// The committable offset of every input partition so far: under
    /// exact state, stores write only the events below them to disk.
    committed: Mutex<SourceOffsets>,
    /// The last commit's store failure (a full disk, say), cleared by the
    /// next one that writes everything: what was being done and why.
    flush_failure: Mutex<Option<(String, String)>>,
}

impl Tables {
    pub(crate) fn new(list: Vec<Arc<TableState>>, standby: bool) -> Tables {
        let by_name = list.iter().map(|t| (t.def.name, t.clone())).collect();
        Tables {
            windowed: list.iter().any(|t| t.window.is_some()),
            list,
            by_name,
            owned: Mutex::new(BTreeSet::new()),
            standby,
            assigned: std::sync::atomic::AtomicBool::new(false),
            recovering: std::sync::atomic::AtomicBool::new(false),
            failure: Mutex::new(None),
            committed: Mutex::default(),
            flush_failure: Mutex::new(None),
        }
    }

    fn committed(&self) -> SourceOffsets {
        self.committed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Notes input offsets that are committable (every event below them
    /// finished): the next flush may write those events' table writes.
    pub(crate) fn note_committed(&self, offsets: &[(Arc<str>, i32, i64)]) {
        let mut committed = self.committed.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, partition, offset) in offsets {
            committed.insert((topic.clone(), *partition), *offset);
        }
    }

    fn owned(&self) -> MutexGuard<'_, BTreeSet<i32>> {
        self.owned.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The table named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Arc<TableState>> {
        self.by_name.get(name)
    }

    /// Every table.
    pub(crate) fn all(&self) -> &[Arc<TableState>] {
        &self.list
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// This worker now owns `partitions` (every table's, co-partitioned):
    /// brings them, and every partition of the global tables, up to their
    /// changelogs' end before any event is processed; then closes the
    /// partitions it no longer owns (kept open as standbys when standby
    /// replicas are on).
    ///
    /// `resume` holds the offset each assigned input partition is read
    /// from: exact-state tables leave out the changelog records of events
    /// at or past it (`None`: read everything, for tools).
    pub(crate) fn assign(
        &self,
        partitions: &[i32],
        reader: &dyn ChangelogRead,
        resume: Option<&SourceOffsets>,
    ) -> Result<u64> {
        let owned: BTreeSet<i32> = partitions.iter().copied().collect();
        *self.owned() = owned.clone();
        if let Some(resume) = resume {
            self.committed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(
                    resume
                        .iter()
                        .map(|(source, offset)| (source.clone(), *offset)),
                );
        }
        let mut targets = Vec::new();
        for table in &self.list {
            let wanted: Vec<i32> = if table.def.kind.is_global() {
                (0..table.partitions as i32).collect()
            } else {
                owned
                    .iter()
                    .copied()
                    .filter(|p| (*p as u32) < table.partitions)
                    .collect()
            };
            for partition in wanted {
                if let (true, Some(resume)) = (table.is_exact(), resume) {
                    table.drop_followed_state(partition, resume)?;
                }
                targets.push(ChangelogTarget {
                    table: table.clone(),
                    partition,
                });
            }
        }
        self.recovering
            .store(true, std::sync::atomic::Ordering::Release);
        let result = recover_partitions(&targets, reader, "recovering", None, resume);
        self.recovering
            .store(false, std::sync::atomic::Ordering::Release);
        for target in &targets {
            target.table.open(target.partition)?.mark_recovered()?;
        }
        self.reset_windows();
        self.assigned
            .store(true, std::sync::atomic::Ordering::Release);
        if !self.standby {
            let committed = self.committed();
            for table in self.list.iter().filter(|t| !t.def.kind.is_global()) {
                for partition in table.held() {
                    if !owned.contains(&partition)
                        && let Err(e) = table.close(partition, &committed)
                    {
                        tracing::warn!("closing table partition: {e}");
                    }
                }
            }
        }
        result
    }

    /// Flushes the stores of `partitions`, which this worker is losing.
    pub(crate) fn revoke(&self, partitions: &[i32]) {
        let mut owned = self.owned();
        for partition in partitions {
            owned.remove(partition);
        }
        self.reset_windows();
        let committed = self.committed();
        for table in &self.list {
            if let Err(e) = table.flush(&committed) {
                tracing::warn!(table = table.def.name, "flushing on revoke: {e}");
            }
            if let Err(e) = table.revoked(partitions, &committed) {
                tracing::warn!(
                    table = table.def.name,
                    "dropping uncommitted writes on revoke: {e}"
                );
            }
        }
    }

    /// The partitions this worker owns.
    pub(crate) fn owned_partitions(&self) -> Vec<i32> {
        self.owned().iter().copied().collect()
    }

    /// Whether some table is windowed (then every event ends with a look
    /// at its windows).
    pub(crate) fn has_windows(&self) -> bool {
        self.windowed
    }

    /// Drops the windowed tables' partition clocks (read again from the
    /// stores on next use).
    fn reset_windows(&self) {
        for table in &self.list {
            if let Some(window) = &table.window {
                window.reset();
            }
        }
    }

    /// Writes every table's buffered entries to disk (at each commit).
    /// A failure is kept until a flush succeeds (see
    /// [`flush_failure`](Self::flush_failure)) and counted in
    /// `faust_table_store_errors_total`.
    pub(crate) fn flush(&self) -> Result<()> {
        let committed = self.committed();
        let mut first = None;
        for table in &self.list {
            if let Err(e) = table.flush(&committed) {
                metrics::counter!("faust_table_store_errors_total", "table" => table.def.name)
                    .increment(1);
                first.get_or_insert(e);
            }
        }
        let failed = first.as_ref().map(|e| match e {
            Error::Store { what, reason } => (what.clone(), reason.clone()),
            other => ("writing the table stores".to_owned(), other.to_string()),
        });
        *self.flush_failure.lock().unwrap_or_else(|e| e.into_inner()) = failed;
        first.map_or(Ok(()), Err)
    }

    /// The last commit's store failure, while it lasts: the writes it
    /// could not make wait in memory for the next commit.
    pub(crate) fn flush_failure(&self) -> Option<Error> {
        self.flush_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .map(|(what, reason)| Error::Store { what, reason })
    }

    /// Flushes and closes every store (shutdown).
    pub(crate) fn close(&self) {
        let committed = self.committed();
        for table in &self.list {
            for partition in table.held() {
                if let Err(e) = table.close(partition, &committed) {
                    tracing::warn!("closing table partition at shutdown: {e}");
                }
            }
        }
    }

    /// Records a recovery failure for the worker to stop with.
    pub(crate) fn fail(&self, error: Error) {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(error);
    }

    /// The recovery failure recorded, if any.
    pub(crate) fn take_failure(&self) -> Option<Error> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Whether an assignment is rebuilding partitions now.
    pub(crate) fn is_recovering(&self) -> bool {
        self.recovering.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether this worker was assigned partitions at least once (before,
    /// there is nothing to follow).
    pub(crate) fn has_owner(&self) -> bool {
        self.assigned.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether some changelog partitions are followed without being owned:
    /// global tables, or standbys.
    pub(crate) fn follows(&self) -> bool {
        self.standby || self.list.iter().any(|t| t.def.kind.is_global())
    }

    /// Reads the changelogs this worker follows up to their current end:
    /// every partition of the global tables (whoever writes them), and with
    /// standbys the partitions of the other tables it does not own. A
    /// standby's records of a partition that becomes owned meanwhile are
    /// not applied.
    pub(crate) fn catch_up(&self, reader: &dyn ChangelogRead) -> Result<()> {
        let targets: Vec<ChangelogTarget> = {
            let guard = self.owned();
            let owned = &*guard;
            self.list
                .iter()
                .filter(|t| self.standby || t.def.kind.is_global())
                .flat_map(|t| {
                    let global = t.def.kind.is_global();
                    (0..t.partitions as i32)
                        .filter(move |p| global || !owned.contains(p))
                        .map(|partition| ChangelogTarget {
                            table: t.clone(),
                            partition,
                        })
                })
                .collect()
        };
        if targets.is_empty() {
            return Ok(());
        }
        recover_partitions(&targets, reader, "following", Some(&self.owned), None)?;
        for target in targets.iter().filter(|t| !t.table.def.kind.is_global()) {
            target.table.open(target.partition)?.mark_followed()?;
        }
        Ok(())
    }
}
