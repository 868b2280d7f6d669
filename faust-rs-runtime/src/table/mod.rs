//! Tables: partitioned state that survives restarts.
//!
//! A [`Table<K, V>`] is a key-value map split into partitions like the
//! topics its agents read (co-partitioning): a write made while handling an
//! event of partition `p` goes to table partition `p`. Each write is also
//! sent to the table's changelog topic, `<app id>-<table>-changelog`
//! (compacted; a delete is a tombstone), to changelog partition `p`. Before
//! any event of a partition is processed, the worker brings that table
//! partition up to its changelog's end, so state comes back after a restart
//! or when a partition moves to another worker.
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
//! # Kinds
//!
//! | type | holds | Faust |
//! | --- | --- | --- |
//! | [`Table<K, V>`] | the partitions this worker owns | `app.Table` |
//! | [`GlobalTable<K, V>`] | every partition, on every worker, kept current | `app.GlobalTable` |
//! | [`SetTable<K, V>`] | a set of `V` per key (`add`, `discard`) | `app.SetTable` |
//! | [`SetGlobalTable<K, V>`] | a set per key, on every worker | `app.SetGlobalTable` |
//!
//! A global table's key lives in the partition its hash picks (not the
//! event's), so every worker finds it in the same place.
//!
//! # Stores
//!
//! `memory://` (the default) keeps partitions in memory and rebuilds them
//! from the changelog at every start. `rocksdb://DIR` keeps them on disk:
//! each partition's data and the last changelog offset it holds are
//! written in one RocksDB `WriteBatch`, so a restart replays only the
//! changelog past that offset. A missing, corrupt or incompatible folder is
//! rebuilt from offset 0 with a warning. See [`App::store`](crate::App::store)
//! and the `rocksdb_*` settings in [`config`](crate::app::config).
//!
//! # Guarantee
//!
//! At least once: after a crash, the events processed since the last offset
//! commit (at most `commit_interval` of them, plus those in flight) are
//! processed again, so a counting table may count them twice. Nothing is
//! lost: an event's offset is committed only after its changelog writes are
//! on the broker.

mod recovery;
mod state;
pub(crate) mod store;

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;

pub(crate) use recovery::{ChangelogRead, ReadSpec};
pub(crate) use state::{TableState, Tables};

use crate::app::registry::{TableDef, TableKind, TableTypes};
use crate::codec::{Codecs, Json, Payload};
use crate::context::with_scope;
use crate::error::{Error, Result};

/// What [`rebuild`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RebuildReport {
    /// Changelog records read and applied.
    pub records: u64,
    /// Table partitions brought up to date.
    pub partitions: usize,
    /// How long it took, from opening the stores to the last record.
    pub elapsed: std::time::Duration,
}

/// Brings every table of `app`, every partition, up to its changelog's end
/// in the app's configured stores, as a worker does for the partitions it
/// is assigned, and reports what it read. With RocksDB stores this warms a
/// store folder before a worker starts on it (the worker then replays only
/// what was written since); it is also how the table benchmarks measure
/// recovery. Uses the app's settings as they are (call
/// [`config::resolve`](crate::app::config::resolve) first for the file and
/// environment); blocks until done.
///
/// # Errors
///
/// A broker that cannot be reached, a changelog that cannot be read, or a
/// store that cannot be opened.
pub fn rebuild(app: &crate::App) -> Result<RebuildReport> {
    let started = std::time::Instant::now();
    let settings = app.settings();
    let transport = crate::transport::connect(settings, crate::time::Clock::real())?;
    let mut list = Vec::new();
    for def in app.table_defs() {
        list.push(std::sync::Arc::new(TableState::new(
            def,
            app.id(),
            settings,
        )?));
    }
    let partitions: Vec<i32> = (0..list.iter().map(|t| t.partitions).max().unwrap_or(0))
        .map(|p| p as i32)
        .collect();
    let count: usize = list.iter().map(|t| t.partitions as usize).sum();
    let tables = Tables::new(list, false);
    let reader = transport.changelog_reader(app.id())?;
    let records = tables.assign(&partitions, &*reader, None)?;
    tables.close();
    Ok(RebuildReport {
        records,
        partitions: count,
        elapsed: started.elapsed(),
    })
}

/// The changelog topic of table `table` in app `app_id`.
pub fn changelog_topic(app_id: &str, table: &str) -> String {
    format!("{app_id}-{table}-changelog")
}

/// The first bytes of a changelog value that carries its origin.
const FRAME_MAGIC: &[u8] = b"\xfa\xcefs\x01";

/// The table value in a changelog record's value, for readers of
/// changelog topics: under exact state a worker writes each value behind
/// a frame naming the input event that wrote it (magic bytes `FA CE 66 73
/// 01`, then the topic's length as a big-endian `u16`, the topic, the
/// partition as `i32` and the offset as `i64`), much as Kafka Streams
/// prefixes the values of its timestamped stores. Values without the frame
/// are returned as they are. (The frame travels in the value, not in a
/// header: Kafka keeps headers well, but some brokers slow down with a
/// header on every record.)
///
/// ```
/// assert_eq!(faust::table::changelog_value(b"42"), b"42");
/// ```
pub fn changelog_value(raw: &[u8]) -> &[u8] {
    unframe(raw).map_or(raw, |(_, value)| value)
}

/// The input event (topic, partition, offset) that wrote a changelog
/// value, when it carries the frame (see [`changelog_value`]).
///
/// ```
/// assert_eq!(faust::table::changelog_origin(b"42"), None);
/// ```
pub fn changelog_origin(raw: &[u8]) -> Option<(&str, i32, i64)> {
    unframe(raw).map(|(origin, _)| origin)
}

/// The value of the changelog record of a table write of `value` (`None`:
/// a delete) by the event at `origin`: framed with the origin when there is
/// both (see [`changelog_value`]); else the value as it is. A tombstone
/// stays empty, and carries its origin in a header.
pub(crate) fn changelog_record_value(
    origin: Option<&(store::SourceKey, i64)>,
    value: Option<Bytes>,
) -> Option<Bytes> {
    match (origin, value) {
        (Some((source, offset)), Some(v)) => Some(frame(source, *offset, &v)),
        (_, value) => value,
    }
}

/// `value` behind the frame naming the event at `offset` of `source`.
fn frame(source: &store::SourceKey, offset: i64, value: &[u8]) -> bytes::Bytes {
    let topic = source.0.as_bytes();
    let mut framed = Vec::with_capacity(FRAME_MAGIC.len() + 2 + topic.len() + 12 + value.len());
    framed.extend_from_slice(FRAME_MAGIC);
    framed.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    framed.extend_from_slice(topic);
    framed.extend_from_slice(&source.1.to_be_bytes());
    framed.extend_from_slice(&offset.to_be_bytes());
    framed.extend_from_slice(value);
    bytes::Bytes::from(framed)
}

/// A frame's origin: input topic, partition, offset.
pub(crate) type FrameOrigin<'a> = (&'a str, i32, i64);

/// The origin and the value of a framed changelog value; `None` when
/// `raw` has no (whole) frame.
pub(crate) fn unframe(raw: &[u8]) -> Option<(FrameOrigin<'_>, &[u8])> {
    let rest = raw.strip_prefix(FRAME_MAGIC)?;
    let len = u16::from_be_bytes(rest.get(..2)?.try_into().ok()?) as usize;
    let topic = std::str::from_utf8(rest.get(2..2 + len)?).ok()?;
    let rest = &rest[2 + len..];
    let partition = i32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    let offset = i64::from_be_bytes(rest.get(4..12)?.try_into().ok()?);
    Some(((topic, partition, offset), &rest[12..]))
}

/// A partitioned, changelog-backed table of `V` by `K`. Declare one with
/// `#[table]`.
pub struct Table<K, V> {
    def: &'static TableDef,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> fmt::Debug for Table<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.def.kind.type_name())
            .field("name", &self.def.name)
            .finish()
    }
}

impl<K: Payload, V: Payload> Table<K, V> {
    /// What `#[table]` records about the kind.
    #[doc(hidden)]
    pub const KIND: TableKind = TableKind::Table;
    /// What `#[table]` records about the types.
    #[doc(hidden)]
    pub const TYPES: TableTypes = types::<K, V>();

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
        self.with(|table, codecs| {
            let key = table.encode_key::<K>(codecs, key)?;
            match table.get(&key)? {
                Some(bytes) => Ok(Some(table.decode_value::<V>(codecs, &bytes)?)),
                None => Ok(None),
            }
        })
    }

    /// Whether `key` has a value.
    pub fn contains(&self, key: &K) -> Result<bool> {
        self.with(|table, codecs| {
            let key = table.encode_key::<K>(codecs, key)?;
            Ok(table.get(&key)?.is_some())
        })
    }

    /// Sets `key` to `value`, in the store and the changelog.
    pub fn set(&self, key: &K, value: V) -> Result<()> {
        self.with(|table, codecs| {
            let key = table.encode_key::<K>(codecs, key)?;
            let value = table.encode_value::<V>(codecs, &value)?;
            table.write(key, Some(value))
        })
    }

    /// Removes `key` (a tombstone in the changelog).
    pub fn delete(&self, key: &K) -> Result<()> {
        self.with(|table, codecs| {
            let key = table.encode_key::<K>(codecs, key)?;
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
        self.with(|table, codecs| {
            let key_bytes = table.encode_key::<K>(codecs, key)?;
            let mut value = match table.get(&key_bytes)? {
                Some(bytes) => table.decode_value::<V>(codecs, &bytes)?,
                None if table.def.default => V::default(),
                None => return Err(no_default(table.def)),
            };
            f(&mut value);
            let encoded = table.encode_value::<V>(codecs, &value)?;
            table.write(key_bytes, Some(encoded))?;
            Ok(value)
        })
    }

    /// Number of keys in the partitions this worker holds (RocksDB: counted
    /// by a scan).
    pub fn len(&self) -> Result<usize> {
        self.with(|table, _| table.len())
    }

    /// True when the partitions this worker holds have no key.
    pub fn is_empty(&self) -> Result<bool> {
        self.len().map(|n| n == 0)
    }

    /// Every key and value in the partitions this worker holds.
    pub fn items(&self) -> Result<Vec<(K, V)>> {
        self.with(|table, codecs| {
            table
                .items()?
                .into_iter()
                .map(|(k, v)| {
                    Ok((
                        table.decode_key::<K>(codecs, &k)?,
                        table.decode_value::<V>(codecs, &v)?,
                    ))
                })
                .collect()
        })
    }

    fn with<R>(&self, f: impl FnOnce(&TableState, &Codecs) -> Result<R>) -> Result<R> {
        with_table(self.def, f)
    }
}

/// Calls `f` with the running state of the table `def` declares, in the
/// app the current code runs in.
pub(crate) fn with_table<R>(
    def: &'static TableDef,
    f: impl FnOnce(&TableState, &Codecs) -> Result<R>,
) -> Result<R> {
    with_scope(|scope| match scope.core.tables.get(def.name) {
        Some(table) => f(table, &scope.core.codecs),
        None => Err(Error::config(format!(
            "table `{}` is not part of this app; add it with `App::table(&...)` (App::new \
             takes every #[table] linked into the program)",
            def.name
        ))),
    })
    .unwrap_or(Err(Error::NoContext {
        what: def.kind.type_name(),
    }))
}

fn no_default(def: &TableDef) -> Error {
    Error::config(format!(
        "table `{}` has no value for this key and no default; declare it with \
         `#[table(name = \"{}\", default)]`, or use `get` and `set` instead",
        def.name, def.name
    ))
}

/// A table every worker holds whole, kept current from its changelog
/// (Faust's `GlobalTable`): for reference data every event may look up,
/// such as a currency table. Same methods as [`Table`] (through `Deref`).
///
/// ```
/// use faust::prelude::*;
/// use faust::table::GlobalTable;
///
/// #[table(name = "rates")]
/// static RATES: GlobalTable<String, f64>;
/// # fn main() {}
/// ```
pub struct GlobalTable<K, V>(Table<K, V>);

impl<K: Payload, V: Payload> GlobalTable<K, V> {
    /// What `#[table]` records about the kind.
    #[doc(hidden)]
    pub const KIND: TableKind = TableKind::Global;
    /// What `#[table]` records about the types.
    #[doc(hidden)]
    pub const TYPES: TableTypes = types::<K, V>();

    /// A handle from a registered declaration; used by `#[table]`.
    #[doc(hidden)]
    pub const fn from_def(def: &'static TableDef) -> Self {
        GlobalTable(Table::from_def(def))
    }
}

impl<K, V> std::ops::Deref for GlobalTable<K, V> {
    type Target = Table<K, V>;

    fn deref(&self) -> &Table<K, V> {
        &self.0
    }
}

impl<K, V> fmt::Debug for GlobalTable<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A set of `V` per key (Faust's `SetTable`): `add` and `discard` members.
/// Each change writes the key's whole set to the changelog. Members are
/// kept in order (`V: Ord`).
///
/// ```
/// use faust::prelude::*;
/// use faust::table::SetTable;
///
/// #[table(name = "pages-by-user")]
/// static PAGES: SetTable<String, String>;
///
/// #[agent(topic = "views")]
/// async fn record(view: Event<String>) -> Result<()> {
///     let user = view.key.clone().unwrap_or_default();
///     PAGES.add(&user, view.value.clone())?;
///     Ok(())
/// }
/// # fn main() {}
/// ```
pub struct SetTable<K, V>(Table<K, Json<BTreeSet<V>>>);

/// A [`SetTable`] every worker holds whole (Faust's `SetGlobalTable`).
pub struct SetGlobalTable<K, V>(SetTable<K, V>);

impl<K: Payload, V: Payload + Ord> SetTable<K, V> {
    /// What `#[table]` records about the kind.
    #[doc(hidden)]
    pub const KIND: TableKind = TableKind::Set;
    /// What `#[table]` records about the types.
    #[doc(hidden)]
    pub const TYPES: TableTypes = TableTypes {
        // The schema of a member, not of the stored set.
        value_record: V::SCHEMA,
        ..types::<K, Json<BTreeSet<V>>>()
    };

    /// A handle from a registered declaration; used by `#[table]`.
    #[doc(hidden)]
    pub const fn from_def(def: &'static TableDef) -> Self {
        SetTable(Table::from_def(def))
    }

    /// The table's name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Its declaration.
    pub fn def(&self) -> &'static TableDef {
        self.0.def()
    }

    /// The members of `key`'s set (empty when it has none).
    pub fn get(&self, key: &K) -> Result<BTreeSet<V>> {
        Ok(self.0.get(key)?.map(|s| s.0).unwrap_or_default())
    }

    /// Whether `member` is in `key`'s set.
    pub fn contains(&self, key: &K, member: &V) -> Result<bool> {
        Ok(self.0.get(key)?.is_some_and(|s| s.0.contains(member)))
    }

    /// Adds `member` to `key`'s set; false when it was there already (and
    /// nothing is written).
    pub fn add(&self, key: &K, member: V) -> Result<bool> {
        let mut set = self.get(key)?;
        if !set.insert(member) {
            return Ok(false);
        }
        self.0.set(key, Json(set))?;
        Ok(true)
    }

    /// Removes `member` from `key`'s set; false when it was not there. The
    /// key goes when its set is empty.
    pub fn discard(&self, key: &K, member: &V) -> Result<bool> {
        let mut set = self.get(key)?;
        if !set.remove(member) {
            return Ok(false);
        }
        if set.is_empty() {
            self.0.delete(key)?;
        } else {
            self.0.set(key, Json(set))?;
        }
        Ok(true)
    }

    /// Removes `key` and its whole set.
    pub fn delete(&self, key: &K) -> Result<()> {
        self.0.delete(key)
    }

    /// Number of keys in the partitions this worker holds.
    pub fn len(&self) -> Result<usize> {
        self.0.len()
    }

    /// True when the partitions this worker holds have no key.
    pub fn is_empty(&self) -> Result<bool> {
        self.0.is_empty()
    }

    /// Every key and its set, in the partitions this worker holds.
    pub fn items(&self) -> Result<Vec<(K, BTreeSet<V>)>> {
        Ok(self.0.items()?.into_iter().map(|(k, s)| (k, s.0)).collect())
    }
}

impl<K: Payload, V: Payload + Ord> SetGlobalTable<K, V> {
    /// What `#[table]` records about the kind.
    #[doc(hidden)]
    pub const KIND: TableKind = TableKind::SetGlobal;
    /// What `#[table]` records about the types.
    #[doc(hidden)]
    pub const TYPES: TableTypes = TableTypes {
        // The schema of a member, not of the stored set.
        value_record: V::SCHEMA,
        ..types::<K, Json<BTreeSet<V>>>()
    };

    /// A handle from a registered declaration; used by `#[table]`.
    #[doc(hidden)]
    pub const fn from_def(def: &'static TableDef) -> Self {
        SetGlobalTable(SetTable::from_def(def))
    }
}

impl<K, V> std::ops::Deref for SetGlobalTable<K, V> {
    type Target = SetTable<K, V>;

    fn deref(&self) -> &SetTable<K, V> {
        &self.0
    }
}

impl<K, V> fmt::Debug for SetTable<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.0.def.kind.type_name())
            .field("name", &self.0.def.name)
            .finish()
    }
}

impl<K, V> fmt::Debug for SetGlobalTable<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Any kind of table, for [`App::table`](crate::App::table) and the test
/// driver.
pub trait AnyTable: Send + Sync + 'static {
    /// The key type.
    type Key: Payload;
    /// What `get` returns for a key.
    type Value;

    /// Its declaration.
    fn def(&self) -> &'static TableDef;

    /// The value of `key` (for a set table, its set; `None` when empty).
    fn lookup(&self, key: &Self::Key) -> Result<Option<Self::Value>>;

    /// Number of keys held here.
    fn count(&self) -> Result<usize>;

    /// Every key and value held here.
    fn entries(&self) -> Result<Vec<(Self::Key, Self::Value)>>;
}

impl<K: Payload, V: Payload> AnyTable for Table<K, V> {
    type Key = K;
    type Value = V;

    fn def(&self) -> &'static TableDef {
        self.def
    }

    fn lookup(&self, key: &K) -> Result<Option<V>> {
        self.get(key)
    }

    fn count(&self) -> Result<usize> {
        self.len()
    }

    fn entries(&self) -> Result<Vec<(K, V)>> {
        self.items()
    }
}

impl<K: Payload, V: Payload> AnyTable for GlobalTable<K, V> {
    type Key = K;
    type Value = V;

    fn def(&self) -> &'static TableDef {
        self.0.def
    }

    fn lookup(&self, key: &K) -> Result<Option<V>> {
        self.0.get(key)
    }

    fn count(&self) -> Result<usize> {
        self.0.len()
    }

    fn entries(&self) -> Result<Vec<(K, V)>> {
        self.0.items()
    }
}

impl<K: Payload, V: Payload + Ord> AnyTable for SetTable<K, V> {
    type Key = K;
    type Value = BTreeSet<V>;

    fn def(&self) -> &'static TableDef {
        self.0.def
    }

    fn lookup(&self, key: &K) -> Result<Option<BTreeSet<V>>> {
        Ok(self.0.get(key)?.map(|s| s.0))
    }

    fn count(&self) -> Result<usize> {
        self.len()
    }

    fn entries(&self) -> Result<Vec<(K, BTreeSet<V>)>> {
        self.items()
    }
}

impl<K: Payload, V: Payload + Ord> AnyTable for SetGlobalTable<K, V> {
    type Key = K;
    type Value = BTreeSet<V>;

    fn def(&self) -> &'static TableDef {
        self.0.def()
    }

    fn lookup(&self, key: &K) -> Result<Option<BTreeSet<V>>> {
        self.0.lookup(key)
    }

    fn count(&self) -> Result<usize> {
        self.0.len()
    }

    fn entries(&self) -> Result<Vec<(K, BTreeSet<V>)>> {
        self.0.items()
    }
}

pub(crate) const fn types<K: Payload, V: Payload>() -> TableTypes {
    TableTypes {
        key_from_text: key_from_text::<K>,
        value_to_json: value_to_json::<V>,
        key_record: K::SCHEMA,
        value_record: V::SCHEMA,
    }
}

/// `text` as a `K`: JSON when it parses as one, else a JSON string.
fn key_from_text<K: Payload>(codecs: &Codecs, codec: Option<&str>, text: &str) -> Result<Bytes> {
    let key: K = serde_json::from_str(text)
        .or_else(|_| serde_json::from_value(serde_json::Value::String(text.to_owned())))
        .map_err(|e| {
            Error::config(format!(
                "the key {text:?} is not a `{}`: {e}",
                std::any::type_name::<K>()
            ))
        })?;
    Ok(codecs.for_type::<K>(codec)?.encode(&key)?)
}

fn value_to_json<V: Payload>(
    codecs: &Codecs,
    codec: Option<&str>,
    bytes: &[u8],
) -> Result<serde_json::Value> {
    let value: V = codecs.for_type::<V>(codec)?.decode(Some(bytes))?;
    serde_json::to_value(&value).map_err(|e| Error::msg(format!("cannot show the value: {e}")))
}

/// `key`'s value in `table` as JSON, from the partitions this process
/// holds: a windowed table's every window of the key, oldest first, as
/// `[{"start", "end", "value"}]`. `None` when there is none. For the
/// CLI's `table get` and the web endpoint's table queries.
pub(crate) fn lookup_json(
    codecs: &Codecs,
    def: &TableDef,
    table: &TableState,
    key: &[u8],
) -> Result<Option<serde_json::Value>> {
    let to_json = |value: &[u8]| (def.types.value_to_json)(codecs, def.value_serializer, value);
    if table.window.is_some() {
        let windows = table.find_windows(key)?;
        if windows.is_empty() {
            return Ok(None);
        }
        let mut list = Vec::new();
        for (window, value) in windows {
            list.push(serde_json::json!({
                "start": window.start,
                "end": window.end,
                "value": to_json(&value)?,
            }));
        }
        return Ok(Some(serde_json::Value::Array(list)));
    }
    table
        .find(key)?
        .map(|(_, value)| to_json(&value))
        .transpose()
}
