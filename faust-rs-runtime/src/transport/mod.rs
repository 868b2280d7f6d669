//! Transports: where messages come from and go to.
//!
//! A transport gives the worker two things: a way to read the partitions of
//! the topics its agents consume, in offset order, and a [`Producer`] that
//! appends records and says when the broker has them. The in-memory
//! transport ([`memory`]) backs the test driver and `memory://` workers; the
//! Kafka transport (rdkafka) backs production.
//!
//! This module holds the types both sides share: [`Message`] (a record read
//! from a partition), [`OutgoingRecord`] (a record to append), [`Headers`]
//! and the default key partitioner ([`partition_for_key`], Kafka's murmur2,
//! so a key lands on the same partition as with the Java client and Faust).
//! It may call nothing above it.

pub mod kafka;
pub mod memory;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::agent::ack::OffsetTracker;
use crate::app::Settings;
use crate::error::{Error, Result};
use crate::table::{ChangelogRead, Tables};
use crate::time::Clock;

/// A boxed future, as the transport traits return them.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A topic the app owns and declares at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TopicSpec {
    pub(crate) name: String,
    pub(crate) partitions: u32,
    pub(crate) replication: i16,
    /// Whether an existing topic must have exactly `partitions` (declared
    /// explicitly) or may have any count (created with the app default).
    pub(crate) strict: bool,
    /// Topic configs, e.g. `cleanup.policy=compact`.
    pub(crate) config: Vec<(String, String)>,
}

/// A connection to a broker: what the worker reads from and writes to.
pub(crate) trait Transport: Send + Sync + fmt::Debug {
    /// The producer every agent shares.
    fn producer(&self) -> Arc<dyn Producer>;

    /// Creates the topics that do not exist; fails with a clear message
    /// when an existing one has another partition count. Never deletes.
    fn ensure_topics<'a>(&'a self, topics: &'a [TopicSpec]) -> BoxFuture<'a, Result<()>>;

    /// A consumer in `group` subscribed to `topics`. On a rebalance it
    /// commits what `tracker` says is finished in the partitions it loses.
    /// It also rebuilds `tables`' partitions from their changelogs before
    /// handing out any record of a partition it is assigned, and keeps the
    /// leader flag.
    fn consumer(&self, member: GroupMember) -> Result<Arc<dyn Consumer>>;

    /// Reads every partition of `topic` from its current end on, outside
    /// any consumer group, committing nothing (the app's reply topic).
    fn tail(&self, topic: &str) -> Result<Arc<dyn Consumer>>;

    /// A reader of changelog partitions for `app_id`'s tools (the CLI's
    /// `tables` and `table get`), outside any consumer group.
    fn changelog_reader(&self, app_id: &str) -> Result<Box<dyn ChangelogRead + Send + Sync>>;

    /// Where it is connected, for the start banner.
    fn describe(&self) -> String;

    /// Waits (up to `timeout`) until every queued record is delivered.
    fn flush(&self, timeout: std::time::Duration) -> BoxFuture<'_, Result<()>>;

    /// A transactional producer with `id` (`processing_guarantee =
    /// "exactly_once"`), not initialised yet.
    fn transactional(&self, id: &str) -> Result<Arc<dyn TransactionalProducer>>;
}

/// A producer whose writes, with a consumer group's offsets, become
/// visible together or not at all: Kafka's transactions. Every call but
/// [`send`](Self::send) may block on the broker: callers keep them off the
/// async runtime's threads.
pub(crate) trait TransactionalProducer: Send + Sync + fmt::Debug {
    /// The transactional id.
    fn id(&self) -> &str;

    /// Registers the id with the broker: an older producer with the same
    /// id is fenced, and its open transaction aborted.
    fn init(&self) -> Result<()>;

    /// Opens a transaction.
    fn begin(&self) -> Result<()>;

    /// Writes `record` in the open transaction.
    fn send(&self, record: OutgoingRecord) -> Delivery;

    /// Adds the group's `offsets` (next offsets to read) to the open
    /// transaction: they are committed with it.
    fn send_offsets(&self, offsets: &[(Arc<str>, i32, i64)], group: &GroupMetadata) -> Result<()>;

    /// Commits the open transaction.
    fn commit(&self) -> Result<()>;

    /// Aborts the open transaction: nothing it wrote becomes visible.
    fn abort(&self) -> Result<()>;

    /// The largest key plus value it takes (0: no limit).
    fn max_record_bytes(&self) -> usize;
}

/// Who commits offsets in a transaction: the consumer group member, with
/// its generation, so a member that lost its partitions in a rebalance is
/// fenced (KIP-447).
pub(crate) enum GroupMetadata {
    /// librdkafka's group metadata of the worker's consumer.
    Kafka(rdkafka::consumer::ConsumerGroupMetadata),
    /// The in-memory broker's group.
    Memory(String),
}

impl fmt::Debug for GroupMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupMetadata::Kafka(_) => f.write_str("GroupMetadata::Kafka"),
            GroupMetadata::Memory(group) => write!(f, "GroupMetadata::Memory({group})"),
        }
    }
}

/// What a worker's consumer is set up with.
#[derive(Debug)]
pub(crate) struct GroupMember {
    /// The consumer group (the app id).
    pub(crate) group: String,
    /// The topics it subscribes to.
    pub(crate) topics: Vec<Arc<str>>,
    /// The acks of what it read: committed for partitions it loses.
    pub(crate) tracker: Arc<OffsetTracker>,
    /// The tables: recovered for the partitions it is assigned.
    pub(crate) tables: Arc<Tables>,
    /// The leader election, when the app has leader-only timers.
    pub(crate) leader: Option<Leadership>,
    /// Under `exactly_once`: a revoke drops what uncommitted events of the
    /// lost partitions hold, and commits no offset outside a transaction.
    pub(crate) transactions: Option<Arc<crate::worker::transaction::Transactions>>,
    /// Told of the partitions assigned and revoked.
    pub(crate) sensors: crate::sensor::Sensors,
}

/// Leader election through the group, as in Faust: the member assigned
/// partition 0 of `topic` (a one-partition topic every worker subscribes
/// to, which nobody writes) is the leader.
#[derive(Clone, Debug)]
pub(crate) struct Leadership {
    /// `<app id>-__leader`.
    pub(crate) topic: Arc<str>,
    /// Set while this worker is the leader.
    pub(crate) flag: Arc<std::sync::atomic::AtomicBool>,
}

impl Leadership {
    /// The election topic of `app_id`.
    pub(crate) fn topic_of(app_id: &str) -> String {
        format!("{app_id}-__leader")
    }

    /// Takes the lead (or loses it), saying so when it changes.
    pub(crate) fn set(&self, leader: bool) {
        let was = self.flag.swap(leader, std::sync::atomic::Ordering::AcqRel);
        if was != leader {
            if leader {
                tracing::info!(
                    "this worker is now the group's leader (leader-only timers run here)"
                );
            } else {
                tracing::info!("this worker is no longer the group's leader");
            }
        }
    }
}

/// Reads the subscribed topics for one consumer group.
pub(crate) trait Consumer: Send + Sync + fmt::Debug {
    /// Waits for records; returns up to about `max` of them, in offset order
    /// within each partition.
    fn poll(&self, max: usize) -> BoxFuture<'_, Vec<Arc<Message>>>;

    /// Records `(topic, partition, next offset)` as finished; committed by
    /// the next [`commit`](Self::commit).
    fn store(&self, offsets: &[(Arc<str>, i32, i64)]);

    /// Commits what was stored. `sync` waits for the broker's answer.
    fn commit(&self, sync: bool) -> Result<()>;

    /// The end offset of `topic`/`partition` when it is known without a
    /// broker round trip: the in-memory broker's end, the Kafka
    /// consumer's from librdkafka's last statistics.
    fn high_watermark(&self, _topic: &str, _partition: i32) -> Option<i64> {
        None
    }

    /// The topic partitions this consumer reads now, known without a
    /// broker round trip (for the status page); `None` when it cannot
    /// tell.
    fn assigned_partitions(&self) -> Option<Vec<(Arc<str>, i32)>> {
        None
    }

    /// The group member this consumer is, for offsets committed in a
    /// transaction; `None` outside a group.
    fn group_metadata(&self) -> Option<GroupMetadata> {
        None
    }
}

/// A record larger than the broker takes.
#[derive(Debug, thiserror::Error)]
#[error("record of {size} bytes is larger than the broker takes ({max} bytes)")]
pub struct RecordTooLarge {
    /// Key plus value bytes.
    pub size: usize,
    /// The limit.
    pub max: usize,
}

/// True when `error` says a record is larger than the broker or topic
/// takes.
pub(crate) fn is_too_large(error: &Error) -> bool {
    let Error::Transport { source, .. } = error else {
        return false;
    };
    source.downcast_ref::<RecordTooLarge>().is_some() || kafka::is_too_large(source.as_ref())
}

/// Connects to the broker named by `settings.broker`: `memory://`,
/// `embedded://` (an in-process Kafka-protocol broker) or
/// `kafka://host:port[,host:port...]`.
pub(crate) fn connect(settings: &Settings, clock: Clock) -> Result<Arc<dyn Transport>> {
    let url = settings.broker.trim();
    match url.split_once("://") {
        Some(("memory", _)) => Ok(Arc::new(memory::MemoryTransport::new(
            memory::MemoryBroker::new(settings.topic_partitions, clock),
        ))),
        Some(("embedded", _)) => Ok(Arc::new(kafka::KafkaTransport::embedded(settings)?)),
        Some(("kafka", hosts)) if !hosts.is_empty() => {
            Ok(Arc::new(kafka::KafkaTransport::connect(hosts, settings)?))
        }
        _ => Err(Error::config(format!(
            "broker URL `{url}` is not understood; use `kafka://host:9092` (a Kafka-protocol \
             broker), `embedded://` (an in-process broker, for demos and tests) or `memory://`"
        ))),
    }
}

/// A record read from a topic partition.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic it was read from.
    pub topic: Arc<str>,
    /// Its partition.
    pub partition: i32,
    /// Its offset in that partition.
    pub offset: i64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// Key bytes; `None` when the record has no key.
    pub key: Option<Bytes>,
    /// Value bytes; `None` for a tombstone.
    pub value: Option<Bytes>,
    /// Record headers.
    pub headers: Headers,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("offset", &self.offset)
            .field("timestamp", &self.timestamp)
            .field(
                "key",
                &self.key.as_ref().map(|k| String::from_utf8_lossy(k)),
            )
            .field("value_len", &self.value.as_ref().map(Bytes::len))
            .field("headers", &self.headers)
            .finish()
    }
}

/// A record to append to a topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutgoingRecord {
    /// Destination topic.
    pub topic: Arc<str>,
    /// Destination partition; `None` lets the partitioner choose from the key.
    pub partition: Option<i32>,
    /// Key bytes.
    pub key: Option<Bytes>,
    /// Value bytes; `None` writes a tombstone.
    pub value: Option<Bytes>,
    /// Headers.
    pub headers: Headers,
    /// Milliseconds since the Unix epoch; `None` stamps the send time.
    pub timestamp: Option<i64>,
}

/// Where the broker put a record: its partition and offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The partition written to.
    pub partition: i32,
    /// The offset it got.
    pub offset: i64,
}

/// Record headers: an ordered list of `(name, bytes)`; names may repeat, as
/// in Kafka.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(std::borrow::Cow<'static, str>, Bytes)>);

impl Headers {
    /// No headers.
    pub const fn new() -> Self {
        Headers(Vec::new())
    }

    /// Appends a header.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Bytes>) {
        self.0.push((name.into().into(), value.into()));
    }

    /// [`insert`](Self::insert) for a name known at compile time: nothing
    /// is allocated for it (faust's own headers, once per record).
    pub(crate) fn insert_static(&mut self, name: &'static str, value: Bytes) {
        self.0.push((name.into(), value));
    }

    /// Builder form of [`insert`](Self::insert).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.insert(name, value);
        self
    }

    /// The last value of header `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }

    /// The last value of header `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// All headers in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, v)| (n, String::from_utf8_lossy(v))))
            .finish()
    }
}

impl<N: Into<String>, V: Into<Bytes>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Headers(
            iter.into_iter()
                .map(|(n, v)| (n.into().into(), v.into()))
                .collect(),
        )
    }
}

/// Appends records to topics. One per worker, shared by every agent.
pub trait Producer: Send + Sync + fmt::Debug + 'static {
    /// Queues `record`; the returned [`Delivery`] resolves once the broker
    /// has it (or failed to take it).
    fn send(&self, record: OutgoingRecord) -> Delivery;
}

/// What runs once a record is on the broker (a table notes its changelog
/// offset).
pub(crate) type AfterDelivery = Box<dyn FnOnce(&RecordMetadata) + Send>;

/// The outcome of one [`Producer::send`]: where the record landed.
#[must_use = "a delivery must be awaited to know the record was written"]
pub struct Delivery(DeliveryState);

enum DeliveryState {
    Ready(Option<Result<RecordMetadata, Error>>),
    Pending(Pin<Box<dyn Future<Output = Result<RecordMetadata, Error>> + Send>>),
    /// rdkafka's own future, unboxed: the common case, once per record.
    Kafka(kafka::DeliveryFuture, Arc<str>),
    /// The same, its outcome told to the sensors: no box and no second
    /// future per record when sensors are registered.
    KafkaSensed(kafka::DeliveryFuture, Arc<str>, crate::sensor::Sensors),
}

impl Delivery {
    /// A delivery that has already completed.
    pub fn ready(result: Result<RecordMetadata, Error>) -> Self {
        Delivery(DeliveryState::Ready(Some(result)))
    }

    pub(crate) fn kafka(future: kafka::DeliveryFuture, topic: Arc<str>) -> Self {
        Delivery(DeliveryState::Kafka(future, topic))
    }

    /// This delivery, its outcome told to `sensors` once it is known.
    pub(crate) fn sensed(self, sensors: &crate::sensor::Sensors, topic: Arc<str>) -> Self {
        match self.0 {
            DeliveryState::Kafka(future, topic) => {
                Delivery(DeliveryState::KafkaSensed(future, topic, sensors.clone()))
            }
            // A delivery already done (the in-memory broker's) is told now,
            // and stays ready for callers that poll it once.
            DeliveryState::Ready(Some(result)) => {
                sensors.delivered(&topic, &result);
                Delivery::ready(result)
            }
            state => {
                let sensors = sensors.clone();
                let delivery = Delivery(state);
                Delivery::pending(async move {
                    let result = delivery.await;
                    sensors.delivered(&topic, &result);
                    result
                })
            }
        }
    }

    /// A delivery completed by `future`.
    pub fn pending(
        future: impl Future<Output = Result<RecordMetadata, Error>> + Send + 'static,
    ) -> Self {
        Delivery(DeliveryState::Pending(Box::pin(future)))
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            DeliveryState::Ready(r) => f.debug_tuple("Delivery::Ready").field(r).finish(),
            DeliveryState::Pending(_)
            | DeliveryState::Kafka(..)
            | DeliveryState::KafkaSensed(..) => f.write_str("Delivery::Pending"),
        }
    }
}

impl Future for Delivery {
    type Output = Result<RecordMetadata, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            DeliveryState::Ready(r) => Poll::Ready(r.take().unwrap_or(Err(Error::ShuttingDown))),
            DeliveryState::Pending(f) => f.as_mut().poll(cx),
            DeliveryState::Kafka(f, topic) => Pin::new(f)
                .poll(cx)
                .map(|result| kafka::delivery_result(result, topic)),
            DeliveryState::KafkaSensed(f, topic, sensors) => Pin::new(f).poll(cx).map(|result| {
                let result = kafka::delivery_result(result, topic);
                sensors.delivered(topic, &result);
                result
            }),
        }
    }
}

/// The partition Kafka's default partitioner (murmur2, as in the Java client
/// and Python Faust) picks for `key` among `partitions`.
pub fn partition_for_key(key: &[u8], partitions: u32) -> i32 {
    let partitions = partitions.max(1);
    ((murmur2(key) & 0x7fff_ffff) % partitions) as i32
}

/// Kafka's murmur2 hash (seed `0x9747b28c`).
fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from Kafka's Java `Utils.murmur2` (its own unit tests).
    #[test]
    fn murmur2_matches_the_java_client() {
        assert_eq!(murmur2(b"21") as i32, -973932308);
        assert_eq!(murmur2(b"foobar") as i32, -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string") as i32, -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") as i32,
            -58897971
        );
        assert_eq!(murmur2(b"abc") as i32, 479470107);
    }

    #[test]
    fn same_key_same_partition() {
        let p = partition_for_key(b"alice", 8);
        assert!((0..8).contains(&p));
        assert_eq!(p, partition_for_key(b"alice", 8));
    }

    #[test]
    fn headers_keep_order_and_last_wins() {
        let h = Headers::new().with("a", "1").with("b", "2").with("a", "3");
        assert_eq!(h.get_str("a"), Some("3"));
        assert_eq!(
            h.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            ["a", "b", "a"]
        );
    }
}
