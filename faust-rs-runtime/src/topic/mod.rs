//! Topics: named, typed handles to Kafka topics.
//!
//! A [`Topic<K, V>`] names a topic and the types of its keys and values;
//! its codecs come from the declaration (`key_serializer`,
//! `value_serializer`) or the types' defaults. Declare one with the
//! `#[topic]` attribute, which also registers it so a second declaration of
//! the same name is a start-up error, or with [`Topic::new`]:
//!
//! ```
//! use faust::Topic;
//! // what `#[topic(name = "greetings")] static GREETINGS: Topic<String, String>;` declares,
//! // without the registration:
//! static GREETINGS: Topic<String, String> = Topic::new("greetings");
//! assert_eq!(GREETINGS.name(), "greetings");
//! ```
//!
//! Sending needs a running app: from an agent, task or timer,
//! `GREETINGS.send("k", "hello").await?`. The record is
//! counted against the event being processed: its offset is committed only
//! after the broker has the record.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::app::registry::TopicDef;
use crate::codec::Payload;
use crate::context::with_scope;
use crate::error::{Error, Result};
use crate::transport::{Headers, OutgoingRecord, RecordMetadata};

/// What `send` accepts for a key or value of type `Self::Payload`: the
/// payload itself, or a borrowed form of it (`&str` for `String`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as a key or value",
    note = "send a value type (a #[faust::record] struct, String, Bytes, a number...) or &str for String"
)]
pub trait IntoPayload {
    /// The payload type this converts to.
    type Payload: Payload;
    /// Converts.
    fn into_payload(self) -> Self::Payload;
}

impl<T: Payload> IntoPayload for T {
    type Payload = T;
    fn into_payload(self) -> T {
        self
    }
}

impl IntoPayload for &str {
    type Payload = String;
    fn into_payload(self) -> String {
        self.to_owned()
    }
}

/// A typed handle to a topic with keys `K` and values `V`.
pub struct Topic<K, V> {
    def: DefRef,
    _types: PhantomData<fn() -> (K, V)>,
}

enum DefRef {
    Static(&'static TopicDef),
    Inline(TopicDef),
}

impl<K, V> fmt::Debug for Topic<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topic").field("name", &self.name()).finish()
    }
}

impl<K, V> Topic<K, V> {
    /// A handle to topic `name` with the types' default codecs.
    pub const fn new(name: &'static str) -> Self {
        Topic {
            def: DefRef::Inline(TopicDef {
                name,
                partitions: None,
                key_serializer: None,
                value_serializer: None,
                location: None,
            }),
            _types: PhantomData,
        }
    }

    /// A handle from a registered declaration; used by `#[topic]`.
    #[doc(hidden)]
    pub const fn from_def(def: &'static TopicDef) -> Self {
        Topic {
            def: DefRef::Static(def),
            _types: PhantomData,
        }
    }

    pub(crate) fn def(&'static self) -> &'static TopicDef {
        match &self.def {
            DefRef::Static(d) => d,
            DefRef::Inline(d) => d,
        }
    }

    fn def_ref(&self) -> &TopicDef {
        match &self.def {
            DefRef::Static(d) => d,
            DefRef::Inline(d) => d,
        }
    }

    /// The topic's name.
    pub fn name(&self) -> &'static str {
        self.def_ref().name
    }
}

impl<K: Payload, V: Payload> Topic<K, V> {
    /// Sends `value` with `key`. Resolves once the record is queued; the
    /// event being processed is acked only after the broker has it.
    pub async fn send(
        &self,
        key: impl IntoPayload<Payload = K>,
        value: impl IntoPayload<Payload = V>,
    ) -> Result<()> {
        self.record(value.into_payload())
            .key(key.into_payload())
            .send()
            .await
    }

    /// Starts a record with `value`, to add a key, headers or a partition.
    pub fn record(&self, value: V) -> RecordBuilder<'_, K, V> {
        RecordBuilder {
            topic: self,
            key: None,
            value,
            headers: Headers::new(),
            partition: None,
        }
    }

    fn encode(&self, key: Option<&K>, value: &V) -> Result<OutgoingRecord> {
        with_scope(|scope| {
            let def = self.def_ref();
            let settings = scope.core.topic(def.name);
            let codecs = &scope.core.codecs;
            let key = match key {
                Some(k) => Some(
                    codecs
                        .for_type::<K>(def.key_serializer.or(settings.key_serializer))?
                        .encode(k)?,
                ),
                None => None,
            };
            let value = codecs
                .for_type::<V>(def.value_serializer.or(settings.value_serializer))?
                .encode(value)?;
            Ok(OutgoingRecord {
                topic: Arc::from(def.name),
                key,
                value: Some(value),
                ..OutgoingRecord::default()
            })
        })
        .unwrap_or(Err(Error::NoContext {
            what: "Topic::send",
        }))
    }
}

/// A record being built for [`Topic::record`].
#[must_use = "a record is sent only by `.send().await`"]
pub struct RecordBuilder<'a, K, V> {
    topic: &'a Topic<K, V>,
    key: Option<K>,
    value: V,
    headers: Headers,
    partition: Option<i32>,
}

impl<K, V> fmt::Debug for RecordBuilder<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordBuilder")
            .field("topic", &self.topic.name())
            .field("headers", &self.headers)
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}

impl<K: Payload, V: Payload> RecordBuilder<'_, K, V> {
    /// The record's key (it picks the partition).
    pub fn key(mut self, key: impl IntoPayload<Payload = K>) -> Self {
        self.key = Some(key.into_payload());
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<bytes::Bytes>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Sends to this partition instead of the key's.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    fn build(self) -> Result<OutgoingRecord> {
        let mut record = self.topic.encode(self.key.as_ref(), &self.value)?;
        record.headers = self.headers;
        crate::context::stamp_origin(&mut record.headers);
        record.partition = self.partition;
        Ok(record)
    }

    /// Queues the record; the current event is acked only once the broker
    /// has it.
    pub async fn send(self) -> Result<()> {
        let record = self.build()?;
        with_scope(|scope| {
            let delivery = scope.core.producer.send(record);
            scope.pending.push(delivery);
        })
        .ok_or(Error::NoContext {
            what: "Topic::send",
        })
    }

    /// Sends the record and waits until the broker has it.
    ///
    /// # Errors
    /// Under `processing_guarantee = "exactly_once"` inside an agent: the
    /// record is written when the event's transaction commits, after the
    /// handler returns, so there is nothing to wait for yet; use
    /// [`send`](Self::send).
    pub async fn send_and_wait(self) -> Result<RecordMetadata> {
        crate::worker::transaction::refuse_wait("Topic::send_and_wait")?;
        let record = self.build()?;
        let delivery =
            with_scope(|scope| scope.core.producer.send(record)).ok_or(Error::NoContext {
                what: "Topic::send_and_wait",
            })?;
        delivery.await
    }
}
