//! The Kafka transport, over rdkafka (librdkafka).
//!
//! One consumer per worker, in the consumer group named by the app id,
//! subscribed to every agent's topics; one producer shared by every agent;
//! an admin client that creates the topics the app owns. Offsets are stored
//! by hand (`enable.auto.offset.store=false`, `enable.auto.commit=false`):
//! the worker stores only offsets whose events — and every event before them
//! in the partition — are finished and whose output the broker has
//! acknowledged, commits them every `commit_interval`, and commits the
//! partitions it loses in the rebalance callback, before they move.
//!
//! `embedded://` starts librdkafka's mock cluster in-process (a real Kafka
//! protocol broker on a loopback port, with no admin API, no compaction and
//! a ~3 s first group join) and connects to it like any broker.
//!
//! Every librdkafka property is reachable: the framework's defaults below
//! are applied first, then the user's `consumer.*`, `producer.*` and
//! `admin.*` settings override them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers as _, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer,
};
use rdkafka::{Message as _, Offset, TopicPartitionList};

use crate::agent::ack::OffsetTracker;
use crate::app::Settings;
use crate::error::{Error, Result};
use crate::table::store::SourceOffsets;
use crate::table::{ChangelogRead, ReadSpec, Tables};
use crate::transport::memory::partition_mismatch;
use crate::transport::{
    BoxFuture, Consumer, Delivery, GroupMember, GroupMetadata, Headers, Leadership, Message,
    OutgoingRecord, Producer, RecordMetadata, TopicSpec, TransactionalProducer, Transport,
};

/// The librdkafka consumer properties faust sets before the user's
/// `consumer.*` settings (which override them).
pub const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("auto.offset.reset", "earliest"),
    ("enable.partition.eof", "false"),
    // A fetch answers within this even when little data is waiting; the
    // default 500 ms caps throughput on brokers that wait it out.
    ("fetch.wait.max.ms", "50"),
    ("fetch.queue.backoff.ms", "5"),
    // Prefetch bounds (librdkafka: 100,000 records per partition, 64 MB):
    // the agents' queues already hold a few thousand records, so a smaller
    // prefetch keeps memory low at no cost in throughput.
    ("queued.min.messages", "20000"),
    ("queued.max.messages.kbytes", "16384"),
    // Per-partition high watermarks and lag for the metrics.
    ("statistics.interval.ms", "2000"),
];

/// The librdkafka producer properties faust sets before the user's
/// `producer.*` settings (which override them).
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    // The Java client's and Faust's partitioner: a key lands on the same
    // partition whichever of them wrote it.
    ("partitioner", "murmur2_random"),
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("linger.ms", "5"),
    ("batch.num.messages", "10000"),
    // Bounds the producer's local queue (librdkafka: 1 GB); a full queue
    // slows the agents down (backpressure) instead of growing memory.
    ("queue.buffering.max.messages", "200000"),
    ("queue.buffering.max.kbytes", "65536"),
    // Records up to 16 MiB leave the client (librdkafka: 1 MB); what a
    // topic takes is its `max.message.bytes` (dead-letter topics: 16 MiB).
    ("message.max.bytes", "16777216"),
];

/// How long admin and metadata calls wait for the broker.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to a Kafka-protocol broker.
pub(crate) struct KafkaTransport {
    bootstrap: String,
    settings: Settings,
    producer: Arc<KafkaProducer>,
    admin: Option<AdminClient<LogContext>>,
    embedded: Option<&'static EmbeddedBroker>,
}

impl fmt::Debug for KafkaTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaTransport")
            .field("bootstrap", &self.bootstrap)
            .field("embedded", &self.embedded.is_some())
            .finish_non_exhaustive()
    }
}

impl KafkaTransport {
    /// A changelog reader (and committed-offset reader) in consumer group
    /// `group`, which it never joins.
    fn reader(&self, group: String) -> ChangelogReader {
        ChangelogReader {
            bootstrap: self.bootstrap.clone(),
            group,
            settings: self.settings.consumer.clone(),
            stall: self.settings.changelog_stall_timeout,
            consumer: Mutex::new(None),
        }
    }

    /// Connects to `hosts` (`host:port[,host:port]`). Nothing is sent until
    /// the first request: a broker that is down is reported (and retried)
    /// by the calls that need it.
    pub(crate) fn connect(hosts: &str, settings: &Settings) -> Result<Self> {
        let settings = &for_guarantee(settings);
        let admin = config(hosts, &[], &settings.admin)
            .create_with_context::<_, AdminClient<LogContext>>(LogContext)
            .map_err(|e| client_error("admin client", e))?;
        Ok(KafkaTransport {
            bootstrap: hosts.to_owned(),
            settings: settings.clone(),
            producer: Arc::new(KafkaProducer::new(hosts, settings)?),
            admin: Some(admin),
            embedded: None,
        })
    }

    /// Connects to the process's embedded broker (librdkafka's mock
    /// cluster), starting it on first use. It lives as long as the process,
    /// so workers started one after another in one program share it.
    pub(crate) fn embedded(settings: &Settings) -> Result<Self> {
        let settings = &for_guarantee(settings);
        static EMBEDDED: std::sync::OnceLock<EmbeddedBroker> = std::sync::OnceLock::new();
        let embedded = match EMBEDDED.get() {
            Some(broker) => broker,
            None => {
                let started = EmbeddedBroker::start()?;
                tracing::info!(
                    "embedded broker (librdkafka mock cluster) listening on {}",
                    started.bootstrap
                );
                EMBEDDED.get_or_init(|| started)
            }
        };
        let bootstrap = embedded.bootstrap.clone();
        Ok(KafkaTransport {
            producer: Arc::new(KafkaProducer::new(&bootstrap, settings)?),
            bootstrap,
            settings: settings.clone(),
            admin: None,
            embedded: Some(embedded),
        })
    }

    async fn create_topics(&self, topics: &[TopicSpec]) -> Result<Vec<String>> {
        let mut existing = Vec::new();
        if let Some(embedded) = &self.embedded {
            for topic in topics {
                if !embedded.create_topic(&topic.name, topic.partitions)? {
                    existing.push(topic.name.clone());
                }
            }
            return Ok(existing);
        }
        let Some(admin) = &self.admin else {
            return Ok(existing);
        };
        let new_topics: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| {
                let mut nt = NewTopic::new(
                    &t.name,
                    t.partitions as i32,
                    TopicReplication::Fixed(i32::from(t.replication)),
                );
                for (k, v) in &t.config {
                    nt = nt.set(k, v);
                }
                nt
            })
            .collect();
        let options = AdminOptions::new()
            .operation_timeout(Some(ADMIN_TIMEOUT))
            .request_timeout(Some(ADMIN_TIMEOUT));
        let results = admin
            .create_topics(&new_topics, &options)
            .await
            .map_err(|e| transport_error("creating topics", e))?;
        for result in results {
            match result {
                Ok(name) => tracing::info!(topic = %name, "created topic"),
                Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => existing.push(name),
                Err((name, code)) => {
                    return Err(Error::Transport {
                        what: format!("creating topic `{name}`"),
                        source: Box::new(KafkaError::AdminOp(code)),
                    });
                }
            }
        }
        Ok(existing)
    }

    async fn partition_count(&self, topic: &str) -> Result<u32> {
        let producer = self.producer.inner.clone();
        let name = topic.to_owned();
        let metadata = tokio::task::spawn_blocking(move || {
            producer.client().fetch_metadata(Some(&name), ADMIN_TIMEOUT)
        })
        .await
        .map_err(|e| Error::Transport {
            what: format!("reading metadata of `{topic}`"),
            source: Box::new(e),
        })?
        .map_err(|e| transport_error(&format!("reading metadata of `{topic}`"), e))?;
        Ok(metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .map_or(0, |t| t.partitions().len() as u32))
    }
}

impl Transport for KafkaTransport {
    fn producer(&self) -> Arc<dyn Producer> {
        self.producer.clone()
    }

    fn ensure_topics<'a>(&'a self, topics: &'a [TopicSpec]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if topics.is_empty() {
                return Ok(());
            }
            let mut backoff = Duration::from_millis(200);
            let existing = loop {
                match self.create_topics(topics).await {
                    Ok(existing) => break existing,
                    Err(e @ Error::Transport { .. }) => {
                        tracing::warn!(
                            "cannot create topics on {}: {e}; retrying in {backoff:?}",
                            self.bootstrap
                        );
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                    Err(e) => return Err(e),
                }
            };
            for name in existing {
                let Some(spec) = topics.iter().find(|t| t.name == name) else {
                    continue;
                };
                if !spec.strict {
                    continue;
                }
                let actual = self.partition_count(&name).await?;
                if actual != spec.partitions {
                    return Err(partition_mismatch(&name, actual, spec.partitions));
                }
            }
            Ok(())
        })
    }

    fn consumer(&self, member: GroupMember) -> Result<Arc<dyn Consumer>> {
        let GroupMember {
            group,
            topics,
            tracker,
            tables,
            leader,
            transactions,
            sensors,
        } = member;
        let group = group.as_str();
        let stored = Arc::new(Mutex::new(Stored::default()));
        let reader = |purpose: &str| self.reader(format!("{group}-{purpose}"));
        let follower = tables
            .follows()
            .then(|| Follower::start(tables.clone(), reader("standby")));
        let context = FaustContext {
            tracker,
            stored: stored.clone(),
            tables,
            reader: reader("recovery"),
            // The group's own id, to read its committed offsets; never
            // joins (asking through the member from its rebalance callback
            // stalls the group on some brokers).
            offsets: self.reader(group.to_owned()),
            leader,
            transactions,
            sensors,
            high_watermarks: Mutex::default(),
            revoked_in_batch: RevokedInBatch::default(),
        };
        let mut config = config(&self.bootstrap, CONSUMER_DEFAULTS, &self.settings.consumer);
        config.set("group.id", group);
        if !self.settings.consumer.contains_key("client.id") {
            config.set("client.id", group);
        }
        let inner: StreamConsumer<FaustContext> = config
            .create_with_context(context)
            .map_err(|e| client_error("consumer", e))?;
        let names: Vec<&str> = topics.iter().map(|t| &**t).collect();
        inner
            .subscribe(&names)
            .map_err(|e| transport_error("subscribing", e))?;
        Ok(Arc::new(KafkaConsumer {
            inner,
            topics,
            stored,
            _follower: follower,
        }))
    }

    fn tail(&self, topic: &str) -> Result<Arc<dyn Consumer>> {
        let mut config = config(&self.bootstrap, CONSUMER_DEFAULTS, &self.settings.consumer);
        // librdkafka wants a group for `assign`; it is never joined, and
        // nothing is committed.
        config.set("group.id", format!("{topic}-tail-{}", std::process::id()));
        let inner: StreamConsumer<LogContext> = config
            .create_with_context(LogContext)
            .map_err(|e| client_error("reply reader", e))?;
        let what = format!("reading the end of `{topic}`");
        let metadata = inner
            .fetch_metadata(Some(topic), ADMIN_TIMEOUT)
            .map_err(|e| transport_error(&what, e))?;
        let partitions = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .map_or(0, |t| t.partitions().len());
        let mut tpl = TopicPartitionList::new();
        for partition in 0..partitions.max(1) {
            tpl.add_partition_offset(topic, partition as i32, Offset::End)
                .map_err(|e| transport_error(&what, e))?;
        }
        inner.assign(&tpl).map_err(|e| transport_error(&what, e))?;
        Ok(Arc::new(TailConsumer {
            inner,
            topics: vec![Arc::from(topic)],
        }))
    }

    fn changelog_reader(&self, app_id: &str) -> Result<Box<dyn ChangelogRead + Send + Sync>> {
        Ok(Box::new(self.reader(format!("{app_id}-tools"))))
    }

    fn describe(&self) -> String {
        match &self.embedded {
            Some(_) => format!(
                "embedded:// (librdkafka mock cluster at {})",
                self.bootstrap
            ),
            None => format!("kafka://{}", self.bootstrap),
        }
    }

    fn transactional(&self, id: &str) -> Result<Arc<dyn TransactionalProducer>> {
        Ok(Arc::new(KafkaTransactional::new(
            &self.bootstrap,
            &self.settings,
            id,
        )?))
    }

    fn flush(&self, timeout: Duration) -> BoxFuture<'_, Result<()>> {
        let producer = self.producer.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || producer.flush(timeout))
                .await
                .map_err(|e| Error::Transport {
                    what: "flushing the producer".into(),
                    source: Box::new(e),
                })?
                .map_err(|e| transport_error("flushing the producer", e))
        })
    }
}

/// Under `exactly_once` every reader (the group's consumer, table
/// recovery, standbys, tools) sees committed transactions only, unless the
/// user set `isolation.level` themselves.
fn for_guarantee(settings: &Settings) -> Settings {
    let mut settings = settings.clone();
    if settings.processing_guarantee == crate::app::ProcessingGuarantee::ExactlyOnce {
        settings
            .consumer
            .entry("isolation.level".to_owned())
            .or_insert_with(|| "read_committed".to_owned());
    }
    settings
}

/// How long a transaction call waits for the broker.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// The transactional producer of `exactly_once`: rdkafka's, with the
/// worker's producer settings and `transactional.id`.
struct KafkaTransactional {
    inner: SlotProducer,
    id: String,
    max_bytes: usize,
}

impl fmt::Debug for KafkaTransactional {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaTransactional")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl KafkaTransactional {
    fn new(bootstrap: &str, settings: &Settings, id: &str) -> Result<Self> {
        let mut config = config(bootstrap, PRODUCER_DEFAULTS, &settings.producer);
        config.set("transactional.id", id);
        let max_bytes = settings
            .producer
            .get("message.max.bytes")
            .map(String::as_str)
            .or_else(|| {
                PRODUCER_DEFAULTS
                    .iter()
                    .find(|(k, _)| *k == "message.max.bytes")
                    .map(|(_, v)| *v)
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let inner = config
            .create_with_context(SlotContext)
            .map_err(|e| client_error("transactional producer", e))?;
        Ok(KafkaTransactional {
            inner,
            id: id.to_owned(),
            max_bytes,
        })
    }

    fn call(&self, what: &str, result: rdkafka::error::KafkaResult<()>) -> Result<()> {
        result.map_err(|e| {
            let unsupported = matches!(
                e.rdkafka_error_code(),
                Some(RDKafkaErrorCode::UnsupportedFeature | RDKafkaErrorCode::UnsupportedVersion)
            ) || e.to_string().contains("not supported by broker");
            let fatal = matches!(&e, KafkaError::Transaction(t) if t.is_fatal());
            let what = if unsupported {
                format!(
                    "{what} (this broker does not implement Kafka transactions: Tansu 0.6, for \
                     one, rejects EndTxn; use processing_guarantee = \"at_least_once\", whose \
                     tables stay exact, or a broker with transactions)"
                )
            } else if fatal {
                format!(
                    "{what} (a fatal error: most often the producer was fenced by a newer one \
                     with the same transactional id)"
                )
            } else {
                what.to_owned()
            };
            transport_error(&what, e)
        })
    }
}

impl TransactionalProducer for KafkaTransactional {
    fn id(&self) -> &str {
        &self.id
    }

    fn init(&self) -> Result<()> {
        self.call(
            "initialising transactions",
            self.inner.init_transactions(TRANSACTION_TIMEOUT),
        )
    }

    fn begin(&self) -> Result<()> {
        self.call("beginning a transaction", self.inner.begin_transaction())
    }

    fn send(&self, record: OutgoingRecord) -> Delivery {
        // A full local queue waits here (the cycle runs on a blocking
        // thread): the records of one transaction go out in order.
        loop {
            match enqueue(&self.inner, &record) {
                Ok(future) => return Delivery::kafka(future, record.topic.clone()),
                Err(KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)) => {
                    std::thread::sleep(OVERFLOW_BACKOFF);
                }
                Err(e) => {
                    return Delivery::ready(Err(transport_error(
                        &format!("sending to `{}`", record.topic),
                        e,
                    )));
                }
            }
        }
    }

    fn send_offsets(&self, offsets: &[(Arc<str>, i32, i64)], group: &GroupMetadata) -> Result<()> {
        let GroupMetadata::Kafka(group) = group else {
            return Err(Error::config(
                "the in-memory broker's group on a Kafka transactional producer",
            ));
        };
        let mut tpl = TopicPartitionList::new();
        for (topic, partition, offset) in offsets {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .map_err(|e| transport_error("listing the offsets to commit", e))?;
        }
        self.call(
            "adding the input offsets to the transaction",
            self.inner
                .send_offsets_to_transaction(&tpl, group, TRANSACTION_TIMEOUT),
        )
    }

    fn commit(&self) -> Result<()> {
        self.call(
            "committing the transaction",
            self.inner.commit_transaction(TRANSACTION_TIMEOUT),
        )
    }

    fn abort(&self) -> Result<()> {
        self.call(
            "aborting the transaction",
            self.inner.abort_transaction(TRANSACTION_TIMEOUT),
        )
    }

    fn max_record_bytes(&self) -> usize {
        self.max_bytes
    }
}

fn config(
    bootstrap: &str,
    defaults: &[(&str, &str)],
    user: &BTreeMap<String, String>,
) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config.set_log_level(RDKafkaLogLevel::Warning);
    for (k, v) in defaults {
        config.set(*k, *v);
    }
    for (k, v) in user {
        config.set(k, v);
    }
    if user.contains_key("debug") {
        // The user asked librdkafka for debug contexts: let them through.
        config.set_log_level(RDKafkaLogLevel::Debug);
    }
    config
}

/// True for librdkafka's "record too large" errors, local or from the broker.
pub(crate) fn is_too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    error.downcast_ref::<KafkaError>().is_some_and(|e| {
        matches!(
            e.rdkafka_error_code(),
            Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::InvalidRecord)
        )
    })
}

fn client_error(what: &str, e: KafkaError) -> Error {
    Error::config(format!(
        "cannot create the Kafka {what}: {e}; check the `consumer.*`/`producer.*`/`admin.*` \
         settings (librdkafka property names, see CONFIGURATION.md of librdkafka)"
    ))
}

fn transport_error(what: &str, e: KafkaError) -> Error {
    Error::Transport {
        what: what.to_owned(),
        source: Box::new(e),
    }
}

/// The producer every agent shares.
///
/// librdkafka's local queue is bounded (`queue.buffering.max.messages`,
/// `queue.buffering.max.kbytes`). When it is full, records wait in
/// `overflow`, in the order they were sent, and a thread hands them to
/// librdkafka as room appears. Every send made while records wait joins the
/// back of that line, so the broker gets records in send order: a key's
/// changelog records are never reordered (the last one is the one
/// compaction keeps).
struct KafkaProducer {
    inner: Arc<SlotProducer>,
    overflow: Arc<OverflowLine>,
}

/// The records waiting for room in librdkafka's queue.
#[derive(Default)]
struct OverflowLine {
    /// Set while records wait: sends take the line's lock only then.
    busy: std::sync::atomic::AtomicBool,
    line: Mutex<Overflow>,
}

/// Records that met a full local queue, oldest first.
#[derive(Default)]
struct Overflow {
    waiting: std::collections::VecDeque<(OutgoingRecord, Enqueued)>,
}

/// Hands a waiting record's delivery future (or why it could not be
/// queued) to the [`Delivery`] that waits for it.
type Enqueued = tokio::sync::oneshot::Sender<std::result::Result<DeliveryFuture, KafkaError>>;

/// How long the overflow thread waits for room in librdkafka's queue.
const OVERFLOW_BACKOFF: Duration = Duration::from_millis(2);

impl fmt::Debug for KafkaProducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KafkaProducer")
    }
}

impl KafkaProducer {
    fn new(bootstrap: &str, settings: &Settings) -> Result<Self> {
        let inner = config(bootstrap, PRODUCER_DEFAULTS, &settings.producer)
            .create_with_context(SlotContext)
            .map_err(|e| client_error("producer", e))?;
        Ok(KafkaProducer {
            inner: Arc::new(inner),
            overflow: Arc::default(),
        })
    }

    /// Hands `record` to librdkafka; `None` when its queue is full.
    fn send_now(&self, record: &OutgoingRecord) -> Option<Delivery> {
        match enqueue(&self.inner, record) {
            Ok(future) => Some(Delivery::kafka(future, record.topic.clone())),
            Err(KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)) => None,
            Err(e) => Some(Delivery::ready(Err(transport_error(
                &format!("sending to `{}`", record.topic),
                e,
            )))),
        }
    }

    /// Queues `record` behind the records already waiting; starts the
    /// thread that moves them into librdkafka if none runs.
    fn wait_in_line(&self, overflow: &mut Overflow, record: OutgoingRecord) -> Delivery {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let topic = record.topic.clone();
        overflow.waiting.push_back((record, tx));
        if overflow.waiting.len() == 1 {
            // The first in line: nothing moves the line yet.
            self.overflow.busy.store(true, Ordering::Release);
            let producer = self.inner.clone();
            let line = self.overflow.clone();
            let spawned = std::thread::Builder::new()
                .name("faust-producer-overflow".into())
                .spawn(move || drain_overflow(&producer, &line));
            if let Err(e) = spawned {
                self.overflow.busy.store(false, Ordering::Release);
                for (_, tx) in overflow.waiting.drain(..) {
                    let _ = tx.send(Err(KafkaError::MessageProduction(RDKafkaErrorCode::Fail)));
                }
                tracing::error!("cannot start the producer's overflow thread: {e}");
            }
        }
        Delivery::pending(async move {
            match rx.await {
                Ok(Ok(future)) => delivered(future, topic).await,
                Ok(Err(e)) => Err(transport_error(&format!("sending to `{topic}`"), e)),
                Err(_) => Err(Error::Transport {
                    what: format!("sending to `{topic}`"),
                    source: "the producer was closed before the record was queued".into(),
                }),
            }
        })
    }
}

/// Moves the waiting records into librdkafka, oldest first, as its queue
/// makes room; returns once none waits.
fn drain_overflow(producer: &SlotProducer, line: &OverflowLine) {
    loop {
        let mut overflow = line.line.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((record, _)) = overflow.waiting.front() {
            let result = enqueue(producer, record);
            if let Err(KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)) = result {
                break;
            }
            if let Some((_, tx)) = overflow.waiting.pop_front() {
                let _ = tx.send(result);
            }
        }
        if overflow.waiting.is_empty() {
            line.busy.store(false, Ordering::Release);
            return;
        }
        drop(overflow);
        std::thread::sleep(OVERFLOW_BACKOFF);
    }
}

impl Producer for KafkaProducer {
    fn send(&self, record: OutgoingRecord) -> Delivery {
        // No line (the common case): straight into librdkafka, no lock. A
        // sender that meets a full queue sets `busy` before its send
        // returns, so its next record joins the line behind it.
        if !self.overflow.busy.load(Ordering::Acquire)
            && let Some(delivery) = self.send_now(&record)
        {
            return delivery;
        }
        let mut overflow = self.overflow.line.lock().unwrap_or_else(|e| e.into_inner());
        // The line may have emptied meanwhile: then try once more.
        if overflow.waiting.is_empty()
            && let Some(delivery) = self.send_now(&record)
        {
            return delivery;
        }
        // The local queue is full: wait for room (backpressure), in line.
        self.wait_in_line(&mut overflow, record)
    }
}

/// The producer of a worker: librdkafka's, with its delivery thread, each
/// record's report landing in the [`Slot`] its sender waits on.
type SlotProducer = ThreadedProducer<SlotContext>;

/// Where librdkafka's delivery report of one record lands: one allocation
/// per record (rdkafka's `FutureProducer` makes two, a channel and a box
/// the delivery thread frees), released by whichever side lets go last,
/// as a rule the waiting task.
#[derive(Default)]
pub(crate) struct Slot {
    report: std::sync::OnceLock<SlotReport>,
    waker: futures_util::task::AtomicWaker,
}

/// Where the record landed (partition, offset), or why it did not.
pub(crate) type SlotReport = std::result::Result<(i32, i64), KafkaError>;

/// The delivery report of one record, once librdkafka has it.
pub(crate) struct DeliveryFuture(Arc<Slot>);

impl std::future::Future for DeliveryFuture {
    type Output = SlotReport;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<SlotReport> {
        if let Some(report) = self.0.report.get() {
            return std::task::Poll::Ready(report.clone());
        }
        self.0.waker.register(cx.waker());
        // The report may have landed between the look and the register.
        match self.0.report.get() {
            Some(report) => std::task::Poll::Ready(report.clone()),
            None => std::task::Poll::Pending,
        }
    }
}

/// The producers' client context: librdkafka's logs to `tracing`, each
/// delivery report into its record's [`Slot`].
#[derive(Clone, Copy, Debug)]
struct SlotContext;

impl ClientContext for SlotContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        LogContext.log(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        LogContext.error(error, reason);
    }
}

impl ProducerContext for SlotContext {
    type DeliveryOpaque = Arc<Slot>;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: Arc<Slot>) {
        let report = match result {
            Ok(m) => Ok((m.partition(), m.offset())),
            Err((e, _)) => Err(e.clone()),
        };
        let _ = slot.report.set(report);
        slot.waker.wake();
    }
}

fn enqueue(
    producer: &SlotProducer,
    record: &OutgoingRecord,
) -> std::result::Result<DeliveryFuture, KafkaError> {
    let slot = Arc::new(Slot::default());
    let mut br: BaseRecord<'_, [u8], [u8], Arc<Slot>> =
        BaseRecord::with_opaque_to(&record.topic, slot.clone());
    if let Some(key) = &record.key {
        br = br.key(&key[..]);
    }
    if let Some(value) = &record.value {
        br = br.payload(&value[..]);
    }
    if let Some(p) = record.partition {
        br = br.partition(p);
    }
    if let Some(ts) = record.timestamp {
        br = br.timestamp(ts);
    }
    if !record.headers.is_empty() {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (name, value) in record.headers.iter() {
            headers = headers.insert(Header {
                key: name,
                value: Some(value),
            });
        }
        br = br.headers(headers);
    }
    producer
        .send(br)
        .map(|()| DeliveryFuture(slot))
        .map_err(|(e, _)| e)
}

async fn delivered(future: DeliveryFuture, topic: Arc<str>) -> Result<RecordMetadata> {
    delivery_result(future.await, &topic)
}

/// What librdkafka's delivery report means for us.
pub(crate) fn delivery_result(report: SlotReport, topic: &str) -> Result<RecordMetadata> {
    match report {
        Ok((partition, offset)) => Ok(RecordMetadata { partition, offset }),
        Err(e) => Err(transport_error(&format!("delivering to `{topic}`"), e)),
    }
}

/// Reads changelog partitions to their end, with a consumer of its own
/// (assigned, no group), created on first use and kept.
struct ChangelogReader {
    bootstrap: String,
    /// librdkafka wants a group for `assign`; it is never joined.
    group: String,
    settings: BTreeMap<String, String>,
    /// How long a read waits with no record before it fails
    /// (`changelog_stall_timeout`).
    stall: Duration,
    consumer: Mutex<Option<Arc<BaseConsumer<LogContext>>>>,
}

impl ChangelogReader {
    fn consumer(&self) -> Result<Arc<BaseConsumer<LogContext>>> {
        let mut slot = self.consumer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(consumer) = &*slot {
            return Ok(consumer.clone());
        }
        let mut defaults: Vec<(&str, &str)> = CONSUMER_DEFAULTS.to_vec();
        defaults.push(("enable.partition.eof", "true"));
        // Nothing reads a reader's statistics (librdkafka would have
        // rdkafka log each at info level).
        defaults.push(("statistics.interval.ms", "0"));
        // Recovery reads whole logs: large fetches.
        defaults.push(("fetch.max.bytes", "67108864"));
        defaults.push(("max.partition.fetch.bytes", "16777216"));
        defaults.push(("queued.min.messages", "200000"));
        defaults.push(("queued.max.messages.kbytes", "131072"));
        let mut user = self.settings.clone();
        user.insert("group.id".into(), self.group.clone());
        user.remove("enable.partition.eof");
        let consumer: BaseConsumer<LogContext> = config(&self.bootstrap, &defaults, &user)
            .create_with_context(LogContext)
            .map_err(|e| client_error("changelog reader", e))?;
        let consumer = Arc::new(consumer);
        *slot = Some(consumer.clone());
        Ok(consumer)
    }
}

impl ChangelogReader {
    /// Whether `auto.offset.reset` sends a group without committed offsets
    /// to the end of a partition.
    fn resets_to_end(&self) -> bool {
        // The group's consumer is configured so: the defaults, then the
        // user's properties.
        let group = config(&self.bootstrap, CONSUMER_DEFAULTS, &self.settings);
        matches!(
            group.get("auto.offset.reset"),
            Some("latest" | "largest" | "end")
        )
    }
}

impl fmt::Debug for ChangelogReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangelogReader")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl ChangelogRead for ChangelogReader {
    fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        self.consumer()?
            .fetch_watermarks(topic, partition, ADMIN_TIMEOUT)
            .map_err(|e| transport_error(&format!("reading the end of `{topic}`[{partition}]"), e))
    }

    fn read(
        &self,
        specs: &[ReadSpec],
        apply: &mut dyn FnMut(&Message) -> Result<()>,
    ) -> Result<u64> {
        let consumer = self.consumer()?;
        let what = || format!("reading changelogs ({} partitions)", specs.len());
        // partition -> (topic, end offset), while not yet reached. Keyed by
        // partition so a record's lookup hashes an integer and allocates
        // nothing; the topics of one partition number are few (one per table).
        let mut open: HashMap<i32, Vec<(Arc<str>, i64)>> = HashMap::new();
        let mut tpl = TopicPartitionList::new();
        for (topic, partition, from, end) in specs {
            if from < end {
                tpl.add_partition_offset(topic, *partition, Offset::Offset(*from))
                    .map_err(|e| transport_error(&what(), e))?;
                let same = open.entry(*partition).or_default();
                match same.iter_mut().find(|(t, _)| t == topic) {
                    Some(existing) => existing.1 = *end,
                    None => same.push((topic.clone(), *end)),
                }
            }
        }
        if open.is_empty() {
            return Ok(0);
        }
        consumer
            .assign(&tpl)
            .map_err(|e| transport_error(&what(), e))?;
        let result = (|| {
            let mut records = 0u64;
            // Since the last record: polls that return nothing and errors
            // the client retries both count.
            let mut last = Instant::now();
            let poll = Duration::from_millis(200);
            while !open.is_empty() {
                let event = consumer.poll(poll);
                if !matches!(event, Some(Ok(_))) && last.elapsed() > self.stall {
                    let left: Vec<String> = open
                        .iter()
                        .flat_map(|(p, same)| {
                            same.iter()
                                .map(move |(t, end)| format!("`{t}`[{p}] (end {end})"))
                        })
                        .collect();
                    return Err(Error::Transport {
                        what: what(),
                        source: format!(
                            "no record for {:.1?} before the end of {} (the limit is \
                             changelog_stall_timeout = \"{}\"; raise it, e.g. \
                             FAUST_CHANGELOG_STALL_TIMEOUT=5m, for a broker that pauses longer)",
                            last.elapsed(),
                            left.join(", "),
                            humantime::format_duration(self.stall)
                        )
                        .into(),
                    });
                }
                match event {
                    Some(Ok(m)) => {
                        last = Instant::now();
                        let partition = m.partition();
                        let Some((topic, end)) = open
                            .get(&partition)
                            .and_then(|same| same.iter().find(|(t, _)| **t == *m.topic()).cloned())
                        else {
                            continue;
                        };
                        if m.offset() >= end {
                            reached_end(&mut open, &topic, partition);
                            continue;
                        }
                        let message = Message {
                            topic: topic.clone(),
                            partition,
                            offset: m.offset(),
                            timestamp: m.timestamp().to_millis().unwrap_or(0),
                            key: m.key().map(Bytes::copy_from_slice),
                            value: m.payload().map(Bytes::copy_from_slice),
                            headers: Headers::new(),
                        };
                        apply(&message)?;
                        records += 1;
                        if m.offset() >= end - 1 {
                            reached_end(&mut open, &topic, partition);
                        }
                    }
                    Some(Err(KafkaError::PartitionEOF(partition))) => {
                        // The event names only the partition: ask where each
                        // open spec of that number stands.
                        if let Ok(positions) = consumer.position()
                            && let Some(same) = open.get_mut(&partition)
                        {
                            same.retain(|(topic, end)| {
                                positions
                                    .find_partition(topic, partition)
                                    .and_then(|e| e.offset().to_raw())
                                    .is_none_or(|at| at < *end)
                            });
                            if same.is_empty() {
                                open.remove(&partition);
                            }
                        }
                    }
                    Some(Err(e)) => tracing::warn!("{}: {e}; retrying", what()),
                    None => {}
                }
            }
            Ok(records)
        })();
        let _ = consumer.unassign();
        result
    }
}

/// Stops reading `topic`[`partition`] in [`ChangelogReader::read`]: it
/// reached its end.
fn reached_end(open: &mut HashMap<i32, Vec<(Arc<str>, i64)>>, topic: &str, partition: i32) {
    if let Some(same) = open.get_mut(&partition) {
        same.retain(|(t, _)| **t != *topic);
        if same.is_empty() {
            open.remove(&partition);
        }
    }
}

/// Keeps the changelog partitions a worker holds without owning them
/// (global tables, standbys) current: reads their new records every
/// [`FOLLOW_EVERY`] on a thread of its own, until dropped.
struct Follower {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often a follower reads the changelogs' new records.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

impl Follower {
    fn start(tables: Arc<Tables>, reader: ChangelogReader) -> Follower {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("faust-standby".into())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    if tables.has_owner()
                        && let Err(e) = tables.catch_up(&reader)
                    {
                        tracing::warn!("following changelogs: {e}; trying again");
                    }
                    std::thread::sleep(FOLLOW_EVERY);
                }
            })
            .ok();
        Follower { stop, thread }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for Follower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follower").finish_non_exhaustive()
    }
}

/// Offsets stored and not yet committed, per partition.
#[derive(Debug, Default)]
struct Stored {
    offsets: HashMap<(Arc<str>, i32), i64>,
}

fn lock(stored: &Mutex<Stored>) -> MutexGuard<'_, Stored> {
    stored.lock().unwrap_or_else(|e| e.into_inner())
}

/// Receives rebalances: commits the finished prefix of revoked partitions
/// before they move, and logs what the client reports.
struct FaustContext {
    tracker: Arc<OffsetTracker>,
    stored: Arc<Mutex<Stored>>,
    tables: Arc<Tables>,
    reader: ChangelogReader,
    /// Reads the group's committed offsets (exact state's recovery cut).
    offsets: ChangelogReader,
    leader: Option<Leadership>,
    /// Under `exactly_once`: offsets are committed in transactions only.
    transactions: Option<Arc<crate::worker::transaction::Transactions>>,
    /// Told of the partitions assigned and revoked.
    sensors: crate::sensor::Sensors,
    /// Each partition's high watermark, from the last statistics.
    high_watermarks: Mutex<HashMap<(String, i32), i64>>,
    /// The partitions revoked while a batch is being read.
    revoked_in_batch: RevokedInBatch,
}

/// The partitions a revoke took while [`poll_batch`] was reading a batch:
/// the records of them already in the batch were read under the old
/// assignment. The revoke no longer waits for them, and handed to the
/// agents they would be tracked (and counted in the tables) afresh, then
/// read again from the committed offset: they are dropped instead.
#[derive(Debug, Default)]
struct RevokedInBatch {
    /// Set by a revoke; looked at after each record (one load).
    any: std::sync::atomic::AtomicBool,
    partitions: Mutex<Vec<(Arc<str>, i32)>>,
}

impl RevokedInBatch {
    fn note(&self, tpl: &TopicPartitionList) {
        let mut partitions = self.partitions.lock().unwrap_or_else(|e| e.into_inner());
        partitions.extend(
            tpl.elements()
                .iter()
                .map(|e| (Arc::<str>::from(e.topic()), e.partition())),
        );
        self.any.store(true, std::sync::atomic::Ordering::Release);
    }

    /// The partitions revoked since the last call, if any.
    fn take(&self) -> Option<Vec<(Arc<str>, i32)>> {
        if !self.any.swap(false, std::sync::atomic::Ordering::AcqRel) {
            return None;
        }
        Some(std::mem::take(
            &mut *self.partitions.lock().unwrap_or_else(|e| e.into_inner()),
        ))
    }
}

impl ClientContext for FaustContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        LogContext.log(level, fac, message);
    }

    /// librdkafka's statistics (every `statistics.interval.ms`): each
    /// assigned partition's high watermark and lag.
    fn stats(&self, statistics: rdkafka::Statistics) {
        let mut highs = self
            .high_watermarks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                if *partition < 0 || p.hi_offset < 0 {
                    continue;
                }
                highs.insert((topic.clone(), *partition), p.hi_offset);
                let labels = [
                    ("topic", topic.clone()),
                    ("partition", partition.to_string()),
                ];
                metrics::gauge!("faust_high_watermark", &labels).set(p.hi_offset as f64);
                if p.consumer_lag >= 0 {
                    metrics::gauge!("faust_consumer_lag", &labels).set(p.consumer_lag as f64);
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        LogContext.error(error, reason);
    }
}

impl ConsumerContext for LogContext {}

/// Sends librdkafka's logs and errors to `tracing`. Connection trouble is
/// a warning: the client reconnects by itself, with backoff.
#[derive(Clone, Copy, Debug)]
struct LogContext;

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                tracing::error!(target: "librdkafka", "{fac}: {message}")
            }
            RDKafkaLogLevel::Error | RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", "{fac}: {message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", "{fac}: {message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", "{fac}: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::AllBrokersDown) => {
                tracing::warn!(
                    target: "librdkafka",
                    "broker unreachable: {reason} (reconnecting with backoff)"
                )
            }
            _ => tracing::error!(target: "librdkafka", "{error}: {reason}"),
        }
    }
}

/// How long a revoke waits for the in-flight events of the partitions it
/// loses, so their offsets are committed rather than processed again by the
/// next owner.
const REVOKE_DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

impl FaustContext {
    /// Waits (bounded) until the revoked partitions have no event in
    /// flight. The agents keep running meanwhile; only reading is paused.
    fn drain_revoked(&self, tpl: &TopicPartitionList) {
        let started = std::time::Instant::now();
        let pending = || -> usize {
            tpl.elements()
                .iter()
                .map(|e| self.tracker.in_flight(e.topic(), e.partition()))
                .sum()
        };
        let mut left = pending();
        while left > 0 && started.elapsed() < REVOKE_DRAIN_TIMEOUT {
            std::thread::sleep(Duration::from_millis(10));
            left = pending();
        }
        if left > 0 {
            tracing::info!(
                "revoke: {left} events of the revoked partitions still in flight after \
                 {REVOKE_DRAIN_TIMEOUT:?}; their next owner processes them again"
            );
        }
    }

    /// A revoke at least once: waits (bounded) for the in-flight events of
    /// the lost partitions, commits what finished, then flushes the
    /// tables' stores and drops what they hold of unfinished events.
    fn revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        self.drain_revoked(tpl);
        let partitions = partitions_of(tpl);
        let mut commit = TopicPartitionList::new();
        let mut stored = lock(&self.stored);
        for elem in tpl.elements() {
            let key = (Arc::<str>::from(elem.topic()), elem.partition());
            if let Some(offset) = self.tracker.revoke(elem.topic(), elem.partition()) {
                stored.offsets.insert(key.clone(), offset);
            }
            if let Some(offset) = stored.offsets.remove(&key) {
                let _ = commit.add_partition_offset(
                    elem.topic(),
                    elem.partition(),
                    Offset::Offset(offset),
                );
            }
        }
        drop(stored);
        // The stores write the events being committed, no later.
        let finished: Vec<(Arc<str>, i32, i64)> = commit
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((Arc::from(e.topic()), e.partition(), o)),
                _ => None,
            })
            .collect();
        self.tables.note_committed(&finished);
        self.tables.revoke(&partitions);
        if let Some(leader) = &self.leader
            && tpl.find_partition(&leader.topic, 0).is_some()
        {
            leader.set(false);
        }
        tracing::info!(
            "partitions revoked: {}; committing {} finished",
            describe_tpl(tpl),
            commit.count()
        );
        if commit.count() > 0
            && let Err(e) = consumer.commit(&commit, CommitMode::Sync)
        {
            tracing::warn!(
                "commit on revoke failed: {e}; those events will be processed again \
                     by the partitions' next owner"
            );
        }
    }

    /// A revoke under transactions: a running cycle finishes first (what
    /// it commits is committed before the partitions move), then what the
    /// uncommitted events of the lost partitions hold is dropped, and so
    /// are their tables' uncommitted writes. No offset is committed
    /// outside a transaction: the next owner handles those events again,
    /// and their outputs were never written.
    fn revoke_transactional(&self, tpl: &TopicPartitionList) {
        if let Some(txn) = &self.transactions {
            txn.revoke(|topic, partition| tpl.find_partition(topic, partition).is_some());
        }
        for elem in tpl.elements() {
            let _ = self.tracker.revoke(elem.topic(), elem.partition());
        }
        let partitions = partitions_of(tpl);
        self.tables.revoke(&partitions);
        if let Some(leader) = &self.leader
            && tpl.find_partition(&leader.topic, 0).is_some()
        {
            leader.set(false);
        }
        tracing::info!(
            "partitions revoked: {} (their uncommitted events go to the next owner)",
            describe_tpl(tpl)
        );
    }
}

impl ConsumerContext for FaustContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let kind = match rebalance {
            Rebalance::Assign(_) => "assign",
            Rebalance::Revoke(_) => "revoke",
            Rebalance::Error(_) => "error",
        };
        metrics::counter!("faust_rebalances_total", "kind" => kind).increment(1);
        if let (false, Rebalance::Assign(tpl) | Rebalance::Revoke(tpl)) =
            (self.sensors.is_empty(), rebalance)
        {
            let elements = tpl.elements();
            let partitions = elements
                .iter()
                .map(|e| (e.topic(), e.partition()))
                .collect();
            self.sensors
                .rebalance(matches!(rebalance, Rebalance::Assign(_)), partitions);
        }
        match rebalance {
            // Off the runtime: the callback runs inside the fetcher's
            // poll, on a tokio worker, and waits there (for the in-flight
            // events of the lost partitions, for a commit); the tasks queued
            // on that worker, the agents among them, must run meanwhile.
            Rebalance::Revoke(tpl) if self.transactions.is_some() => {
                self.revoked_in_batch.note(tpl);
                off_the_runtime(|| self.revoke_transactional(tpl));
            }
            Rebalance::Revoke(tpl) => {
                self.revoked_in_batch.note(tpl);
                off_the_runtime(|| self.revoke(consumer, tpl));
            }
            Rebalance::Assign(tpl) => {
                tracing::info!("partitions assigned: {}", describe_tpl(tpl));
                if let Some(leader) = &self.leader
                    && tpl.find_partition(&leader.topic, 0).is_some()
                {
                    leader.set(true);
                }
                // Tables first: no event of these partitions is fetched
                // until their table partitions are rebuilt.
                let partitions = partitions_of(tpl);
                if !self.tables.is_empty()
                    && let Err(e) = self
                        .offsets
                        .consumer()
                        .and_then(|offsets| {
                            resume_offsets(&offsets, tpl, self.offsets.resets_to_end())
                        })
                        .and_then(|resume| {
                            off_the_runtime(|| {
                                self.tables.assign(&partitions, &self.reader, Some(&resume))
                            })
                        })
                {
                    tracing::error!(
                        "table recovery failed: {e}; stopping rather than processing events \
                         against incomplete tables"
                    );
                    self.tables.fail(e);
                }
            }
            Rebalance::Error(e) => tracing::warn!("rebalance error: {e}"),
        }
    }
}

/// Runs `f`, which blocks for long (a table recovery or a revoke's wait
/// inside the rebalance callback, called from the consumer's poll on a
/// runtime thread), without
/// stalling the tasks queued on this thread: on a multi-threaded tokio
/// runtime they move to another thread meanwhile, so the web endpoint
/// still answers `/ready` during a recovery.
fn off_the_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Where the group resumes each partition of `tpl`: its committed offset,
/// or with nothing committed, where `auto.offset.reset` sends it: the
/// partition's first offset (`earliest`, the default), or its end
/// (`to_end`: `latest`).
fn resume_offsets(
    consumer: &BaseConsumer<LogContext>,
    tpl: &TopicPartitionList,
    to_end: bool,
) -> Result<SourceOffsets> {
    let committed = consumer
        .committed_offsets(tpl.clone(), Duration::from_secs(30))
        .map_err(|e| Error::Transport {
            what: "reading the committed offsets of the assigned partitions".into(),
            source: Box::new(e),
        })?;
    let mut resume = SourceOffsets::new();
    for elem in committed.elements() {
        let offset = match elem.offset() {
            Offset::Offset(o) => o,
            _ => consumer
                .fetch_watermarks(elem.topic(), elem.partition(), Duration::from_secs(30))
                .map_err(|e| Error::Transport {
                    what: format!(
                        "reading the first offset of {}[{}]",
                        elem.topic(),
                        elem.partition()
                    ),
                    source: Box::new(e),
                })
                .map(|(low, high)| if to_end { high } else { low })?,
        };
        resume.insert((Arc::from(elem.topic()), elem.partition()), offset);
    }
    Ok(resume)
}

/// The partition numbers `tpl` names, sorted, once each (the tables'
/// partitions: co-partitioned across the input topics).
fn partitions_of(tpl: &TopicPartitionList) -> Vec<i32> {
    let mut partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
    partitions.sort_unstable();
    partitions.dedup();
    partitions
}

fn describe_tpl(tpl: &TopicPartitionList) -> String {
    let mut parts: Vec<String> = tpl
        .elements()
        .iter()
        .map(|e| format!("{}[{}]", e.topic(), e.partition()))
        .collect();
    parts.sort();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

struct KafkaConsumer {
    inner: StreamConsumer<FaustContext>,
    topics: Vec<Arc<str>>,
    stored: Arc<Mutex<Stored>>,
    /// Keeps global tables and standbys current; stops when dropped.
    _follower: Option<Follower>,
}

impl fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

/// Copies a batch out of librdkafka: every key and value into one shared
/// buffer (one allocation per batch, not two per record). Topic names
/// come from `topics` when they are there (no allocation).
fn convert(batch: &[BorrowedMessage<'_>], topics: &[Arc<str>]) -> Vec<Arc<Message>> {
    let total: usize = batch
        .iter()
        .map(|m| m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len))
        .sum();
    let mut buffer = BytesMut::with_capacity(total);
    for m in batch {
        buffer.extend_from_slice(m.key().unwrap_or_default());
        buffer.extend_from_slice(m.payload().unwrap_or_default());
    }
    let buffer = buffer.freeze();
    let mut at = 0;
    let mut take = |part: Option<&[u8]>| {
        part.map(|bytes| {
            let slice = buffer.slice(at..at + bytes.len());
            at += bytes.len();
            slice
        })
    };
    let mut out = Vec::with_capacity(batch.len());
    let mut topic: Option<Arc<str>> = None;
    for m in batch {
        let topic = match &topic {
            Some(t) if &**t == m.topic() => t.clone(),
            _ => {
                let t = topics
                    .iter()
                    .find(|t| &***t == m.topic())
                    .cloned()
                    .unwrap_or_else(|| Arc::from(m.topic()));
                topic = Some(t.clone());
                t
            }
        };
        let mut headers = Headers::new();
        if let Some(h) = m.headers() {
            for header in h.iter() {
                headers.insert(
                    header.key,
                    Bytes::copy_from_slice(header.value.unwrap_or_default()),
                );
            }
        }
        let key = take(m.key());
        let value = take(m.payload());
        out.push(Arc::new(Message {
            topic,
            partition: m.partition(),
            offset: m.offset(),
            timestamp: m.timestamp().to_millis().unwrap_or(0),
            key,
            value,
            headers,
        }));
    }
    out
}

/// Waits for a record, then takes what else is ready, up to `max`.
/// Read errors are logged and retried with backoff.
///
/// With `revokes` (a group member's), a revoke that runs inside a read
/// (the rebalance callback) drops the batch's records of the partitions it
/// took: they were read under the old assignment (see [`RevokedInBatch`]).
async fn poll_batch<C: ConsumerContext + 'static>(
    inner: &StreamConsumer<C>,
    max: usize,
    topics: &[Arc<str>],
    revokes: Option<&RevokedInBatch>,
) -> Vec<Arc<Message>> {
    let mut batch = Batch::new(max, revokes);
    let mut backoff = Duration::from_millis(100);
    loop {
        match inner.recv().await {
            Ok(m) => {
                batch.push(m);
                break;
            }
            Err(e) => {
                tracing::warn!("reading from the broker failed: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    while batch.records.len() < max {
        match inner.recv().now_or_never() {
            Some(Ok(m)) => batch.push(m),
            Some(Err(e)) => {
                tracing::warn!("reading from the broker failed: {e}");
                break;
            }
            None => break,
        }
    }
    convert(&batch.finish(), topics)
}

/// The records of one [`poll_batch`], kept in step with the revokes that
/// run inside its reads: a revoke drops the records read before it of
/// the partitions it took, and never the record whose read it ran in
/// (that one comes after the callback: the new assignment's, and librdkafka
/// moved past it).
struct Batch<'a, M> {
    records: Vec<M>,
    revokes: Option<&'a RevokedInBatch>,
}

impl<'a, M: BatchRecord> Batch<'a, M> {
    fn new(max: usize, revokes: Option<&'a RevokedInBatch>) -> Self {
        // What a revoke between batches took is gone from the client's queue.
        if let Some(revokes) = revokes {
            revokes.take();
        }
        Batch {
            // Sized once: growing it record by record reallocates large blocks.
            records: Vec::with_capacity(max),
            revokes,
        }
    }

    /// A record just read: first drops what a revoke during its read took.
    fn push(&mut self, record: M) {
        self.drop_revoked();
        self.records.push(record);
    }

    /// The batch, less what a revoke during the last (empty) read took.
    fn finish(mut self) -> Vec<M> {
        self.drop_revoked();
        self.records
    }

    fn drop_revoked(&mut self) {
        let Some(revoked) = self.revokes.and_then(RevokedInBatch::take) else {
            return;
        };
        let before = self.records.len();
        self.records.retain(|m| {
            let (topic, partition) = m.at();
            !revoked
                .iter()
                .any(|(t, p)| **t == *topic && *p == partition)
        });
        if self.records.len() < before {
            tracing::debug!(
                dropped = before - self.records.len(),
                "records read before their partitions were revoked; their next owner reads them again"
            );
        }
    }
}

/// A record's topic and partition, for [`Batch`].
trait BatchRecord {
    fn at(&self) -> (&str, i32);
}

impl BatchRecord for BorrowedMessage<'_> {
    fn at(&self) -> (&str, i32) {
        (self.topic(), self.partition())
    }
}

/// Reads a topic from its end, outside any group (the reply topic).
struct TailConsumer {
    inner: StreamConsumer<LogContext>,
    topics: Vec<Arc<str>>,
}

impl fmt::Debug for TailConsumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TailConsumer")
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

impl Consumer for TailConsumer {
    fn poll(&self, max: usize) -> BoxFuture<'_, Vec<Arc<Message>>> {
        Box::pin(poll_batch(&self.inner, max, &self.topics, None))
    }

    fn store(&self, _offsets: &[(Arc<str>, i32, i64)]) {}

    fn commit(&self, _sync: bool) -> Result<()> {
        Ok(())
    }
}

impl Consumer for KafkaConsumer {
    fn poll(&self, max: usize) -> BoxFuture<'_, Vec<Arc<Message>>> {
        let revokes = &self.inner.context().revoked_in_batch;
        Box::pin(poll_batch(&self.inner, max, &self.topics, Some(revokes)))
    }

    /// From librdkafka's last statistics (every `statistics.interval.ms`).
    fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        let highs = self.inner.context().high_watermarks.lock();
        let highs = highs.unwrap_or_else(|e| e.into_inner());
        highs.get(&(topic.to_owned(), partition)).copied()
    }

    fn assigned_partitions(&self) -> Option<Vec<(Arc<str>, i32)>> {
        let assigned = self.inner.assignment().ok()?;
        Some(
            assigned
                .elements()
                .iter()
                .map(|e| (Arc::from(e.topic()), e.partition()))
                .collect(),
        )
    }

    fn group_metadata(&self) -> Option<GroupMetadata> {
        self.inner.group_metadata().map(GroupMetadata::Kafka)
    }

    fn store(&self, offsets: &[(Arc<str>, i32, i64)]) {
        let mut stored = lock(&self.stored);
        for (topic, partition, offset) in offsets {
            stored.offsets.insert((topic.clone(), *partition), *offset);
        }
    }

    fn commit(&self, sync: bool) -> Result<()> {
        let offsets: Vec<((Arc<str>, i32), i64)> = lock(&self.stored).offsets.drain().collect();
        if offsets.is_empty() {
            return Ok(());
        }
        let assigned = self
            .inner
            .assignment()
            .map_err(|e| transport_error("reading the assignment", e))?;
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in &offsets {
            if assigned.find_partition(topic, *partition).is_some() {
                let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset));
            }
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        let mode = if sync {
            CommitMode::Sync
        } else {
            CommitMode::Async
        };
        self.inner.commit(&tpl, mode).map_err(|e| {
            // Put them back: the next commit tries again.
            let mut stored = lock(&self.stored);
            for (key, offset) in offsets {
                stored.offsets.entry(key).or_insert(offset);
            }
            transport_error("committing offsets", e)
        })
    }
}

/// librdkafka's mock cluster, owned by a thread of its own (the handle is
/// not `Send`); topics are created through it, since it has no admin API.
/// One per process, kept until the process exits.
struct EmbeddedBroker {
    bootstrap: String,
    requests: Mutex<mpsc::Sender<EmbeddedRequest>>,
}

enum EmbeddedRequest {
    CreateTopic {
        name: String,
        partitions: u32,
        reply: mpsc::Sender<std::result::Result<bool, String>>,
    },
}

impl EmbeddedBroker {
    fn start() -> Result<Self> {
        let (requests, rx) = mpsc::channel::<EmbeddedRequest>();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("faust-embedded-broker".into())
            .spawn(move || {
                let cluster = match rdkafka::mocking::MockCluster::new(1) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                let mut created: HashMap<String, u32> = HashMap::new();
                // Runs until the transport is dropped (the sender closes).
                while let Ok(request) = rx.recv() {
                    match request {
                        EmbeddedRequest::CreateTopic {
                            name,
                            partitions,
                            reply,
                        } => {
                            if created.contains_key(&name) {
                                let _ = reply.send(Ok(false));
                                continue;
                            }
                            let result = cluster
                                .create_topic(&name, partitions as i32, 1)
                                .map(|()| {
                                    created.insert(name, partitions);
                                    true
                                })
                                .map_err(|e| e.to_string());
                            let _ = reply.send(result);
                        }
                    }
                }
            })
            .map_err(|e| Error::Transport {
                what: "starting the embedded broker".into(),
                source: Box::new(e),
            })?;
        let bootstrap = ready_rx
            .recv()
            .map_err(|e| Error::Transport {
                what: "starting the embedded broker".into(),
                source: Box::new(e),
            })?
            .map_err(|e| Error::Transport {
                what: "starting the embedded broker".into(),
                source: e.into(),
            })?;
        Ok(EmbeddedBroker {
            bootstrap,
            requests: Mutex::new(requests),
        })
    }

    /// Creates `name`; `false` when it already existed.
    fn create_topic(&self, name: &str, partitions: u32) -> Result<bool> {
        let (reply, answer) = mpsc::channel();
        let sent = self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(EmbeddedRequest::CreateTopic {
                name: name.to_owned(),
                partitions,
                reply,
            });
        let stopped = || Error::Transport {
            what: format!("creating topic `{name}` on the embedded broker"),
            source: "the embedded broker has stopped".into(),
        };
        sent.map_err(|_| stopped())?;
        answer
            .recv()
            .map_err(|_| stopped())?
            .map_err(|e| Error::Transport {
                what: format!("creating topic `{name}` on the embedded broker"),
                source: e.into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl BatchRecord for (&str, i32, i64) {
        fn at(&self) -> (&str, i32) {
            (self.0, self.1)
        }
    }

    fn revoke(revokes: &RevokedInBatch, topic: &str, partition: i32) {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(topic, partition);
        revokes.note(&tpl);
    }

    #[test]
    fn a_revoke_during_a_batch_drops_the_records_read_before_it_of_the_partitions_it_took() {
        let revokes = RevokedInBatch::default();
        assert_eq!(revokes.take(), None, "nothing revoked");
        revoke(&revokes, "in", 9);
        assert!(revokes.take().is_some(), "the revoke is seen once");
        assert_eq!(revokes.take(), None);

        let mut batch = Batch::new(8, Some(&revokes));
        for record in [("in", 0, 10), ("in", 1, 20), ("other", 1, 5)] {
            batch.push(record);
        }
        // The callback runs inside the next read: what that read returns
        // is the new assignment's and stays.
        revoke(&revokes, "in", 1);
        batch.push(("in", 1, 3));
        assert_eq!(
            batch.finish(),
            [("in", 0, 10), ("other", 1, 5), ("in", 1, 3)]
        );
    }

    #[test]
    fn a_revoke_during_the_read_of_a_batchs_first_record_drops_nothing() {
        // The partition came straight back (a revoke, then an assign in the
        // same read): the first record is read from the committed offset,
        // and dropping it would skip it for good.
        let revokes = RevokedInBatch::default();
        let mut batch = Batch::new(8, Some(&revokes));
        revoke(&revokes, "in", 1);
        batch.push(("in", 1, 3));
        batch.push(("in", 1, 4));
        assert_eq!(batch.finish(), [("in", 1, 3), ("in", 1, 4)]);
    }

    #[test]
    fn a_revoke_during_a_batchs_last_empty_read_drops_what_it_took() {
        let revokes = RevokedInBatch::default();
        revoke(&revokes, "in", 0);
        // Noted between batches: the client's queue had already lost them.
        let mut batch = Batch::new(8, Some(&revokes));
        batch.push(("in", 0, 7));
        batch.push(("in", 1, 8));
        revoke(&revokes, "in", 0);
        assert_eq!(batch.finish(), [("in", 1, 8)]);
    }
}
