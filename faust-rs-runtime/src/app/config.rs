//! Settings: every knob of an app, and where each value comes from.
//! The reference below is also `docs/configuration.md`.
//!
#![doc = include_str!("../../../docs/configuration.md")]

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// The file read when no other is named, if it exists: `./faust.toml`.
pub const DEFAULT_CONFIG_FILE: &str = "faust.toml";

/// Every setting of an app. Built from defaults, then the [`App`](crate::App)
/// builder, then a config file, the environment and the command line (see
/// the [module](self) for the layers and every option).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Settings {
    /// Broker URL: `embedded://`, `memory://` or `kafka://host:port[,host:port]`.
    pub broker: String,
    /// Partitions of topics the app creates (Faust's `topic_partitions`).
    pub topic_partitions: u32,
    /// Replication factor of topics the app creates.
    pub topic_replication_factor: i16,
    /// How often finished offsets are committed.
    pub commit_interval: Duration,
    /// Records buffered per agent before reading pauses; twice as many
    /// events an agent may run ahead of the broker (handled, output not yet
    /// taken).
    pub queue_capacity: usize,
    /// Where tables keep their data: `memory://` or `rocksdb://DIR`
    /// (Faust's `store`); a table's own `store` option wins.
    pub store: String,
    /// Warm copies kept of table partitions this worker does not own
    /// (Faust's `table_standby_replicas`).
    pub standby_replicas: u32,
    /// How long reading a changelog (a table's recovery, standby replicas,
    /// the CLI's `table get`) waits with no record before its end, before it
    /// fails with an error naming the partitions left (default 60 s).
    pub changelog_stall_timeout: Duration,
    /// Exact table state on any broker (default `true`): each changelog
    /// record carries the input event that wrote it, a table partition
    /// keeps the highest one it applied, replayed events at or below it
    /// leave the table alone, and recovery ignores records of events past
    /// the committed input offset. `false`: at-least-once tables.
    pub exact_state: bool,
    /// Outputs carry the `faust.source` header (default `true`).
    pub origin_headers: bool,
    /// At least once (the default) or exactly once through Kafka
    /// transactions (Faust's `processing_guarantee`).
    pub processing_guarantee: ProcessingGuarantee,
    /// The transactional id under `exactly_once`; empty: `<app id>-<host
    /// name>`. It must stay the same across a worker's restarts (so a
    /// restart fences what the crashed one left open) and differ between
    /// workers (each fences the other otherwise).
    pub transactional_id: String,
    /// Whether the worker serves its web endpoint (Faust's `web_enabled`).
    pub web_enabled: bool,
    /// The web endpoint's address (Faust's `web_bind`), loopback by
    /// default.
    pub web_bind: String,
    /// The web endpoint's port (Faust's `web_port`); 0 picks a free one.
    pub web_port: u16,
    /// Where metrics go: Prometheus (`/metrics`), StatsD, or nowhere.
    pub metrics_exporter: MetricsExporter,
    /// The StatsD agent's address: `host:port` (UDP), `unixgram://PATH` or
    /// `unix://PATH`.
    pub statsd_address: String,
    /// What StatsD metric names start with, before a `.`; empty: nothing.
    pub statsd_prefix: String,
    /// StatsD lines carry the metrics' labels as DogStatsD tags.
    pub statsd_tags: bool,
    /// RocksDB tuning, for tables stored in RocksDB.
    pub rocksdb: RocksDbSettings,
    /// Raw librdkafka properties for the consumer, e.g. `fetch.min.bytes`.
    pub consumer: BTreeMap<String, String>,
    /// Raw librdkafka properties for the producer, e.g. `linger.ms`.
    pub producer: BTreeMap<String, String>,
    /// Raw librdkafka properties for the admin client.
    pub admin: BTreeMap<String, String>,
    /// The TOML file: the one named by [`App::config_file`](crate::App::config_file)
    /// before [`resolve`], the one that was read after it (`None`: none).
    pub config_file: Option<PathBuf>,
    sources: Sources,
}

/// The layer a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// The built-in default.
    Default,
    /// The [`App`](crate::App) builder.
    App,
    /// The TOML file at this path.
    File(PathBuf),
    /// The environment variable of this name.
    Env(String),
    /// The command-line flag of this name, e.g. `--broker`.
    Cli(String),
}

/// What the command line sets: the top layer of [`resolve`].
///
/// Built by the CLI from `--broker` and `--config`; tests build one by hand:
///
/// ```
/// use faust_rs_runtime::app::config::CliOverrides;
/// let mut cli = CliOverrides::default();
/// cli.broker = Some("memory://".into());
/// # let _ = cli;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CliOverrides {
    /// `--broker URL`.
    pub broker: Option<String>,
    /// `--config FILE`: the TOML file to read (wins over `FAUST_CONFIG`,
    /// `App::config_file` and `./faust.toml`).
    pub config: Option<PathBuf>,
}

/// Stacks the TOML file, the environment and the command line on `app`
/// (defaults plus the [`App`](crate::App) builder) and returns the settings
/// the worker runs with. This is what the CLI calls at start.
///
/// * `env`: the environment, e.g. `std::env::vars()`; only `FAUST_*`
///   variables are read. Tests pass a list instead of touching the process.
/// * `cli`: the command line's overrides.
///
/// The file is `cli.config`, else `FAUST_CONFIG`, else `app.config_file`,
/// else `./faust.toml` if that exists. The first named file must exist.
///
/// # Errors
///
/// [`Error::Config`] when the file cannot be read or parsed, has an unknown
/// key, or a value anywhere does not parse; the message says which setting,
/// where it came from, and what to write instead.
pub fn resolve(
    app: &Settings,
    env: impl IntoIterator<Item = (String, String)>,
    cli: &CliOverrides,
) -> Result<Settings> {
    let env: Vec<(String, String)> = env.into_iter().collect();
    let mut settings = app.clone();
    let choice = choose_config_file(app, &env, cli, |p| p.is_file())?;
    if let Some((path, named_by)) = choice {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::config(format!(
                "cannot read the config file `{}` (named by {named_by}): {e}; \
                 fix the path or drop the setting",
                path.display()
            ))
        })?;
        settings.layer_toml(&text, &path)?;
        settings.config_file = Some(path);
        settings.sources.set("config_file", named_by);
    }
    settings.layer_env(env)?;
    settings.layer_cli(cli)?;
    Ok(settings)
}

/// True when `key` names a client property whose value must not be printed:
/// its name contains `password`, `secret`, `sasl.oauthbearer` or `ssl.key`
/// (any case).
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "sasl.oauthbearer", "ssl.key"]
        .iter()
        .any(|word| key.contains(word))
}

impl Settings {
    /// The layer the value of `key` came from: `broker`, `topic_partitions`,
    /// `topic_replication_factor`, `commit_interval`, `queue_capacity`,
    /// `config_file`, or a client property as `consumer.fetch.min.bytes`
    /// (likewise `producer.…`, `admin.…`). Unknown keys and settings never
    /// set are [`Source::Default`].
    pub fn source(&self, key: &str) -> &Source {
        self.sources.get(key)
    }

    /// Every setting as `(key, value, source)` in display order, values
    /// written as TOML literals and secrets masked (`"***"`). Keys are as in
    /// [`source`](Self::source).
    pub fn entries(&self) -> Vec<(String, String, &Source)> {
        let mut out = Vec::new();
        for scalar in Scalar::ALL {
            out.push((
                scalar.key().to_owned(),
                scalar.toml_value(self),
                self.source(scalar.key()),
            ));
        }
        for client in Client::ALL {
            for (name, value) in client.map(self) {
                let key = format!("{}.{name}", client.name());
                let shown = if is_secret(name) { "***" } else { value };
                out.push((key.clone(), format!("{shown:?}"), self.source(&key)));
            }
        }
        out
    }

    /// Layers the TOML file at `path` on these settings.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the file cannot be read, or as
    /// [`layer_toml`](Self::layer_toml).
    pub fn layer_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!(
                "cannot read the config file `{}`: {e}",
                path.display()
            ))
        })?;
        self.layer_toml(&text, path)
    }

    /// Layers TOML text on these settings; `path` names it in messages and
    /// in [`Source::File`].
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming every problem: text that is not TOML, an
    /// unknown top-level key, a value of the wrong type or out of range.
    /// Nothing is changed when there is an error.
    pub fn layer_toml(&mut self, text: &str, path: &Path) -> Result<()> {
        let file = path.display();
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            Error::config(format!(
                "{file} is not valid TOML: {}",
                e.to_string().trim_end()
            ))
        })?;
        let mut next = self.clone();
        let mut problems = Vec::new();
        for (key, value) in &table {
            if let Some(scalar) = Scalar::from_key(key) {
                let parsed = scalar
                    .toml_text(value)
                    .and_then(|raw| scalar.set(&mut next, &raw).map_err(|()| value.to_string()));
                match parsed {
                    Ok(()) => next.sources.set(key, Source::File(path.to_owned())),
                    Err(shown) => problems.push(format!(
                        "{file}: {key} = {shown}: expected {}; write e.g. {key} = {}",
                        scalar.expects(),
                        scalar.toml_example()
                    )),
                }
            } else if let Some(client) = Client::from_name(key) {
                let Some(props) = value.as_table() else {
                    problems.push(format!(
                        "{file}: `{key}` must be a table of librdkafka properties, e.g.\n    \
                         [{key}]\n    {}",
                        client.example_toml()
                    ));
                    continue;
                };
                let mut flat = Vec::new();
                flatten(props, String::new(), &mut flat);
                for (name, value) in flat {
                    match property_text(value) {
                        Some(text) => {
                            next.set_property(client, name, text, Source::File(path.to_owned()))
                        }
                        None => problems.push(format!(
                            "{file}: [{key}] {name} is {} {}; librdkafka properties are \
                             strings, numbers or booleans (write a list as one string: \"a,b\")",
                            article(value.type_str()),
                            value.type_str()
                        )),
                    }
                }
            } else {
                problems.push(format!(
                    "{file}: unknown key `{key}`; the known keys are {}",
                    known_toml_keys()
                ));
            }
        }
        if problems.is_empty() {
            *self = next;
            Ok(())
        } else {
            Err(combine(problems))
        }
    }

    /// Layers `FAUST_*` environment variables on these settings (other
    /// names are skipped). Pass `std::env::vars()` or, in tests, a list.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming every variable whose value does not parse.
    /// Nothing is changed when there is an error.
    pub fn layer_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) -> Result<()> {
        let mut vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with("FAUST_"))
            .collect();
        vars.sort();
        let mut next = self.clone();
        let mut problems = Vec::new();
        for (name, value) in vars {
            if let Some(scalar) = Scalar::ALL.into_iter().find(|s| s.env() == name) {
                match scalar.set(&mut next, &value) {
                    Ok(()) => next.sources.set(scalar.key(), Source::Env(name)),
                    Err(()) => problems.push(format!(
                        "{name}={value:?}: expected {}; set e.g. {name}={}",
                        scalar.expects(),
                        scalar.example()
                    )),
                }
            } else if let Some((client, rest)) = Client::from_env(&name) {
                if rest.is_empty() || rest.starts_with('_') || rest.ends_with('_') {
                    problems.push(format!(
                        "{name} names no librdkafka property; write the property in capitals \
                         with `_` for `.`, e.g. {}",
                        client.example_env()
                    ));
                    continue;
                }
                let property = rest.to_ascii_lowercase().replace('_', ".");
                next.set_property(client, property, value, Source::Env(name));
            } else if !OTHER_ENV.contains(&name.as_str()) {
                let hint = if Client::ALL
                    .iter()
                    .any(|c| name.starts_with(&c.env_prefix()[..c.env_prefix().len() - 1]))
                {
                    " (a client property takes a double underscore: \
                     FAUST_CONSUMER__FETCH_MIN_BYTES)"
                } else {
                    ""
                };
                tracing::warn!(
                    "ignoring unknown environment variable {name}{hint}; the known ones are {}",
                    known_env()
                );
            }
        }
        if problems.is_empty() {
            *self = next;
            Ok(())
        } else {
            Err(combine(problems))
        }
    }

    /// Layers the command line's overrides on these settings.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `--broker` is empty.
    pub fn layer_cli(&mut self, cli: &CliOverrides) -> Result<()> {
        if let Some(url) = &cli.broker {
            if Scalar::Broker.set(self, url).is_err() {
                return Err(Error::config(format!(
                    "--broker {url:?}: expected {}; pass e.g. --broker {}",
                    Scalar::Broker.expects(),
                    Scalar::Broker.example()
                )));
            }
            self.sources.set("broker", Source::Cli("--broker".into()));
        }
        Ok(())
    }

    /// Records that `key` (as in [`source`](Self::source)) was set by `source`.
    pub(crate) fn mark(&mut self, key: &str, source: Source) {
        self.sources.set(key, source);
    }

    /// Sets a consumer property from the `App` builder.
    pub(crate) fn set_consumer(&mut self, key: String, value: String) {
        self.set_property(Client::Consumer, key, value, Source::App);
    }

    /// Sets a producer property from the `App` builder.
    pub(crate) fn set_producer(&mut self, key: String, value: String) {
        self.set_property(Client::Producer, key, value, Source::App);
    }

    /// Sets an admin-client property from the `App` builder.
    pub(crate) fn set_admin(&mut self, key: String, value: String) {
        self.set_property(Client::Admin, key, value, Source::App);
    }

    fn set_property(&mut self, client: Client, key: String, value: String, source: Source) {
        self.sources
            .set(&format!("{}.{key}", client.name()), source);
        client.map_mut(self).insert(key, value);
    }
}

/// What a worker promises about its outputs after a crash (Faust's
/// `processing_guarantee`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessingGuarantee {
    /// Every input is handled at least once; after a crash some outputs
    /// are written again (tables stay exact under `exact_state`).
    #[default]
    AtLeastOnce,
    /// Outputs, changelog records and input offsets are written in one
    /// Kafka transaction: `read_committed` readers see each input's
    /// outputs exactly once. Needs a broker with transactions.
    ExactlyOnce,
}

impl ProcessingGuarantee {
    /// The setting's value: `at_least_once` or `exactly_once`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingGuarantee::AtLeastOnce => "at_least_once",
            ProcessingGuarantee::ExactlyOnce => "exactly_once",
        }
    }
}

/// Where the worker's metrics go (the `metrics_exporter` setting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricsExporter {
    /// Kept for the web endpoint's `/metrics`, in Prometheus' text format.
    #[default]
    Prometheus,
    /// Sent to a StatsD agent at `statsd_address` (DogStatsD tags unless
    /// `statsd_tags = false`); `/metrics` answers too while the web
    /// endpoint is on.
    Statsd,
    /// Not kept anywhere.
    None,
}

impl MetricsExporter {
    /// The setting's value: `prometheus`, `statsd` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricsExporter::Prometheus => "prometheus",
            MetricsExporter::Statsd => "statsd",
            MetricsExporter::None => "none",
        }
    }
}

impl Settings {
    /// The transactional id under `exactly_once`: the setting, or
    /// `<app_id>-<host name>`.
    pub(crate) fn transactional_id_for(&self, app_id: &str) -> String {
        if !self.transactional_id.is_empty() {
            return self.transactional_id.clone();
        }
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "worker".to_owned());
        format!("{app_id}-{host}")
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            broker: "embedded://".to_owned(),
            topic_partitions: 8,
            topic_replication_factor: 1,
            commit_interval: Duration::from_millis(2800),
            queue_capacity: 4096,
            store: "memory://".to_owned(),
            standby_replicas: 0,
            changelog_stall_timeout: Duration::from_secs(60),
            exact_state: true,
            origin_headers: true,
            processing_guarantee: ProcessingGuarantee::AtLeastOnce,
            transactional_id: String::new(),
            web_enabled: true,
            web_bind: "127.0.0.1".to_owned(),
            web_port: 6066,
            metrics_exporter: MetricsExporter::Prometheus,
            statsd_address: "127.0.0.1:8125".to_owned(),
            statsd_prefix: "faust".to_owned(),
            statsd_tags: true,
            rocksdb: RocksDbSettings::default(),
            consumer: BTreeMap::new(),
            producer: BTreeMap::new(),
            admin: BTreeMap::new(),
            config_file: None,
            sources: Sources::default(),
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("broker", &self.broker)
            .field("topic_partitions", &self.topic_partitions)
            .field("topic_replication_factor", &self.topic_replication_factor)
            .field("commit_interval", &self.commit_interval)
            .field("queue_capacity", &self.queue_capacity)
            .field("store", &self.store)
            .field("standby_replicas", &self.standby_replicas)
            .field("changelog_stall_timeout", &self.changelog_stall_timeout)
            .field("exact_state", &self.exact_state)
            .field("origin_headers", &self.origin_headers)
            .field("processing_guarantee", &self.processing_guarantee)
            .field("transactional_id", &self.transactional_id)
            .field("web_enabled", &self.web_enabled)
            .field("web_bind", &self.web_bind)
            .field("web_port", &self.web_port)
            .field("metrics_exporter", &self.metrics_exporter)
            .field("statsd_address", &self.statsd_address)
            .field("statsd_prefix", &self.statsd_prefix)
            .field("statsd_tags", &self.statsd_tags)
            .field("rocksdb", &self.rocksdb)
            .field("consumer", &Masked(&self.consumer))
            .field("producer", &Masked(&self.producer))
            .field("admin", &Masked(&self.admin))
            .field("config_file", &self.config_file)
            .finish()
    }
}

/// A TOML file with the source of each value as a comment; secrets masked.
impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.config_file {
            writeln!(
                f,
                "# config file: {} ({})",
                path.display(),
                self.source("config_file")
            )?;
        }
        let mut section = "";
        for (key, value, source) in self.entries() {
            let (table, name) = match Client::ALL.iter().find_map(|c| {
                key.strip_prefix(c.name())
                    .and_then(|r| r.strip_prefix('.'))
                    .map(|r| (c.name(), r))
            }) {
                Some((table, name)) => (table, format!("{name:?}")),
                None => ("", key.clone()),
            };
            if table != section {
                writeln!(f, "\n[{table}]")?;
                section = table;
            }
            writeln!(f, "{name} = {value}  # {source}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::App => f.write_str("App builder"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(name) => write!(f, "environment {name}"),
            Source::Cli(flag) => write!(f, "command line {flag}"),
        }
    }
}

/// Variables that are read elsewhere: not settings, not unknown.
const OTHER_ENV: [&str; 2] = ["FAUST_CONFIG", "FAUST_LOGLEVEL"];

/// Picks the TOML file and what named it: `--config`, `FAUST_CONFIG`,
/// `App::config_file`, then `./faust.toml` when `exists` says it does.
fn choose_config_file(
    app: &Settings,
    env: &[(String, String)],
    cli: &CliOverrides,
    exists: impl Fn(&Path) -> bool,
) -> Result<Option<(PathBuf, Source)>> {
    if let Some(path) = &cli.config {
        return Ok(Some((path.clone(), Source::Cli("--config".into()))));
    }
    if let Some((name, value)) = env.iter().rev().find(|(n, _)| n == "FAUST_CONFIG") {
        if value.is_empty() {
            return Err(Error::config(
                "FAUST_CONFIG is set but empty; set it to a TOML file's path or unset it",
            ));
        }
        return Ok(Some((PathBuf::from(value), Source::Env(name.clone()))));
    }
    if let Some(path) = &app.config_file {
        return Ok(Some((path.clone(), Source::App)));
    }
    let default = Path::new(DEFAULT_CONFIG_FILE);
    Ok(exists(default).then(|| (default.to_owned(), Source::Default)))
}

/// RocksDB tuning shared by every table partition stored in RocksDB: one
/// block cache and one memtable budget for the whole process.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RocksDbSettings {
    /// Bytes of block cache (reads), shared by all partitions.
    pub block_cache: u64,
    /// Bytes of memtables (writes) across all partitions.
    pub write_buffer: u64,
    /// Compression of data files: `none`, `lz4` or `zstd`.
    pub compression: String,
    /// Files each partition database keeps open; `-1`: all.
    pub max_open_files: i32,
}

impl Default for RocksDbSettings {
    fn default() -> Self {
        RocksDbSettings {
            block_cache: 64 << 20,
            write_buffer: 64 << 20,
            compression: "lz4".to_owned(),
            max_open_files: 256,
        }
    }
}

/// Parses a byte size: `67108864`, `64MiB`, `64 MB`, `1GiB`.
fn parse_bytes(raw: &str) -> Option<u64> {
    raw.parse::<u64>()
        .ok()
        .or_else(|| raw.parse::<bytesize::ByteSize>().ok().map(|b| b.as_u64()))
}

/// The settings that hold one value, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scalar {
    Broker,
    TopicPartitions,
    TopicReplicationFactor,
    CommitInterval,
    QueueCapacity,
    Store,
    StandbyReplicas,
    ChangelogStallTimeout,
    ExactState,
    OriginHeaders,
    ProcessingGuarantee,
    TransactionalId,
    WebEnabled,
    WebBind,
    WebPort,
    MetricsExporter,
    StatsdAddress,
    StatsdPrefix,
    StatsdTags,
    RocksDbBlockCache,
    RocksDbWriteBuffer,
    RocksDbCompression,
    RocksDbMaxOpenFiles,
}

impl Scalar {
    const ALL: [Scalar; 23] = [
        Scalar::Broker,
        Scalar::TopicPartitions,
        Scalar::TopicReplicationFactor,
        Scalar::CommitInterval,
        Scalar::QueueCapacity,
        Scalar::Store,
        Scalar::StandbyReplicas,
        Scalar::ChangelogStallTimeout,
        Scalar::ExactState,
        Scalar::OriginHeaders,
        Scalar::ProcessingGuarantee,
        Scalar::TransactionalId,
        Scalar::WebEnabled,
        Scalar::WebBind,
        Scalar::WebPort,
        Scalar::MetricsExporter,
        Scalar::StatsdAddress,
        Scalar::StatsdPrefix,
        Scalar::StatsdTags,
        Scalar::RocksDbBlockCache,
        Scalar::RocksDbWriteBuffer,
        Scalar::RocksDbCompression,
        Scalar::RocksDbMaxOpenFiles,
    ];

    fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }

    fn key(self) -> &'static str {
        match self {
            Scalar::Broker => "broker",
            Scalar::TopicPartitions => "topic_partitions",
            Scalar::TopicReplicationFactor => "topic_replication_factor",
            Scalar::CommitInterval => "commit_interval",
            Scalar::QueueCapacity => "queue_capacity",
            Scalar::Store => "store",
            Scalar::StandbyReplicas => "standby_replicas",
            Scalar::ChangelogStallTimeout => "changelog_stall_timeout",
            Scalar::ExactState => "exact_state",
            Scalar::OriginHeaders => "origin_headers",
            Scalar::ProcessingGuarantee => "processing_guarantee",
            Scalar::TransactionalId => "transactional_id",
            Scalar::WebEnabled => "web_enabled",
            Scalar::WebBind => "web_bind",
            Scalar::WebPort => "web_port",
            Scalar::MetricsExporter => "metrics_exporter",
            Scalar::StatsdAddress => "statsd_address",
            Scalar::StatsdPrefix => "statsd_prefix",
            Scalar::StatsdTags => "statsd_tags",
            Scalar::RocksDbBlockCache => "rocksdb_block_cache",
            Scalar::RocksDbWriteBuffer => "rocksdb_write_buffer",
            Scalar::RocksDbCompression => "rocksdb_compression",
            Scalar::RocksDbMaxOpenFiles => "rocksdb_max_open_files",
        }
    }

    fn env(self) -> &'static str {
        match self {
            Scalar::Broker => "FAUST_BROKER",
            Scalar::TopicPartitions => "FAUST_TOPIC_PARTITIONS",
            Scalar::TopicReplicationFactor => "FAUST_TOPIC_REPLICATION_FACTOR",
            Scalar::CommitInterval => "FAUST_COMMIT_INTERVAL",
            Scalar::QueueCapacity => "FAUST_QUEUE_CAPACITY",
            Scalar::Store => "FAUST_STORE",
            Scalar::StandbyReplicas => "FAUST_STANDBY_REPLICAS",
            Scalar::ChangelogStallTimeout => "FAUST_CHANGELOG_STALL_TIMEOUT",
            Scalar::ExactState => "FAUST_EXACT_STATE",
            Scalar::OriginHeaders => "FAUST_ORIGIN_HEADERS",
            Scalar::ProcessingGuarantee => "FAUST_PROCESSING_GUARANTEE",
            Scalar::TransactionalId => "FAUST_TRANSACTIONAL_ID",
            Scalar::WebEnabled => "FAUST_WEB_ENABLED",
            Scalar::WebBind => "FAUST_WEB_BIND",
            Scalar::WebPort => "FAUST_WEB_PORT",
            Scalar::MetricsExporter => "FAUST_METRICS_EXPORTER",
            Scalar::StatsdAddress => "FAUST_STATSD_ADDRESS",
            Scalar::StatsdPrefix => "FAUST_STATSD_PREFIX",
            Scalar::StatsdTags => "FAUST_STATSD_TAGS",
            Scalar::RocksDbBlockCache => "FAUST_ROCKSDB_BLOCK_CACHE",
            Scalar::RocksDbWriteBuffer => "FAUST_ROCKSDB_WRITE_BUFFER",
            Scalar::RocksDbCompression => "FAUST_ROCKSDB_COMPRESSION",
            Scalar::RocksDbMaxOpenFiles => "FAUST_ROCKSDB_MAX_OPEN_FILES",
        }
    }

    fn expects(self) -> &'static str {
        match self {
            Scalar::Broker => {
                "a broker URL such as kafka://localhost:9092, embedded:// or memory://"
            }
            Scalar::TopicPartitions | Scalar::QueueCapacity => "a whole number from 1 up",
            Scalar::TopicReplicationFactor => "a whole number from 1 to 32767",
            Scalar::CommitInterval | Scalar::ChangelogStallTimeout => {
                "a duration above zero such as 2.8s, 500ms or 1m"
            }
            Scalar::Store => "a store URL: memory:// or rocksdb://DIR",
            Scalar::StandbyReplicas => "a whole number from 0 up",
            Scalar::ExactState | Scalar::OriginHeaders => "true or false",
            Scalar::ProcessingGuarantee => "at_least_once or exactly_once",
            Scalar::TransactionalId => "a transactional id such as orders-worker-1",
            Scalar::WebEnabled => "true or false",
            Scalar::WebBind => "an IP address to listen on, such as 127.0.0.1",
            Scalar::WebPort => "a port number from 0 to 65535 (0: any free port)",
            Scalar::MetricsExporter => "prometheus, statsd or none",
            Scalar::StatsdAddress => {
                "a StatsD address such as 127.0.0.1:8125 or unixgram:///var/run/datadog/dsd.socket"
            }
            Scalar::StatsdPrefix => {
                "a metric name prefix of letters, digits, `_` and `.` such as faust (or empty)"
            }
            Scalar::StatsdTags => "true or false",
            Scalar::RocksDbBlockCache | Scalar::RocksDbWriteBuffer => {
                "a size in bytes such as 67108864, 64MiB or 1GiB"
            }
            Scalar::RocksDbCompression => "none, lz4 or zstd",
            Scalar::RocksDbMaxOpenFiles => "a whole number from 16 up, or -1 for no limit",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Scalar::Broker => "kafka://localhost:9092",
            Scalar::TopicPartitions => "8",
            Scalar::TopicReplicationFactor => "3",
            Scalar::CommitInterval => "2.8s",
            Scalar::QueueCapacity => "4096",
            Scalar::Store => "rocksdb://data",
            Scalar::StandbyReplicas => "1",
            Scalar::ChangelogStallTimeout => "2m",
            Scalar::ExactState | Scalar::OriginHeaders => "true",
            Scalar::ProcessingGuarantee => "exactly_once",
            Scalar::TransactionalId => "orders-worker-1",
            Scalar::WebEnabled => "true",
            Scalar::WebBind => "127.0.0.1",
            Scalar::WebPort => "6066",
            Scalar::MetricsExporter => "statsd",
            Scalar::StatsdAddress => "127.0.0.1:8125",
            Scalar::StatsdPrefix => "faust",
            Scalar::StatsdTags => "true",
            Scalar::RocksDbBlockCache | Scalar::RocksDbWriteBuffer => "64MiB",
            Scalar::RocksDbCompression => "lz4",
            Scalar::RocksDbMaxOpenFiles => "256",
        }
    }

    fn is_text(self) -> bool {
        matches!(
            self,
            Scalar::Broker
                | Scalar::CommitInterval
                | Scalar::ChangelogStallTimeout
                | Scalar::Store
                | Scalar::RocksDbBlockCache
                | Scalar::RocksDbWriteBuffer
                | Scalar::RocksDbCompression
                | Scalar::ProcessingGuarantee
                | Scalar::TransactionalId
                | Scalar::WebBind
                | Scalar::MetricsExporter
                | Scalar::StatsdAddress
                | Scalar::StatsdPrefix
        )
    }

    fn toml_example(self) -> String {
        if self.is_text() {
            format!("{:?}", self.example())
        } else {
            self.example().to_owned()
        }
    }

    /// The text of a TOML value, or the value as written when its type is
    /// wrong (a number where text is expected and vice versa; numbers may
    /// also be written as strings).
    fn toml_text(self, value: &toml::Value) -> Result<String, String> {
        match value {
            toml::Value::String(s) => Ok(s.clone()),
            toml::Value::Boolean(b)
                if matches!(
                    self,
                    Scalar::ExactState
                        | Scalar::OriginHeaders
                        | Scalar::WebEnabled
                        | Scalar::StatsdTags
                ) =>
            {
                Ok(b.to_string())
            }
            toml::Value::Integer(i)
                if !self.is_text()
                    || matches!(self, Scalar::RocksDbBlockCache | Scalar::RocksDbWriteBuffer) =>
            {
                Ok(i.to_string())
            }
            other => Err(other.to_string()),
        }
    }

    /// Parses `raw` into this setting of `settings`.
    fn set(self, settings: &mut Settings, raw: &str) -> Result<(), ()> {
        let raw = raw.trim();
        match self {
            Scalar::Broker if !raw.is_empty() => settings.broker = raw.to_owned(),
            Scalar::TopicPartitions => {
                settings.topic_partitions = raw.parse().ok().filter(|n| *n >= 1).ok_or(())?;
            }
            Scalar::TopicReplicationFactor => {
                settings.topic_replication_factor =
                    raw.parse().ok().filter(|n| *n >= 1).ok_or(())?;
            }
            Scalar::CommitInterval => {
                settings.commit_interval = humantime::parse_duration(raw)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or(())?;
            }
            Scalar::QueueCapacity => {
                settings.queue_capacity = raw.parse().ok().filter(|n| *n >= 1).ok_or(())?;
            }
            Scalar::Store => {
                crate::table::store::StoreKind::parse(raw, "app").map_err(|_| ())?;
                settings.store = raw.to_owned();
            }
            Scalar::StandbyReplicas => settings.standby_replicas = raw.parse().map_err(|_| ())?,
            Scalar::ChangelogStallTimeout => {
                settings.changelog_stall_timeout = humantime::parse_duration(raw)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or(())?;
            }
            Scalar::ExactState => settings.exact_state = raw.parse().map_err(|_| ())?,
            Scalar::OriginHeaders => settings.origin_headers = raw.parse().map_err(|_| ())?,
            Scalar::ProcessingGuarantee => {
                settings.processing_guarantee = match raw {
                    "at_least_once" => ProcessingGuarantee::AtLeastOnce,
                    "exactly_once" => ProcessingGuarantee::ExactlyOnce,
                    _ => return Err(()),
                }
            }
            Scalar::TransactionalId => settings.transactional_id = raw.to_owned(),
            Scalar::WebEnabled => settings.web_enabled = raw.parse().map_err(|_| ())?,
            Scalar::WebBind => {
                raw.parse::<std::net::IpAddr>().map_err(|_| ())?;
                settings.web_bind = raw.to_owned();
            }
            Scalar::WebPort => settings.web_port = raw.parse().map_err(|_| ())?,
            Scalar::MetricsExporter => {
                settings.metrics_exporter = match raw {
                    "prometheus" => MetricsExporter::Prometheus,
                    "statsd" => MetricsExporter::Statsd,
                    "none" => MetricsExporter::None,
                    _ => return Err(()),
                }
            }
            Scalar::StatsdAddress if !raw.is_empty() => settings.statsd_address = raw.to_owned(),
            Scalar::StatsdAddress => return Err(()),
            Scalar::StatsdPrefix => {
                let ok = raw
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                if !ok {
                    return Err(());
                }
                settings.statsd_prefix = raw.to_owned();
            }
            Scalar::StatsdTags => settings.statsd_tags = raw.parse().map_err(|_| ())?,
            Scalar::RocksDbBlockCache => {
                settings.rocksdb.block_cache = parse_bytes(raw).filter(|n| *n > 0).ok_or(())?;
            }
            Scalar::RocksDbWriteBuffer => {
                settings.rocksdb.write_buffer = parse_bytes(raw).filter(|n| *n > 0).ok_or(())?;
            }
            Scalar::RocksDbCompression => match raw {
                "none" | "lz4" | "zstd" => settings.rocksdb.compression = raw.to_owned(),
                _ => return Err(()),
            },
            Scalar::RocksDbMaxOpenFiles => {
                settings.rocksdb.max_open_files = raw
                    .parse()
                    .ok()
                    .filter(|n| *n == -1 || *n >= 16)
                    .ok_or(())?;
            }
            Scalar::Broker => return Err(()),
        }
        Ok(())
    }

    /// The current value as a TOML literal.
    fn toml_value(self, settings: &Settings) -> String {
        match self {
            Scalar::Broker => format!("{:?}", settings.broker),
            Scalar::TopicPartitions => settings.topic_partitions.to_string(),
            Scalar::TopicReplicationFactor => settings.topic_replication_factor.to_string(),
            Scalar::CommitInterval => {
                format!(
                    "\"{}\"",
                    humantime::format_duration(settings.commit_interval)
                )
            }
            Scalar::QueueCapacity => settings.queue_capacity.to_string(),
            Scalar::Store => format!("{:?}", settings.store),
            Scalar::StandbyReplicas => settings.standby_replicas.to_string(),
            Scalar::ChangelogStallTimeout => format!(
                "\"{}\"",
                humantime::format_duration(settings.changelog_stall_timeout)
            ),
            Scalar::ExactState => settings.exact_state.to_string(),
            Scalar::OriginHeaders => settings.origin_headers.to_string(),
            Scalar::ProcessingGuarantee => format!("{:?}", settings.processing_guarantee.as_str()),
            Scalar::TransactionalId => format!("{:?}", settings.transactional_id),
            Scalar::WebEnabled => settings.web_enabled.to_string(),
            Scalar::WebBind => format!("{:?}", settings.web_bind),
            Scalar::WebPort => settings.web_port.to_string(),
            Scalar::MetricsExporter => format!("{:?}", settings.metrics_exporter.as_str()),
            Scalar::StatsdAddress => format!("{:?}", settings.statsd_address),
            Scalar::StatsdPrefix => format!("{:?}", settings.statsd_prefix),
            Scalar::StatsdTags => settings.statsd_tags.to_string(),
            // Exact bytes: they read back as they were.
            Scalar::RocksDbBlockCache => settings.rocksdb.block_cache.to_string(),
            Scalar::RocksDbWriteBuffer => settings.rocksdb.write_buffer.to_string(),
            Scalar::RocksDbCompression => format!("{:?}", settings.rocksdb.compression),
            Scalar::RocksDbMaxOpenFiles => settings.rocksdb.max_open_files.to_string(),
        }
    }
}

/// The three librdkafka clients whose raw properties the settings carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    Consumer,
    Producer,
    Admin,
}

impl Client {
    const ALL: [Client; 3] = [Client::Consumer, Client::Producer, Client::Admin];

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// `FAUST_CONSUMER__FETCH_MIN_BYTES` → `(Consumer, "FETCH_MIN_BYTES")`.
    fn from_env(var: &str) -> Option<(Self, &str)> {
        Self::ALL
            .into_iter()
            .find_map(|c| var.strip_prefix(c.env_prefix()).map(|rest| (c, rest)))
    }

    fn name(self) -> &'static str {
        match self {
            Client::Consumer => "consumer",
            Client::Producer => "producer",
            Client::Admin => "admin",
        }
    }

    fn env_prefix(self) -> &'static str {
        match self {
            Client::Consumer => "FAUST_CONSUMER__",
            Client::Producer => "FAUST_PRODUCER__",
            Client::Admin => "FAUST_ADMIN__",
        }
    }

    fn example_env(self) -> &'static str {
        match self {
            Client::Consumer => "FAUST_CONSUMER__FETCH_MIN_BYTES=1 for fetch.min.bytes",
            Client::Producer => "FAUST_PRODUCER__LINGER_MS=5 for linger.ms",
            Client::Admin => "FAUST_ADMIN__REQUEST_TIMEOUT_MS=10000 for request.timeout.ms",
        }
    }

    fn example_toml(self) -> &'static str {
        match self {
            Client::Consumer => "fetch.min.bytes = 1",
            Client::Producer => "linger.ms = 5",
            Client::Admin => "request.timeout.ms = 10000",
        }
    }

    fn map(self, settings: &Settings) -> &BTreeMap<String, String> {
        match self {
            Client::Consumer => &settings.consumer,
            Client::Producer => &settings.producer,
            Client::Admin => &settings.admin,
        }
    }

    fn map_mut(self, settings: &mut Settings) -> &mut BTreeMap<String, String> {
        match self {
            Client::Consumer => &mut settings.consumer,
            Client::Producer => &mut settings.producer,
            Client::Admin => &mut settings.admin,
        }
    }
}

/// Where each setting came from; settings never set are defaults.
///
/// Two `Settings` with the same values are equal wherever the values came
/// from, so this compares equal to any other.
#[derive(Clone, Default)]
struct Sources(BTreeMap<String, Source>);

impl Sources {
    fn get(&self, key: &str) -> &Source {
        const DEFAULT: &Source = &Source::Default;
        self.0.get(key).unwrap_or(DEFAULT)
    }

    fn set(&mut self, key: &str, source: Source) {
        self.0.insert(key.to_owned(), source);
    }
}

impl PartialEq for Sources {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A property map that prints `***` for secret values.
struct Masked<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .map(|(k, v)| (k, if is_secret(k) { "***" } else { v.as_str() })),
            )
            .finish()
    }
}

/// Flattens nested tables into dotted names: TOML reads
/// `fetch.min.bytes = 1` as `fetch = { min = { bytes = 1 } }`.
fn flatten<'a>(table: &'a toml::Table, prefix: String, out: &mut Vec<(String, &'a toml::Value)>) {
    for (key, value) in table {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(inner, name, out),
            other => out.push((name, other)),
        }
    }
}

/// A property value as librdkafka text; `None` for arrays and dates.
fn property_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(x) => Some(x.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn known_toml_keys() -> String {
    let mut keys: Vec<&str> = Scalar::ALL.iter().map(|s| s.key()).collect();
    keys.extend(Client::ALL.iter().map(|c| c.name()));
    keys.join(", ")
}

fn known_env() -> String {
    let mut names: Vec<&str> = Scalar::ALL.iter().map(|s| s.env()).collect();
    names.extend(OTHER_ENV);
    names.extend(["FAUST_CONSUMER__*", "FAUST_PRODUCER__*", "FAUST_ADMIN__*"]);
    names.join(", ")
}

/// One problem as it is; several as a list, so each is seen at once.
fn combine(problems: Vec<String>) -> Error {
    if problems.len() == 1 {
        Error::config(problems.concat())
    } else {
        Error::config(format!(
            "{} problems:\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        ))
    }
}

#[cfg(test)]
mod tests {
    /// `docs/configuration.md` names every setting with its TOML key and
    /// environment variable, and every client default with its value.
    #[test]
    fn the_reference_page_lists_every_setting_and_client_default() {
        let page = include_str!("../../../docs/configuration.md");
        for scalar in Scalar::ALL {
            assert!(
                page.contains(&format!("`{}`", scalar.key())),
                "docs/configuration.md does not name the setting `{}`",
                scalar.key()
            );
            assert!(
                page.contains(&format!("`{}`", scalar.env())),
                "docs/configuration.md does not name {}",
                scalar.env()
            );
        }
        let defaults = crate::transport::kafka::CONSUMER_DEFAULTS
            .iter()
            .chain(crate::transport::kafka::PRODUCER_DEFAULTS);
        for (property, value) in defaults {
            assert!(
                page.contains(&format!("| `{property}` | `{value}` |")),
                "docs/configuration.md does not give the client default {property} = {value}"
            );
        }
    }

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// A config file under the system temp dir, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, text: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "faust-rs-config-{}-{name}.toml",
                std::process::id()
            ));
            std::fs::write(&path, text).expect("write temp config");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn cli(broker: Option<&str>, config: Option<&Path>) -> CliOverrides {
        CliOverrides {
            broker: broker.map(str::to_owned),
            config: config.map(Path::to_owned),
        }
    }

    fn message(result: Result<impl fmt::Debug>) -> String {
        result
            .expect_err("expected a configuration error")
            .to_string()
    }

    #[test]
    fn defaults_match_faust_and_come_from_default() {
        let s = Settings::default();
        assert_eq!(s.broker, "embedded://");
        assert_eq!(s.topic_partitions, 8);
        assert_eq!(s.topic_replication_factor, 1);
        assert_eq!(s.commit_interval, Duration::from_millis(2800));
        assert_eq!(s.queue_capacity, 4096);
        assert!(s.consumer.is_empty() && s.producer.is_empty() && s.admin.is_empty());
        assert_eq!(s.source("broker"), &Source::Default);
        assert_eq!(s.source("consumer.fetch.min.bytes"), &Source::Default);
    }

    #[test]
    fn each_layer_overrides_the_one_below() {
        let file = TempFile::new("layers", "broker = \"kafka://file:9092\"\n");
        let app = crate::App::bare("a").broker("kafka://app:9092");
        let with_file = cli(None, Some(&file.0));
        let vars = env(&[("FAUST_BROKER", "kafka://env:9092")]);

        let s = resolve(&Settings::default(), [], &cli(None, None)).unwrap();
        assert_eq!(
            (s.broker.as_str(), s.source("broker")),
            ("embedded://", &Source::Default)
        );

        let s = resolve(app.settings(), [], &cli(None, None)).unwrap();
        assert_eq!(
            (s.broker.as_str(), s.source("broker")),
            ("kafka://app:9092", &Source::App)
        );

        let s = resolve(app.settings(), [], &with_file).unwrap();
        assert_eq!(s.broker, "kafka://file:9092");
        assert_eq!(s.source("broker"), &Source::File(file.0.clone()));

        let s = resolve(app.settings(), vars.clone(), &with_file).unwrap();
        assert_eq!(s.broker, "kafka://env:9092");
        assert_eq!(s.source("broker"), &Source::Env("FAUST_BROKER".into()));

        let top = cli(Some("kafka://cli:9092"), Some(&file.0));
        let s = resolve(app.settings(), vars, &top).unwrap();
        assert_eq!(s.broker, "kafka://cli:9092");
        assert_eq!(s.source("broker"), &Source::Cli("--broker".into()));
    }

    #[test]
    fn layers_override_setting_by_setting_and_property_by_property() {
        let file = TempFile::new(
            "per-key",
            "topic_partitions = 12\n[consumer]\nfetch.min.bytes = 10\nfetch.wait.max.ms = 50\n",
        );
        let app = crate::App::bare("a")
            .queue_capacity(7)
            .consumer_config("fetch.min.bytes", 1)
            .consumer_config("client.rack", "r1");
        let vars = env(&[("FAUST_CONSUMER__FETCH_WAIT_MAX_MS", "99")]);
        let s = resolve(app.settings(), vars, &cli(None, Some(&file.0))).unwrap();
        assert_eq!(s.queue_capacity, 7);
        assert_eq!(s.topic_partitions, 12);
        assert_eq!(s.consumer["client.rack"], "r1");
        assert_eq!(s.consumer["fetch.min.bytes"], "10");
        assert_eq!(s.consumer["fetch.wait.max.ms"], "99");
        assert_eq!(s.source("consumer.client.rack"), &Source::App);
        assert_eq!(
            s.source("consumer.fetch.min.bytes"),
            &Source::File(file.0.clone())
        );
        assert_eq!(
            s.source("consumer.fetch.wait.max.ms"),
            &Source::Env("FAUST_CONSUMER__FETCH_WAIT_MAX_MS".into())
        );
        assert_eq!(s.config_file.as_deref(), Some(file.0.as_path()));
    }

    #[test]
    fn env_client_keys_map_to_dotted_lowercase_properties() {
        let mut s = Settings::default();
        s.layer_env(env(&[
            ("FAUST_CONSUMER__FETCH_MIN_BYTES", "1"),
            ("FAUST_PRODUCER__LINGER_MS", "5"),
            ("FAUST_ADMIN__REQUEST_TIMEOUT_MS", "10000"),
            ("FAUST_PRODUCER__SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", ""),
        ]))
        .unwrap();
        assert_eq!(
            s.consumer,
            BTreeMap::from([("fetch.min.bytes".into(), "1".into())])
        );
        assert_eq!(s.producer["linger.ms"], "5");
        assert_eq!(s.producer["ssl.endpoint.identification.algorithm"], "");
        assert_eq!(s.admin["request.timeout.ms"], "10000");
        assert_eq!(
            s.source("producer.linger.ms"),
            &Source::Env("FAUST_PRODUCER__LINGER_MS".into())
        );
    }

    #[test]
    fn env_scalars_parse_and_other_variables_are_ignored() {
        let mut s = Settings::default();
        s.layer_env(env(&[
            ("FAUST_BROKER", "kafka://k:9092"),
            ("FAUST_TOPIC_PARTITIONS", "3"),
            ("FAUST_TOPIC_REPLICATION_FACTOR", "2"),
            ("FAUST_COMMIT_INTERVAL", "2.8s"),
            ("FAUST_QUEUE_CAPACITY", "10"),
            ("FAUST_LOGLEVEL", "debug"),
            ("FAUST_SOMETHING_ELSE", "x"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        assert_eq!(s.broker, "kafka://k:9092");
        assert_eq!(s.topic_partitions, 3);
        assert_eq!(s.topic_replication_factor, 2);
        assert_eq!(s.commit_interval, Duration::from_millis(2800));
        assert_eq!(s.queue_capacity, 10);
    }

    #[test]
    fn bad_env_values_name_the_variable_the_value_and_the_fix() {
        let mut s = Settings::default();
        let msg = message(s.layer_env(env(&[("FAUST_TOPIC_PARTITIONS", "eight")])));
        assert_eq!(
            msg,
            "configuration error: FAUST_TOPIC_PARTITIONS=\"eight\": expected a whole number \
             from 1 up; set e.g. FAUST_TOPIC_PARTITIONS=8"
        );
        let msg = message(s.layer_env(env(&[("FAUST_COMMIT_INTERVAL", "0s")])));
        assert!(msg.contains("FAUST_COMMIT_INTERVAL=\"0s\""), "{msg}");
        assert!(msg.contains("e.g. FAUST_COMMIT_INTERVAL=2.8s"), "{msg}");
        let msg = message(s.layer_env(env(&[("FAUST_TOPIC_REPLICATION_FACTOR", "40000")])));
        assert!(msg.contains("from 1 to 32767"), "{msg}");
        let msg = message(s.layer_env(env(&[("FAUST_CONSUMER__", "1")])));
        assert!(
            msg.contains("FAUST_CONSUMER__ names no librdkafka property"),
            "{msg}"
        );
        assert!(msg.contains("FAUST_CONSUMER__FETCH_MIN_BYTES=1"), "{msg}");
        assert_eq!(s, Settings::default(), "a failed layer changes nothing");
    }

    #[test]
    fn every_bad_env_value_is_reported_at_once() {
        let mut s = Settings::default();
        let msg = message(s.layer_env(env(&[
            ("FAUST_QUEUE_CAPACITY", "0"),
            ("FAUST_BROKER", "kafka://fine:9092"),
            ("FAUST_COMMIT_INTERVAL", "soon"),
        ])));
        assert!(msg.contains("2 problems"), "{msg}");
        assert!(msg.contains("FAUST_QUEUE_CAPACITY=\"0\""), "{msg}");
        assert!(msg.contains("FAUST_COMMIT_INTERVAL=\"soon\""), "{msg}");
        assert_eq!(s.broker, "embedded://");
    }

    #[test]
    fn toml_takes_strings_integers_floats_booleans_and_dotted_or_quoted_names() {
        let mut s = Settings::default();
        let text = r#"
            broker = "kafka://k1:9092,k2:9092"
            topic_partitions = 12
            topic_replication_factor = 3
            commit_interval = "2.8s"
            queue_capacity = "100"

            [consumer]
            fetch.min.bytes = 65536
            "fetch.wait.max.ms" = 100
            enable.partition.eof = false

            [producer]
            linger.ms = 0.5
            compression.type = "lz4"

            [admin.request]
            timeout.ms = 10000
        "#;
        s.layer_toml(text, Path::new("app.toml")).unwrap();
        assert_eq!(s.broker, "kafka://k1:9092,k2:9092");
        assert_eq!(s.topic_partitions, 12);
        assert_eq!(s.topic_replication_factor, 3);
        assert_eq!(s.commit_interval, Duration::from_millis(2800));
        assert_eq!(s.queue_capacity, 100);
        assert_eq!(s.consumer["fetch.min.bytes"], "65536");
        assert_eq!(s.consumer["fetch.wait.max.ms"], "100");
        assert_eq!(s.consumer["enable.partition.eof"], "false");
        assert_eq!(s.producer["linger.ms"], "0.5");
        assert_eq!(s.producer["compression.type"], "lz4");
        assert_eq!(s.admin["request.timeout.ms"], "10000");
        assert_eq!(
            s.source("topic_partitions"),
            &Source::File("app.toml".into())
        );
    }

    #[test]
    fn unknown_toml_key_names_the_key_the_file_and_the_known_keys() {
        let mut s = Settings::default();
        let msg = message(s.layer_toml("brokers = \"kafka://k:9092\"", Path::new("faust.toml")));
        assert_eq!(
            msg,
            "configuration error: faust.toml: unknown key `brokers`; the known keys are broker, \
             topic_partitions, topic_replication_factor, commit_interval, queue_capacity, store, \
             standby_replicas, changelog_stall_timeout, exact_state, origin_headers, processing_guarantee, transactional_id, web_enabled, web_bind, web_port, metrics_exporter, statsd_address, statsd_prefix, statsd_tags, rocksdb_block_cache, rocksdb_write_buffer, rocksdb_compression, \
             rocksdb_max_open_files, consumer, producer, admin"
        );
    }

    #[test]
    fn toml_values_of_the_wrong_type_say_what_to_write() {
        let mut s = Settings::default();
        let msg = message(s.layer_toml("commit_interval = 3", Path::new("f.toml")));
        assert_eq!(
            msg,
            "configuration error: f.toml: commit_interval = 3: expected a duration above zero \
             such as 2.8s, 500ms or 1m; write e.g. commit_interval = \"2.8s\""
        );
        let msg = message(s.layer_toml("topic_partitions = \"many\"", Path::new("f.toml")));
        assert!(msg.contains("topic_partitions = \"many\""), "{msg}");
        assert!(msg.contains("write e.g. topic_partitions = 8"), "{msg}");
        let msg = message(s.layer_toml("topic_partitions = -1", Path::new("f.toml")));
        assert!(
            msg.contains("topic_partitions = -1: expected a whole number"),
            "{msg}"
        );
        let msg = message(s.layer_toml("broker = 9092", Path::new("f.toml")));
        assert!(
            msg.contains("write e.g. broker = \"kafka://localhost:9092\""),
            "{msg}"
        );
        let msg = message(s.layer_toml("consumer = 1", Path::new("f.toml")));
        assert!(msg.contains("`consumer` must be a table"), "{msg}");
        let msg = message(s.layer_toml(
            "[producer]\nbootstrap.servers = [\"a\"]",
            Path::new("f.toml"),
        ));
        assert!(
            msg.contains("[producer] bootstrap.servers is an array"),
            "{msg}"
        );
        let msg = message(s.layer_toml("broker = ", Path::new("f.toml")));
        assert!(
            msg.starts_with("configuration error: f.toml is not valid TOML"),
            "{msg}"
        );
        assert_eq!(s, Settings::default(), "a failed layer changes nothing");
    }

    #[test]
    fn secrets_are_masked_in_debug_and_display() {
        let app = crate::App::bare("a")
            .producer_config("sasl.password", "hunter2")
            .consumer_config("sasl.oauthbearer.client.secret", "s3cret")
            .admin_config("ssl.key.pem", "-----BEGIN KEY")
            .consumer_config("sasl.username", "alice");
        let s = app.settings();
        for shown in [format!("{s:?}"), s.to_string(), format!("{app:?}")] {
            for secret in ["hunter2", "s3cret", "BEGIN KEY"] {
                assert!(!shown.contains(secret), "{secret} leaked in {shown}");
            }
            assert!(shown.contains("***"), "{shown}");
            assert!(shown.contains("alice"), "non-secrets stay visible: {shown}");
        }
        assert!(is_secret("ssl.keystore.password"));
        assert!(is_secret("SASL.PASSWORD"));
        assert!(!is_secret("sasl.mechanism"));
    }

    #[test]
    fn display_is_toml_that_reads_back_with_sources_as_comments() {
        let app = crate::App::bare("a")
            .broker("kafka://k:9092")
            .commit_interval(Duration::from_millis(1500))
            .consumer_config("fetch.min.bytes", 1);
        let shown = app.settings().to_string();
        assert!(
            shown.contains("broker = \"kafka://k:9092\"  # App builder"),
            "{shown}"
        );
        assert!(
            shown.contains("queue_capacity = 4096  # default"),
            "{shown}"
        );
        assert!(
            shown.contains("[consumer]\n\"fetch.min.bytes\" = \"1\"  # App builder"),
            "{shown}"
        );
        let mut back = Settings::default();
        back.layer_toml(&shown, Path::new("shown.toml")).unwrap();
        assert_eq!(&back, app.settings());
    }

    #[test]
    fn config_file_is_cli_then_env_then_app_then_faust_toml_if_present() {
        let app = crate::App::bare("a").config_file("app.toml");
        let vars = env(&[("FAUST_CONFIG", "env.toml")]);
        let pick = |settings: &Settings, vars: &[(String, String)], cli: &CliOverrides, exists| {
            choose_config_file(settings, vars, cli, |_| exists).unwrap()
        };
        let from_cli = cli(None, Some(Path::new("cli.toml")));
        assert_eq!(
            pick(app.settings(), &vars, &from_cli, true),
            Some(("cli.toml".into(), Source::Cli("--config".into())))
        );
        assert_eq!(
            pick(app.settings(), &vars, &CliOverrides::default(), true),
            Some(("env.toml".into(), Source::Env("FAUST_CONFIG".into())))
        );
        assert_eq!(
            pick(app.settings(), &[], &CliOverrides::default(), true),
            Some(("app.toml".into(), Source::App))
        );
        let plain = Settings::default();
        assert_eq!(
            pick(&plain, &[], &CliOverrides::default(), true),
            Some(("faust.toml".into(), Source::Default))
        );
        assert_eq!(pick(&plain, &[], &CliOverrides::default(), false), None);
        let empty = env(&[("FAUST_CONFIG", "")]);
        let msg = message(choose_config_file(
            &plain,
            &empty,
            &CliOverrides::default(),
            |_| true,
        ));
        assert!(msg.contains("FAUST_CONFIG is set but empty"), "{msg}");
    }

    #[test]
    fn a_named_config_file_that_is_missing_is_an_error_naming_who_named_it() {
        let missing = std::env::temp_dir().join("faust-rs-no-such-config.toml");
        let vars = env(&[("FAUST_CONFIG", missing.to_str().unwrap())]);
        let msg = message(resolve(
            &Settings::default(),
            vars,
            &CliOverrides::default(),
        ));
        assert!(msg.contains("cannot read the config file"), "{msg}");
        assert!(msg.contains("faust-rs-no-such-config.toml"), "{msg}");
        assert!(msg.contains("named by environment FAUST_CONFIG"), "{msg}");
    }

    #[test]
    fn an_empty_broker_flag_is_refused() {
        let msg = message(resolve(&Settings::default(), [], &cli(Some(" "), None)));
        assert!(
            msg.contains("--broker \" \": expected a broker URL"),
            "{msg}"
        );
    }

    #[test]
    fn builder_sets_values_and_marks_them_as_from_the_app() {
        let app = crate::App::bare("a")
            .topic_replication_factor(0)
            .commit_interval(Duration::ZERO)
            .admin_config("request.timeout.ms", 5000)
            .config_file("my.toml");
        let s = app.settings();
        assert_eq!(s.topic_replication_factor, 1);
        assert_eq!(s.commit_interval, Duration::from_millis(1));
        assert_eq!(s.admin["request.timeout.ms"], "5000");
        assert_eq!(s.config_file.as_deref(), Some(Path::new("my.toml")));
        assert_eq!(s.source("topic_replication_factor"), &Source::App);
        assert_eq!(s.source("admin.request.timeout.ms"), &Source::App);
    }

    #[test]
    fn the_metrics_exporter_settings_come_from_the_file_and_the_environment() {
        let mut s = Settings::default();
        assert_eq!(s.metrics_exporter, MetricsExporter::Prometheus);
        assert_eq!(s.statsd_address, "127.0.0.1:8125");
        assert_eq!(s.statsd_prefix, "faust");
        assert!(s.statsd_tags);
        s.layer_toml(
            "metrics_exporter = \"statsd\"\nstatsd_prefix = \"orders\"\nstatsd_tags = false",
            Path::new("f.toml"),
        )
        .unwrap();
        s.layer_env([(
            "FAUST_STATSD_ADDRESS".to_owned(),
            "127.0.0.1:9125".to_owned(),
        )])
        .unwrap();
        assert_eq!(s.metrics_exporter, MetricsExporter::Statsd);
        assert_eq!(s.statsd_prefix, "orders");
        assert!(!s.statsd_tags);
        assert_eq!(s.statsd_address, "127.0.0.1:9125");
        assert_eq!(
            s.source("statsd_address"),
            &Source::Env("FAUST_STATSD_ADDRESS".into())
        );
        let msg =
            message(s.layer_env([("FAUST_METRICS_EXPORTER".to_owned(), "datadog".to_owned())]));
        assert!(
            msg.contains("FAUST_METRICS_EXPORTER=\"datadog\"")
                && msg.contains("prometheus, statsd or none"),
            "{msg}"
        );
        let msg = message(s.layer_toml("statsd_prefix = \"my app\"", Path::new("f.toml")));
        assert!(msg.contains("statsd_prefix"), "{msg}");
    }
}
