//! Tables: partitioned state that survives restarts.
//!
//! A [`Table<K, V>`] is a key-value map split into partitions like the
//! topics its agents read (co-partitioning): a write made while handling an
//! event of partition `p` goes to table partition `p`. Each write is also
//! sent to the table's changelog topic, `<app id>-<table>-changelog`
//! (compacted; a delete is a tombstone), to changelog partition `p`. Before
//! any event of a partition is processed, the worker rebuilds that table
//! partition from its changelog, so state comes back after a restart or
//! when a partition moves to another worker.
//!
//! ```
//! use faust::prelude::*;
//!
//! #[table(name = "totals", default)]
//! static TOTALS: Table<String, f64>;
//!
//! #[agent(topic = "payments")]
//! async fn add(payment: Event<f64>) -> Result<()> {
//!     let account = payment.key.clone().unwrap_or_default();
//!     TOTALS.update(&account, |total| *total += payment.value)?;
//!     Ok(())
//! }
//! # fn main() {}
//! ```
//!
//! Reads see the handler's own writes at once. The event is acked (and its
//! offset committed) only once its changelog records are on the broker.
//! Outside an event (a task or timer), a key's partition is its hash, as a
//! producer would choose it.
//!
//! Stores: `memory` (in this release; state is rebuilt from the changelog at
//! every start). This module may call `codec`, `context` and `transport`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::app::registry::TableDef;
use crate::codec::Payload;
use crate::context::with_scope;
use crate::error::{Error, Result};
use crate::transport::{Message, OutgoingRecord, partition_for_key};

/// A partitioned, changelog-backed table of `V` by `K`. Declare one with
/// `#[table]`, or [`Table::from_def`] with a `TableDef`.
pub struct Table<K, V> {
    def: &'static TableDef,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> fmt::Debug for Table<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("name", &self.def.name)
            .finish()
    }
}

impl<K: Payload, V: Payload> Table<K, V> {
    /// A handle from a registered declaration; used by `#[table]`.
    #[doc(hidden)]
    pub const fn from_def(def: &'static TableDef) -> Self {
        Table {
            def,
            _types: PhantomData,
        }
    }
}

impl<K, V> Table<K, V> {
    /// The table's name.
    pub fn name(&self) -> &'static str {
        self.def.name
    }

    /// Its declaration.
    pub fn def(&self) -> &'static TableDef {
        self.def
    }
}

impl<K: Payload, V: Payload> Table<K, V> {
    /// The value of `key`, if it has one.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        self.with(|table, core| {
            let key = table.encode_key::<K>(core, key)?;
            let partition = table.partition_of(&key);
            match table.store(partition).get(&key) {
                Some(bytes) => Ok(Some(table.decode_value::<V>(core, &bytes)?)),
                None => Ok(None),
            }
        })
    }

    /// Whether `key` has a value.
    pub fn contains(&self, key: &K) -> Result<bool> {
        self.with(|table, core| {
            let key = table.encode_key::<K>(core, key)?;
            let partition = table.partition_of(&key);
            Ok(table.store(partition).get(&key).is_some())
        })
    }

    /// Sets `key` to `value`, in the store and the changelog.
    pub fn set(&self, key: &K, value: V) -> Result<()> {
        self.with(|table, core| {
            let key = table.encode_key::<K>(core, key)?;
            let value = table.encode_value::<V>(core, &value)?;
            table.write(key, Some(value))
        })
    }

    /// Removes `key` (a tombstone in the changelog).
    pub fn delete(&self, key: &K) -> Result<()> {
        self.with(|table, core| {
            let key = table.encode_key::<K>(core, key)?;
            table.write(key, None)
        })
    }

    /// Applies `f` to the value of `key` and stores the result, which it
    /// returns. A missing key starts from `V::default()` when the table is
    /// declared with `default`; otherwise it is an error.
    pub fn update(&self, key: &K, f: impl FnOnce(&mut V)) -> Result<V>
    where
        V: Default + Clone,
    {
        self.with(|table, core| {
            let key_bytes = table.encode_key::<K>(core, key)?;
            let partition = table.partition_of(&key_bytes);
            let mut value = match table.store(partition).get(&key_bytes) {
                Some(bytes) => table.decode_value::<V>(core, &bytes)?,
                None if table.def.default => V::default(),
                None => {
                    return Err(Error::config(format!(
                        "table `{}` has no value for this key and no default; declare it with \
                         `#[table(name = \"{}\", default)]`, or `get` and `set` instead",
                        table.def.name, table.def.name
                    )));
                }
            };
            f(&mut value);
            let encoded = table.encode_value::<V>(core, &value)?;
            table.write(key_bytes, Some(encoded))?;
            Ok(value)
        })
    }

    /// Number of keys in the partitions this worker holds.
    pub fn len(&self) -> Result<usize> {
        self.with(|table, _| Ok(table.stores().iter().map(|s| s.len()).sum()))
    }

    /// True when the partitions this worker holds have no key.
    pub fn is_empty(&self) -> Result<bool> {
        self.len().map(|n| n == 0)
    }

    /// Every key and value in the partitions this worker holds.
    pub fn items(&self) -> Result<Vec<(K, V)>> {
        self.with(|table, core| {
            let mut out = Vec::new();
            for store in table.stores() {
                for (k, v) in store.items() {
                    out.push((
                        table.decode_key::<K>(core, &k)?,
                        table.decode_value::<V>(core, &v)?,
                    ));
                }
            }
            Ok(out)
        })
    }

    fn with<R>(&self, f: impl FnOnce(&TableState, &crate::app::AppCore) -> Result<R>) -> Result<R> {
        with_scope(|scope| match scope.core.tables.get(self.def.name) {
            Some(table) => f(table, &scope.core),
            None => Err(Error::config(format!(
                "table `{}` is not part of this app; add it with `App::table(&...)` (App::new \
                 takes every #[table] linked into the program)",
                self.def.name
            ))),
        })
        .unwrap_or(Err(Error::NoContext { what: "Table" }))
    }
}

/// One table of a running app: its stores by partition and its changelog.
pub(crate) struct TableState {
    pub(crate) def: &'static TableDef,
    pub(crate) changelog: Arc<str>,
    pub(crate) partitions: u32,
    stores: Mutex<HashMap<i32, Arc<MemoryStore>>>,
}

impl fmt::Debug for TableState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableState")
            .field("name", &self.def.name)
            .field("changelog", &self.changelog)
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

impl TableState {
    pub(crate) fn new(
        def: &'static TableDef,
        app_id: &str,
        default_partitions: u32,
    ) -> Result<Self> {
        match def.store {
            None | Some("memory") => {}
            Some(other) => {
                return Err(Error::config(format!(
                    "table `{}`: store `{other}` is not available in this build yet; use \
                     `store = \"memory\"` (the state is rebuilt from the changelog at start)",
                    def.name
                )));
            }
        }
        Ok(TableState {
            def,
            changelog: Arc::from(changelog_topic(app_id, def.name)),
            partitions: def.partitions.unwrap_or(default_partitions).max(1),
            stores: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i32, Arc<MemoryStore>>> {
        self.stores.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The store of `partition`, created empty on first use.
    pub(crate) fn store(&self, partition: i32) -> Arc<MemoryStore> {
        self.lock().entry(partition).or_default().clone()
    }

    fn stores(&self) -> Vec<Arc<MemoryStore>> {
        self.lock().values().cloned().collect()
    }

    /// The partition a write goes to: the current event's, or the key's
    /// hash outside an event.
    fn partition_of(&self, key: &Bytes) -> i32 {
        with_scope(|scope| scope.source.partition())
            .flatten()
            .filter(|p| (*p as u32) < self.partitions)
            .unwrap_or_else(|| partition_for_key(key, self.partitions))
    }

    fn write(&self, key: Bytes, value: Option<Bytes>) -> Result<()> {
        let partition = self.partition_of(&key);
        let store = self.store(partition);
        match &value {
            Some(v) => store.put(key.clone(), v.clone()),
            None => store.remove(&key),
        }
        let record = OutgoingRecord {
            topic: self.changelog.clone(),
            partition: Some(partition),
            key: Some(key),
            value,
            ..OutgoingRecord::default()
        };
        with_scope(|scope| {
            let delivery = scope.core.producer.send(record);
            scope.pending.push(delivery);
        })
        .ok_or(Error::NoContext { what: "Table" })
    }

    /// Applies one changelog record to its partition's store.
    pub(crate) fn apply(&self, message: &Message) {
        let Some(key) = message.key.clone() else {
            return;
        };
        let store = self.store(message.partition);
        match &message.value {
            Some(value) => store.put(key, value.clone()),
            None => store.remove(&key),
        }
        store.applied(message.offset);
    }

    /// The changelog offset to resume `partition`'s recovery from.
    pub(crate) fn resume_offset(&self, partition: i32) -> i64 {
        self.store(partition).applied_offset().map_or(0, |o| o + 1)
    }

    fn encode_key<K: Payload>(&self, core: &crate::app::AppCore, key: &K) -> Result<Bytes> {
        Ok(core
            .codecs
            .for_type::<K>(self.def.key_serializer)?
            .encode(key)?)
    }

    fn encode_value<V: Payload>(&self, core: &crate::app::AppCore, value: &V) -> Result<Bytes> {
        Ok(core
            .codecs
            .for_type::<V>(self.def.value_serializer)?
            .encode(value)?)
    }

    fn decode_key<K: Payload>(&self, core: &crate::app::AppCore, key: &[u8]) -> Result<K> {
        Ok(core
            .codecs
            .for_type::<K>(self.def.key_serializer)?
            .decode(Some(key))?)
    }

    fn decode_value<V: Payload>(&self, core: &crate::app::AppCore, value: &[u8]) -> Result<V> {
        Ok(core
            .codecs
            .for_type::<V>(self.def.value_serializer)?
            .decode(Some(value))?)
    }
}

/// The changelog topic of table `table` in app `app_id`.
pub fn changelog_topic(app_id: &str, table: &str) -> String {
    format!("{app_id}-{table}-changelog")
}

/// One table partition in memory, with the last changelog offset applied.
#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    state: Mutex<StoreState>,
}

#[derive(Debug, Default)]
struct StoreState {
    data: BTreeMap<Bytes, Bytes>,
    applied: Option<i64>,
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, StoreState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.lock().data.get(key).cloned()
    }

    fn put(&self, key: Bytes, value: Bytes) {
        self.lock().data.insert(key, value);
    }

    fn remove(&self, key: &[u8]) {
        self.lock().data.remove(key);
    }

    fn len(&self) -> usize {
        self.lock().data.len()
    }

    fn items(&self) -> Vec<(Bytes, Bytes)> {
        self.lock()
            .data
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn applied(&self, offset: i64) {
        let mut state = self.lock();
        state.applied = Some(state.applied.map_or(offset, |a| a.max(offset)));
    }

    fn applied_offset(&self) -> Option<i64> {
        self.lock().applied
    }
}

/// Reads a changelog partition from an offset to its current end.
pub(crate) trait ChangelogRead {
    /// Calls `apply` for each record of `topic`/`partition` from `from` to
    /// the end as of the call; returns how many it read.
    fn read(
        &self,
        topic: &str,
        partition: i32,
        from: i64,
        apply: &mut dyn FnMut(&Message),
    ) -> Result<u64>;
}

/// Rebuilds `partitions` of every table from their changelogs, before any
/// event of those partitions is processed; logs what it did.
pub(crate) fn recover(
    tables: &[Arc<TableState>],
    partitions: &[i32],
    read: &dyn ChangelogRead,
) -> Result<()> {
    for table in tables {
        for &partition in partitions {
            if partition as u32 >= table.partitions {
                continue;
            }
            let from = table.resume_offset(partition);
            let started = std::time::Instant::now();
            let records = read.read(&table.changelog, partition, from, &mut |m| table.apply(m))?;
            let took = started.elapsed();
            if records > 0 {
                tracing::info!(
                    table = table.def.name,
                    partition,
                    from,
                    records,
                    "recovered in {took:?} ({:.0} records/s)",
                    records as f64 / took.as_secs_f64().max(1e-9)
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    static DEF: TableDef = TableDef {
        name: "t",
        partitions: Some(2),
        key_serializer: None,
        value_serializer: None,
        store: None,
        help: "",
        default: false,
        location: None,
    };

    fn message(partition: i32, offset: i64, key: &str, value: Option<&str>) -> Message {
        Message {
            topic: Arc::from("app-t-changelog"),
            partition,
            offset,
            timestamp: 0,
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            headers: Default::default(),
        }
    }

    #[test]
    fn replaying_a_changelog_rebuilds_each_partition_and_honours_tombstones() {
        let table = TableState::new(&DEF, "app", 8).unwrap();
        assert_eq!(&*table.changelog, "app-t-changelog");
        assert_eq!(table.partitions, 2);
        table.apply(&message(0, 0, "a", Some("1")));
        table.apply(&message(0, 1, "b", Some("2")));
        table.apply(&message(1, 0, "c", Some("3")));
        table.apply(&message(0, 2, "a", None));
        assert_eq!(table.store(0).get(b"a"), None);
        assert_eq!(table.store(0).get(b"b").as_deref(), Some(&b"2"[..]));
        assert_eq!(table.store(1).get(b"c").as_deref(), Some(&b"3"[..]));
        assert_eq!(table.resume_offset(0), 3);
        assert_eq!(table.resume_offset(1), 1);
    }
}
