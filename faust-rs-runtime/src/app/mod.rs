//! The application: its id, broker, topics, codecs and agents.
//!
//! An [`App`] is a description: what to run and with which settings. By
//! default it takes every `#[agent]`, `#[task]`, `#[timer]`, `#[topic]`,
//! `#[table]` and `#[command]` linked into the program ([`registry`]); [`App::bare`] starts from nothing
//! so a test can name exactly the definitions it wants. The worker (or the
//! test driver) turns an `App` into running agents; start-up checks
//! (duplicate names, unknown codecs, sinks that go nowhere) fail there with
//! an error that names both sides and the fix.
//!
//! The builder's settings (broker, topic defaults, commit interval, raw
//! librdkafka properties) are the second of five layers: a TOML file, the
//! environment and the command line override them at start. [`config`] is
//! the reference for every setting.
//!
//! ```
//! use faust::App;
//! use std::time::Duration;
//!
//! let app = App::new("orders-app")
//!     .broker("kafka://127.0.0.1:9092")
//!     .topic_partitions(4)
//!     .commit_interval(Duration::from_secs(1));
//! assert_eq!(app.id(), "orders-app");
//! ```

pub mod config;
pub mod registry;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::codec::{Codec, Codecs};
use crate::error::{Error, Result};
use crate::time::Clock;
use crate::transport::Producer;
use config::Source;
pub use config::{ProcessingGuarantee, Settings};
use registry::{
    AgentDef, CommandDef, Location, OnError, PageDef, TableDef, TaskDef, TimerDef, TopicDef,
};

/// Settings that override an agent's attribute options, by agent name.
///
/// ```
/// use faust::{AgentOptions, App, OnError};
/// let app = App::new("orders-app").configure_agent(
///     "process",
///     AgentOptions::new().concurrency(4).retries(3).on_error(OnError::Stop),
/// );
/// # let _ = app;
/// ```
#[derive(Clone, Debug, Default)]
pub struct AgentOptions {
    pub(crate) concurrency: Option<usize>,
    pub(crate) dead_letter: Option<String>,
    pub(crate) on_error: Option<OnError>,
    pub(crate) retries: Option<u32>,
    pub(crate) retry_backoff: Option<Duration>,
}

impl AgentOptions {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handlers running at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n);
        self
    }

    /// Dead-letter topic.
    pub fn dead_letter(mut self, topic: impl Into<String>) -> Self {
        self.dead_letter = Some(topic.into());
        self
    }

    /// Policy once retries are spent.
    pub fn on_error(mut self, policy: OnError) -> Self {
        self.on_error = Some(policy);
        self
    }

    /// Retries before the policy applies.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = Some(n);
        self
    }

    /// First retry delay (doubles on each retry).
    pub fn retry_backoff(mut self, d: Duration) -> Self {
        self.retry_backoff = Some(d);
        self
    }
}

/// A faust application.
#[derive(Clone)]
pub struct App {
    pub(crate) id: String,
    pub(crate) settings: Settings,
    pub(crate) codecs: Codecs,
    pub(crate) agents: Vec<&'static AgentDef>,
    pub(crate) tasks: Vec<&'static TaskDef>,
    pub(crate) timers: Vec<&'static TimerDef>,
    pub(crate) topics: Vec<&'static TopicDef>,
    pub(crate) tables: Vec<&'static TableDef>,
    pub(crate) commands: Vec<&'static CommandDef>,
    pub(crate) pages: Vec<&'static PageDef>,
    pub(crate) agent_options: HashMap<String, AgentOptions>,
    /// The sensors, in the order they were added.
    pub(crate) sensors: Vec<Arc<dyn crate::sensor::Sensor>>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("id", &self.id)
            .field("settings", &self.settings)
            .field(
                "agents",
                &self.agents.iter().map(|a| a.name).collect::<Vec<_>>(),
            )
            .field(
                "tasks",
                &self.tasks.iter().map(|t| t.name).collect::<Vec<_>>(),
            )
            .field(
                "timers",
                &self.timers.iter().map(|t| t.name).collect::<Vec<_>>(),
            )
            .field(
                "topics",
                &self.topics.iter().map(|t| t.name).collect::<Vec<_>>(),
            )
            .field(
                "tables",
                &self.tables.iter().map(|t| t.name).collect::<Vec<_>>(),
            )
            .field(
                "commands",
                &self.commands.iter().map(|c| c.name).collect::<Vec<_>>(),
            )
            .field(
                "pages",
                &self.pages.iter().map(|p| p.path).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl App {
    /// An app with id `id` (its Kafka consumer group) running every agent,
    /// task, timer, topic and table declared in the program, with every
    /// command and page.
    pub fn new(id: impl Into<String>) -> Self {
        let mut app = Self::bare(id);
        app.agents = registry::AGENTS.iter().copied().collect();
        app.tasks = registry::TASKS.iter().copied().collect();
        app.timers = registry::TIMERS.iter().copied().collect();
        app.topics = registry::TOPICS.iter().copied().collect();
        app.tables = registry::TABLES.iter().copied().collect();
        app.commands = registry::COMMANDS.iter().copied().collect();
        app.pages = registry::PAGES.iter().copied().collect();
        app
    }

    /// An app with no agents, tasks, timers or topics: add them one by one
    /// with [`agent`](Self::agent) and friends. For tests.
    pub fn bare(id: impl Into<String>) -> Self {
        App {
            id: id.into(),
            settings: Settings::default(),
            codecs: Codecs::default(),
            agents: Vec::new(),
            tasks: Vec::new(),
            timers: Vec::new(),
            topics: Vec::new(),
            tables: Vec::new(),
            commands: Vec::new(),
            pages: Vec::new(),
            agent_options: HashMap::new(),
            sensors: Vec::new(),
        }
    }

    /// The app id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The broker URL: `kafka://host:9092[,host2:9092]`, `embedded://` (an
    /// in-process Kafka-protocol broker; the default) or `memory://` (the
    /// in-memory transport, no Kafka protocol). `FAUST_BROKER`, the config
    /// file's `broker` and `--broker` override it ([`config`]).
    pub fn broker(mut self, url: impl Into<String>) -> Self {
        self.settings.broker = url.into();
        self.settings.mark("broker", Source::App);
        self
    }

    /// The settings as built so far: defaults and this builder. The command
    /// line layers the config file, the environment and its flags on top
    /// at start ([`config::resolve`]).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Partitions of topics the app creates when the topic names none
    /// (Faust's `topic_partitions`, default 8; 0 is taken as 1).
    pub fn topic_partitions(mut self, n: u32) -> Self {
        self.settings.topic_partitions = n.max(1);
        self.settings.mark("topic_partitions", Source::App);
        self
    }

    /// Replication factor of topics the app creates (default 1, right for
    /// a one-broker cluster; 3 is usual in production; 0 or less is taken
    /// as 1).
    pub fn topic_replication_factor(mut self, n: i16) -> Self {
        self.settings.topic_replication_factor = n.max(1);
        self.settings.mark("topic_replication_factor", Source::App);
        self
    }

    /// How often finished offsets are committed (Faust's
    /// `broker_commit_interval`, default 2.8 s; zero is taken as 1 ms).
    /// Offsets are also committed at shutdown.
    pub fn commit_interval(mut self, every: Duration) -> Self {
        self.settings.commit_interval = every.max(Duration::from_millis(1));
        self.settings.mark("commit_interval", Source::App);
        self
    }

    /// Records buffered per agent before reading pauses; twice as
    /// many events an agent may have handled whose output the broker has
    /// not taken yet before it waits for the broker (backpressure both
    /// ways; default 4096, 0 is taken as 1). The second bound also bounds
    /// what a crash makes the worker handle again.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.settings.queue_capacity = n.max(1);
        self.settings.mark("queue_capacity", Source::App);
        self
    }

    /// Where tables keep their data (Faust's `store`): `"memory://"` (the
    /// default: rebuilt from the changelogs at every start) or
    /// `"rocksdb://DIR"` (on disk: a restart replays only the changelog
    /// past what the store holds). A table's own `store` option wins.
    ///
    /// ```
    /// use faust::App;
    /// let app = App::new("word-count").store("rocksdb://data");
    /// assert_eq!(app.settings().store, "rocksdb://data");
    /// ```
    ///
    /// An unknown scheme is reported when the worker starts.
    pub fn store(mut self, url: impl Into<String>) -> Self {
        self.settings.store = url.into();
        self.settings.mark("store", Source::App);
        self
    }

    /// Warm copies of table partitions other workers own (Faust's
    /// `table_standby_replicas`, default 0). With 1 or more, every worker
    /// follows the changelogs of the partitions it does not own, so when an
    /// owner dies its successor replays only a short tail.
    pub fn standby_replicas(mut self, n: u32) -> Self {
        self.settings.standby_replicas = n;
        self.settings.mark("standby_replicas", Source::App);
        self
    }

    /// How long reading a changelog (a table's recovery on start-up and
    /// rebalance, standby replicas, the CLI's `table get`) waits with no
    /// record before the partition's end, before it fails with an error
    /// naming the partitions left (default 60 s; zero is taken as 1 ms).
    /// Raise it for a broker that pauses for long (Tansu's SQLite engine
    /// stops serving while it compacts a large log).
    ///
    /// ```
    /// use std::time::Duration;
    /// use faust::App;
    /// let app = App::new("word-count").changelog_stall_timeout(Duration::from_secs(300));
    /// assert_eq!(app.settings().changelog_stall_timeout, Duration::from_secs(300));
    /// ```
    pub fn changelog_stall_timeout(mut self, limit: Duration) -> Self {
        self.settings.changelog_stall_timeout = limit.max(Duration::from_millis(1));
        self.settings.mark("changelog_stall_timeout", Source::App);
        self
    }

    /// Whether outputs (sink records, `Topic::send`, closed windows)
    /// carry the `faust.source` header naming the event they came from
    /// (default on), for readers that drop duplicates with
    /// [`Dedup`](crate::origin::Dedup). Off for brokers that handle
    /// headers badly (Tansu 0.6's SQLite engine slows down for every topic
    /// once records with headers pile up).
    pub fn origin_headers(mut self, on: bool) -> Self {
        self.settings.origin_headers = on;
        self.settings.mark("origin_headers", Source::App);
        self
    }

    /// Exact table state (default on): a table counts each input event
    /// once however often a crash makes the worker process it, on any
    /// Kafka-protocol broker. Off: tables are at-least-once like their
    /// sinks (a replayed event updates them again). See the README's
    /// exactly-once chapter for what each costs.
    pub fn exact_state(mut self, on: bool) -> Self {
        self.settings.exact_state = on;
        self.settings.mark("exact_state", Source::App);
        self
    }

    /// The processing guarantee (Faust's `processing_guarantee`):
    /// [`ExactlyOnce`](ProcessingGuarantee::ExactlyOnce) writes each
    /// commit's outputs, changelog records and input offsets in one Kafka
    /// transaction, and reads with `isolation.level = read_committed`. It
    /// needs a broker with transactions (neither Tansu 0.6 nor the
    /// embedded broker completes them); the test driver models them.
    ///
    /// ```
    /// let app = faust::App::new("orders")
    ///     .processing_guarantee(faust::ProcessingGuarantee::ExactlyOnce)
    ///     .transactional_id("orders-worker-1");
    /// # let _ = app;
    /// ```
    pub fn processing_guarantee(mut self, guarantee: ProcessingGuarantee) -> Self {
        self.settings.processing_guarantee = guarantee;
        self.settings.mark("processing_guarantee", Source::App);
        self
    }

    /// This worker's transactional id under `exactly_once` (default
    /// `<app id>-<host name>`): the same across its restarts, different
    /// from every other worker's.
    pub fn transactional_id(mut self, id: impl Into<String>) -> Self {
        self.settings.transactional_id = id.into();
        self.settings.mark("transactional_id", Source::App);
        self
    }

    /// Whether the worker serves its web endpoint (default on): metrics in
    /// Prometheus' format, health, readiness, agents, topics and table
    /// queries. See [the worker's docs](crate::worker#the-web-endpoint)
    /// for the routes and metrics.
    pub fn web(mut self, on: bool) -> Self {
        self.settings.web_enabled = on;
        self.settings.mark("web_enabled", Source::App);
        self
    }

    /// The address the web endpoint listens on (default `127.0.0.1`: only
    /// this machine; `0.0.0.0` exposes it).
    pub fn web_bind(mut self, addr: impl Into<String>) -> Self {
        self.settings.web_bind = addr.into();
        self.settings.mark("web_bind", Source::App);
        self
    }

    /// The web endpoint's port (default 6066, Faust's; 0 picks a free
    /// one, logged at start).
    pub fn web_port(mut self, port: u16) -> Self {
        self.settings.web_port = port;
        self.settings.mark("web_port", Source::App);
        self
    }

    /// Where the worker's metrics go (default
    /// [`Prometheus`](config::MetricsExporter::Prometheus): the web
    /// endpoint's `/metrics`). [`Statsd`](config::MetricsExporter::Statsd)
    /// sends them to a StatsD or Datadog agent at
    /// [`statsd_address`](Self::statsd_address), with the labels as
    /// DogStatsD tags, and keeps `/metrics` answering while the web
    /// endpoint is on. See [`config`](config#every-setting).
    ///
    /// ```
    /// use faust::config::MetricsExporter;
    /// let app = faust::App::new("orders-app")
    ///     .metrics_exporter(MetricsExporter::Statsd)
    ///     .statsd_address("127.0.0.1:8125")
    ///     .statsd_prefix("orders");
    /// assert_eq!(app.settings().metrics_exporter, MetricsExporter::Statsd);
    /// ```
    pub fn metrics_exporter(mut self, exporter: config::MetricsExporter) -> Self {
        self.settings.metrics_exporter = exporter;
        self.settings.mark("metrics_exporter", Source::App);
        self
    }

    /// The StatsD agent's address under `metrics_exporter = "statsd"`
    /// (default `127.0.0.1:8125`): `host:port` over UDP, or
    /// `unixgram://PATH` / `unix://PATH` for the Datadog Agent's socket.
    /// An address that does not resolve stops the worker at start.
    pub fn statsd_address(mut self, addr: impl Into<String>) -> Self {
        self.settings.statsd_address = addr.into();
        self.settings.mark("statsd_address", Source::App);
        self
    }

    /// What StatsD metric names start with, before a `.` (default `faust`:
    /// `faust.events_in_total`; empty: nothing).
    pub fn statsd_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.statsd_prefix = prefix.into();
        self.settings.mark("statsd_prefix", Source::App);
        self
    }

    /// Whether StatsD lines carry the metrics' labels as DogStatsD tags
    /// (default on: `|#topic:orders,partition:0`). Off for a plain StatsD
    /// server, which reads no tags: the series of one metric are then
    /// summed, and histograms go as `|h` instead of distributions (`|d`).
    pub fn statsd_tags(mut self, on: bool) -> Self {
        self.settings.statsd_tags = on;
        self.settings.mark("statsd_tags", Source::App);
        self
    }

    /// RocksDB tuning: the block cache and memtable budget every partition
    /// shares, compression, open files.
    ///
    /// ```
    /// use faust::App;
    /// use faust::config::RocksDbSettings;
    /// let mut rocks = RocksDbSettings::default();
    /// rocks.block_cache = 256 << 20;
    /// rocks.compression = "zstd".into();
    /// let app = App::new("word-count").store("rocksdb://data").rocksdb(rocks);
    /// assert_eq!(app.settings().rocksdb.block_cache, 256 << 20);
    /// ```
    pub fn rocksdb(mut self, settings: config::RocksDbSettings) -> Self {
        self.settings.rocksdb = settings;
        for key in [
            "rocksdb_block_cache",
            "rocksdb_write_buffer",
            "rocksdb_compression",
            "rocksdb_max_open_files",
        ] {
            self.settings.mark(key, Source::App);
        }
        self
    }

    /// Sets a librdkafka property of the consumer, e.g.
    /// `.consumer_config("fetch.min.bytes", 65536)`. It goes on top of the
    /// transport's defaults; the config file's `[consumer]` table and
    /// `FAUST_CONSUMER__*` variables override it property by property.
    ///
    /// ```
    /// use faust::App;
    /// let app = App::new("orders-app")
    ///     .consumer_config("fetch.min.bytes", 65536)
    ///     .consumer_config("enable.partition.eof", false);
    /// assert_eq!(app.settings().consumer["fetch.min.bytes"], "65536");
    /// ```
    pub fn consumer_config(mut self, key: impl Into<String>, value: impl fmt::Display) -> Self {
        self.settings.set_consumer(key.into(), value.to_string());
        self
    }

    /// Sets a librdkafka property of the producer, e.g.
    /// `.producer_config("linger.ms", 5)`; as
    /// [`consumer_config`](Self::consumer_config), overridden by the file's
    /// `[producer]` table and `FAUST_PRODUCER__*` variables.
    pub fn producer_config(mut self, key: impl Into<String>, value: impl fmt::Display) -> Self {
        self.settings.set_producer(key.into(), value.to_string());
        self
    }

    /// Sets a librdkafka property of the admin client (topic creation),
    /// e.g. `.admin_config("request.timeout.ms", 10000)`; as
    /// [`consumer_config`](Self::consumer_config), overridden by the file's
    /// `[admin]` table and `FAUST_ADMIN__*` variables.
    pub fn admin_config(mut self, key: impl Into<String>, value: impl fmt::Display) -> Self {
        self.settings.set_admin(key.into(), value.to_string());
        self
    }

    /// A TOML config file read at start, over this builder's settings and
    /// under the environment's ([`config`] lists its keys). It must exist.
    /// `FAUST_CONFIG` or `--config` name another file instead; without any
    /// of them `./faust.toml` is read if it exists.
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.config_file = Some(path.into());
        self.settings.mark("config_file", Source::App);
        self
    }

    /// Registers a custom codec under `name`, for topics' `key_serializer`
    /// / `value_serializer` and records' `serializer`.
    pub fn codec(mut self, name: impl Into<String>, codec: impl Codec) -> Self {
        self.codecs.register(name, codec);
        self
    }

    /// Adds an agent definition (`my_agent::AGENT`).
    pub fn agent(mut self, def: &'static AgentDef) -> Self {
        self.agents.push(def);
        self
    }

    /// Adds a task definition (`my_task::TASK`).
    pub fn task(mut self, def: &'static TaskDef) -> Self {
        self.tasks.push(def);
        self
    }

    /// Adds a timer definition (`my_timer::TIMER`).
    pub fn timer(mut self, def: &'static TimerDef) -> Self {
        self.timers.push(def);
        self
    }

    /// Adds a command definition (`my_command::COMMAND`): a subcommand of
    /// the program's command line.
    pub fn command(mut self, def: &'static CommandDef) -> Self {
        self.commands.push(def);
        self
    }

    /// Adds a page definition (`my_page::PAGE`): a route of the worker's
    /// web endpoint.
    pub fn page(mut self, def: &'static PageDef) -> Self {
        self.pages.push(def);
        self
    }

    /// Adds a topic declaration.
    pub fn topic<K, V>(mut self, topic: &'static crate::topic::Topic<K, V>) -> Self {
        self.topics.push(topic.def());
        self
    }

    /// Adds a table declaration (`&MY_TABLE`), of any kind.
    pub fn table(mut self, table: &'static impl crate::table::AnyTable) -> Self {
        self.tables.push(table.def());
        self
    }

    /// Adds a [`Sensor`](crate::sensor::Sensor): called at each step of the
    /// worker's work (records in, events handled, sends, table reads and
    /// writes, commits, errors, rebalances). Several may be added; each
    /// hears every step. See [`sensor`](crate::sensor).
    ///
    /// ```
    /// use faust::sensor::{MessageIn, Sensor};
    ///
    /// struct Reads;
    /// impl Sensor for Reads {
    ///     fn on_message_in(&self, m: &MessageIn<'_>) {
    ///         println!("{}[{}]@{}", m.topic, m.partition, m.offset);
    ///     }
    /// }
    /// let app = faust::App::new("orders-app").sensor(Reads);
    /// # let _ = app;
    /// ```
    pub fn sensor(mut self, sensor: impl crate::sensor::Sensor) -> Self {
        self.sensors.push(Arc::new(sensor));
        self
    }

    /// Overrides the options of the agent named `name`.
    pub fn configure_agent(mut self, name: impl Into<String>, options: AgentOptions) -> Self {
        self.agent_options.insert(name.into(), options);
        self
    }

    /// The tables this app holds.
    pub fn table_defs(&self) -> &[&'static TableDef] {
        &self.tables
    }

    /// Names of the agents this app runs.
    pub fn agent_names(&self) -> Vec<&'static str> {
        self.agents.iter().map(|a| a.name).collect()
    }

    /// The agents this app runs.
    pub fn agents(&self) -> &[&'static AgentDef] {
        &self.agents
    }

    /// Checks the definitions: names unique per kind, topics declared once.
    pub(crate) fn check(&self) -> Result<()> {
        check_unique("agent", self.agents.iter().map(|a| (a.name, a.location)))?;
        check_unique("task", self.tasks.iter().map(|t| (t.name, t.location)))?;
        check_unique("timer", self.timers.iter().map(|t| (t.name, t.location)))?;
        check_unique(
            "table",
            self.tables
                .iter()
                .filter_map(|t| t.location.map(|l| (t.name, l))),
        )?;
        check_unique(
            "topic",
            self.topics
                .iter()
                .filter_map(|t| t.location.map(|l| (t.name, l))),
        )?;
        crate::web::page::check(&self.pages)?;
        for timer in &self.timers {
            crate::time::cron::CronSchedule::of(timer)?;
        }
        for name in self.agent_options.keys() {
            if !self.agents.iter().any(|a| a.name == name) {
                return Err(Error::config(format!(
                    "configure_agent(\"{name}\"): no agent has that name; agents are: {}",
                    self.agent_names().join(", ")
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn topic_settings(&self) -> HashMap<String, TopicSettings> {
        let mut map = HashMap::new();
        for def in &self.topics {
            map.insert(def.name.to_owned(), TopicSettings::from_def(def));
        }
        map
    }
}

/// Fails on two definitions of one `kind` with the same name (the same
/// definition listed twice is fine).
pub(crate) fn check_unique(
    kind: &'static str,
    items: impl Iterator<Item = (&'static str, Location)>,
) -> Result<()> {
    let mut seen: HashMap<&'static str, Location> = HashMap::new();
    for (name, location) in items {
        if let Some(first) = seen.insert(name, location) {
            if first == location {
                continue; // the same definition listed twice
            }
            return Err(Error::Duplicate {
                kind,
                name: name.to_owned(),
                first,
                second: location,
            });
        }
    }
    Ok(())
}

/// Codec and partition settings of one topic.
#[derive(Clone, Debug, Default)]
pub(crate) struct TopicSettings {
    pub(crate) partitions: Option<u32>,
    pub(crate) key_serializer: Option<&'static str>,
    pub(crate) value_serializer: Option<&'static str>,
}

impl TopicSettings {
    pub(crate) fn from_def(def: &TopicDef) -> Self {
        TopicSettings {
            partitions: def.partitions,
            key_serializer: def.key_serializer,
            value_serializer: def.value_serializer,
        }
    }
}

/// The shared state of a running app: what every agent, task and timer
/// reaches through the [`context`](crate::context).
#[derive(Debug)]
pub(crate) struct AppCore {
    /// The app id (the consumer group, the prefix of the topics it owns).
    pub(crate) app_id: Arc<str>,
    pub(crate) codecs: Codecs,
    pub(crate) producer: Arc<dyn Producer>,
    pub(crate) clock: Clock,
    pub(crate) topics: HashMap<String, TopicSettings>,
    pub(crate) tables: Arc<crate::table::Tables>,
    /// Events an agent may have handled whose output the broker has not
    /// taken yet before it waits for the broker:
    /// [`AHEAD_PER_QUEUED`](crate::worker::engine::AHEAD_PER_QUEUED) ×
    /// `queue_capacity`.
    pub(crate) max_ahead: usize,
    /// Set while this worker is its group's leader (see
    /// [`Leadership`](crate::transport::Leadership)).
    pub(crate) leader: Arc<std::sync::atomic::AtomicBool>,
    /// The transport, for what is set up on first use (the reply topic).
    pub(crate) transport: Arc<dyn crate::transport::Transport>,
    /// Replication factor of the topics the app creates.
    pub(crate) replication: i16,
    /// The asks waiting for their replies.
    pub(crate) replies: Arc<crate::agent::rpc::Replies>,
    /// The `origin_headers` setting: outputs carry `faust.source`.
    pub(crate) origin_headers: bool,
    /// Under `processing_guarantee = "exactly_once"`: the transactional
    /// cycle; `producer` then stages records for it.
    pub(crate) transactions: Option<Arc<crate::worker::transaction::Transactions>>,
    /// The staging producer, when `transactions` is set.
    pub(crate) staging: Option<Arc<crate::worker::transaction::Staging>>,
    /// The app's sensors.
    pub(crate) sensors: crate::sensor::Sensors,
}

impl AppCore {
    pub(crate) fn topic(&self, name: &str) -> TopicSettings {
        self.topics.get(name).cloned().unwrap_or_default()
    }

    /// Sends `record` for the event whose outputs `pending` collects:
    /// under transactions it waits there until the event is done.
    pub(crate) fn send_for(
        &self,
        pending: &crate::context::Pending,
        record: crate::transport::OutgoingRecord,
    ) -> crate::transport::Delivery {
        match &self.staging {
            Some(staging) => staging.stage(Some(pending), record, None),
            None => self.producer.send(record),
        }
    }

    /// Sends `record`, calling `then` with where it landed once the broker
    /// has it (before the delivery resolves).
    pub(crate) fn send_then(
        &self,
        record: crate::transport::OutgoingRecord,
        then: impl FnOnce(&crate::transport::RecordMetadata) + Send + 'static,
    ) -> crate::transport::Delivery {
        if let Some(staging) = &self.staging {
            return staging.stage(None, record, Some(Box::new(then)));
        }
        let delivery = self.producer.send(record);
        crate::transport::Delivery::pending(async move {
            let result = delivery.await;
            if let Ok(meta) = &result {
                then(meta);
            }
            result
        })
    }

    /// Whether this worker is its group's leader now.
    pub(crate) fn is_leader(&self) -> bool {
        self.leader.load(std::sync::atomic::Ordering::Acquire)
    }
}
