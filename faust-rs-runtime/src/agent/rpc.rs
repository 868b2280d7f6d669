//! Calling an agent: `send` and `cast` a value to it, `ask` it and wait
//! for its reply (Faust's `agent.send`, `agent.cast`, `agent.ask`,
//! `agent.map`, `agent.kvmap`, `agent.join`).
//!
//! Every `#[agent]` gets an [`AgentRef`] in its hidden module, `RPC`:
//!
//! ```
//! use faust::prelude::*;
//!
//! #[agent(topic = "prices")]
//! async fn price(item: String) -> Result<u64> {
//!     Ok(item.len() as u64 * 100)
//! }
//!
//! #[task]
//! async fn warm_up() -> Result<()> {
//!     let cents: u64 = price::RPC.ask("k", "apple".to_owned()).await?;
//!     price::RPC.cast("k", "pear".to_owned()).await?; // no reply wanted
//!     # let _ = cents;
//!     Ok(())
//! }
//! # fn main() {}
//! ```
//!
//! An ask is a record on the agent's (first) topic with two headers,
//! `faust.reply-to` (the asking app's reply topic, `<app id>-replies`) and
//! `faust.correlation-id`. A per-event agent that handles such a record
//! sends what it returns there, keyed by the correlation id, besides its
//! sinks; if the event fails (dead letter, stop) the reply carries the
//! error in `faust.reply-error`. Each worker reads its app's reply topic
//! from its end, outside the consumer group, once it first asks. An ask
//! that gets no reply within its timeout (30 s unless given, on the app's
//! clock) is an error naming the agent.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

use crate::app::registry::AgentDef;
use crate::codec::{CodecError, Codecs, Payload};
use crate::context::with_scope;
use crate::error::{Error, Result};
use crate::transport::{Consumer, Headers, Message, OutgoingRecord, RecordMetadata, TopicSpec};

/// Header naming the topic a reply goes to.
pub const REPLY_TO: &str = "faust.reply-to";
/// Header pairing a reply with its request.
pub const CORRELATION_ID: &str = "faust.correlation-id";
/// Header of a reply whose request failed: the error.
pub const REPLY_ERROR: &str = "faust.reply-error";

/// How long an `ask` waits for its reply unless told.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(30);

/// A typed handle to an agent: what to send it (`V`) and what it replies
/// (`R`). Generated as `RPC` in each agent's hidden module.
pub struct AgentRef<V, R> {
    def: &'static AgentDef,
    _types: PhantomData<fn(V) -> R>,
}

impl<V, R> std::fmt::Debug for AgentRef<V, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentRef")
            .field("agent", &self.def.name)
            .finish()
    }
}

impl<V, R> AgentRef<V, R> {
    /// The handle of `def`; used by generated code.
    #[doc(hidden)]
    pub const fn new(def: &'static AgentDef) -> Self {
        AgentRef {
            def,
            _types: PhantomData,
        }
    }

    /// The agent's definition.
    pub fn def(&self) -> &'static AgentDef {
        self.def
    }

    fn topic(&self) -> Result<&'static str> {
        self.def
            .topics
            .first()
            .copied()
            .ok_or_else(|| Error::config(format!("agent `{}` consumes no topic", self.def.name)))
    }
}

impl<V: Payload, R> AgentRef<V, R> {
    fn record(&self, key: &str, value: &V, headers: Headers) -> Result<OutgoingRecord> {
        let topic = self.topic()?;
        with_scope(|scope| {
            let settings = scope.core.topic(topic);
            let codecs = &scope.core.codecs;
            Ok(OutgoingRecord {
                topic: Arc::from(topic),
                key: Some(
                    codecs
                        .for_type::<String>(settings.key_serializer)?
                        .encode(&key.to_owned())?,
                ),
                value: Some(
                    codecs
                        .for_type::<V>(settings.value_serializer)?
                        .encode(value)?,
                ),
                headers,
                ..OutgoingRecord::default()
            })
        })
        .unwrap_or(Err(Error::NoContext {
            what: "calling an agent",
        }))
    }

    /// Sends `value` with `key` to the agent and waits until the broker has
    /// it; no reply.
    ///
    /// # Errors
    /// Under `processing_guarantee = "exactly_once"` inside an agent (the
    /// record is written when the event's transaction commits): use
    /// [`cast`](Self::cast) there.
    pub async fn send(&self, key: &str, value: V) -> Result<RecordMetadata> {
        crate::worker::transaction::refuse_wait("AgentRef::send")?;
        let record = self.record(key, &value, Headers::new())?;
        let delivery =
            with_scope(|scope| scope.core.producer.send(record)).ok_or(Error::NoContext {
                what: "calling an agent",
            })?;
        delivery.await
    }

    /// Queues `value` with `key` for the agent; no reply, no wait (the
    /// current event is acked only once the broker has it).
    pub async fn cast(&self, key: &str, value: V) -> Result<()> {
        let record = self.record(key, &value, Headers::new())?;
        with_scope(|scope| {
            let delivery = scope.core.producer.send(record);
            scope.pending.push(delivery);
        })
        .ok_or(Error::NoContext {
            what: "calling an agent",
        })
    }
}

impl<V: Payload, R: AgentReply> AgentRef<V, R> {
    /// Sends `value` with `key` and waits for the agent's reply (what its
    /// function returns), at most 30 s.
    pub async fn ask(&self, key: &str, value: V) -> Result<R> {
        self.ask_within(key, value, ASK_TIMEOUT).await
    }

    /// [`ask`](Self::ask), waiting at most `timeout` (on the app's clock).
    pub async fn ask_within(&self, key: &str, value: V, timeout: Duration) -> Result<R> {
        let core = with_scope(|scope| scope.core.clone()).ok_or(Error::NoContext {
            what: "asking an agent",
        })?;
        let replies = core.replies.clone();
        replies.listen(&core).await?;
        let id = replies.next_id();
        let reply = replies.expect(&id);
        let headers = Headers::new()
            .with(REPLY_TO, replies.topic.clone())
            .with(CORRELATION_ID, id.clone());
        let record = self.record(key, &value, headers)?;
        // The request goes out now, outside any transaction: the reply
        // must be able to come before the asking event is committed.
        if let Err(e) = core.transport.producer().send(record).await {
            replies.forget(&id);
            return Err(e);
        }
        let sleep = core.clock.sleep(timeout);
        futures_util::pin_mut!(sleep, reply);
        match futures_util::future::select(reply, sleep).await {
            futures_util::future::Either::Left((Ok(message), _)) => {
                if let Some(error) = message.headers.get_str(REPLY_ERROR) {
                    return Err(Error::msg(format!(
                        "agent `{}` failed on the ask: {error}",
                        self.def.name
                    )));
                }
                R::decode_reply(&core.codecs, message.value.as_deref()).map_err(|e| {
                    Error::msg(format!(
                        "the reply of agent `{}` does not decode: {e}",
                        self.def.name
                    ))
                })
            }
            futures_util::future::Either::Left((Err(_), _)) => Err(Error::ShuttingDown),
            futures_util::future::Either::Right(_) => {
                replies.forget(&id);
                Err(Error::msg(format!(
                    "agent `{}` did not reply within {timeout:?} (is a worker running it? \
                     does it take a while? give more time with `ask_within`)",
                    self.def.name
                )))
            }
        }
    }

    /// Asks the agent once per value (all at once, keys `"0"`, `"1"`, ...)
    /// and returns each reply, in the order of `values` (Faust's `map`).
    pub async fn map(&self, values: impl IntoIterator<Item = V>) -> Vec<Result<R>> {
        let asks = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| async move { self.ask(&i.to_string(), v).await });
        futures_util::future::join_all(asks).await
    }

    /// Asks the agent once per `(key, value)` and returns each key with its
    /// reply, in order (Faust's `kvmap`).
    pub async fn kvmap<'k>(
        &self,
        pairs: impl IntoIterator<Item = (&'k str, V)>,
    ) -> Vec<(String, Result<R>)> {
        let asks = pairs
            .into_iter()
            .map(|(k, v)| async move { (k.to_owned(), self.ask(k, v).await) });
        futures_util::future::join_all(asks).await
    }

    /// Asks the agent once per value and returns the replies in order, or
    /// the first error (Faust's `join`).
    pub async fn join(&self, values: impl IntoIterator<Item = V>) -> Result<Vec<R>> {
        self.map(values).await.into_iter().collect()
    }
}

/// What an agent can reply with: `()`, a payload, or `Option` of one. The
/// reply type of an `#[agent]` is what its function returns in `Ok`.
#[diagnostic::on_unimplemented(
    message = "agent replies of type `{Self}` cannot be asked for",
    note = "only per-event agents reply; ask an agent that returns `()`, a payload or `Option` of one"
)]
pub trait AgentReply: Sized + Send + 'static {
    /// The reply from its encoded value (`None`: a tombstone).
    fn decode_reply(codecs: &Codecs, value: Option<&[u8]>) -> Result<Self, CodecError>;
}

impl AgentReply for () {
    fn decode_reply(_: &Codecs, _: Option<&[u8]>) -> Result<(), CodecError> {
        Ok(())
    }
}

impl<T: Payload> AgentReply for T {
    fn decode_reply(codecs: &Codecs, value: Option<&[u8]>) -> Result<T, CodecError> {
        codecs.for_type::<T>(None)?.decode(value)
    }
}

impl<T: Payload> AgentReply for Option<T> {
    fn decode_reply(codecs: &Codecs, value: Option<&[u8]>) -> Result<Option<T>, CodecError> {
        match value {
            None => Ok(None),
            Some(bytes) => codecs.for_type::<T>(None)?.decode(Some(bytes)).map(Some),
        }
    }
}

impl<T: Payload> AgentReply for super::Many<T> {
    fn decode_reply(_: &Codecs, value: Option<&[u8]>) -> Result<Self, CodecError> {
        serde_json::from_slice(value.unwrap_or(b"[]")).map_err(|e| CodecError::Malformed {
            type_name: std::any::type_name::<Self>(),
            codec: "json".into(),
            source: Box::new(e),
        })
    }
}

/// A stream agent has no reply: it can be sent and cast to, not asked.
#[derive(Debug)]
pub struct NoReply;

/// Where a request wants its reply.
#[derive(Clone, Debug)]
pub(crate) struct ReplyTo {
    pub(crate) topic: Arc<str>,
    pub(crate) correlation: Bytes,
}

impl ReplyTo {
    /// The reply address of `message`, if it is an ask.
    pub(crate) fn of(message: &Message) -> Option<ReplyTo> {
        let topic = message.headers.get_str(REPLY_TO)?;
        let correlation = message.headers.get(CORRELATION_ID)?;
        Some(ReplyTo {
            topic: Arc::from(topic),
            correlation: Bytes::copy_from_slice(correlation),
        })
    }

    /// The reply record: `value` (`None`: a tombstone), or the error.
    pub(crate) fn record(&self, value: Option<Bytes>, error: Option<String>) -> OutgoingRecord {
        let mut headers = Headers::new().with(CORRELATION_ID, self.correlation.clone());
        if let Some(error) = error {
            headers.insert(REPLY_ERROR, error);
        }
        OutgoingRecord {
            topic: self.topic.clone(),
            partition: None,
            key: Some(self.correlation.clone()),
            value,
            headers,
            timestamp: None,
        }
    }
}

/// The asks of one app waiting for their replies, and its reply topic's
/// reader.
#[derive(Debug)]
pub(crate) struct Replies {
    /// `<app id>-replies`.
    pub(crate) topic: String,
    waiting: Mutex<HashMap<Bytes, tokio::sync::oneshot::Sender<Message>>>,
    /// The reader, made by the first ask; the listener unit takes it.
    reader: Mutex<ReaderSlot>,
    started: tokio::sync::Notify,
    /// Serializes the first asks' set-up.
    setup: tokio::sync::Mutex<bool>,
    counter: std::sync::atomic::AtomicU64,
    /// Distinguishes this worker's ids from another's.
    nonce: u64,
}

#[derive(Debug, Default)]
enum ReaderSlot {
    #[default]
    None,
    Ready(Arc<dyn Consumer>),
    Taken,
}

impl Replies {
    pub(crate) fn new(app_id: &str) -> Self {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ u64::from(std::process::id()).rotate_left(32);
        Replies {
            topic: format!("{app_id}-replies"),
            waiting: Mutex::default(),
            reader: Mutex::default(),
            started: tokio::sync::Notify::new(),
            setup: tokio::sync::Mutex::new(false),
            counter: std::sync::atomic::AtomicU64::new(0),
            nonce,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Bytes, tokio::sync::oneshot::Sender<Message>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_id(&self) -> Bytes {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Bytes::from(format!("{:016x}-{n}", self.nonce))
    }

    fn expect(&self, id: &Bytes) -> tokio::sync::oneshot::Receiver<Message> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.lock().insert(id.clone(), tx);
        rx
    }

    fn forget(&self, id: &Bytes) {
        self.lock().remove(id);
    }

    /// Makes sure this worker reads its reply topic (from now on): the
    /// first ask creates the topic and the reader.
    async fn listen(&self, core: &crate::app::AppCore) -> Result<()> {
        let mut ready = self.setup.lock().await;
        if *ready {
            return Ok(());
        }
        let spec = TopicSpec {
            name: self.topic.clone(),
            partitions: 1,
            replication: core.replication,
            strict: false,
            config: Vec::new(),
        };
        core.transport.ensure_topics(&[spec]).await?;
        let reader = core.transport.tail(&self.topic)?;
        *self.reader.lock().unwrap_or_else(|e| e.into_inner()) = ReaderSlot::Ready(reader);
        self.started.notify_one();
        *ready = true;
        Ok(())
    }

    /// The listener unit: once the first ask made the reader, hands each
    /// reply to its ask. Ends when the app stops.
    pub(crate) async fn run(&self) {
        let reader = loop {
            let slot = std::mem::replace(
                &mut *self.reader.lock().unwrap_or_else(|e| e.into_inner()),
                ReaderSlot::Taken,
            );
            match slot {
                ReaderSlot::Ready(reader) => break reader,
                ReaderSlot::None => {
                    *self.reader.lock().unwrap_or_else(|e| e.into_inner()) = ReaderSlot::None;
                    self.started.notified().await;
                }
                ReaderSlot::Taken => return,
            }
        };
        loop {
            for message in reader.poll(256).await {
                let Some(id) = message.key.clone() else {
                    continue;
                };
                // Another worker's ask, or one that timed out: not ours.
                if let Some(tx) = self.lock().remove(&id) {
                    let _ = tx.send(Message::clone(&message));
                }
            }
        }
    }
}
