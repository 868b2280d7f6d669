//! The running side of a windowed table: each partition's stream time,
//! and closing and expiring windows as it moves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;

use super::{
    CLOCK_KEY, ClosedWindow, LateEvent, LatePolicy, TimeSource, Window, WindowDef, split_store_key,
    start_bound, store_key,
};
use crate::codec::Codecs;
use crate::context::{Pending, with_scope};
use crate::error::Result;
use crate::table::TableState;

/// The windows of one table, as they run.
#[derive(Debug)]
pub(crate) struct WindowState {
    pub(crate) def: &'static WindowDef,
    clocks: Mutex<HashMap<i32, PartitionClock>>,
    /// Set when some partition has windows to close or expire.
    due: AtomicBool,
}

/// Where one table partition stands in time.
#[derive(Clone, Copy, Debug)]
struct PartitionClock {
    /// The latest event time seen (`i64::MIN`: none yet); for a join, the
    /// lesser of its two sides'.
    stream_time: i64,
    /// A join's two sides' latest event times.
    sides: [i64; 2],
    /// Start of the oldest window not closed yet.
    earliest_open: Option<i64>,
    /// Start of the oldest window stored (the next to expire).
    earliest_stored: Option<i64>,
}

impl WindowState {
    pub(crate) fn new(def: &'static WindowDef) -> Self {
        WindowState {
            def,
            clocks: Mutex::default(),
            due: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i32, PartitionClock>> {
        self.clocks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every partition's clock: the partitions were recovered or
    /// moved, and are read again from their stores on next use.
    pub(crate) fn reset(&self) {
        self.lock().clear();
    }

    /// The time an update of this table uses: the event's, or the clock's.
    pub(crate) fn time_now(&self) -> i64 {
        with_scope(|scope| {
            let wall = scope.core.clock.wall_ms();
            match self.def.time {
                TimeSource::Processing => wall,
                TimeSource::Event => scope.source.timestamp().unwrap_or(wall),
            }
        })
        .unwrap_or(0)
    }

    /// Applies `f` to the windows of `key` that `timestamp` falls in and
    /// that are still open, in `partition`; returns the current window's
    /// value after it, or `None` when every window had closed (a late
    /// event, recorded in the scope for its policy).
    ///
    /// A join's events say their `side` (0: left, 1: right): its stream
    /// time is the lesser of the two sides' latest times, so one stream
    /// running ahead (a backlog read faster) does not close the windows
    /// the other still fills.
    pub(crate) fn update(
        &self,
        table: &TableState,
        partition: i32,
        key: &Bytes,
        (timestamp, side): (i64, Option<usize>),
        f: &mut dyn FnMut(Option<Bytes>) -> Result<Bytes>,
    ) -> Result<Option<Bytes>> {
        let def = self.def;
        let grace = def.grace_ms();
        let mut clocks = self.lock();
        let clock = match clocks.get(&partition) {
            Some(clock) => *clock,
            None => self.load(table, partition)?,
        };
        let mut clock = clock;
        match side {
            Some(side) => {
                clock.sides[side & 1] = clock.sides[side & 1].max(timestamp);
                clock.stream_time = clock.stream_time.max(clock.sides[0].min(clock.sides[1]));
            }
            None => clock.stream_time = clock.stream_time.max(timestamp),
        }
        let current = def.current(timestamp);
        let mut out = None;
        let mut applied = false;
        for window in def.ranges(timestamp) {
            if window.end.saturating_add(grace) <= clock.stream_time {
                continue; // closed: its final value is out
            }
            let store_key = store_key(window.start, key);
            let old = table.get_at(partition, &store_key)?;
            let new = f(old)?;
            table.write_at(partition, store_key, Some(new.clone()))?;
            applied = true;
            clock.earliest_open = Some(
                clock
                    .earliest_open
                    .map_or(window.start, |s| s.min(window.start)),
            );
            clock.earliest_stored = Some(
                clock
                    .earliest_stored
                    .map_or(window.start, |s| s.min(window.start)),
            );
            if window == current {
                out = Some(new);
            }
        }
        if self.is_due(&clock) {
            self.due.store(true, Ordering::Release);
        }
        clocks.insert(partition, clock);
        drop(clocks);
        if !applied {
            metrics::counter!("faust_window_late_events_total", "table" => table.def.name)
                .increment(1);
            tracing::debug!(
                table = table.def.name,
                partition,
                timestamp,
                stream_time = clock.stream_time,
                "late event: every window it falls in has closed"
            );
            with_scope(|scope| {
                scope.pending.push_late(LateEvent {
                    table: table.def.name,
                    key: key.clone(),
                    timestamp,
                    stream_time: clock.stream_time,
                    partition,
                    codecs: scope.core.codecs.clone(),
                    key_serializer: table.def.key_serializer,
                })
            });
        }
        Ok(out)
    }

    /// Moves `partition`'s stream time to at least `now` (processing-time
    /// tables, as the clock passes).
    pub(crate) fn advance(&self, table: &TableState, partition: i32, now: i64) -> Result<()> {
        let mut clocks = self.lock();
        let mut clock = match clocks.get(&partition) {
            Some(clock) => *clock,
            None => self.load(table, partition)?,
        };
        clock.stream_time = clock.stream_time.max(now);
        clock.sides = [clock.stream_time; 2];
        if self.is_due(&clock) {
            self.due.store(true, Ordering::Release);
        }
        clocks.insert(partition, clock);
        Ok(())
    }

    fn is_due(&self, clock: &PartitionClock) -> bool {
        let def = self.def;
        let span = def.span_ms();
        let closes = clock.earliest_open.is_some_and(|start| {
            def.window_at(start).end.saturating_add(def.grace_ms()) <= clock.stream_time
        });
        let expires = match (def.expires_ms(), clock.earliest_stored) {
            (Some(expires), Some(start)) => {
                start.saturating_add(span).saturating_add(expires) <= clock.stream_time
            }
            _ => false,
        };
        closes || expires
    }

    /// Reads `partition`'s clock from its store: the stream time up to
    /// which windows were closed, and the oldest windows.
    fn load(&self, table: &TableState, partition: i32) -> Result<PartitionClock> {
        let def = self.def;
        let closed_through = table
            .get_at(partition, CLOCK_KEY)?
            .and_then(|v| Some(i64::from_be_bytes(v[..].try_into().ok()?)))
            .unwrap_or(i64::MIN);
        let first_start = |from: i64| -> Result<Option<i64>> {
            Ok(table
                .first_key_at(partition, &start_bound(from))?
                .and_then(|k| split_store_key(&k).map(|(start, _)| start)))
        };
        let latest = table
            .last_key_at(partition)?
            .and_then(|k| split_store_key(&k).map(|(start, _)| start));
        let open_from = closed_through
            .saturating_sub(def.grace_ms())
            .saturating_sub(def.span_ms())
            .saturating_add(1);
        // The latest window's start: a lower bound of the stream time the
        // partition had reached.
        let stream_time = closed_through.max(latest.unwrap_or(i64::MIN));
        Ok(PartitionClock {
            stream_time,
            sides: [stream_time; 2],
            earliest_open: first_start(open_from)?,
            earliest_stored: first_start(i64::MIN)?,
        })
    }

    /// Closes and expires what is due in every partition: returns the
    /// windows that closed, with their final values; writes expired
    /// windows' tombstones and each partition's clock record.
    pub(crate) fn run_due(&self, table: &TableState, codecs: &Codecs) -> Result<Vec<ClosedWindow>> {
        if !self.due.swap(false, Ordering::AcqRel) {
            return Ok(Vec::new());
        }
        let def = self.def;
        let grace = def.grace_ms();
        let span = def.span_ms();
        let mut closed = Vec::new();
        let mut clocks = self.lock();
        for (&partition, clock) in clocks.iter_mut() {
            if !self.is_due(clock) {
                continue;
            }
            let st = clock.stream_time;
            // Closing: windows whose end + grace is at or before the stream
            // time. `window_at(start).end = start + span` (+1 for sliding).
            let closes_before = st.saturating_sub(grace).saturating_sub(span);
            let last_closing = (0..=1)
                .map(|extra| closes_before.saturating_sub(extra))
                .find(|start| def.window_at(*start).end.saturating_add(grace) <= st)
                .unwrap_or(i64::MIN);
            if let Some(from) = clock.earliest_open
                && from <= last_closing
            {
                let upto = start_bound(last_closing.saturating_add(1));
                for (store_key, value) in
                    table.range_at(partition, &start_bound(from), Some(&upto))?
                {
                    let Some((start, key)) = split_store_key(&store_key) else {
                        continue;
                    };
                    closed.push(ClosedWindow {
                        table: table.def.name,
                        key: Bytes::copy_from_slice(key),
                        window: def.window_at(start),
                        value,
                        codecs: codecs.clone(),
                        key_serializer: table.def.key_serializer,
                        value_serializer: table.def.value_serializer,
                    });
                }
                // Every window with `end + grace <= st` has closed: kept
                // for a restart.
                table.write_at(
                    partition,
                    Bytes::from_static(CLOCK_KEY),
                    Some(Bytes::copy_from_slice(&st.to_be_bytes())),
                )?;
                clock.earliest_open = table
                    .first_key_at(partition, &upto)?
                    .and_then(|k| split_store_key(&k).map(|(s, _)| s));
            }
            // Expiry: windows whose end + expires is at or before it.
            if let (Some(expires), Some(from)) = (def.expires_ms(), clock.earliest_stored) {
                let last_expiring = st.saturating_sub(expires).saturating_sub(span);
                if from <= last_expiring {
                    let upto = start_bound(last_expiring.saturating_add(1));
                    let expired = table.range_at(partition, &start_bound(from), Some(&upto))?;
                    metrics::counter!("faust_windows_expired_total", "table" => table.def.name)
                        .increment(expired.len() as u64);
                    for (store_key, _) in expired {
                        table.write_at(partition, store_key, None)?;
                    }
                    clock.earliest_stored = table
                        .first_key_at(partition, &upto)?
                        .and_then(|k| split_store_key(&k).map(|(s, _)| s));
                    if clock.earliest_open.is_some_and(|s| s <= last_expiring) {
                        clock.earliest_open = clock.earliest_stored;
                    }
                }
            }
        }
        if !closed.is_empty() {
            metrics::counter!("faust_windows_closed_total", "table" => table.def.name)
                .increment(closed.len() as u64);
        }
        Ok(closed)
    }

    /// What the policy says to do with a late event.
    pub(crate) fn late_policy(&self) -> LatePolicy {
        self.def.late
    }
}

/// Runs what a unit of work left for windowed tables once it is done:
/// closes and expires what its updates made due (calling `on_window_close`
/// and sending to `emit_closed` topics), and hands its late events to
/// `on_late`. Returns the late events whose table says to dead-letter
/// them. Runs inside the unit's scope: what it sends is part of the unit.
pub(crate) async fn finish(pending: &Pending) -> Vec<LateEvent> {
    let Some(core) = with_scope(|scope| scope.core.clone()) else {
        return Vec::new();
    };
    let tables = core.tables.clone();
    let mut closed = Vec::new();
    for table in tables.all() {
        let Some(windows) = &table.window else {
            continue;
        };
        match windows.run_due(table, &core.codecs) {
            Ok(mut list) => closed.append(&mut list),
            Err(e) => {
                tracing::error!(
                    table = table.def.name,
                    "closing windows: {e}; trying again later"
                );
                windows.due.store(true, Ordering::Release);
            }
        }
    }
    for window in closed {
        emit_closed(&core, window).await;
    }
    let mut dead = Vec::new();
    for late in pending.take_late() {
        let Some(table) = tables.get(late.table) else {
            continue;
        };
        let Some(windows) = &table.window else {
            continue;
        };
        if let Some(hook) = windows.def.on_late
            && let Err(e) = hook(late.clone()).await
        {
            tracing::error!(table = late.table, "on_late failed: {e}");
        }
        if windows.late_policy() == LatePolicy::DeadLetter {
            dead.push(late);
        }
    }
    dead
}

/// Hands one closed window to its table's `on_window_close` and
/// `emit_closed` topic.
async fn emit_closed(core: &crate::app::AppCore, window: ClosedWindow) {
    let Some(def) = core
        .tables
        .get(window.table)
        .and_then(|t| t.window.as_ref())
        .map(|w| w.def)
    else {
        return;
    };
    tracing::debug!(table = window.table, window = %window.window, "window closed");
    if let Some(topic) = def.emit_closed {
        match closed_record(core, &window, topic) {
            Ok(record) => {
                let delivery = core.producer.send(record);
                with_scope(|scope| scope.pending.push(delivery));
            }
            Err(e) => tracing::error!(
                table = window.table,
                "cannot encode the closed window {} for `{topic}`: {e}",
                window.window
            ),
        }
    }
    if let Some(hook) = def.on_close
        && let Err(e) = hook(window.clone()).await
    {
        tracing::error!(table = window.table, window = %window.window, "on_window_close failed: {e}");
    }
}

/// The `emit_closed` record of a window: the table key, and
/// `{"start", "end", "value"}` with the value as JSON.
fn closed_record(
    core: &crate::app::AppCore,
    window: &ClosedWindow,
    topic: &'static str,
) -> Result<crate::transport::OutgoingRecord> {
    let table = core
        .tables
        .get(window.table)
        .ok_or_else(|| crate::Error::config(format!("no table `{}`", window.table)))?;
    let value =
        (table.def.types.value_to_json)(&core.codecs, table.def.value_serializer, &window.value)?;
    let body = serde_json::json!({
        "start": window.window.start,
        "end": window.window.end,
        "value": value,
    });
    let bytes = serde_json::to_vec(&body).map_err(|e| crate::Error::config(e.to_string()))?;
    let mut record = crate::transport::OutgoingRecord {
        topic: std::sync::Arc::from(topic),
        key: Some(window.key.clone()),
        value: Some(Bytes::from(bytes)),
        ..crate::transport::OutgoingRecord::default()
    };
    crate::context::stamp_origin(&mut record.headers);
    Ok(record)
}

/// Every window of `key` held in `partition`, oldest first (a scan of the
/// partition).
pub(crate) fn windows_of(
    table: &TableState,
    def: &WindowDef,
    partition: i32,
    key: &[u8],
) -> Result<Vec<(Window, Bytes)>> {
    Ok(table
        .range_at(partition, &start_bound(i64::MIN), None)?
        .into_iter()
        .filter_map(|(k, v)| {
            let (start, rest) = split_store_key(&k)?;
            (rest == key).then(|| (def.window_at(start), v))
        })
        .collect())
}
