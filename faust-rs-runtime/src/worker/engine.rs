//! The engine: an [`App`] bound to a transport and a clock, as a set of
//! futures ("units") — the fetcher, each agent instance, the tasks, the
//! timers. The worker spawns them on tokio; the test driver polls them
//! itself, deterministically.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, select};

use super::lifecycle::Lifecycle;
use super::transaction::{Staging, Transactions};
use crate::agent::HandlerKind;
use crate::agent::ack::{Batch, Inbox, OffsetTracker};
use crate::agent::rpc::Replies;
use crate::agent::runner::AgentRuntime;
use crate::app::registry::{TaskDef, TimerDef};
use crate::app::{App, AppCore, ProcessingGuarantee};
use crate::context::Scope;
use crate::error::{Error, Result};
use crate::table::{TableState, Tables};
use crate::time::Clock;
use crate::time::cron::CronSchedule;
use crate::transport::{Consumer, GroupMember, Leadership, Message, TopicSpec, Transport};
use crate::window::TimeSource;

/// `max.message.bytes` of the dead-letter topics the app creates (16 MiB).
const DEAD_LETTER_MAX_BYTES: &str = "16777216";

/// Records read from one partition per poll.
const FETCH_MAX_PER_PARTITION: usize = 1024;

/// The commit interval under `exactly_once` when none is set.
pub(crate) const EXACTLY_ONCE_COMMIT_INTERVAL: Duration = Duration::from_millis(100);

/// Records held for transactions per record of `queue_capacity` before
/// agents wait for a commit.
const HELD_PER_QUEUE: usize = 16;

/// Events an agent may run ahead of the broker (handled, output not
/// delivered yet) per record of `queue_capacity`. Such an event holds only
/// its output and its offset (its record is freed once handled), and the
/// broker takes outputs in batches a linger apart: at 4,096 ahead an agent
/// waited on the broker for a third of the stateless benchmark.
pub(crate) const AHEAD_PER_QUEUED: usize = 2;

/// How often processing-time windows are checked for closing.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub(crate) type UnitFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// One future of a running app, named for logs and errors.
pub(crate) struct Unit {
    pub(crate) name: String,
    pub(crate) future: UnitFuture,
}

/// A bound, ready-to-run app.
pub(crate) struct Engine {
    pub(crate) app: App,
    pub(crate) core: Arc<AppCore>,
    pub(crate) transport: Arc<dyn Transport>,
    /// The group's consumer once the fetcher made it (shared with the
    /// status page).
    pub(crate) consumer: Arc<std::sync::Mutex<Option<Arc<dyn Consumer>>>>,
    pub(crate) lifecycle: Arc<Lifecycle>,
    pub(crate) tracker: Arc<OffsetTracker>,
    pub(crate) agents: Vec<Arc<AgentRuntime>>,
    /// When the engine was built (the status page's uptime).
    pub(crate) started: std::time::Instant,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("app", &self.app.id)
            .field("agents", &self.agents)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Checks `app` and binds every agent to `transport`.
    pub(crate) fn build(
        mut app: App,
        transport: Arc<dyn Transport>,
        clock: Clock,
    ) -> Result<Engine> {
        app.check()?;
        let exactly_once = app.settings.processing_guarantee == ProcessingGuarantee::ExactlyOnce;
        if exactly_once {
            // Tables are exact too: on a broker that keeps aborted records
            // visible, recovery still leaves out the uncommitted events.
            app.settings.exact_state = true;
            // Outputs wait for the commit: commit often unless told
            // otherwise (Kafka Streams' default under exactly-once).
            if *app.settings.source("commit_interval") == crate::app::config::Source::Default {
                app.settings.commit_interval = EXACTLY_ONCE_COMMIT_INTERVAL;
            }
        }
        let sensors = crate::sensor::Sensors::new(&app.sensors);
        let mut tables = Vec::new();
        for def in &app.tables {
            let table = TableState::new(def, &app.id, &app.settings)?.with_sensors(&sensors);
            tables.push(Arc::new(table));
        }
        let tables = Arc::new(Tables::new(tables, app.settings.standby_replicas > 0));
        let mut topics = app.topic_settings();
        // A repartition topic carries its source's values as they are: it
        // reads them with the source's value codec.
        for def in &app.agents {
            let (Some(repartition), Some(source)) = (def.repartition, def.topics.first()) else {
                continue;
            };
            let through = crate::agent::repartition_topic(&app.id, def.name, repartition);
            let source = topics.get(*source).cloned().unwrap_or_default();
            topics.entry(through).or_insert(crate::app::TopicSettings {
                value_serializer: source.value_serializer,
                ..Default::default()
            });
        }
        let transactions = if exactly_once {
            let id = app.settings.transactional_id_for(&app.id);
            // Held records are memory: past this many, agents wait for a
            // commit, which comes early.
            let limit = (app.settings.queue_capacity * HELD_PER_QUEUE).max(10_000);
            let mut producer = transport.transactional(&id)?;
            if !sensors.is_empty() {
                producer = Arc::new(crate::sensor::SensedTransactional {
                    inner: producer,
                    sensors: sensors.clone(),
                });
            }
            Some(Arc::new(Transactions::new(producer, limit)))
        } else {
            None
        };
        let staging = transactions
            .as_ref()
            .map(|t| Arc::new(Staging::new(t.clone())));
        let producer: Arc<dyn crate::transport::Producer> = match &staging {
            Some(staging) => staging.clone(),
            None => sensors.producer(transport.producer()),
        };
        let core = Arc::new(AppCore {
            app_id: Arc::from(app.id.as_str()),
            codecs: app.codecs.clone(),
            producer,
            clock,
            topics,
            tables,
            max_ahead: app.settings.queue_capacity.saturating_mul(AHEAD_PER_QUEUED),
            leader: Arc::default(),
            transport: transport.clone(),
            replication: app.settings.topic_replication_factor,
            replies: Arc::new(Replies::new(&app.id)),
            origin_headers: app.settings.origin_headers,
            transactions,
            staging,
            sensors,
        });
        let mut agents = Vec::new();
        for def in &app.agents {
            let agent = AgentRuntime::bind(def, app.agent_options.get(def.name), &core)?;
            agents.push(Arc::new(agent));
        }
        Ok(Engine {
            app,
            core,
            transport,
            consumer: Arc::default(),
            lifecycle: Arc::new(Lifecycle::default()),
            tracker: Arc::new(OffsetTracker::default()),
            agents,
            started: std::time::Instant::now(),
        })
    }

    /// The topics the app uses: declared ones (their partition count is
    /// checked when they exist), and the agents' inputs, sinks and dead
    /// letters (created with the app default when missing).
    pub(crate) fn topic_specs(&self) -> Vec<TopicSpec> {
        let settings = &self.app.settings;
        let mut specs: Vec<TopicSpec> = Vec::new();
        let mut add = |name: &str, partitions: Option<u32>, config: &[(&str, &str)]| {
            if specs.iter().any(|s| s.name == name) {
                return;
            }
            specs.push(TopicSpec {
                name: name.to_owned(),
                partitions: partitions.unwrap_or(settings.topic_partitions),
                replication: settings.topic_replication_factor,
                strict: partitions.is_some(),
                config: config
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            });
        };
        for def in &self.app.topics {
            add(def.name, def.partitions, &[]);
        }
        for agent in &self.agents {
            let owned = agent
                .topics
                .iter()
                .chain(
                    agent
                        .forward
                        .iter()
                        .flat_map(|f| f.sources.iter().map(|(t, _)| t)),
                )
                .chain(agent.sink_topics.iter().map(|(t, _)| t));
            for topic in owned {
                add(topic, self.core.topic(topic).partitions, &[]);
            }
        }
        // Changelogs: compacted, and exactly as many partitions as the table.
        for table in self.core.tables.all() {
            add(
                &table.changelog,
                Some(table.partitions),
                &[("cleanup.policy", "compact")],
            );
        }
        // Where windowed tables send their closed windows.
        for table in self.core.tables.all() {
            if let Some(topic) = table.window.as_ref().and_then(|w| w.def.emit_closed) {
                add(topic, self.core.topic(topic).partitions, &[]);
            }
        }
        // Dead-letter topics take the largest records a source may hold.
        for topic in self.agents.iter().filter_map(|a| a.dead_letter.as_ref()) {
            let config = [("max.message.bytes", DEAD_LETTER_MAX_BYTES)];
            add(topic, self.core.topic(topic).partitions, &config);
        }
        // The leader election's topic: one partition, never written.
        if let Some(leader) = self.leadership() {
            add(&leader.topic, Some(1), &[]);
        }
        // The worker directory that routes table queries: one partition,
        // one record per worker.
        if let Some(directory) =
            crate::web::peers::directory_topic(&self.app.id, settings, &self.core.tables)
        {
            add(&directory, Some(1), &[("cleanup.policy", "compact")]);
        }
        specs
    }

    /// The group's leader election, when some timer runs on the leader
    /// only.
    pub(crate) fn leadership(&self) -> Option<Leadership> {
        self.app
            .timers
            .iter()
            .any(|t| t.on_leader)
            .then(|| Leadership {
                topic: Arc::from(Leadership::topic_of(&self.app.id)),
                flag: self.core.leader.clone(),
            })
    }

    /// Creates the topics the app uses that do not exist yet.
    pub(crate) async fn declare_topics(&self) -> Result<()> {
        self.transport.ensure_topics(&self.topic_specs()).await
    }

    /// The consumer group: the app id, as in Faust.
    pub(crate) fn group(&self) -> &str {
        &self.app.id
    }

    /// Every unit of the app: the fetcher, the agent instances, then the
    /// tasks and timers.
    pub(crate) fn units(&self) -> Vec<Unit> {
        let mut units = Vec::new();
        let mut routes: HashMap<Arc<str>, Vec<async_channel::Sender<Batch>>> = HashMap::new();
        // The queue holds batches of up to FETCH_MAX_PER_PARTITION records:
        // size it so about `queue_capacity` records wait per agent.
        let batches = self
            .app
            .settings
            .queue_capacity
            .div_ceil(FETCH_MAX_PER_PARTITION / 4)
            .max(2);
        for agent in &self.agents {
            if let Some(forward) = &agent.forward {
                // The repartition stage: the source topics into the
                // repartition topic, in order, one record at a time.
                let (tx, rx) = async_channel::bounded(batches);
                for (topic, _) in &forward.sources {
                    routes.entry(topic.clone()).or_default().push(tx.clone());
                }
                let future = agent.clone().run_forward(Inbox::new(rx));
                units.push(self.unit(
                    format!(
                        "agent {} ({} -> {})",
                        agent.name,
                        forward.describe_sources(),
                        forward.to
                    ),
                    Box::pin(future),
                ));
            }
            let (tx, rx) = async_channel::bounded(batches);
            for topic in &agent.topics {
                routes.entry(topic.clone()).or_default().push(tx.clone());
            }
            let instances = match agent.handler {
                HandlerKind::PerEvent(_) => 1,
                HandlerKind::Stream(_) => agent.concurrency,
            };
            for i in 0..instances {
                let agent = agent.clone();
                let rx = rx.clone();
                let name = if instances > 1 {
                    format!("agent {}#{i}", agent.name)
                } else {
                    format!("agent {}", agent.name)
                };
                let future: Pin<Box<dyn Future<Output = Result<()>> + Send>> = match agent.handler {
                    HandlerKind::PerEvent(_) => Box::pin(agent.run_per_event(Inbox::new(rx))),
                    HandlerKind::Stream(_) => Box::pin(agent.run_stream(Inbox::new(rx))),
                };
                units.push(self.unit(name, future));
            }
        }
        let fetcher: Pin<Box<dyn Future<Output = Result<()>> + Send>> = match self.fetcher(routes) {
            Ok(fetcher) => Box::pin(fetcher),
            Err(e) => Box::pin(std::future::ready(Err(e))),
        };
        units.insert(0, self.unit("fetcher".into(), fetcher));
        for task in &self.app.tasks {
            units.push(self.unit(format!("task {}", task.name), Box::pin(self.task(task))));
        }
        for timer in &self.app.timers {
            units.push(self.unit(format!("timer {}", timer.name), Box::pin(self.timer(timer))));
        }
        // Replies to this worker's asks (idle until the first ask).
        let core = self.core.clone();
        let lifecycle = self.lifecycle.clone();
        units.push(self.unit(
            "replies".into(),
            Box::pin(async move {
                let run = core.replies.run();
                let stop = lifecycle.stopped();
                futures_util::pin_mut!(run, stop);
                select(run, stop).await;
                Ok(())
            }),
        ));
        let processing_time = self.core.tables.all().iter().any(|t| {
            t.window
                .as_ref()
                .is_some_and(|w| w.def.time == TimeSource::Processing)
        });
        if processing_time {
            units.push(self.unit("window sweeper".into(), Box::pin(self.window_sweeper())));
        }
        units
    }

    /// Closes the windows of processing-time tables as the clock passes
    /// them, every [`SWEEP_EVERY`], in the partitions this worker owns.
    fn window_sweeper(&self) -> impl Future<Output = Result<()>> + Send + 'static {
        let core = self.core.clone();
        let lifecycle = self.lifecycle.clone();
        async move {
            let clock = core.clock.clone();
            loop {
                let sleep = clock.sleep(SWEEP_EVERY);
                let stop = lifecycle.stopped();
                futures_util::pin_mut!(sleep, stop);
                if let Either::Right(_) = select(sleep, stop).await {
                    return Ok(());
                }
                let scope = Scope::new(core.clone());
                let pending = scope.pending.clone();
                let now = clock.wall_ms();
                let tables = core.tables.clone();
                let sweep = async {
                    for table in tables.all() {
                        let Some(windows) = &table.window else {
                            continue;
                        };
                        if windows.def.time != TimeSource::Processing {
                            continue;
                        }
                        for partition in tables.owned_partitions() {
                            if let Err(e) = windows.advance(table, partition, now) {
                                tracing::error!(
                                    table = table.def.name,
                                    partition,
                                    "window sweep: {e}"
                                );
                            }
                        }
                    }
                    // Late events cannot come from here: no event.
                    let _ = crate::window::finish(&pending).await;
                };
                scope.run(sweep).await;
                if let Err(e) = pending.settle().await {
                    tracing::error!("sending what closed windows produced: {e}");
                }
            }
        }
    }

    fn unit(&self, name: String, future: Pin<Box<dyn Future<Output = Result<()>> + Send>>) -> Unit {
        let lifecycle = self.lifecycle.clone();
        Unit {
            name,
            future: Box::pin(async move {
                if let Err(e) = future.await {
                    lifecycle.fail(e);
                }
            }),
        }
    }

    /// Reads the subscribed topics and hands each record to every agent
    /// that consumes its topic. Ends (closing the agents' queues) when the
    /// app stops.
    fn fetcher(
        &self,
        routes: HashMap<Arc<str>, Vec<async_channel::Sender<Batch>>>,
    ) -> Result<impl Future<Output = Result<()>> + Send + 'static> {
        let mut topics: Vec<Arc<str>> = routes.keys().cloned().collect();
        topics.sort();
        let leader = self.leadership();
        if let Some(leader) = &leader {
            topics.push(leader.topic.clone());
        }
        if topics.is_empty() {
            // Tasks and timers only: nothing to read (a consumer subscribed
            // to no topic is an error in librdkafka).
            let lifecycle = self.lifecycle.clone();
            return Ok(futures_util::future::Either::Left(async move {
                lifecycle.stopped().await;
                Ok(())
            }));
        }
        let consumer = self.transport.consumer(GroupMember {
            group: self.group().to_owned(),
            topics,
            tracker: self.tracker.clone(),
            tables: self.core.tables.clone(),
            leader,
            transactions: self.core.transactions.clone(),
            sensors: self.core.sensors.clone(),
        })?;
        *self.consumer.lock().unwrap_or_else(|e| e.into_inner()) = Some(consumer.clone());
        let lifecycle = self.lifecycle.clone();
        let tracker = self.tracker.clone();
        let tables = self.core.tables.clone();
        let sensors = self.core.sensors.clone();
        Ok(futures_util::future::Either::Right(async move {
            // Batches come partition by partition: the route and the ack
            // state are looked up once per run of one partition, and each
            // run goes to each agent as one batch.
            let no_targets = Vec::new();
            loop {
                let batch = {
                    let poll = consumer.poll(FETCH_MAX_PER_PARTITION);
                    let stop = lifecycle.stopped();
                    futures_util::pin_mut!(poll, stop);
                    match select(poll, stop).await {
                        Either::Left((batch, _)) => batch,
                        Either::Right(_) => return Ok(()),
                    }
                };
                tracing::trace!(records = batch.len(), "fetched");
                // A partition whose tables could not be recovered must not
                // be processed against incomplete state: the worker stops.
                if let Some(error) = tables.take_failure() {
                    return Err(error);
                }
                // Cut into runs of one partition, each moved once. Most
                // batches are one run: it goes on as it is, no copy.
                let lens: Vec<usize> = batch
                    .chunk_by(|a, b| Arc::ptr_eq(&a.topic, &b.topic) && a.partition == b.partition)
                    .map(<[_]>::len)
                    .collect();
                let runs: Vec<Vec<Arc<Message>>> = if lens.len() <= 1 {
                    vec![batch]
                } else {
                    let mut messages = batch.into_iter();
                    lens.iter()
                        .map(|&len| messages.by_ref().take(len).collect())
                        .collect()
                };
                for run in runs {
                    if !dispatch(run, &routes, &no_targets, &tracker, &lifecycle, &sensors).await {
                        return Ok(());
                    }
                }
            }
        }))
    }

    /// Runs a `#[task]` once. A task still running when the app stops is
    /// cancelled (dropped at its next `.await`), as Faust cancels its
    /// services: a task that loops forever does not hold up the shutdown.
    fn task(&self, def: &'static TaskDef) -> impl Future<Output = Result<()>> + Send + 'static {
        let scope = Scope::new(self.core.clone());
        let lifecycle = self.lifecycle.clone();
        async move {
            let pending = scope.pending.clone();
            let run = scope.run((def.run)());
            let stop = lifecycle.stopped();
            futures_util::pin_mut!(run, stop);
            let result = match select(run, stop).await {
                Either::Left((result, _)) => result,
                Either::Right(_) => {
                    tracing::debug!(task = def.name, "task cancelled: the app is stopping");
                    return Ok(());
                }
            };
            let settled = pending.settle().await;
            let result = result.and_then(|()| settled.map_err(Into::into));
            result.map_err(|source| Error::TaskFailed {
                task: def.name.to_owned(),
                source,
            })
        }
    }

    /// Runs a `#[timer]` every interval (the first run one interval after
    /// the start), or a `#[crontab]` at the times its expression names. A
    /// leader-only one skips the runs that come while this worker is not
    /// its group's leader.
    fn timer(&self, def: &'static TimerDef) -> impl Future<Output = Result<()>> + Send + 'static {
        let core = self.core.clone();
        let lifecycle = self.lifecycle.clone();
        // Checked when the app was built.
        let cron = CronSchedule::of(def).ok().flatten();
        async move {
            let clock = core.clock.clone();
            let start = clock.elapsed();
            let interval = def.interval.max(Duration::from_millis(1));
            let mut tick: u32 = 0;
            loop {
                let deadline = match &cron {
                    Some(cron) => {
                        let now = clock.wall_ms();
                        let Some(next) = cron.next_after(now) else {
                            tracing::warn!(
                                timer = def.name,
                                "the crontab names no time after now; it stops"
                            );
                            lifecycle.stopped().await;
                            return Ok(());
                        };
                        clock.elapsed() + Duration::from_millis((next - now).max(0) as u64)
                    }
                    None => {
                        tick = tick.saturating_add(1);
                        start + interval.saturating_mul(tick)
                    }
                };
                let sleep = clock.sleep_until(deadline);
                let stop = lifecycle.stopped();
                futures_util::pin_mut!(sleep, stop);
                if let Either::Right(_) = select(sleep, stop).await {
                    return Ok(());
                }
                if def.on_leader && !core.is_leader() {
                    tracing::debug!(timer = def.name, "not the leader: this run is skipped");
                    continue;
                }
                let scope = Scope::new(core.clone());
                let pending = scope.pending.clone();
                // A run still going when the app stops is cancelled.
                let run = scope.run((def.run)());
                let stop = lifecycle.stopped();
                futures_util::pin_mut!(run, stop);
                let result = match select(run, stop).await {
                    Either::Left((result, _)) => result,
                    Either::Right(_) => return Ok(()),
                };
                let settled = pending.settle().await;
                if let Err(e) = result.and_then(|()| settled.map_err(Into::into)) {
                    tracing::error!(timer = def.name, error = %e, "timer run failed; it runs again at its next interval");
                }
            }
        }
    }

    /// Closes the consumer, then the agents and the producer, then the
    /// transport: an embedded broker must outlive the clients talking to it.
    pub(crate) fn close(self) {
        let Engine {
            consumer,
            agents,
            core,
            transport,
            ..
        } = self;
        // Taken out: the status page may still hold the slot.
        drop(consumer.lock().unwrap_or_else(|e| e.into_inner()).take());
        drop(agents);
        core.tables.close();
        drop(core);
        drop(transport);
    }

    /// Registers the transactional id under `exactly_once` (fencing what
    /// a crashed incarnation left open). Blocks: the worker calls it on
    /// the blocking pool.
    pub(crate) fn init_transactions(&self) -> Result<()> {
        match &self.core.transactions {
            Some(txn) => txn.init(),
            None => Ok(()),
        }
    }

    /// Whether commits are transactions (whose calls block on the broker).
    pub(crate) fn is_transactional(&self) -> bool {
        self.core.transactions.is_some()
    }

    /// Commits every partition's finished prefix; `sync` waits for the
    /// broker (at shutdown). Under transactions this blocks for the
    /// cycle: the worker runs [`commit_job`](Self::commit_job) on the
    /// blocking pool instead.
    pub(crate) fn commit(&self, sync: bool) {
        if let Some(job) = self.commit_job(sync) {
            job.run();
        }
    }

    /// What one commit needs, owned, to run on another thread; `None`
    /// before the consumer exists (with transactions, the records of an
    /// app that reads nothing, only tasks and timers, are committed all
    /// the same).
    pub(crate) fn commit_job(&self, sync: bool) -> Option<CommitJob> {
        let consumer = self
            .consumer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if consumer.is_none() && self.core.transactions.is_none() {
            return None;
        }
        Some(CommitJob {
            consumer,
            tracker: self.tracker.clone(),
            tables: self.core.tables.clone(),
            transactions: self.core.transactions.clone(),
            lifecycle: self.lifecycle.clone(),
            sync,
            sensors: self.core.sensors.clone(),
        })
    }
}

/// One commit: the tracker's finished offsets, the tables' stores, and
/// under transactions the cycle that writes what those events produced.
pub(crate) struct CommitJob {
    consumer: Option<Arc<dyn Consumer>>,
    tracker: Arc<OffsetTracker>,
    tables: Arc<Tables>,
    transactions: Option<Arc<Transactions>>,
    lifecycle: Arc<Lifecycle>,
    sync: bool,
    sensors: crate::sensor::Sensors,
}

impl CommitJob {
    pub(crate) fn run(self) {
        let offsets = self.commit();
        self.sensors.commit(&offsets);
        // What the metrics say of the partitions committed now.
        for (topic, partition, offset) in &offsets {
            let labels = [
                ("topic", topic.to_string()),
                ("partition", partition.to_string()),
            ];
            metrics::gauge!("faust_committed_offset", &labels).set(*offset as f64);
            if let Some(high) = self
                .consumer
                .as_ref()
                .and_then(|c| c.high_watermark(topic, *partition))
            {
                metrics::gauge!("faust_high_watermark", &labels).set(high as f64);
                metrics::gauge!("faust_consumer_lag", &labels).set((high - offset).max(0) as f64);
            }
        }
    }

    /// Commits; returns the offsets it committed.
    fn commit(&self) -> Vec<(Arc<str>, i32, i64)> {
        if self.transactions.as_ref().is_some_and(|t| t.has_failed()) {
            // The worker is stopping on that failure; a later commit would
            // write the tables of events no transaction committed.
            return Vec::new();
        }
        let offsets = self.tracker.take_committable();
        if let Some(txn) = &self.transactions {
            // The transaction first: the stores write the events it
            // committed, no later.
            let group = self.consumer.as_ref().and_then(|c| c.group_metadata());
            if let Err(e) = txn.cycle(&offsets, group.as_ref()) {
                // The worker's exit error: logged where it stops.
                self.lifecycle.fail(e);
                return Vec::new();
            }
            self.tables.note_committed(&offsets);
            if let Err(e) = self.tables.flush() {
                tracing::error!("writing table stores: {e}; retrying at the next commit");
            }
            return offsets;
        }
        // Table writes first: a store's data, changelog offset and origins
        // go to disk in one batch, up to the events committed now (exact
        // state). Should the commit below not reach the broker, the events
        // it names come again and leave the tables alone.
        self.tables.note_committed(&offsets);
        if let Err(e) = self.tables.flush() {
            tracing::error!("writing table stores: {e}; retrying at the next commit");
        }
        let Some(consumer) = &self.consumer else {
            return offsets;
        };
        if !offsets.is_empty() {
            tracing::debug!(?offsets, "storing finished offsets");
            consumer.store(&offsets);
        }
        if let Err(e) = consumer.commit(self.sync) {
            tracing::warn!("{e}; retrying at the next commit");
        }
        offsets
    }
}

/// Tracks a run of records of one partition and hands it to every agent
/// that consumes its topic. `false` when the app stopped meanwhile.
async fn dispatch(
    run: Vec<Arc<Message>>,
    routes: &HashMap<Arc<str>, Vec<async_channel::Sender<Batch>>>,
    no_targets: &Vec<async_channel::Sender<Batch>>,
    tracker: &OffsetTracker,
    lifecycle: &Lifecycle,
    sensors: &crate::sensor::Sensors,
) -> bool {
    let Some(first) = run.first() else {
        return true;
    };
    let targets = routes.get(&first.topic).unwrap_or(no_targets);
    let labels = [
        ("topic", first.topic.to_string()),
        ("partition", first.partition.to_string()),
    ];
    metrics::counter!("faust_events_in_total", &labels).increment(run.len() as u64);
    if !sensors.is_empty() {
        for m in &run {
            sensors.each(|s| {
                s.on_message_in(&crate::sensor::MessageIn {
                    topic: &m.topic,
                    partition: m.partition,
                    offset: m.offset,
                })
            });
        }
    }
    if let Some(last) = run.last() {
        metrics::gauge!("faust_read_offset", &labels).set((last.offset + 1) as f64);
    }
    let mut acks = tracker.partition(&first.topic, first.partition);
    if acks.is_revoked() {
        acks = tracker.partition(&first.topic, first.partition);
    }
    // Every record is tracked, even one no agent reads, so a commit never
    // moves past a record that was not handled.
    acks.track_all(run.iter().map(|m| m.offset), targets.len() as u32);
    let mut run = Some(run);
    for (i, target) in targets.iter().enumerate() {
        let messages = if i + 1 == targets.len() {
            run.take().unwrap_or_default()
        } else {
            run.clone().unwrap_or_default()
        };
        let batch = Batch {
            acks: acks.clone(),
            messages,
        };
        if let Err(async_channel::TrySendError::Full(batch)) = target.try_send(batch) {
            let send = target.send(batch);
            let stop = lifecycle.stopped();
            futures_util::pin_mut!(send, stop);
            if let Either::Right(_) = select(send, stop).await {
                return false;
            }
        }
    }
    true
}
