//! [`JoinWindow`]: a stream-stream join within a time window.

use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::state::WindowState;
use super::{millis, store_key};
use crate::app::registry::{TableDef, TableKind, TableTypes};
use crate::codec::{Codecs, Json, Payload};
use crate::error::{Error, Result};
use crate::table::{TableState, with_table};

/// A stream-stream join within a time window.
///
/// Two agents, one per stream, share a `JoinWindow<K, L, R>`: the left
/// stream's agent calls [`left`](JoinWindow::left) with each event, the
/// right one's [`right`](JoinWindow::right); each call keeps the event for
/// `within` and returns the other stream's events of the same key whose
/// times are at most `within` away. Both streams must be keyed by `K` and
/// co-partitioned (the same partition count), like a table and its topic.
///
/// ```
/// use faust::prelude::*;
/// use faust::window::JoinWindow;
///
/// #[record]
/// #[derive(Clone)]
/// struct Order { id: String, amount: u64 }
/// #[record]
/// #[derive(Clone)]
/// struct Payment { order: String, amount: u64 }
/// #[record]
/// struct Paid { order: String, amount: u64, paid: u64 }
///
/// /// Orders that went unpaid for 10 minutes.
/// async fn unpaid(order_id: String, order: Order) -> Result<()> {
///     # let _ = (order_id, order);
///     Ok(())
/// }
///
/// #[table(name = "order-payments", join(within = "10m", on_unmatched = unpaid))]
/// static PAIRS: JoinWindow<String, Order, Payment>;
///
/// #[agent(topic = "orders", sink = "paid")]
/// async fn orders(order: Event<Order>) -> Result<Many<Paid>> {
///     let payments = PAIRS.left(&order.value.id, order.value.clone())?;
///     Ok(payments.into_iter().map(|p| Paid { order: order.value.id.clone(),
///         amount: order.value.amount, paid: p.amount }).collect())
/// }
///
/// #[agent(topic = "payments", sink = "paid")]
/// async fn payments(payment: Event<Payment>) -> Result<Many<Paid>> {
///     let orders = PAIRS.right(&payment.value.order, payment.value.clone())?;
///     Ok(orders.into_iter().map(|o| Paid { order: o.id, amount: o.amount,
///         paid: payment.value.amount }).collect())
/// }
/// # fn main() {}
/// ```
///
/// Each matching pair is returned once: to whichever of the two events
/// came second. The **inner** join is what the two agents make of the
/// returned events. The **left** join adds `on_unmatched`: each left event
/// that no right event matched is handed to it, once, when its time is
/// `within + grace` behind the partition's stream time (`grace`, default
/// zero, is how late a right event may still come). Events later than that
/// are late, as in a windowed table (`late = "drop" | "dead_letter"`).
///
/// The events are kept in a windowed table of buckets `within` long
/// (changelog `<app id>-<table>-changelog`), so a restarted or moved
/// partition gets them back from the changelog.
pub struct JoinWindow<K, L, R> {
    def: &'static TableDef,
    _types: Types<K, L, R>,
}

/// The key, left and right types, without owning any.
type Types<K, L, R> = PhantomData<fn() -> (K, L, R)>;

impl<K, L, R> fmt::Debug for JoinWindow<K, L, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinWindow")
            .field("name", &self.def.name)
            .finish()
    }
}

/// One bucket of events, as stored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "L: Serialize, R: Serialize",
    deserialize = "L: serde::de::DeserializeOwned, R: serde::de::DeserializeOwned"
))]
pub(crate) struct Bucket<L, R> {
    left: Vec<Left<L>>,
    right: Vec<Right<R>>,
}

impl<L, R> Default for Bucket<L, R> {
    fn default() -> Self {
        Bucket {
            left: Vec::new(),
            right: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Left<L> {
    /// Event time, ms.
    at: i64,
    /// Whether a right event matched it.
    matched: bool,
    value: L,
}

#[derive(Debug, Serialize, Deserialize)]
struct Right<R> {
    at: i64,
    value: R,
}

type Stored<L, R> = Json<Bucket<L, R>>;

/// The sides of a join, for its stream time.
const LEFT: usize = 0;
const RIGHT: usize = 1;

impl<K, L, R> JoinWindow<K, L, R>
where
    K: Payload,
    L: Payload,
    R: Payload,
{
    /// What `#[table]` records about the kind.
    #[doc(hidden)]
    pub const KIND: TableKind = TableKind::Join;
    /// What `#[table]` records about the types.
    #[doc(hidden)]
    pub const TYPES: TableTypes = crate::table::types::<K, Stored<L, R>>();

    /// A handle from a registered declaration; used by `#[table]`.
    #[doc(hidden)]
    pub const fn from_def(def: &'static TableDef) -> Self {
        JoinWindow {
            def,
            _types: PhantomData,
        }
    }

    /// Calls `on_unmatched`'s function with each left event of a closed
    /// bucket that no right event matched; used by `#[table]`.
    #[doc(hidden)]
    pub fn call_on_unmatched<F, Fut, E>(
        window: super::ClosedWindow,
        f: F,
    ) -> crate::time::TaskFuture
    where
        F: Fn(K, L) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Into<crate::BoxError>,
        K: Clone,
    {
        Box::pin(async move {
            let (key, bucket) = window.decode::<K, Stored<L, R>>()?;
            for left in bucket.0.left.into_iter().filter(|l| !l.matched) {
                f(key.clone(), left.value).await.map_err(Into::into)?;
            }
            Ok(())
        })
    }

    /// The table's name.
    pub fn name(&self) -> &'static str {
        self.def.name
    }

    /// Keeps `value`, a left event of `key` (at the current event's time),
    /// and returns the right events of `key` at most `within` from it. An
    /// empty list when there is none, or when the event is late (then the
    /// table's `late` policy applies).
    pub fn left(&self, key: &K, value: L) -> Result<Vec<R>> {
        self.with(|table, windows, codecs| {
            let key = table.encode_key::<K>(codecs, key)?;
            let partition = table.partition_of(&key);
            let at = windows.time_now();
            let within = within_ms(windows);
            let mut matches = Vec::new();
            for start in buckets_around(at, within) {
                if let Some(bucket) = read::<L, R>(table, codecs, partition, start, &key)? {
                    matches.extend(
                        bucket
                            .right
                            .into_iter()
                            .filter(|r| (r.at - at).abs() <= within)
                            .map(|r| r.value),
                    );
                }
            }
            let matched = !matches.is_empty();
            let mut value = Some(value);
            let kept = windows.update(table, partition, &key, (at, Some(LEFT)), &mut |old| {
                let mut bucket = decode::<L, R>(table, codecs, old)?;
                if let Some(value) = value.take() {
                    bucket.left.push(Left { at, matched, value });
                }
                table.encode_value(codecs, &Json(bucket))
            })?;
            Ok(if kept.is_some() { matches } else { Vec::new() })
        })
    }

    /// Keeps `value`, a right event of `key`, and returns the left events
    /// of `key` at most `within` from it (which count as matched from now
    /// on). Empty when there is none, or when the event is late.
    pub fn right(&self, key: &K, value: R) -> Result<Vec<L>>
    where
        L: Clone,
    {
        self.with(|table, windows, codecs| {
            let key = table.encode_key::<K>(codecs, key)?;
            let partition = table.partition_of(&key);
            let at = windows.time_now();
            let within = within_ms(windows);
            let mut value = Some(value);
            let kept = windows.update(table, partition, &key, (at, Some(RIGHT)), &mut |old| {
                let mut bucket = decode::<L, R>(table, codecs, old)?;
                if let Some(value) = value.take() {
                    bucket.right.push(Right { at, value });
                }
                table.encode_value(codecs, &Json(bucket))
            })?;
            if kept.is_none() {
                return Ok(Vec::new());
            }
            let mut matches = Vec::new();
            for start in buckets_around(at, within) {
                let Some(mut bucket) = read::<L, R>(table, codecs, partition, start, &key)? else {
                    continue;
                };
                let mut changed = false;
                for left in bucket
                    .left
                    .iter_mut()
                    .filter(|l| (l.at - at).abs() <= within)
                {
                    changed |= !left.matched;
                    left.matched = true;
                    matches.push(left.value.clone());
                }
                if changed {
                    let bytes = table.encode_value(codecs, &Json(bucket))?;
                    table.write_at(partition, store_key(start, &key), Some(bytes))?;
                }
            }
            Ok(matches)
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&TableState, &WindowState, &Codecs) -> Result<T>,
    ) -> Result<T> {
        with_table(self.def, |table, codecs| match &table.window {
            Some(windows) => f(table, windows, codecs),
            None => Err(Error::config(format!(
                "join table `{}` has no window; declare it with `join(within = \"5m\")`",
                self.def.name
            ))),
        })
    }
}

/// The join's `within`: its buckets' size.
fn within_ms(windows: &WindowState) -> i64 {
    match windows.def.kind {
        super::WindowKind::Tumbling { size } => millis(size),
        _ => windows.def.span_ms(),
    }
}

/// The starts of the buckets (`within` long, aligned) holding times from
/// `at - within` to `at + within`.
///
/// Counted in `i128`, so that an event time near either end of `i64`
/// neither overflows nor sticks at the end (a saturating step never passed
/// `i64::MAX` and looped forever); a start below `i64::MIN` is
/// `i64::MIN`, as [`align`](super::align) stores it.
fn buckets_around(at: i64, within: i64) -> impl Iterator<Item = i64> {
    let size = i128::from(within.max(1));
    let align = |t: i128| t - t.rem_euclid(size);
    let first = align(i128::from(at) - size);
    let last = align(i128::from(at) + size).min(i128::from(i64::MAX));
    let low = i128::from(i64::MIN);
    let mut previous = None;
    (0..)
        .map(move |i| first + i * size)
        .take_while(move |start| *start <= last)
        .map(move |start| start.max(low) as i64)
        .filter(move |start| previous.replace(*start) != Some(*start))
}

fn decode<L: Payload, R: Payload>(
    table: &TableState,
    codecs: &Codecs,
    bytes: Option<Bytes>,
) -> Result<Bucket<L, R>> {
    match bytes {
        Some(bytes) => Ok(table.decode_value::<Stored<L, R>>(codecs, &bytes)?.0),
        None => Ok(Bucket::default()),
    }
}

fn read<L: Payload, R: Payload>(
    table: &TableState,
    codecs: &Codecs,
    partition: i32,
    start: i64,
    key: &[u8],
) -> Result<Option<Bucket<L, R>>> {
    match table.get_at(partition, &store_key(start, key))? {
        Some(bytes) => decode(table, codecs, Some(bytes)).map(Some),
        None => Ok(None),
    }
}

/// A key's left and right events.
type Held<L, R> = (Vec<L>, Vec<R>);

impl<K, L, R> crate::table::AnyTable for JoinWindow<K, L, R>
where
    K: Payload,
    L: Payload,
    R: Payload,
{
    type Key = K;
    /// The left and the right events held for a key.
    type Value = Held<L, R>;

    fn def(&self) -> &'static TableDef {
        self.def
    }

    fn lookup(&self, key: &K) -> Result<Option<Held<L, R>>> {
        self.with(|table, windows, codecs| {
            let key = table.encode_key::<K>(codecs, key)?;
            let partition = table.partition_of(&key);
            let mut held = (Vec::new(), Vec::new());
            for (_, bytes) in super::windows_of(table, windows.def, partition, &key)? {
                let bucket = decode::<L, R>(table, codecs, Some(bytes))?;
                held.0.extend(bucket.left.into_iter().map(|l| l.value));
                held.1.extend(bucket.right.into_iter().map(|r| r.value));
            }
            Ok((!held.0.is_empty() || !held.1.is_empty()).then_some(held))
        })
    }

    /// Buckets held (one per key and `within` of time).
    fn count(&self) -> Result<usize> {
        self.with(|table, _, _| Ok(table.partition_sizes()?.iter().map(|(_, n)| n).sum()))
    }

    fn entries(&self) -> Result<Vec<(K, Held<L, R>)>> {
        self.with(|table, _, codecs| {
            let mut out: Vec<(Bytes, Held<L, R>)> = Vec::new();
            for partition in table.held() {
                for (k, v) in table.range_at(partition, super::CLOCK_KEY, None)? {
                    let Some((_, key)) = super::split_store_key(&k) else {
                        continue;
                    };
                    let bucket = decode::<L, R>(table, codecs, Some(v))?;
                    let lefts = bucket.left.into_iter().map(|l| l.value);
                    let rights = bucket.right.into_iter().map(|r| r.value);
                    match out.iter_mut().find(|(b, _)| b[..] == *key) {
                        Some((_, held)) => {
                            held.0.extend(lefts);
                            held.1.extend(rights);
                        }
                        None => out.push((
                            Bytes::copy_from_slice(key),
                            (lefts.collect(), rights.collect()),
                        )),
                    }
                }
            }
            out.into_iter()
                .map(|(k, held)| Ok((table.decode_key::<K>(codecs, &k)?, held)))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::buckets_around;

    #[test]
    fn buckets_are_the_aligned_ones_around_the_time() {
        let starts: Vec<i64> = buckets_around(25, 10).collect();
        assert_eq!(starts, [10, 20, 30]);
        let starts: Vec<i64> = buckets_around(-5, 10).collect();
        assert_eq!(starts, [-20, -10, 0]);
    }

    #[test]
    fn times_at_the_ends_of_i64_end_and_do_not_overflow() {
        let starts: Vec<i64> = buckets_around(i64::MAX, 1).collect();
        assert_eq!(starts, [i64::MAX - 1, i64::MAX]);
        let starts: Vec<i64> = buckets_around(i64::MAX, 1 << 62).collect();
        assert_eq!(starts, [0, 1 << 62]);
        let starts: Vec<i64> = buckets_around(i64::MIN, 1 << 62).collect();
        assert_eq!(starts, [i64::MIN, i64::MIN + (1 << 62)]);
        let starts: Vec<i64> = buckets_around(i64::MIN + 1, 3).collect();
        assert_eq!(starts, [i64::MIN, i64::MIN + 2]);
    }
}
