//! Windows: tables whose values are kept per key *and per time window*.
//!
//! A [`WindowedTable<K, V>`] is a [`Table`](crate::Table) split by time:
//! an update made while handling an event goes to the windows that the
//! event's time falls in, and a read asks for the value of one window
//! ([`WindowSet::current`], [`now`](WindowSet::now),
//! [`delta`](WindowSet::delta), [`at`](WindowSet::at)) or lists them all
//! ([`WindowSet::windows`]), like Faust's `table[key].current()`.
//!
//! ```
//! use faust::prelude::*;
//! use faust::window::WindowedTable;
//!
//! /// Views per page per minute, kept for an hour.
//! #[table(name = "views", default, tumbling = "1m", expires = "1h")]
//! static VIEWS: WindowedTable<String, u64>;
//!
//! #[agent(topic = "page-views")]
//! async fn count(view: Event<String>) -> Result<()> {
//!     VIEWS.update(&view.value, |n| *n += 1)?;
//!     let this_minute = VIEWS.key(&view.value).current()?;
//!     # let _ = this_minute;
//!     Ok(())
//! }
//! # fn main() {}
//! ```
//!
//! # Kinds of window
//!
//! | `#[table]` option | windows | an event at `t` falls in |
//! | --- | --- | --- |
//! | `tumbling = "1m"` | `[k·size, (k+1)·size)`, back to back | one window |
//! | `hopping(size = "10m", step = "1m")` | `[k·step, k·step + size)` | `size / step` windows |
//! | `sliding(before = "30s", after = "30s")` | `[t - before, t + after]` | its own window (Faust's definition) |
//!
//! Windows are aligned to the Unix epoch. A window is named by its
//! [`Window`] range: `start` (inclusive) and `end` (exclusive), in
//! milliseconds since the epoch.
//!
//! # Which time
//!
//! `time = "event"` (the default) uses the event's time: the value of the
//! record's timestamp field when its type declares one
//! (`#[record(timestamp = "created_at")]`), else the record's Kafka
//! timestamp. `time = "processing"` uses the clock when the event is
//! handled (virtual time under the test driver). Each table partition
//! keeps its **stream time**: the latest event time it has seen (with
//! processing time, the clock).
//!
//! # Closing, final results, late events, expiry
//!
//! * A window **closes** once its partition's stream time reaches its end
//!   plus `grace` (default: `expires`, or zero without it). Its final value
//!   is then handed, exactly once, to the table's `on_window_close`
//!   function and sent to its `emit_closed` topic as a [`WindowClosed`]
//!   record (Kafka Streams' `suppress`: a stream of closed windows only).
//!   Event time only moves with events: a partition that receives none
//!   keeps its windows open. With processing time, windows also close as
//!   the clock passes them.
//! * An event whose windows have **all** closed is **late**: it changes
//!   nothing, is counted in `faust_window_late_events_total`, goes to the
//!   table's `on_late` function, and then `late = "drop"` (the default)
//!   drops it while `late = "dead_letter"` writes it to the agent's
//!   dead-letter topic (error kind `late`).
//! * A window **expires** once stream time reaches its end plus
//!   `expires`: it is deleted from the store and a tombstone is written to
//!   the changelog. Without `expires` windows are kept for good (as in
//!   Faust).
//!
//! A [`JoinWindow`] (a stream-stream join) keeps its two streams' events
//! in windows of its own; its stream time is the lesser of its two
//! streams' latest event times.
//!
//! In the store and the changelog a window's key is its start (8 bytes,
//! big-endian, sign-flipped so windows sort by time) followed by the
//! table key's bytes; one record with an empty key per partition keeps
//! the stream time up to which windows were closed, so a restarted worker
//! closes each window once.
//!
//! This module may call `table`, `codec`, `context` and `time`.

mod join;
mod state;
mod table;

use std::time::Duration;

pub use join::JoinWindow;
pub(crate) use state::{WindowState, finish, windows_of};
pub use table::{WindowSet, WindowedTable};

use crate::time::TaskFuture;

/// A time window: `start` (inclusive) to `end` (exclusive), in milliseconds
/// since the Unix epoch.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Window {
    /// First millisecond in the window.
    pub start: i64,
    /// First millisecond after it.
    pub end: i64,
}

impl Window {
    /// Whether `timestamp` (ms) falls in the window.
    pub fn contains(&self, timestamp: i64) -> bool {
        self.start <= timestamp && timestamp < self.end
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

/// The shape of a table's windows.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowKind {
    /// Back-to-back windows of `size`.
    Tumbling {
        /// Window length.
        size: Duration,
    },
    /// Windows of `size` starting every `step`.
    Hopping {
        /// Window length.
        size: Duration,
        /// Time between two windows' starts.
        step: Duration,
    },
    /// One window per event time `t`: `[t - before, t + after]`.
    Sliding {
        /// How far before the event the window starts.
        before: Duration,
        /// How far after the event the window ends.
        after: Duration,
    },
}

/// Where a windowed table takes an event's time from.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSource {
    /// The record's timestamp field if its type has one, else its Kafka
    /// timestamp.
    Event,
    /// The clock when the event is handled.
    Processing,
}

/// What happens to an event whose windows have all closed.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatePolicy {
    /// Counted, handed to `on_late`, then dropped.
    Drop,
    /// Counted, handed to `on_late`, then written to the agent's
    /// dead-letter topic.
    DeadLetter,
}

/// A table's windows, as `#[table]` declares them.
#[doc(hidden)]
#[derive(Debug)]
pub struct WindowDef {
    /// The shape.
    pub kind: WindowKind,
    /// How long a window is kept after its end; `None`: for good.
    pub expires: Option<Duration>,
    /// How long after its end a window still takes events; `None`:
    /// `expires` (or zero).
    pub grace: Option<Duration>,
    /// Which time windows follow.
    pub time: TimeSource,
    /// What happens to late events.
    pub late: LatePolicy,
    /// Called with each window as it closes.
    pub on_close: Option<fn(ClosedWindow) -> TaskFuture>,
    /// Called with each late event.
    pub on_late: Option<fn(LateEvent) -> TaskFuture>,
    /// Topic each closed window is sent to, as a [`WindowClosed`] record.
    pub emit_closed: Option<&'static str>,
}

/// Milliseconds in `d`, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl WindowDef {
    /// The grace period in ms.
    pub(crate) fn grace_ms(&self) -> i64 {
        millis(self.grace.or(self.expires).unwrap_or(Duration::ZERO))
    }

    /// How long windows are kept after their end, in ms; `None`: for good.
    pub(crate) fn expires_ms(&self) -> Option<i64> {
        self.expires.map(millis)
    }

    /// Checks the declaration: sizes above zero, `step <= size`, `grace <=
    /// expires`. Names the table and the fix.
    pub(crate) fn check(&self, table: &str) -> Result<(), String> {
        let zero = |d: &Duration| d.is_zero();
        match self.kind {
            WindowKind::Tumbling { size } if zero(&size) => {
                return Err(format!(
                    "table `{table}`: the tumbling size must be above zero"
                ));
            }
            WindowKind::Hopping { size, step } if zero(&size) || zero(&step) || step > size => {
                return Err(format!(
                    "table `{table}`: hopping windows need 0 < step <= size, found size {size:?} \
                     and step {step:?}"
                ));
            }
            WindowKind::Sliding { before, after } if zero(&before) && zero(&after) => {
                return Err(format!(
                    "table `{table}`: a sliding window needs `before` or `after` above zero"
                ));
            }
            _ => {}
        }
        if let (Some(grace), Some(expires)) = (self.grace, self.expires)
            && grace > expires
        {
            return Err(format!(
                "table `{table}`: grace ({grace:?}) is longer than expires ({expires:?}): a \
                 window must stay until it closes; make expires at least {grace:?}"
            ));
        }
        Ok(())
    }

    /// From a window's start to its end, in ms.
    pub(crate) fn span_ms(&self) -> i64 {
        match self.kind {
            WindowKind::Tumbling { size } | WindowKind::Hopping { size, .. } => millis(size),
            WindowKind::Sliding { before, after } => millis(before).saturating_add(millis(after)),
        }
    }

    /// The window starting at `start`.
    pub(crate) fn window_at(&self, start: i64) -> Window {
        let end = match self.kind {
            // A sliding window `[t - before, t + after]` includes `t + after`.
            WindowKind::Sliding { .. } => start.saturating_add(self.span_ms()).saturating_add(1),
            _ => start.saturating_add(self.span_ms()),
        };
        Window { start, end }
    }

    /// Every window `timestamp` falls in, oldest first.
    pub(crate) fn ranges(&self, timestamp: i64) -> Vec<Window> {
        match self.kind {
            WindowKind::Tumbling { size } => vec![self.window_at(align(timestamp, millis(size)))],
            WindowKind::Hopping { size, step } => {
                // `check` holds `0 < step <= size`.
                let (size, step) = (millis(size), millis(step).max(1));
                // The latest window holding `timestamp` starts at `last`;
                // the `behind` before it, a step apart, still reach past
                // it. Counted, not stepped to, so that no sum leaves i64
                // for times near its ends: windows starting before
                // i64::MIN are left out.
                let last = align(timestamp, step);
                let behind = (size - 1 - (timestamp - last)) / step;
                let reachable = i64::try_from(last.abs_diff(i64::MIN) / step.unsigned_abs());
                let behind = behind.min(reachable.unwrap_or(i64::MAX));
                (0..=behind)
                    .rev()
                    .map(|k| self.window_at(last - k * step))
                    .collect()
            }
            WindowKind::Sliding { before, .. } => {
                vec![self.window_at(timestamp.saturating_sub(millis(before)))]
            }
        }
    }

    /// The window `timestamp` is "in" for reads: the latest one that
    /// contains it (for tumbling and sliding windows, the only one).
    pub(crate) fn current(&self, timestamp: i64) -> Window {
        match self.kind {
            WindowKind::Tumbling { size } => self.window_at(align(timestamp, millis(size))),
            WindowKind::Hopping { step, .. } => self.window_at(align(timestamp, millis(step))),
            WindowKind::Sliding { before, .. } => {
                self.window_at(timestamp.saturating_sub(millis(before)))
            }
        }
    }
}

/// The start of the `size`-aligned slot `timestamp` is in (floor, also
/// for times before the epoch); `i64::MIN` when that start is below it (a
/// record's time can be any `i64`).
pub(crate) fn align(timestamp: i64, size: i64) -> i64 {
    if size <= 0 {
        return timestamp;
    }
    timestamp.saturating_sub(timestamp.rem_euclid(size))
}

/// A window's store and changelog key: its start, sortable, then the table
/// key's bytes.
pub(crate) fn store_key(start: i64, key: &[u8]) -> bytes::Bytes {
    let mut out = Vec::with_capacity(8 + key.len());
    out.extend_from_slice(&encode_start(start));
    out.extend_from_slice(key);
    bytes::Bytes::from(out)
}

/// The first store key of windows starting at `start` or later.
pub(crate) fn start_bound(start: i64) -> [u8; 8] {
    encode_start(start)
}

/// A window store key split into its start and the table key; `None` for
/// the partition's bookkeeping record (an empty key) or a key too short.
pub(crate) fn split_store_key(key: &[u8]) -> Option<(i64, &[u8])> {
    let (start, rest) = key.split_first_chunk::<8>()?;
    Some(((u64::from_be_bytes(*start) ^ SIGN) as i64, rest))
}

const SIGN: u64 = 1 << 63;

fn encode_start(start: i64) -> [u8; 8] {
    ((start as u64) ^ SIGN).to_be_bytes()
}

/// The store and changelog key of a partition's bookkeeping record.
pub(crate) const CLOCK_KEY: &[u8] = b"";

/// A window that just closed, handed to `on_window_close` (generated code
/// decodes it for the user's function).
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct ClosedWindow {
    /// The table.
    pub table: &'static str,
    /// The table key's bytes.
    pub key: bytes::Bytes,
    /// The window.
    pub window: Window,
    /// Its final value's bytes.
    pub value: bytes::Bytes,
    pub(crate) codecs: crate::codec::Codecs,
    pub(crate) key_serializer: Option<&'static str>,
    pub(crate) value_serializer: Option<&'static str>,
}

impl ClosedWindow {
    /// The key and the value, decoded with the table's codecs.
    pub fn decode<K: crate::Payload, V: crate::Payload>(&self) -> crate::Result<(K, V)> {
        let key = self
            .codecs
            .for_type::<K>(self.key_serializer)?
            .decode(Some(&self.key))?;
        let value = self
            .codecs
            .for_type::<V>(self.value_serializer)?
            .decode(Some(&self.value))?;
        Ok((key, value))
    }
}

/// An event that came after every window it falls in had closed, handed
/// to `on_late`.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct LateEvent {
    /// The table.
    pub table: &'static str,
    /// The table key's bytes.
    pub key: bytes::Bytes,
    /// The event's time (ms).
    pub timestamp: i64,
    /// The partition's stream time when it came (ms).
    pub stream_time: i64,
    /// The partition.
    pub partition: i32,
    pub(crate) codecs: crate::codec::Codecs,
    pub(crate) key_serializer: Option<&'static str>,
}

impl LateEvent {
    /// The key, decoded with the table's key codec.
    pub fn decode_key<K: crate::Payload>(&self) -> crate::Result<K> {
        Ok(self
            .codecs
            .for_type::<K>(self.key_serializer)?
            .decode(Some(&self.key))?)
    }
}

/// What a table's `emit_closed` topic receives for each closed window: the
/// window and its final value (keyed by the table key). Consume it with
/// `#[agent(topic = "...")] async fn f(closed: WindowClosed<V>)`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "V: serde::Serialize",
    deserialize = "V: serde::de::DeserializeOwned"
))]
pub struct WindowClosed<V> {
    /// Window start (ms since the epoch, inclusive).
    pub start: i64,
    /// Window end (ms since the epoch, exclusive).
    pub end: i64,
    /// The window's final value.
    pub value: V,
}

impl<V> WindowClosed<V> {
    /// The window.
    pub fn window(&self) -> Window {
        Window {
            start: self.start,
            end: self.end,
        }
    }
}

impl<V> crate::codec::Payload for WindowClosed<V>
where
    V: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    const DEFAULT_CODEC: &'static str = "json";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: WindowKind) -> WindowDef {
        WindowDef {
            kind,
            expires: None,
            grace: None,
            time: TimeSource::Event,
            late: LatePolicy::Drop,
            on_close: None,
            on_late: None,
            emit_closed: None,
        }
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_tumbling_window_holds_its_start_and_not_its_end() {
        let d = def(WindowKind::Tumbling { size: 60 * S });
        assert_eq!(
            d.ranges(0),
            [Window {
                start: 0,
                end: 60_000
            }]
        );
        assert_eq!(
            d.ranges(59_999),
            [Window {
                start: 0,
                end: 60_000
            }]
        );
        assert_eq!(
            d.ranges(60_000),
            [Window {
                start: 60_000,
                end: 120_000
            }]
        );
        assert_eq!(
            d.ranges(-1),
            [Window {
                start: -60_000,
                end: 0
            }]
        );
        assert_eq!(d.current(61_000).start, 60_000);
    }

    #[test]
    fn a_hopping_event_falls_in_size_over_step_windows() {
        let d = def(WindowKind::Hopping {
            size: 10 * S,
            step: 5 * S,
        });
        let starts = |t| d.ranges(t).iter().map(|w| w.start).collect::<Vec<_>>();
        assert_eq!(starts(0), [-5_000, 0]);
        assert_eq!(starts(4_999), [-5_000, 0]);
        assert_eq!(starts(5_000), [0, 5_000]);
        assert_eq!(starts(12_345), [5_000, 10_000]);
        for t in [0, 4_999, 5_000, 12_345, -7] {
            assert!(d.ranges(t).iter().all(|w| w.contains(t)), "{t}");
        }
        assert_eq!(d.current(12_345).start, 10_000, "the latest window");
        let uneven = def(WindowKind::Hopping {
            size: 10 * S,
            step: 3 * S,
        });
        for t in [0, 1, 2_999, 3_000, 9_999, 10_000, 123_457] {
            let windows = uneven.ranges(t);
            assert!(windows.iter().all(|w| w.contains(t)), "{t}: {windows:?}");
            assert!((3..=4).contains(&windows.len()), "{t}: {windows:?}");
        }
    }

    #[test]
    fn a_sliding_window_surrounds_its_event() {
        let d = def(WindowKind::Sliding {
            before: 30 * S,
            after: 10 * S,
        });
        let w = d.ranges(100_000)[0];
        assert_eq!((w.start, w.end), (70_000, 110_001));
        assert!(w.contains(110_000));
    }

    #[test]
    fn store_keys_sort_by_window_start_then_key() {
        let mut keys = [
            store_key(60_000, b"b"),
            store_key(-60_000, b"z"),
            store_key(0, b"a"),
            store_key(60_000, b"a"),
        ];
        keys.sort();
        let decoded: Vec<(i64, &[u8])> = keys.iter().filter_map(|k| split_store_key(k)).collect();
        assert_eq!(
            decoded,
            [
                (-60_000, &b"z"[..]),
                (0, b"a"),
                (60_000, b"a"),
                (60_000, b"b")
            ]
        );
        assert_eq!(split_store_key(CLOCK_KEY), None);
        assert!(CLOCK_KEY < &store_key(i64::MIN, b"")[..]);
    }

    #[test]
    fn declarations_are_checked() {
        let mut d = def(WindowKind::Hopping {
            size: S,
            step: 2 * S,
        });
        assert!(d.check("t").unwrap_err().contains("step <= size"));
        d.kind = WindowKind::Tumbling { size: S };
        d.grace = Some(10 * S);
        d.expires = Some(5 * S);
        assert!(d.check("t").unwrap_err().contains("make expires at least"));
        d.grace = None;
        assert_eq!(d.grace_ms(), 5_000, "grace defaults to expires");
        assert!(d.check("t").is_ok());
    }

    /// Window assignment and store keys for arbitrary times, sizes and
    /// steps.
    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// A bound on event times well inside `i64` (±146 million years),
        /// so that every window around one is representable.
        const FAR: i64 = 1 << 62;

        /// Window sizes from a millisecond to 35 years.
        fn sizes() -> impl Strategy<Value = i64> {
            prop_oneof![1i64..=1_000, 1i64..=(1 << 40)]
        }

        /// Event times within [`FAR`]: anywhere, near the epoch (either
        /// side), or a millisecond or two off a multiple of `size`.
        fn times(size: i64) -> impl Strategy<Value = i64> {
            let slots = FAR / size - 1;
            prop_oneof![
                -FAR..FAR,
                -10_000i64..10_000,
                (-slots..slots, -2i64..=2).prop_map(move |(k, d)| k * size + d),
            ]
        }

        /// Any `i64` time, the ends of the range often.
        fn any_times() -> impl Strategy<Value = i64> {
            prop_oneof![
                any::<i64>(),
                (0i64..1_000).prop_map(|d| i64::MIN + d),
                (0i64..1_000).prop_map(|d| i64::MAX - d),
                Just(0i64),
            ]
        }

        /// A hopping `(size, step)` as `check` accepts them (`0 < step <=
        /// size`), at most 64 windows per event: `step` dividing `size`
        /// half the time.
        fn hops() -> impl Strategy<Value = (i64, i64)> {
            (prop_oneof![1i64..=1_000, 1i64..=(1 << 32)], 1i64..=64)
                .prop_flat_map(|(step, k)| {
                    let rest = prop_oneof![Just(0i64), 0..step];
                    (Just(step), rest.prop_map(move |rest| step * k + rest))
                })
                .prop_map(|(step, size)| (size, step))
        }

        fn ms(n: i64) -> Duration {
            Duration::from_millis(n as u64)
        }

        fn hopping(size: i64, step: i64) -> WindowDef {
            def(WindowKind::Hopping {
                size: ms(size),
                step: ms(step),
            })
        }

        /// The starts of the `step`-aligned windows of `size` holding `t`,
        /// counted out one by one (in `i128`, so nothing overflows), as far
        /// as `i64` reaches.
        fn starts_holding(t: i64, size: i64, step: i64) -> Vec<i64> {
            let (t, size, step) = (i128::from(t), i128::from(size), i128::from(step));
            let mut start = t.div_euclid(step) * step;
            let mut out = Vec::new();
            while start + size > t && start >= i128::from(i64::MIN) {
                out.push(start as i64);
                start -= step;
            }
            out.reverse();
            out
        }

        proptest! {
            #[test]
            fn a_tumbling_event_falls_in_the_one_aligned_window_holding_it(
                (size, t) in sizes().prop_flat_map(|size| (Just(size), times(size))),
            ) {
                let d = def(WindowKind::Tumbling { size: ms(size) });
                let windows = d.ranges(t);
                prop_assert_eq!(windows.len(), 1);
                let w = windows[0];
                prop_assert!(w.contains(t), "{w} does not hold {t}");
                prop_assert_eq!(w.end - w.start, size);
                prop_assert_eq!(w.start.rem_euclid(size), 0, "{} is not aligned", w);
                prop_assert_eq!(d.current(t), w);
            }

            #[test]
            fn a_hopping_event_falls_in_every_aligned_window_holding_it(
                ((size, step), t) in hops().prop_flat_map(|(size, step)| {
                    (Just((size, step)), times(size))
                }),
            ) {
                let d = hopping(size, step);
                let windows = d.ranges(t);
                for w in &windows {
                    prop_assert!(w.contains(t), "{w} does not hold {t}");
                    prop_assert_eq!(w.end - w.start, size);
                    prop_assert_eq!(w.start.rem_euclid(step), 0, "{} is not aligned to {}", w, step);
                }
                prop_assert!(
                    windows.windows(2).all(|pair| pair[0].start + step == pair[1].start),
                    "not one step apart, oldest first: {windows:?}"
                );
                let starts: Vec<i64> = windows.iter().map(|w| w.start).collect();
                prop_assert_eq!(starts, starts_holding(t, size, step));
                let (whole, rest) = (size / step, size % step);
                if rest == 0 {
                    prop_assert_eq!(windows.len() as i64, whole);
                } else {
                    prop_assert!((whole..=whole + 1).contains(&(windows.len() as i64)));
                }
                prop_assert_eq!(Some(&d.current(t)), windows.last(), "current is the latest");
            }

            #[test]
            fn a_sliding_window_surrounds_its_event_inclusive(
                before in 0i64..=(1 << 40),
                after in 0i64..=(1 << 40),
                t in times(1),
            ) {
                prop_assume!(before > 0 || after > 0);
                let d = def(WindowKind::Sliding { before: ms(before), after: ms(after) });
                let w = d.ranges(t);
                let want = Window { start: t - before, end: t + after + 1 };
                prop_assert_eq!(&w, &vec![want]);
                prop_assert!(want.contains(t - before) && want.contains(t + after));
                prop_assert_eq!(d.current(t), want);
            }

            #[test]
            fn any_time_gets_the_representable_windows_holding_it(
                t in any_times(),
                (size, step) in hops(),
                tumbling in any::<bool>(),
            ) {
                let (d, step) = if tumbling {
                    (def(WindowKind::Tumbling { size: ms(size) }), size)
                } else {
                    (hopping(size, step), step)
                };
                let windows = d.ranges(t);
                let mut want: Vec<Window> = starts_holding(t, size, step)
                    .into_iter()
                    .map(|start| Window { start, end: start.saturating_add(size) })
                    .collect();
                if want.is_empty() {
                    // The aligned start is below i64::MIN: the window is
                    // clamped to start there.
                    want.push(Window { start: i64::MIN, end: i64::MIN + size });
                }
                prop_assert_eq!(&windows, &want);
                for w in &windows {
                    prop_assert!(
                        w.contains(t) || w.end == i64::MAX,
                        "{w} does not hold {t} and does not end at i64::MAX"
                    );
                }
                prop_assert_eq!(Some(&d.current(t)), windows.last(), "current is the latest");
            }

            #[test]
            fn store_keys_decode_and_sort_as_start_then_key(
                a in (any::<i64>(), prop::collection::vec(any::<u8>(), 0..12)),
                b in (any::<i64>(), prop::collection::vec(any::<u8>(), 0..12)),
            ) {
                let (ka, kb) = (store_key(a.0, &a.1), store_key(b.0, &b.1));
                prop_assert_eq!(split_store_key(&ka), Some((a.0, &a.1[..])));
                prop_assert_eq!(split_store_key(&kb), Some((b.0, &b.1[..])));
                prop_assert_eq!(ka.cmp(&kb), (a.0, &a.1).cmp(&(b.0, &b.1)));
                if a.0 != b.0 {
                    prop_assert_ne!(&ka, &kb, "distinct windows share a key");
                }
                prop_assert_eq!(start_bound(a.0)[..] <= kb[..], a.0 <= b.0);
                prop_assert!(CLOCK_KEY < &ka[..]);
            }

            #[test]
            fn a_key_shorter_than_a_start_does_not_decode(
                short in prop::collection::vec(any::<u8>(), 0..8),
            ) {
                prop_assert_eq!(split_store_key(&short), None);
            }
        }
    }
}
