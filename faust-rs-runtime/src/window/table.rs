//! [`WindowedTable`]: the typed handle `#[table]` declares for a table
//! with windows, and [`WindowSet`], one key's windows.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use bytes::Bytes;

use super::state::windows_of;
use super::{CLOCK_KEY, Window, millis, split_store_key, store_key};
use crate::app::registry::{TableDef, TableKind, TableTypes};
use crate::codec::Payload;
use crate::error::{Error, Result};
use crate::table::{AnyTable, TableState, with_table};

/// A table of `V` by `K` and time window (Faust's windowed table:
/// `app.Table(...).tumbling(...)`). Declare one with `#[table]` and a
/// window option; see the [module docs](super).
pub struct WindowedTable<K, V> {
    def: &'static TableDef,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> fmt::Debug for WindowedTable<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowedTable")
            .field("name", &self.def.name)
            .field("window", &self.def.window.map(|w| w.kind))
            .finish()
    }
}

impl<K: Payload, V: Payload> WindowedTable<K, V> {
    /// What `#[table]` records about the kind.
    #[doc(hidden)]
    pub const KIND: TableKind = TableKind::Windowed;
    /// What `#[table]` records about the types.
    #[doc(hidden)]
    pub const TYPES: TableTypes = crate::table::types::<K, V>();

    /// A handle from a registered declaration; used by `#[table]`.
    #[doc(hidden)]
    pub const fn from_def(def: &'static TableDef) -> Self {
        WindowedTable {
            def,
            _types: PhantomData,
        }
    }

    /// Calls `on_window_close`'s function with a closed window, decoded;
    /// used by `#[table]`.
    #[doc(hidden)]
    pub fn call_on_close<F, Fut, E>(window: super::ClosedWindow, f: F) -> crate::time::TaskFuture
    where
        F: FnOnce(K, Window, V) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Into<crate::BoxError>,
    {
        Box::pin(async move {
            let (key, value) = window.decode::<K, V>()?;
            f(key, window.window, value).await.map_err(Into::into)
        })
    }

    /// Calls `on_late`'s function with a late event's key and time (ms);
    /// used by `#[table]`.
    #[doc(hidden)]
    pub fn call_on_late<F, Fut, E>(late: super::LateEvent, f: F) -> crate::time::TaskFuture
    where
        F: FnOnce(K, i64) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Into<crate::BoxError>,
    {
        Box::pin(async move {
            let key = late.decode_key::<K>()?;
            f(key, late.timestamp).await.map_err(Into::into)
        })
    }
}

impl<K, V> WindowedTable<K, V> {
    /// The table's name.
    pub fn name(&self) -> &'static str {
        self.def.name
    }

    /// Its declaration.
    pub fn def(&self) -> &'static TableDef {
        self.def
    }
}

impl<K: Payload, V: Payload> WindowedTable<K, V> {
    /// Applies `f` to `key`'s value in every window the current event's
    /// time falls in (one for tumbling and sliding windows, `size / step`
    /// for hopping ones) and stores the results. Returns the value of the
    /// current window (the latest one the time falls in), or `None` when
    /// the event is late: every window it falls in has closed, so nothing
    /// changed and the table's `late` policy applies. A missing window
    /// starts from `V::default()` with `default`; otherwise it is an error.
    ///
    /// Outside an event (a task or timer) the time is the clock's.
    pub fn update(&self, key: &K, mut f: impl FnMut(&mut V)) -> Result<Option<V>>
    where
        V: Default,
    {
        self.with(|table, windows, codecs| {
            let key = table.encode_key::<K>(codecs, key)?;
            let partition = table.partition_of(&key);
            let timestamp = windows.time_now();
            let updated =
                windows.update(table, partition, &key, (timestamp, None), &mut |old| {
                    let mut value = match old {
                        Some(bytes) => table.decode_value::<V>(codecs, &bytes)?,
                        None if table.def.default => V::default(),
                        None => return Err(no_default(table.def)),
                    };
                    f(&mut value);
                    table.encode_value::<V>(codecs, &value)
                })?;
            updated
                .map(|bytes| table.decode_value::<V>(codecs, &bytes))
                .transpose()
        })
    }

    /// Sets `key` to `value` in every window the current event's time falls
    /// in; `false` when the event is late (nothing changed).
    pub fn set(&self, key: &K, value: V) -> Result<bool> {
        self.with(|table, windows, codecs| {
            let key = table.encode_key::<K>(codecs, key)?;
            let partition = table.partition_of(&key);
            let timestamp = windows.time_now();
            let encoded = table.encode_value::<V>(codecs, &value)?;
            let mut applied = false;
            windows.update(table, partition, &key, (timestamp, None), &mut |_| {
                applied = true;
                Ok(encoded.clone())
            })?;
            Ok(applied)
        })
    }

    /// `key`'s windows, to read (Faust's `table[key]`).
    pub fn key<'a>(&'a self, key: &'a K) -> WindowSet<'a, K, V> {
        WindowSet { table: self, key }
    }

    /// Every key, window and value in the partitions this worker holds,
    /// oldest window first.
    pub fn items(&self) -> Result<Vec<(K, Window, V)>> {
        self.with(|table, windows, codecs| {
            let mut out = Vec::new();
            for partition in table.held() {
                for (k, v) in table.range_at(partition, CLOCK_KEY, None)? {
                    let Some((start, key)) = split_store_key(&k) else {
                        continue;
                    };
                    out.push((
                        table.decode_key::<K>(codecs, key)?,
                        windows.def.window_at(start),
                        table.decode_value::<V>(codecs, &v)?,
                    ));
                }
            }
            out.sort_by_key(|(_, w, _)| *w);
            Ok(out)
        })
    }

    /// Number of windows (of all keys) in the partitions this worker holds.
    pub fn len(&self) -> Result<usize> {
        self.with(|table, _, _| {
            let mut n = 0;
            for partition in table.held() {
                n += table
                    .range_at(partition, CLOCK_KEY, None)?
                    .iter()
                    .filter(|(k, _)| split_store_key(k).is_some())
                    .count();
            }
            Ok(n)
        })
    }

    /// True when the partitions this worker holds have no window.
    pub fn is_empty(&self) -> Result<bool> {
        self.len().map(|n| n == 0)
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&TableState, &super::state::WindowState, &crate::codec::Codecs) -> Result<R>,
    ) -> Result<R> {
        with_table(self.def, |table, codecs| match &table.window {
            Some(windows) => f(table, windows, codecs),
            None => Err(Error::config(format!(
                "table `{}` has no window; give it one, e.g. `tumbling = \"1m\"`",
                self.def.name
            ))),
        })
    }

    /// The value of `key` in the window of the time `timestamp` picks.
    fn value_in(
        &self,
        key: &K,
        timestamp: impl FnOnce(&super::state::WindowState) -> i64,
    ) -> Result<Option<V>> {
        self.with(|table, windows, codecs| {
            let key = table.encode_key::<K>(codecs, key)?;
            let partition = table.partition_of(&key);
            let window = windows.def.current(timestamp(windows));
            match table.get_at(partition, &store_key(window.start, &key))? {
                Some(bytes) => Ok(Some(table.decode_value::<V>(codecs, &bytes)?)),
                None => Ok(None),
            }
        })
    }
}

fn no_default(def: &TableDef) -> Error {
    Error::config(format!(
        "table `{}` has no value for this key and window and no default; declare it with \
         `#[table(name = \"{}\", default, ...)]`, or use `set`",
        def.name, def.name
    ))
}

/// One key's windows in a [`WindowedTable`] (Faust's `WindowSet`): read the
/// window of the current event, of now, of a time before, or all of them.
pub struct WindowSet<'a, K, V> {
    table: &'a WindowedTable<K, V>,
    key: &'a K,
}

impl<K, V> fmt::Debug for WindowSet<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowSet")
            .field("table", &self.table.def.name)
            .finish_non_exhaustive()
    }
}

impl<K: Payload, V: Payload> WindowSet<'_, K, V> {
    /// The value in the window of the current event's time (the table's
    /// time: event or processing); outside an event, of the clock's time.
    pub fn current(&self) -> Result<Option<V>> {
        self.table.value_in(self.key, |w| w.time_now())
    }

    /// The value in the window of the clock's time now (wall clock; virtual
    /// time under the test driver).
    pub fn now(&self) -> Result<Option<V>> {
        self.table.value_in(self.key, |_| wall_now())
    }

    /// The value in the window of `d` before the current event's time
    /// (Faust's `delta`).
    pub fn delta(&self, d: Duration) -> Result<Option<V>> {
        self.table
            .value_in(self.key, |w| w.time_now().saturating_sub(millis(d)))
    }

    /// The value in the window of `timestamp` (ms since the epoch).
    pub fn at(&self, timestamp: i64) -> Result<Option<V>> {
        self.table.value_in(self.key, |_| timestamp)
    }

    /// Every window the key has, with its value, oldest first (scans the
    /// key's partition).
    pub fn windows(&self) -> Result<Vec<(Window, V)>> {
        self.table.with(|table, windows, codecs| {
            let key = table.encode_key::<K>(codecs, self.key)?;
            let partition = table.partition_of(&key);
            windows_of(table, windows.def, partition, &key)?
                .into_iter()
                .map(|(w, v)| Ok((w, table.decode_value::<V>(codecs, &v)?)))
                .collect()
        })
    }
}

fn wall_now() -> i64 {
    crate::context::with_scope(|s| s.core.clock.wall_ms()).unwrap_or(0)
}

impl<K: Payload, V: Payload> AnyTable for WindowedTable<K, V> {
    type Key = K;
    /// A key's windows and their values, oldest first.
    type Value = Vec<(Window, V)>;

    fn def(&self) -> &'static TableDef {
        self.def
    }

    fn lookup(&self, key: &K) -> Result<Option<Vec<(Window, V)>>> {
        let windows = self.key(key).windows()?;
        Ok((!windows.is_empty()).then_some(windows))
    }

    fn count(&self) -> Result<usize> {
        self.len()
    }

    fn entries(&self) -> Result<Vec<(K, Vec<(Window, V)>)>> {
        // Grouped by the key's bytes (`K` need not be `Eq`).
        type Grouped<K, V> = Vec<(Bytes, K, Vec<(Window, V)>)>;
        let mut out: Grouped<K, V> = Vec::new();
        let codecs_key = |k: &K| -> Result<Bytes> {
            with_table(self.def, |table, codecs| table.encode_key::<K>(codecs, k))
        };
        for (key, window, value) in self.items()? {
            let bytes = codecs_key(&key)?;
            match out.iter_mut().find(|(b, _, _)| *b == bytes) {
                Some((_, _, list)) => list.push((window, value)),
                None => out.push((bytes, key, vec![(window, value)])),
            }
        }
        Ok(out.into_iter().map(|(_, k, list)| (k, list)).collect())
    }
}
