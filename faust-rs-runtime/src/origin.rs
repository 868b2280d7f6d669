//! Where a record came from: the agent and the input event (topic,
//! partition, offset) whose handling produced it, and the record's number
//! among the records that agent wrote for that event.
//!
//! Every record a worker writes while it handles an event (sink records,
//! `Topic::send`, table changelog records) carries its origin in the header
//! [`HEADER`] (`faust.source`), as `agent@topic/partition/offset/seq`
//! (agent names cannot hold `@`, topic names neither `@` nor `/`). Table changelogs use it for exact state (see
//! the exactly-once chapter of the README); a reader of a sink topic uses
//! it to drop the duplicates a crash leaves under at-least-once, with
//! [`Dedup`].
//!
//! ```
//! use faust::origin::{Dedup, Origin};
//! use faust::Headers;
//!
//! let mut seen = Dedup::new();
//! let first = Headers::new().with("faust.source", "bill@orders/3/41/0");
//! let replayed = first.clone();
//! assert!(!seen.is_duplicate(&first));
//! assert!(seen.is_duplicate(&replayed));
//! assert_eq!(
//!     Origin::from_headers(&first),
//!     Some(Origin::new("bill", "orders", 3, 41, 0))
//! );
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use crate::transport::Headers;

/// The header that carries a record's origin.
pub const HEADER: &str = "faust.source";

/// A record's origin: the agent, the input event's topic, partition and
/// offset, and the record's number among the records the agent wrote for
/// that event (from 0).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The agent that wrote it.
    pub agent: Arc<str>,
    /// The input topic.
    pub topic: Arc<str>,
    /// Its partition.
    pub partition: i32,
    /// The event's offset.
    pub offset: i64,
    /// The record's number among the event's records.
    pub seq: u32,
}

impl Origin {
    /// Record `seq` of `agent` for the event at `offset` of
    /// `topic`/`partition`.
    pub fn new(agent: &str, topic: &str, partition: i32, offset: i64, seq: u32) -> Origin {
        Origin {
            agent: Arc::from(agent),
            topic: Arc::from(topic),
            partition,
            offset,
            seq,
        }
    }

    /// The origin `headers` name, if they carry a well-formed one.
    pub fn from_headers(headers: &Headers) -> Option<Origin> {
        Origin::parse(headers.get_str(HEADER)?)
    }

    /// Reads `agent@topic/partition/offset/seq`.
    pub fn parse(text: &str) -> Option<Origin> {
        let (agent, text) = text.split_once('@')?;
        if agent.is_empty() {
            return None;
        }
        let mut parts = text.rsplitn(4, '/');
        let seq = parts.next()?.parse().ok()?;
        let offset = parts.next()?.parse().ok()?;
        let partition = parts.next()?.parse().ok()?;
        let topic = parts
            .next()
            .filter(|t| !t.is_empty() && !t.contains(['/', '@']))?;
        Some(Origin {
            agent: Arc::from(agent),
            topic: Arc::from(topic),
            partition,
            offset,
            seq,
        })
    }
}

/// Appends the header of origin `agent@topic/partition/offset/seq` to
/// `headers`, in one allocation of its exact size (every output record
/// carries one: no formatter, no intermediate buffer).
pub(crate) fn stamp(
    headers: &mut Headers,
    agent: &str,
    topic: &str,
    partition: i32,
    offset: i64,
    seq: u32,
) {
    let (mut p, mut o, mut s) = (
        itoa::Buffer::new(),
        itoa::Buffer::new(),
        itoa::Buffer::new(),
    );
    let (p, o, s) = (p.format(partition), o.format(offset), s.format(seq));
    let mut text = Vec::with_capacity(agent.len() + topic.len() + p.len() + o.len() + s.len() + 4);
    for (part, then) in [(agent, b'@'), (topic, b'/'), (p, b'/'), (o, b'/')] {
        text.extend_from_slice(part.as_bytes());
        text.push(then);
    }
    text.extend_from_slice(s.as_bytes());
    headers.insert_static(HEADER, bytes::Bytes::from(text));
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}/{}/{}/{}",
            self.agent, self.topic, self.partition, self.offset, self.seq
        )
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin({self})")
    }
}

/// The `(offset, seq)` of the origins seen of one input partition.
type Seen = BTreeSet<(i64, u32)>;

/// Drops the duplicates a producer's crash leaves in a topic under
/// at-least-once: a record whose origin (event and record number) was seen
/// before is a duplicate. Records without an origin (written outside an
/// event, or by another producer) always pass.
///
/// Records of different agents never repeat each other. It remembers the
/// last `window` origins of each agent and input partition
/// (100,000 by default; [`with_window`](Self::with_window)): a replay
/// after a crash repeats at most the events since the last commit, so the
/// window only has to cover that many records per partition. Records may
/// come in any order (from several sink partitions). To survive a restart
/// of the reader, keep what it has seen in a table too.
#[derive(Debug, Clone)]
pub struct Dedup {
    window: usize,
    seen: HashMap<(Arc<str>, Arc<str>, i32), Seen>,
}

impl Default for Dedup {
    fn default() -> Self {
        Dedup::with_window(100_000)
    }
}

impl Dedup {
    /// Nothing seen yet; remembers 100,000 origins per input partition.
    pub fn new() -> Dedup {
        Dedup::default()
    }

    /// Nothing seen yet; remembers `window` origins per input partition.
    pub fn with_window(window: usize) -> Dedup {
        Dedup {
            window: window.max(1),
            seen: HashMap::new(),
        }
    }

    /// Whether a record with these headers repeats one already seen;
    /// records it lets through count as seen.
    pub fn is_duplicate(&mut self, headers: &Headers) -> bool {
        match Origin::from_headers(headers) {
            Some(origin) => !self.first_time(&origin),
            None => false,
        }
    }

    /// `true` the first time `origin` is seen, `false` after.
    pub fn first_time(&mut self, origin: &Origin) -> bool {
        let key = (origin.agent.clone(), origin.topic.clone(), origin.partition);
        let seen = self.seen.entry(key).or_default();
        // Older than everything remembered, with the window full: it was
        // seen and forgotten (a replay is never that far behind).
        if seen.len() >= self.window
            && seen
                .first()
                .is_some_and(|first| (origin.offset, origin.seq) < *first)
        {
            return false;
        }
        if !seen.insert((origin.offset, origin.seq)) {
            return false;
        }
        if seen.len() > self.window {
            seen.pop_first();
        }
        true
    }

    /// The highest origin offset seen of `agent` in `topic`/`partition`.
    pub fn last_seen(&self, agent: &str, topic: &str, partition: i32) -> Option<i64> {
        self.seen
            .get(&(Arc::from(agent), Arc::from(topic), partition))
            .and_then(|s| s.last())
            .map(|(offset, _)| *offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_round_trip_through_the_header() {
        let origin = Origin::new("count_views", "page.views-v2", 7, 123_456, 2);
        let mut headers = Headers::new();
        stamp(&mut headers, "count_views", "page.views-v2", 7, 123_456, 2);
        // The header and `Display` write the same text.
        assert_eq!(headers.get_str(HEADER), Some(origin.to_string().as_str()));
        assert_eq!(
            headers.get_str(HEADER),
            Some("count_views@page.views-v2/7/123456/2"),
            "{headers:?}"
        );
        assert_eq!(Origin::from_headers(&headers), Some(origin));
    }

    #[test]
    fn malformed_origins_are_none() {
        for bad in [
            "",
            "a@orders",
            "a@orders/1/2",
            "orders/1/2/0",
            "@orders/1/2/0",
            "a@/1/2/0",
            "a@a/b/1/2/0",
            "a@orders/x/2/0",
            "a@orders/1/y/0",
            "a@orders/1/2/-1",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dedup_passes_each_record_once_in_any_order() {
        let mut seen = Dedup::new();
        let o = |p, off, seq| Origin::new("bill", "orders", p, off, seq);
        // Event 5 wrote two records, then 6; records of partitions 0 and 1
        // interleave, and a restart replays 5 and 6.
        let log = [
            o(0, 5, 1),
            o(1, 2, 0),
            o(0, 5, 0),
            o(0, 6, 0),
            o(0, 5, 0),
            o(0, 5, 1),
            o(0, 6, 0),
            o(0, 7, 0),
        ];
        let passed: Vec<bool> = log.iter().map(|x| seen.first_time(x)).collect();
        assert_eq!(passed, [true, true, true, true, false, false, false, true]);
        assert_eq!(seen.last_seen("bill", "orders", 0), Some(7));
        assert_eq!(seen.last_seen("bill", "orders", 1), Some(2));
        // Another agent's records of the same event are not repeats.
        assert!(seen.first_time(&Origin::new("audit", "orders", 0, 5, 0)));
    }

    #[test]
    fn dedup_forgets_beyond_its_window_but_still_drops_older_records() {
        let mut seen = Dedup::with_window(3);
        let o = |off| Origin::new("a", "t", 0, off, 0);
        for off in 0..10 {
            assert!(seen.first_time(&o(off)));
        }
        // 0..=6 are forgotten but older than the window: duplicates.
        assert!(!seen.first_time(&o(2)));
        assert!(!seen.first_time(&o(9)));
        assert!(seen.first_time(&o(10)));
    }

    #[test]
    fn records_without_an_origin_always_pass() {
        let mut seen = Dedup::new();
        let plain = Headers::new().with("other", "x");
        assert!(!seen.is_duplicate(&plain));
        assert!(!seen.is_duplicate(&plain));
        let bad = Headers::new().with(HEADER, "not an origin");
        assert!(!seen.is_duplicate(&bad));
    }
}
