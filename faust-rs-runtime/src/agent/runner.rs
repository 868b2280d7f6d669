//! Running an agent: binding it to the app, and processing each event
//! under the agent's error policy.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, select};
use futures_util::{StreamExt, TryStreamExt};
use tracing::Instrument;

use super::ack::{Completions, Envelope, Inbox};
use super::dead_letter::headers;
use super::rpc::ReplyTo;
use super::{BoundSink, EmitCx, Failure, HandlerKind, InputCodecs};
use crate::app::registry::{AgentDef, OnError, Repartition, SinkRef};
use crate::app::{AgentOptions, AppCore};
use crate::context::{Pending, Scope, Source};
use crate::error::{Error, Result};
use crate::sensor::{ErrorAction, Outcome};
use crate::stream::StreamSource;
use crate::transport::{Message, OutgoingRecord};

/// Events an in-order agent takes from a backlog between two looks at
/// its deliveries (acks).
const PROGRESS_EVERY: u32 = 32;

/// Which stage of an agent an in-order loop runs.
#[derive(Clone, Copy, Debug)]
enum Stage {
    /// The agent's handler.
    Handler,
    /// Its repartition stage.
    Forward,
}

/// An agent bound to a running app: codecs resolved, sinks resolved, policy
/// settled.
pub(crate) struct AgentRuntime {
    pub(crate) name: Arc<str>,
    pub(crate) handler: HandlerKind,
    pub(crate) topics: Vec<Arc<str>>,
    inputs: Vec<(Arc<str>, InputCodecs)>,
    sinks: Vec<BoundSink>,
    /// Sink topics with their value serializer, for stream agents' `emit`.
    pub(crate) sink_topics: Vec<(Arc<str>, Option<&'static str>)>,
    pub(crate) dead_letter: Option<Arc<str>>,
    pub(crate) on_error: OnError,
    retries: u32,
    retry_backoff: Duration,
    pub(crate) concurrency: usize,
    pub(crate) core: Arc<AppCore>,
    /// The repartition stage in front of the handler, if any.
    pub(crate) forward: Option<Forward>,
    /// Under transactions: what the handler holds for its commit, and
    /// what the repartition stage holds (each waits on its own count).
    pub(crate) held: Arc<crate::worker::transaction::Owner>,
    forward_held: Arc<crate::worker::transaction::Owner>,
    /// `faust_handler_seconds` of this agent: an event's handling, retries
    /// and policy included, for one event in [`TIMED_EVERY`].
    latency: metrics::Histogram,
    /// What the status page shows of this agent.
    pub(crate) counts: AgentCounts,
}

/// `faust_handler_seconds` times one event of an agent in this many (the
/// first, then every 16th), every event when a sensor reads durations.
const TIMED_EVERY: u64 = 16;

/// An agent's running totals for the status page (`/status`): kept beside
/// the metrics, which only the recorder can read back.
#[derive(Debug, Default)]
pub(crate) struct AgentCounts {
    /// Events handled (a stream agent's: taken from its stream).
    pub(crate) events: std::sync::atomic::AtomicU64,
    /// Events that failed for good (after their retries).
    pub(crate) errors: std::sync::atomic::AtomicU64,
    /// Events written to the dead-letter topic.
    pub(crate) dead_letters: std::sync::atomic::AtomicU64,
}

impl AgentCounts {
    /// Adds one to `count`.
    pub(crate) fn add(count: &std::sync::atomic::AtomicU64) {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// An agent's repartition stage (`group_by`, `through`): reads the agent's
/// source topics and sends each record on to the topic its handler reads.
#[derive(Debug)]
pub(crate) struct Forward {
    /// The source topics, with the codecs the key function decodes with.
    pub(crate) sources: Vec<(Arc<str>, InputCodecs)>,
    /// The repartition (or `through`) topic.
    pub(crate) to: Arc<str>,
    /// The new key of a record; `None`: it keeps its own.
    key: Option<crate::app::registry::GroupKey>,
}

impl Forward {
    pub(crate) fn describe_sources(&self) -> String {
        let names: Vec<&str> = self.sources.iter().map(|(t, _)| &**t).collect();
        names.join(", ")
    }
}

impl std::fmt::Debug for AgentRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentRuntime")
            .field("name", &self.name)
            .field("topics", &self.topics)
            .field("sinks", &self.sink_topics)
            .field("dead_letter", &self.dead_letter)
            .field("on_error", &self.on_error)
            .finish_non_exhaustive()
    }
}

impl AgentRuntime {
    /// Binds `def` to `core`, applying `options`; fails on unknown codecs,
    /// a `dead_letter` policy without a topic, or sinks on an agent that
    /// returns nothing.
    pub(crate) fn bind(
        def: &'static AgentDef,
        options: Option<&AgentOptions>,
        core: &Arc<AppCore>,
    ) -> Result<Self> {
        let name = def.name;
        let handler = (def.build)().0;
        let concurrency = options
            .and_then(|o| o.concurrency)
            .unwrap_or(def.concurrency);
        if concurrency == 0 {
            return Err(Error::config(format!(
                "agent `{name}`: concurrency must be at least 1"
            )));
        }
        let dead_letter: Option<Arc<str>> = options
            .and_then(|o| o.dead_letter.as_deref())
            .or(def.dead_letter)
            .map(Arc::from);
        let on_error =
            options
                .and_then(|o| o.on_error)
                .or(def.on_error)
                .unwrap_or(if dead_letter.is_some() {
                    OnError::DeadLetter
                } else {
                    OnError::Stop
                });
        if on_error == OnError::DeadLetter && dead_letter.is_none() {
            return Err(Error::config(format!(
                "agent `{name}` ({}): on_error is dead_letter but no dead-letter topic is set; \
                 add `dead_letter = \"{name}-dlq\"`",
                def.location
            )));
        }
        if def.topics.is_empty() {
            return Err(Error::config(format!(
                "agent `{name}` ({}) consumes no topic",
                def.location
            )));
        }
        let codec_error =
            |topic: &str, e| Error::config(format!("agent `{name}`, topic `{topic}`: {e}"));
        let bind = |topic: &str| -> Result<(Arc<str>, InputCodecs)> {
            let settings = core.topic(topic);
            let codecs = match &handler {
                HandlerKind::PerEvent(h) => h.bind_input(
                    &core.codecs,
                    settings.key_serializer,
                    settings.value_serializer,
                ),
                HandlerKind::Stream(h) => h.bind_input(
                    &core.codecs,
                    settings.key_serializer,
                    settings.value_serializer,
                ),
            }
            .map_err(|e| codec_error(topic, e))?;
            Ok((Arc::from(topic), codecs))
        };
        // With a repartition the handler reads the repartition topic, and
        // a stage of its own reads the sources.
        let (topics, forward) = match def.repartition {
            None => (def.topics.iter().map(|t| (*t).to_owned()).collect(), None),
            Some(repartition) => {
                let to = super::repartition_topic(&core.app_id, name, repartition);
                let sources = def
                    .topics
                    .iter()
                    .map(|t| bind(t))
                    .collect::<Result<Vec<_>>>()?;
                let key = match repartition {
                    Repartition::GroupBy { key, .. } => Some(key),
                    Repartition::Through { .. } => None,
                };
                let forward = Forward {
                    sources,
                    to: Arc::from(to.as_str()),
                    key,
                };
                (vec![to], Some(forward))
            }
        };
        let inputs = topics.iter().map(|t| bind(t)).collect::<Result<Vec<_>>>()?;
        let mut sink_topics = Vec::new();
        for sink in def.sinks {
            let topic = match sink {
                SinkRef::Topic(t) => *t,
                SinkRef::Agent(other) => other.topics.first().copied().ok_or_else(|| {
                    Error::config(format!(
                        "agent `{name}` sinks to agent `{}`, which consumes no topic",
                        other.name
                    ))
                })?,
            };
            sink_topics.push((Arc::from(topic), core.topic(topic).value_serializer));
        }
        let mut sinks = Vec::new();
        if let HandlerKind::PerEvent(h) = &handler {
            for (topic, serializer) in &sink_topics {
                let codec = h
                    .bind_output(&core.codecs, *serializer)
                    .map_err(|e| codec_error(topic, e))?;
                if codec.is_none() {
                    return Err(Error::config(format!(
                        "agent `{name}` ({}) has sink `{topic}` but returns `()`: return the value \
                         to send, or remove the sink",
                        def.location
                    )));
                }
                sinks.push(BoundSink {
                    topic: topic.clone(),
                    codec,
                    sent: metrics::counter!(
                        "faust_events_out_total",
                        "agent" => name.to_owned(),
                        "topic" => topic.to_string()
                    ),
                });
            }
        }
        Ok(AgentRuntime {
            name: Arc::from(name),
            handler,
            topics: inputs.iter().map(|(t, _)| t.clone()).collect(),
            inputs,
            sinks,
            sink_topics,
            dead_letter,
            on_error,
            retries: options.and_then(|o| o.retries).unwrap_or(def.retries),
            retry_backoff: options
                .and_then(|o| o.retry_backoff)
                .unwrap_or(def.retry_backoff),
            concurrency,
            core: core.clone(),
            forward,
            held: Arc::default(),
            forward_held: Arc::default(),
            counts: AgentCounts::default(),
            latency: metrics::histogram!("faust_handler_seconds", "agent" => name.to_owned()),
        })
    }

    /// The codecs for records of `topic`.
    pub(crate) fn input(&self, topic: &Arc<str>) -> &InputCodecs {
        let found = self
            .inputs
            .iter()
            .find(|(t, _)| Arc::ptr_eq(t, topic) || t == topic);
        match found {
            Some((_, codecs)) => codecs,
            // Only subscribed topics are routed to an agent.
            None => &self.inputs[0].1,
        }
    }

    /// Runs a per-event agent over `rx` until the channel closes or an
    /// event stops the worker.
    pub(crate) async fn run_per_event(self: Arc<Self>, inbox: Inbox) -> Result<()> {
        let HandlerKind::PerEvent(_) = &self.handler else {
            return Ok(());
        };
        if self.concurrency <= 1 {
            return self.run_in_order(inbox, Stage::Handler).await;
        }
        let this = &self;
        inbox
            .into_batches()
            .flat_map(|batch| futures_util::stream::iter(batch.into_envelopes()))
            .map(Ok)
            .try_for_each_concurrent(self.concurrency, |envelope| async move {
                if envelope.is_revoked() {
                    return Ok(());
                }
                this.room(&this.held).await;
                let pending = Pending::default();
                this.process(&envelope, &pending).await?;
                pending
                    .settle()
                    .await
                    .map_err(|e| this.delivery_failed(e))?;
                envelope.ack();
                Ok(())
            })
            .await
    }

    /// Runs the agent's repartition stage over `inbox`: each record of the
    /// sources goes on to the repartition topic, re-keyed (`group_by`) or
    /// as it is (`through`), and is acked once the broker has it.
    pub(crate) async fn run_forward(self: Arc<Self>, inbox: Inbox) -> Result<()> {
        self.run_in_order(inbox, Stage::Forward).await
    }

    /// One event at a time, in order. What an event sends goes to the
    /// broker in the background; the event is acked once it is delivered,
    /// while the next events run.
    async fn run_in_order(&self, mut inbox: Inbox, stage: Stage) -> Result<()> {
        {
            let pending = Pending::default();
            let mut done = Completions::default();
            let max_waiting = self.core.max_ahead;
            let mut since_progress: u32 = 0;
            // Under transactions each stage counts what it holds.
            let owner = match stage {
                Stage::Handler => &self.held,
                Stage::Forward => &self.forward_held,
            };
            loop {
                // Ahead of the broker by `max_ahead` events: wait for it first.
                if let Err(e) = done.wait_below(max_waiting).await {
                    return Err(self.delivery_failed(e));
                }
                self.room(owner).await;
                // With a backlog, the deliveries are looked at once every
                // `PROGRESS_EVERY` events, not after each: polling the
                // oldest one registers a waker each time, and acks need not
                // move faster than commits. An empty inbox always looks.
                let ready = if since_progress < PROGRESS_EVERY {
                    futures_util::FutureExt::now_or_never(inbox.next())
                } else {
                    None
                };
                let next = if let Some(next) = ready {
                    since_progress += 1;
                    next
                } else {
                    since_progress = 0;
                    let recv = inbox.next();
                    let failure = done.failure();
                    futures_util::pin_mut!(recv, failure);
                    // The completions first: `select` polls its first future
                    // first, and with a backlog the inbox is always ready, so
                    // polled second they would never run and nothing would be
                    // acked (or committed) until the backlog is gone.
                    match select(failure, recv).await {
                        Either::Left((e, _)) => return Err(self.delivery_failed(e)),
                        Either::Right((next, _)) => next,
                    }
                };
                let Some(envelope) = next else {
                    break;
                };
                if envelope.is_revoked() {
                    continue;
                }
                let step = match stage {
                    Stage::Handler => self.process(&envelope, &pending).await,
                    Stage::Forward => {
                        let step = self.forward_one(&envelope.message, &pending).await;
                        if step.is_ok()
                            && let Some(txn) = &self.core.transactions
                        {
                            txn.hold_event(owner, &envelope.message, &pending);
                        }
                        step
                    }
                };
                if let Err(stop) = step {
                    done.ack_ready();
                    return Err(stop);
                }
                done.push(&pending, envelope);
            }
            done.drain().await.map_err(|e| self.delivery_failed(e))
        }
    }

    /// Sends one source record on to the repartition topic (its value,
    /// headers and timestamp as they are). A record whose value the key
    /// function cannot read goes to the agent's error policy.
    async fn forward_one(&self, message: &Arc<Message>, pending: &Pending) -> Result<()> {
        let Some(forward) = &self.forward else {
            return Ok(());
        };
        let key = match forward.key {
            None => message.key.clone(),
            Some(key) => {
                let codecs = forward
                    .sources
                    .iter()
                    .find(|(t, _)| *t == message.topic)
                    .map(|(_, c)| c)
                    .unwrap_or(&forward.sources[0].1);
                match key(message, codecs, &self.core.codecs) {
                    Ok(key) => Some(key),
                    Err(e) => return self.fail(message, Failure::Decode(e), 1, pending).await,
                }
            }
        };
        pending.push(self.core.send_for(
            pending,
            OutgoingRecord {
                topic: forward.to.clone(),
                partition: None,
                key,
                value: message.value.clone(),
                headers: message.headers.clone(),
                timestamp: Some(message.timestamp),
            },
        ));
        Ok(())
    }

    /// Under transactions: waits while too many records wait for a
    /// commit.
    pub(crate) async fn room(&self, owner: &crate::worker::transaction::Owner) {
        if let Some(txn) = &self.core.transactions {
            txn.room(owner).await;
        }
    }

    /// Under transactions: holds what the event at `message` wrote until
    /// its offset is committable. Before its ack.
    fn hold(&self, message: &Message, pending: &Pending) {
        if let Some(txn) = &self.core.transactions {
            txn.hold_event(&self.held, message, pending);
        }
    }

    /// The error that stops the worker when a record this agent produced
    /// could not be delivered (after the client's own retries).
    pub(crate) fn delivery_failed(&self, error: Error) -> Error {
        Error::Transport {
            what: format!(
                "agent `{}`: delivering its output (the events that produced it are not \
                 committed and are processed again after a restart)",
                self.name
            ),
            source: Box::new(error),
        }
    }

    /// Runs one instance of a stream agent over `rx`.
    pub(crate) async fn run_stream(self: Arc<Self>, inbox: Inbox) -> Result<()> {
        let HandlerKind::Stream(handler) = self.handler.clone() else {
            return Ok(());
        };
        let source = StreamSource::new(self.clone(), inbox);
        let control = source.control();
        let scope = Scope {
            core: self.core.clone(),
            pending: control.pending().clone(),
            source: Source::Stream(control.cursor()),
        };
        let result = scope.run(handler.run(source)).await;
        if let Some(stop) = control.take_stop() {
            return Err(stop);
        }
        match result {
            // The stream ended because the worker is stopping.
            Ok(()) if control.is_finished() => Ok(()),
            Ok(()) => Err(Error::AgentEnded {
                agent: self.name.to_string(),
                reason: "the function returned Ok(()) before its stream ended".into(),
            }),
            Err(e) => Err(Error::AgentEnded {
                agent: self.name.to_string(),
                reason: format!("the function returned an error: {e}"),
            }),
        }
    }

    /// Processes one event: the handler with retries, then the policy.
    /// What it sends is left in `pending`, for the caller to await before
    /// acking. `Err` means the worker must stop.
    pub(crate) async fn process(&self, event: &Envelope, pending: &Pending) -> Result<()> {
        let HandlerKind::PerEvent(handler) = &self.handler else {
            return Ok(());
        };
        let message = &event.message;
        let span = tracing::debug_span!(
            "event",
            agent = %self.name,
            topic = %message.topic,
            partition = message.partition,
            offset = message.offset
        );
        // On the app's clock: the system's in a worker, the virtual one
        // under the test driver (where backoffs take virtual time). Two
        // clock reads are a measurable part of a light handler's time: the
        // histogram times one event in `TIMED_EVERY`, and every event when
        // a sensor reads each event's duration.
        let sensed = !self.core.sensors.is_empty();
        let timed = self.core.sensors.wants_durations()
            || self
                .counts
                .events
                .load(std::sync::atomic::Ordering::Relaxed)
                .is_multiple_of(TIMED_EVERY);
        let started = timed.then(|| self.core.clock.elapsed());
        let result = self
            .process_in_span(handler, event, pending)
            .instrument(span)
            .await;
        let took = started.map(|started| self.core.clock.elapsed().saturating_sub(started));
        if let Some(took) = took {
            self.latency.record(took);
        }
        AgentCounts::add(&self.counts.events);
        if sensed {
            let took = took.unwrap_or_default();
            let outcome = match &result {
                Ok(outcome) => *outcome,
                Err(_) => Outcome::Stopped,
            };
            self.core.sensors.each(|s| {
                s.on_event_out(&crate::sensor::EventOut {
                    agent: &self.name,
                    topic: &message.topic,
                    partition: message.partition,
                    offset: message.offset,
                    duration: took,
                    outcome,
                })
            });
        }
        let result = result.map(|_| ());
        match &result {
            Ok(()) => self.hold(message, pending),
            // The worker stops: nothing the event wrote goes out.
            Err(_) => drop(pending.take_staged()),
        }
        result
    }

    async fn process_in_span(
        &self,
        handler: &Arc<dyn super::EventHandler>,
        event: &Envelope,
        pending: &Pending,
    ) -> Result<Outcome> {
        let message = &event.message;
        let input = self.input(&message.topic);
        let reply = ReplyTo::of(message);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let emit = EmitCx {
                sinks: &self.sinks,
                key: message.key.as_ref(),
                producer: &*self.core.producer,
                pending,
                reply: reply.as_ref(),
                codecs: &self.core.codecs,
            };
            let source = Source::event(&self.name, event);
            let scope = Scope {
                core: self.core.clone(),
                pending: pending.clone(),
                source: source.clone(),
            };
            // A failed attempt's table writes are taken back before the
            // retry or the dead letter: each event counts once.
            let undoable = self.retries > 0 || self.on_error == OnError::DeadLetter;
            pending.begin_attempt(undoable && !self.core.tables.is_empty());
            let failure = match scope
                .clone()
                .run(handler.handle(message, input, emit))
                .await
            {
                Ok(()) => {
                    pending.take_undo();
                    return self
                        .finish_event(message, pending, source)
                        .await
                        .map(|()| Outcome::Ok);
                }
                Err(failure) => failure,
            };
            self.take_back(&scope, pending)?;
            if failure.retryable() && attempt <= self.retries {
                let delay = self
                    .retry_backoff
                    .saturating_mul(2u32.saturating_pow(attempt - 1));
                tracing::warn!(
                    agent = %self.name, topic = %message.topic, partition = message.partition,
                    offset = message.offset, attempt, error = %failure,
                    "handler failed; retrying in {delay:?}"
                );
                metrics::counter!("faust_retries_total", "agent" => self.name.to_string())
                    .increment(1);
                self.sense_error(message, &failure, attempt, ErrorAction::Retry(delay));
                self.core.clock.sleep(delay).await;
                continue;
            }
            return self
                .fail(message, failure, attempt, pending)
                .await
                .map(|()| Outcome::DeadLettered);
        }
    }

    /// Tells the sensors of a failed attempt.
    fn sense_error(&self, message: &Message, failure: &Failure, attempt: u32, action: ErrorAction) {
        self.core.sensors.each(|s| {
            s.on_error(&crate::sensor::EventError {
                agent: &self.name,
                topic: &message.topic,
                partition: message.partition,
                offset: message.offset,
                attempt,
                kind: failure.kind(),
                error: failure,
                action,
            })
        });
    }

    /// Puts back what a failed attempt's table writes replaced (each a
    /// write of its own, to the store and the changelog).
    fn take_back(&self, scope: &Scope, pending: &Pending) -> Result<()> {
        // Under transactions what the attempt wrote never left: drop it.
        drop(pending.take_staged());
        let undo = pending.take_undo();
        if undo.is_empty() {
            return Ok(());
        }
        scope.clone().enter(|| {
            for write in undo {
                if let Some(table) = self.core.tables.get(write.table) {
                    table.write_at(write.partition, write.key, write.previous)?;
                }
            }
            Ok(())
        })
    }

    /// What an event leaves once its handler is done: windows its updates
    /// closed (their final results go out as part of the event), and late
    /// events whose table dead-letters them.
    /// `source` is the handler's (what closing writes continues its
    /// records' numbering).
    pub(crate) async fn finish_event(
        &self,
        message: &Message,
        pending: &Pending,
        source: Source,
    ) -> Result<()> {
        if !self.core.tables.has_windows() {
            return Ok(());
        }
        let scope = Scope {
            core: self.core.clone(),
            pending: pending.clone(),
            source,
        };
        let late = scope.run(crate::window::finish(pending)).await;
        for event in late {
            self.dead_letter_late(message, &event, pending).await?;
        }
        Ok(())
    }

    /// Writes `message`, found late by a table whose `late` policy is
    /// `dead_letter`, to the agent's dead-letter topic.
    pub(crate) async fn dead_letter_late(
        &self,
        message: &Message,
        late: &crate::window::LateEvent,
        pending: &Pending,
    ) -> Result<()> {
        let failure = Failure::Late(format!(
            "late for table `{}`: event time {} ms, but the partition's stream time is {} ms and              every window the event falls in has closed (raise the table's `grace` to accept              later events)",
            late.table, late.timestamp, late.stream_time
        ));
        let Some(topic) = &self.dead_letter else {
            tracing::error!(
                agent = %self.name, topic = %message.topic, partition = message.partition,
                offset = message.offset,
                "{failure}; the table says to dead-letter it but agent `{}` has no dead-letter                  topic: dropped (add `dead_letter = \"{}-dlq\"` to the agent)",
                self.name, self.name
            );
            return Ok(());
        };
        self.write_dead_letter(message, &failure, 1, topic.clone(), pending)
            .await
    }

    /// Applies the policy to an event that failed for good: writes the dead
    /// letter (`Ok`), or returns the error that stops the worker.
    pub(crate) async fn fail(
        &self,
        message: &Message,
        failure: Failure,
        attempts: u32,
        pending: &Pending,
    ) -> Result<()> {
        AgentCounts::add(&self.counts.errors);
        metrics::counter!(
            "faust_errors_total",
            "agent" => self.name.to_string(),
            "kind" => failure.kind()
        )
        .increment(1);
        // An asker hears of the failure instead of waiting out its timeout.
        if let Some(reply) = ReplyTo::of(message) {
            let record = reply.record(None, Some(failure.to_string()));
            drop(self.core.send_for(pending, record));
        }
        let action = match (self.on_error, &self.dead_letter) {
            (OnError::DeadLetter, Some(_)) => ErrorAction::DeadLetter,
            _ => ErrorAction::Stop,
        };
        self.sense_error(message, &failure, attempts, action);
        let dead_letter = match (self.on_error, &self.dead_letter) {
            (OnError::DeadLetter, Some(topic)) => topic.clone(),
            _ => {
                tracing::error!(
                    agent = %self.name, topic = %message.topic, partition = message.partition,
                    offset = message.offset, error = %failure,
                    "event failed; on_error = stop: stopping the worker"
                );
                return Err(Error::AgentStopped {
                    agent: self.name.to_string(),
                    topic: message.topic.to_string(),
                    partition: message.partition,
                    offset: message.offset,
                    source: failure.into_box(),
                });
            }
        };
        self.write_dead_letter(message, &failure, attempts, dead_letter, pending)
            .await
    }

    /// Writes `message` and why it failed to `dead_letter`; `Err` (stop the
    /// worker) only when that write fails.
    async fn write_dead_letter(
        &self,
        message: &Message,
        failure: &Failure,
        attempts: u32,
        dead_letter: Arc<str>,
        pending: &Pending,
    ) -> Result<()> {
        tracing::warn!(
            agent = %self.name, topic = %message.topic, partition = message.partition,
            offset = message.offset, kind = failure.kind(), error = %failure,
            dead_letter = %dead_letter, "event failed; writing it to the dead-letter topic"
        );
        AgentCounts::add(&self.counts.dead_letters);
        metrics::counter!("faust_dead_letters_total", "agent" => self.name.to_string())
            .increment(1);
        let record = self.dead_letter_record(message, failure, attempts, dead_letter.clone());
        let mut sent = self.core.send_for(pending, record.clone()).await;
        if let Err(e) = &sent
            && crate::transport::is_too_large(e)
        {
            // The record is too large for the dead-letter topic: keep the
            // failure, its headers and key, and say why the value is gone,
            // rather than stopping on this record at every restart.
            tracing::warn!(
                agent = %self.name, topic = %message.topic, partition = message.partition,
                offset = message.offset, "dead letter too large ({e}); writing it without its value"
            );
            let size = record.value.as_ref().map_or(0, |v| v.len());
            let mut slim = record;
            slim.value = None;
            slim.headers.insert(
                headers::VALUE_DROPPED,
                format!("the original value ({size} bytes) was too large for this topic: {e}"),
            );
            sent = self.core.send_for(pending, slim).await;
        }
        match sent {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::AgentStopped {
                agent: self.name.to_string(),
                topic: message.topic.to_string(),
                partition: message.partition,
                offset: message.offset,
                source: format!(
                    "{failure}; and writing it to dead-letter topic `{dead_letter}` failed too: {e}"
                )
                .into(),
            }),
        }
    }

    fn dead_letter_record(
        &self,
        message: &Message,
        failure: &Failure,
        attempts: u32,
        topic: Arc<str>,
    ) -> OutgoingRecord {
        let mut h = message.headers.clone();
        h.insert(headers::ERROR, failure.to_string());
        h.insert(headers::ERROR_KIND, failure.kind());
        h.insert(headers::ATTEMPTS, attempts.to_string());
        h.insert(headers::AGENT, self.name.to_string());
        h.insert(headers::TOPIC, message.topic.to_string());
        h.insert(headers::PARTITION, message.partition.to_string());
        h.insert(headers::OFFSET, message.offset.to_string());
        h.insert(headers::TIMESTAMP, message.timestamp.to_string());
        OutgoingRecord {
            topic,
            partition: None,
            key: message.key.clone(),
            value: message.value.clone(),
            headers: h,
            timestamp: None,
        }
    }
}
