//! Agents: the functions that process a topic's events.
//!
//! An agent is an `async fn` marked `#[agent(topic = "...")]`, in one of two
//! forms:
//!
//! * **per event**: `async fn(value: T) -> Result<Out>`, called once per
//!   event. It may take an [`Event<T>`] instead of `T` to see the key,
//!   headers, partition and offset. What it returns goes to its sinks
//!   (`()` sends nothing, `Option<Out>` sends when `Some`); the sink record
//!   keeps the source event's key.
//! * **stream**: `async fn(stream: Stream<T>) -> Result<()>`, which iterates
//!   the stream itself ([`Stream`]); it may batch with `take`,
//!   and sends to its sinks with `stream.emit(value)`.
//!
//! Events of one partition are processed in order. With `concurrency = N`,
//! N handlers run at once (order is then no longer kept), and the commit
//! only ever covers the contiguous finished prefix of each partition
//! (see the `ack` module).
//!
//! # When a handler fails
//!
//! An error from the handler is retried `retries` times with exponential
//! backoff from `retry_backoff`. Then the agent's policy ([`OnError`])
//! applies: `dead_letter` writes the event to the dead-letter topic with the
//! original key, value and headers plus [`dead_letter::headers`] describing
//! the failure, and goes on; `stop` stops the worker without committing the
//! event, so it is processed again after a restart. A message that cannot
//! be decoded or fails validation goes straight to the policy: retrying
//! cannot fix it. The default policy is `dead_letter` when a dead-letter
//! topic is set, otherwise `stop`: nothing is ever dropped silently.
//!
//! This module may call `codec`, `context`, `stream`, `transport` and `time`.

pub(crate) mod ack;
pub mod dead_letter;
pub mod rpc;
pub(crate) mod runner;

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::codec::{CodecError, CodecRef, Codecs, Payload};
use crate::context::Pending;
use crate::error::BoxError;
use crate::record::RecordSchema;
use crate::stream::{Stream, StreamSource};
use crate::transport::{Headers, Message, OutgoingRecord, Producer};

#[doc(no_inline)]
pub use crate::app::registry::OnError;

/// A boxed future, as handlers return them.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One event as an agent sees it: the decoded key and value, and where it
/// came from.
///
/// ```
/// use faust::Event;
///
/// #[faust::agent(topic = "greetings")]
/// async fn handler(event: Event<String>) -> faust::Result<()> {
///     println!("{:?} = {} at {}[{}]@{}", event.key, event.value,
///              event.topic(), event.partition(), event.offset());
///     Ok(())
/// }
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct Event<V, K = String> {
    /// The decoded key; `None` when the record has none.
    pub key: Option<K>,
    /// The decoded value.
    pub value: V,
    message: Arc<Message>,
    /// With [`Stream::noack`]: the handle that acks it.
    manual: Option<ack::ManualAck>,
}

impl<V, K> Event<V, K> {
    pub(crate) fn new(key: Option<K>, value: V, message: Arc<Message>) -> Self {
        Event {
            key,
            value,
            message,
            manual: None,
        }
    }

    pub(crate) fn with_manual_ack(mut self, manual: ack::ManualAck) -> Self {
        self.manual = Some(manual);
        self
    }

    /// Acks the event, for a stream read with [`Stream::noack`]: its offset
    /// may be committed once what was sent so far is delivered (and every
    /// event before it in its partition is acked). Acking twice, or an
    /// event of a stream that acks by itself, does nothing.
    pub fn ack(&self) {
        if let Some(manual) = &self.manual {
            manual.ack();
        }
    }

    /// The record's headers.
    pub fn headers(&self) -> &Headers {
        &self.message.headers
    }

    /// The topic it was read from.
    pub fn topic(&self) -> &str {
        &self.message.topic
    }

    /// Its partition.
    pub fn partition(&self) -> i32 {
        self.message.partition
    }

    /// Its offset.
    pub fn offset(&self) -> i64 {
        self.message.offset
    }

    /// Its timestamp, in milliseconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.message.timestamp
    }

    /// The raw record.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The event with its value replaced by `f(value)`.
    pub fn map<U>(self, f: impl FnOnce(V) -> U) -> Event<U, K> {
        Event {
            key: self.key,
            value: f(self.value),
            message: self.message,
            manual: self.manual,
        }
    }
}

impl<V: fmt::Debug, K: fmt::Debug> fmt::Debug for Event<V, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("key", &self.key)
            .field("value", &self.value)
            .field("topic", &self.message.topic)
            .field("partition", &self.message.partition)
            .field("offset", &self.message.offset)
            .finish()
    }
}

/// The codecs an agent decodes one topic with.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct InputCodecs {
    pub(crate) key: Option<CodecRef>,
    pub(crate) value: CodecRef,
}

/// What a per-event agent can take: a value type, or an [`Event`] of one.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an agent's input",
    note = "a per-event agent takes a value type (a #[faust::record] struct, String, Bytes, ...) or `faust::Event<T>`"
)]
pub trait AgentInput: Sized + Send + 'static {
    /// The decoded value (`T`, or `V` of an `Event<V>`).
    type Value;

    /// The value's record schema, if it is a `#[record]`.
    const RECORD: Option<&'static RecordSchema> = None;

    /// The key's record schema, for an `Event<V, K>` whose `K` is a
    /// `#[record]`.
    const KEY_RECORD: Option<&'static RecordSchema> = None;

    /// The decoded value.
    fn value(&self) -> &Self::Value;

    /// Resolves the codecs for one topic.
    fn bind(
        codecs: &Codecs,
        key_serializer: Option<&str>,
        value_serializer: Option<&str>,
    ) -> Result<InputCodecs, CodecError>;

    /// Decodes one record.
    fn decode(message: &Arc<Message>, codecs: &InputCodecs) -> Result<Self, CodecError>;

    /// The event time the decoded value carries, if its type declares a
    /// timestamp field.
    fn event_time(&self) -> Option<i64>;
}

impl<T: Payload> AgentInput for T {
    type Value = T;
    const RECORD: Option<&'static RecordSchema> = T::SCHEMA;

    fn value(&self) -> &T {
        self
    }

    fn bind(
        codecs: &Codecs,
        _key_serializer: Option<&str>,
        value_serializer: Option<&str>,
    ) -> Result<InputCodecs, CodecError> {
        Ok(InputCodecs {
            key: None,
            value: codecs.for_type::<T>(value_serializer)?,
        })
    }

    fn decode(message: &Arc<Message>, codecs: &InputCodecs) -> Result<Self, CodecError> {
        codecs.value.decode::<T>(message.value.as_deref())
    }

    fn event_time(&self) -> Option<i64> {
        Payload::event_time(self)
    }
}

impl<V: Payload, K: Payload> AgentInput for Event<V, K> {
    type Value = V;
    const RECORD: Option<&'static RecordSchema> = V::SCHEMA;
    const KEY_RECORD: Option<&'static RecordSchema> = K::SCHEMA;

    fn value(&self) -> &V {
        &self.value
    }

    fn bind(
        codecs: &Codecs,
        key_serializer: Option<&str>,
        value_serializer: Option<&str>,
    ) -> Result<InputCodecs, CodecError> {
        Ok(InputCodecs {
            key: Some(codecs.for_type::<K>(key_serializer)?),
            value: codecs.for_type::<V>(value_serializer)?,
        })
    }

    fn decode(message: &Arc<Message>, codecs: &InputCodecs) -> Result<Self, CodecError> {
        let key = match (&codecs.key, &message.key) {
            (Some(codec), Some(bytes)) => Some(codec.decode::<K>(Some(bytes))?),
            _ => None,
        };
        let value = codecs.value.decode::<V>(message.value.as_deref())?;
        Ok(Event::new(key, value, message.clone()))
    }

    fn event_time(&self) -> Option<i64> {
        self.value.event_time()
    }
}

/// A sink resolved at start: its topic and the codec for the agent's output.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct BoundSink {
    pub(crate) topic: Arc<str>,
    pub(crate) codec: Option<CodecRef>,
    /// `faust_events_out_total` of this agent and topic.
    pub(crate) sent: metrics::Counter,
}

/// Where an agent's output goes; handed to [`AgentOutput::emit`].
#[doc(hidden)]
pub struct EmitCx<'a> {
    pub(crate) sinks: &'a [BoundSink],
    pub(crate) key: Option<&'a Bytes>,
    pub(crate) producer: &'a dyn Producer,
    pub(crate) pending: &'a Pending,
    /// Where the event's asker wants the output, if it is an ask.
    pub(crate) reply: Option<&'a rpc::ReplyTo>,
    pub(crate) codecs: &'a Codecs,
}

impl fmt::Debug for EmitCx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmitCx")
            .field("sinks", &self.sinks)
            .finish_non_exhaustive()
    }
}

impl EmitCx<'_> {
    /// Sends the reply of an ask: `value` (`None`: a tombstone).
    fn send_reply(&self, value: Option<Bytes>) {
        if let Some(reply) = self.reply {
            self.pending
                .push(self.producer.send(reply.record(value, None)));
        }
    }

    /// Encodes `value` for each sink and sends it, keyed like the source.
    pub fn send<T: Payload>(&self, value: &T) -> Result<(), CodecError> {
        for sink in self.sinks {
            let bytes = match &sink.codec {
                Some(codec) => codec.encode(value)?,
                None => continue,
            };
            let mut record = OutgoingRecord {
                topic: sink.topic.clone(),
                key: self.key.cloned(),
                value: Some(bytes),
                ..OutgoingRecord::default()
            };
            crate::context::stamp_origin(&mut record.headers);
            self.pending.push(self.producer.send(record));
            sink.sent.increment(1);
        }
        Ok(())
    }
}

/// What a per-event agent can return: `()`, a value, or `Option` of one.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by an agent",
    note = "return `()`, a value type (a #[faust::record] struct, String, ...) or `Option` of one, inside a Result"
)]
pub trait AgentOutput: Send + 'static {
    /// The record schema of what goes to the sinks, if it is a `#[record]`.
    const RECORD: Option<&'static RecordSchema> = None;

    /// The codec for a sink with this value serializer; `None` when the
    /// agent returns nothing.
    fn bind(
        codecs: &Codecs,
        value_serializer: Option<&str>,
    ) -> Result<Option<CodecRef>, CodecError>;

    /// Sends the output to the sinks.
    fn emit(self, cx: &EmitCx<'_>) -> Result<(), CodecError>;

    /// The output as the reply to an ask (`None`: a tombstone), encoded as
    /// [`AgentReply`](rpc::AgentReply) decodes it.
    fn reply(&self, codecs: &Codecs) -> Result<Option<Bytes>, CodecError>;
}

impl AgentOutput for () {
    fn bind(_: &Codecs, _: Option<&str>) -> Result<Option<CodecRef>, CodecError> {
        Ok(None)
    }

    fn emit(self, _: &EmitCx<'_>) -> Result<(), CodecError> {
        Ok(())
    }

    fn reply(&self, _: &Codecs) -> Result<Option<Bytes>, CodecError> {
        Ok(Some(Bytes::from_static(b"null")))
    }
}

impl<T: Payload> AgentOutput for T {
    const RECORD: Option<&'static RecordSchema> = T::SCHEMA;

    fn bind(
        codecs: &Codecs,
        value_serializer: Option<&str>,
    ) -> Result<Option<CodecRef>, CodecError> {
        codecs.for_type::<T>(value_serializer).map(Some)
    }

    fn emit(self, cx: &EmitCx<'_>) -> Result<(), CodecError> {
        cx.send(&self)
    }

    fn reply(&self, codecs: &Codecs) -> Result<Option<Bytes>, CodecError> {
        codecs.for_type::<T>(None)?.encode(self).map(Some)
    }
}

impl<T: Payload> AgentOutput for Option<T> {
    const RECORD: Option<&'static RecordSchema> = T::SCHEMA;

    fn bind(
        codecs: &Codecs,
        value_serializer: Option<&str>,
    ) -> Result<Option<CodecRef>, CodecError> {
        codecs.for_type::<T>(value_serializer).map(Some)
    }

    fn emit(self, cx: &EmitCx<'_>) -> Result<(), CodecError> {
        match self {
            Some(value) => cx.send(&value),
            None => Ok(()),
        }
    }

    fn reply(&self, codecs: &Codecs) -> Result<Option<Bytes>, CodecError> {
        match self {
            Some(value) => codecs.for_type::<T>(None)?.encode(value).map(Some),
            None => Ok(None),
        }
    }
}

/// Several outputs of one event: a per-event agent that returns
/// `Result<Many<T>>` sends each `T` to its sinks, in order (none for an
/// empty list). Collect one with `.collect::<Many<_>>()`.
///
/// ```
/// use faust::prelude::*;
///
/// #[agent(topic = "sentences", sink = "words")]
/// async fn split(sentence: String) -> Result<Many<String>> {
///     Ok(sentence.split_whitespace().map(str::to_owned).collect())
/// }
/// # fn main() {}
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Many<T>(pub Vec<T>);

impl<T> FromIterator<T> for Many<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Many(iter.into_iter().collect())
    }
}

impl<T> From<Vec<T>> for Many<T> {
    fn from(list: Vec<T>) -> Self {
        Many(list)
    }
}

impl<T: Payload> AgentOutput for Many<T> {
    const RECORD: Option<&'static RecordSchema> = T::SCHEMA;

    fn bind(
        codecs: &Codecs,
        value_serializer: Option<&str>,
    ) -> Result<Option<CodecRef>, CodecError> {
        codecs.for_type::<T>(value_serializer).map(Some)
    }

    fn emit(self, cx: &EmitCx<'_>) -> Result<(), CodecError> {
        for value in &self.0 {
            cx.send(value)?;
        }
        Ok(())
    }

    /// The reply to an ask is the list, as JSON.
    fn reply(&self, _: &Codecs) -> Result<Option<Bytes>, CodecError> {
        serde_json::to_vec(&self.0)
            .map(|v| Some(Bytes::from(v)))
            .map_err(|e| CodecError::Encode {
                type_name: std::any::type_name::<Self>(),
                codec: "json".into(),
                source: Box::new(e),
            })
    }
}

/// Why one attempt at an event failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The record did not decode or validate.
    Decode(CodecError),
    /// The handler returned an error.
    Handler(BoxError),
    /// The handler's output did not encode.
    Output(CodecError),
    /// A windowed table found the event late (every window it falls in
    /// had closed) and its `late` policy dead-letters it.
    Late(String),
}

impl Failure {
    /// The `faust.error.kind` header value.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Failure::Decode(e) => e.kind(),
            Failure::Handler(_) => "handler",
            Failure::Output(_) => "output",
            Failure::Late(_) => "late",
        }
    }

    /// Whether another attempt could succeed.
    pub(crate) fn retryable(&self) -> bool {
        matches!(self, Failure::Handler(_))
    }

    pub(crate) fn into_box(self) -> BoxError {
        match self {
            Failure::Decode(e) | Failure::Output(e) => Box::new(e),
            Failure::Handler(e) => e,
            Failure::Late(e) => e.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Decode(e) => e.fmt(f),
            Failure::Handler(e) => write!(f, "handler error: {e}"),
            Failure::Output(e) => write!(f, "could not encode the agent's output: {e}"),
            Failure::Late(e) => f.write_str(e),
        }
    }
}

/// The type-erased handler generated code builds around a user function.
#[doc(hidden)]
pub struct AgentHandler(pub(crate) HandlerKind);

impl fmt::Debug for AgentHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            HandlerKind::PerEvent(_) => f.write_str("AgentHandler::PerEvent"),
            HandlerKind::Stream(_) => f.write_str("AgentHandler::Stream"),
        }
    }
}

impl AgentHandler {
    /// The `#[record]` types the handler reads and returns.
    pub(crate) fn records(&self) -> HandlerRecords {
        match &self.0 {
            HandlerKind::PerEvent(h) => h.records(),
            HandlerKind::Stream(h) => h.records(),
        }
    }
}

#[derive(Clone)]
pub(crate) enum HandlerKind {
    PerEvent(Arc<dyn EventHandler>),
    Stream(Arc<dyn StreamHandler>),
}

/// The record schemas of a handler's input value, input key and output
/// (`None` where the type is not a `#[record]`, or, for a stream agent's
/// output, not known).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HandlerRecords {
    pub(crate) input: Option<&'static RecordSchema>,
    pub(crate) key: Option<&'static RecordSchema>,
    pub(crate) output: Option<&'static RecordSchema>,
}

pub(crate) trait EventHandler: Send + Sync {
    fn bind_input(
        &self,
        codecs: &Codecs,
        key_serializer: Option<&str>,
        value_serializer: Option<&str>,
    ) -> Result<InputCodecs, CodecError>;

    fn bind_output(
        &self,
        codecs: &Codecs,
        value_serializer: Option<&str>,
    ) -> Result<Option<CodecRef>, CodecError>;

    fn handle<'a>(
        &'a self,
        message: &'a Arc<Message>,
        input: &'a InputCodecs,
        emit: EmitCx<'a>,
    ) -> BoxFuture<'a, Result<(), Failure>>;

    fn records(&self) -> HandlerRecords;
}

pub(crate) trait StreamHandler: Send + Sync {
    fn bind_input(
        &self,
        codecs: &Codecs,
        key_serializer: Option<&str>,
        value_serializer: Option<&str>,
    ) -> Result<InputCodecs, CodecError>;

    fn run(&self, source: StreamSource) -> BoxFuture<'static, Result<(), BoxError>>;

    fn records(&self) -> HandlerRecords;
}

struct PerEvent<F, I, O> {
    f: F,
    _types: PhantomData<fn(I) -> O>,
}

impl<F, I, Fut, O, E> EventHandler for PerEvent<F, I, O>
where
    F: Fn(I) -> Fut + Send + Sync + 'static,
    I: AgentInput,
    Fut: Future<Output = Result<O, E>> + Send + 'static,
    O: AgentOutput,
    E: Into<BoxError> + 'static,
{
    fn bind_input(
        &self,
        codecs: &Codecs,
        key_serializer: Option<&str>,
        value_serializer: Option<&str>,
    ) -> Result<InputCodecs, CodecError> {
        I::bind(codecs, key_serializer, value_serializer)
    }

    fn bind_output(
        &self,
        codecs: &Codecs,
        value_serializer: Option<&str>,
    ) -> Result<Option<CodecRef>, CodecError> {
        O::bind(codecs, value_serializer)
    }

    fn handle<'a>(
        &'a self,
        message: &'a Arc<Message>,
        input: &'a InputCodecs,
        emit: EmitCx<'a>,
    ) -> BoxFuture<'a, Result<(), Failure>> {
        Box::pin(async move {
            let value = I::decode(message, input).map_err(Failure::Decode)?;
            if let Some(ms) = value.event_time() {
                crate::context::with_scope(|scope| scope.source.set_timestamp(ms));
            }
            let output = (self.f)(value)
                .await
                .map_err(|e| Failure::Handler(e.into()))?;
            if emit.reply.is_some() {
                emit.send_reply(output.reply(emit.codecs).map_err(Failure::Output)?);
            }
            output.emit(&emit).map_err(Failure::Output)
        })
    }

    fn records(&self) -> HandlerRecords {
        HandlerRecords {
            input: I::RECORD,
            key: I::KEY_RECORD,
            output: O::RECORD,
        }
    }
}

/// The topic an agent's repartition sends through: the `through` topic,
/// or `<app id>-<agent>-<name>-repartition` for a `group_by`.
pub(crate) fn repartition_topic(
    app_id: &str,
    agent: &str,
    repartition: crate::app::registry::Repartition,
) -> String {
    match repartition {
        crate::app::registry::Repartition::GroupBy { name, .. } => {
            format!("{app_id}-{agent}-{name}-repartition")
        }
        crate::app::registry::Repartition::Through { topic } => topic.to_owned(),
    }
}

/// The new key of `message` for a `group_by`: its value decoded as the
/// agent's input `I`, given to `key` (the value, also for an `Event<V>`
/// input), the result encoded with `K`'s default codec. Used by generated
/// code.
#[doc(hidden)]
pub fn regroup<I, K, F>(
    message: &Arc<Message>,
    input: &InputCodecs,
    codecs: &Codecs,
    key: F,
) -> Result<Bytes, CodecError>
where
    I: AgentInput,
    K: Payload,
    F: Fn(&I::Value) -> K,
{
    let value = I::decode(message, input)?;
    codecs.for_type::<K>(None)?.encode(&key(value.value()))
}

/// What an agent function's `Result` holds when it succeeds: the type an
/// `ask` gets back. Used by generated code.
#[doc(hidden)]
pub trait HandlerResult {
    /// The `Ok` type.
    type Output;
}

impl<O, E> HandlerResult for Result<O, E> {
    type Output = O;
}

/// Wraps a per-event agent function; used by generated code.
#[doc(hidden)]
pub fn per_event<F, I, Fut, O, E>(f: F) -> AgentHandler
where
    F: Fn(I) -> Fut + Send + Sync + 'static,
    I: AgentInput,
    Fut: Future<Output = Result<O, E>> + Send + 'static,
    O: AgentOutput,
    E: Into<BoxError> + 'static,
{
    AgentHandler(HandlerKind::PerEvent(Arc::new(PerEvent {
        f,
        _types: PhantomData,
    })))
}

struct StreamFn<F, T> {
    f: F,
    _types: PhantomData<fn(T)>,
}

impl<F, T, Fut, E> StreamHandler for StreamFn<F, T>
where
    F: Fn(Stream<T>) -> Fut + Send + Sync + 'static,
    T: Payload,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    fn bind_input(
        &self,
        codecs: &Codecs,
        key_serializer: Option<&str>,
        value_serializer: Option<&str>,
    ) -> Result<InputCodecs, CodecError> {
        Ok(InputCodecs {
            key: Some(codecs.for_type::<String>(key_serializer)?),
            value: codecs.for_type::<T>(value_serializer)?,
        })
    }

    fn run(&self, source: StreamSource) -> BoxFuture<'static, Result<(), BoxError>> {
        let fut = (self.f)(Stream::from_source(source));
        Box::pin(async move { fut.await.map_err(Into::into) })
    }

    fn records(&self) -> HandlerRecords {
        HandlerRecords {
            input: T::SCHEMA,
            ..HandlerRecords::default()
        }
    }
}

/// Wraps a stream agent function; used by generated code.
#[doc(hidden)]
pub fn stream<F, T, Fut, E>(f: F) -> AgentHandler
where
    F: Fn(Stream<T>) -> Fut + Send + Sync + 'static,
    T: Payload,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    AgentHandler(HandlerKind::Stream(Arc::new(StreamFn {
        f,
        _types: PhantomData,
    })))
}
