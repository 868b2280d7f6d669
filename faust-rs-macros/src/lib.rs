//! Attribute macros of [faust-rs]: `#[agent]`, `#[task]`, `#[timer]`,
//! `#[crontab]`, `#[topic]`, `#[table]`, `#[record]`, `#[command]` and
//! `#[page]`.
//!
//! Use them through the `faust-rs` crate (`faust::agent`, or
//! `use faust::prelude::*`), never from this crate directly: the code they
//! emit names only `::faust::__private`, which the facade provides.
//!
//! Each macro parses its options and item into a small checked model, reports
//! every mistake at once as spanned compile errors (still emitting the item
//! so IDEs keep working), and only then generates code from the model. The
//! code a macro emits is spelled out in its documentation below.
//!
//! [faust-rs]: https://example.invalid/faust-rs

#![deny(missing_docs)]

mod agent;
mod attr;
mod command;
mod ctxt;
mod decl;
mod emit;
mod func;
mod page;
mod record;
mod table;
mod task;
mod topic;
mod window;

use proc_macro::TokenStream;

/// Turns an `async fn` into an agent: the worker calls it for each event of
/// the topics it consumes (or once, with the whole stream).
///
/// ```ignore
/// use faust::prelude::*;
///
/// #[faust::agent(topic = "orders", sink = "order-totals", concurrency = 4)]
/// async fn total(order: Order) -> faust::Result<Total> {
///     Ok(Total { account: order.account, amount: order.amount })
/// }
///
/// #[faust::agent(topic = "clicks")]
/// async fn count_clicks(mut clicks: faust::Stream<Click>) -> faust::Result<()> {
///     while let Some(click) = clicks.next().await {
///         // ...
///     }
///     Ok(())
/// }
/// ```
///
/// The function must be a free `async fn` with exactly one argument and an
/// explicit return type, and no generics. Its argument chooses the form:
///
/// - **per event**, `async fn f(event: T)` with `T` a `Payload` (a
///   `#[record]`, `String`, bytes, numbers...): called once per event; what
///   it returns goes to the `sink`s;
/// - **stream**, `async fn f(stream: Stream<T>)`: called once with the
///   stream of events; it sends to the `sink`s with `stream.emit(value)`.
///
/// # Options
///
/// | option | value | default |
/// | --- | --- | --- |
/// | `topic` | `"orders"`: the topic to consume | one of `topic` / `topics` is required |
/// | `topics` | `["a", "b"]`: several topics (non-empty, no duplicates) | |
/// | `sink` | `"out"`, `other_agent` (a path to another `#[agent]` fn), or a list of both | no sinks |
/// | `concurrency` | integer >= 1: handlers running at once | `1` |
/// | `dead_letter` | `"orders-dlq"`: topic failed events are written to | none |
/// | `on_error` | `"stop"` or `"dead_letter"` (needs `dead_letter`) | dead letter if a `dead_letter` topic is set, else stop |
/// | `retries` | integer >= 0: retries before `on_error` applies | `0` |
/// | `retry_backoff` | `"100ms"`, `"1s"` (humantime) or seconds: first retry delay, doubled each retry | `"100ms"` |
/// | `group_by` | `page_of` (a `fn(&V) -> K` of the value, also for an `Event<V>` or `Stream<V>` agent; `K` a payload), or `group_by(key = page_of, name = "by-page")`: re-key every event through `<app id>-<agent>-<name>-repartition` before the handler (Faust's `stream.group_by`) | none |
/// | `through` | `"orders-checked"`: send every event through this topic, keys kept, before the handler (Faust's `stream.through`) | none |
/// | `name` | `"total"`: the agent's name | the function's name |
///
/// Topic names are checked against Kafka's rules when compiling.
///
/// With `group_by`, a stage of its own reads the agent's topics, gives each
/// value to the key function and sends the record (value, headers and
/// timestamp unchanged) to the repartition topic keyed by the result; the
/// handler then reads the repartition topic, so a table keyed like the
/// result is co-partitioned with what the handler reads. A source event is
/// committed once the broker has its copy; one whose value does not decode
/// goes to the agent's error policy. The repartition topic has the app's
/// `topic_partitions`.
///
/// # Expansion
///
/// The function is kept as written. Beside it, a hidden module of the same
/// name (with the function's visibility) holds the agent's definition and
/// registers it with the worker:
///
/// ```text
/// async fn total(order: Order) -> faust::Result<Total> { ... }
///
/// #[doc(hidden)]
/// mod total {
///     pub static AGENT: AgentDef = AgentDef {
///         name: "total",
///         topics: &["orders"],
///         sinks: &[SinkRef::Topic("order-totals")],
///         concurrency: 4usize,
///         // dead_letter, on_error, retries, retry_backoff, location ...
///         build: __build,
///     };
///     fn __build() -> AgentHandler { per_event(super::total) }
///     register! { agent AGENT }
/// }
/// ```
#[proc_macro_attribute]
pub fn agent(args: TokenStream, item: TokenStream) -> TokenStream {
    agent::expand(args.into(), item.into()).into()
}

/// Turns an `async fn` without arguments into a task the worker runs once
/// when it starts.
///
/// ```ignore
/// #[faust::task]
/// async fn announce() -> faust::Result<()> {
///     GREETINGS.send("worker".into(), "started".into()).await
/// }
/// ```
///
/// The function must be a free `async fn` with no arguments, no generics
/// and an explicit `Result<(), E>` return type. An error it returns stops
/// the worker.
///
/// # Options
///
/// | option | value | default |
/// | --- | --- | --- |
/// | `name` | `"announce"`: the task's name | the function's name |
///
/// # Expansion
///
/// ```text
/// async fn announce() -> faust::Result<()> { ... }
///
/// #[doc(hidden)]
/// mod announce {
///     pub static TASK: TaskDef = TaskDef { name: "announce", location: ..., run: __run };
///     fn __run() -> TaskFuture { task_future(super::announce()) }
///     register! { task TASK }
/// }
/// ```
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    task::expand(task::Kind::Task, args.into(), item.into()).into()
}

/// Turns an `async fn` into a subcommand of the program's command line
/// (Python Faust's `@app.command()`): `my-app reset-totals --account
/// alice --dry-run`.
///
/// ```ignore
/// /// Sets an account's total back to zero.
/// #[faust::command]
/// async fn reset_totals(account: String, to: Option<f64>, dry_run: bool) -> faust::Result<()> {
///     if !dry_run {
///         RESETS.send(account, to.unwrap_or(0.0)).await?;
///     }
///     Ok(())
/// }
/// ```
///
/// The function must be a free `async fn`, not generic, returning
/// `Result<(), E>`. Its doc comment is the command's help (`my-app
/// reset-totals --help`); the command is listed in `my-app --help`. Each
/// argument is a flag named after it, `_` written `-`:
///
/// | argument | on the command line |
/// | --- | --- |
/// | `name: T` | `--name VALUE`, required |
/// | `name: Option<T>` | `--name VALUE`, optional (`None` without it) |
/// | `name: bool` | `--name` alone sets it (`false` without it) |
///
/// `T` is any owned type with a `FromStr` whose error implements
/// `Display`: `String`, the integers, `f64`, `PathBuf`, your own. A value
/// that does not parse is a usage error naming the flag, before the
/// command runs. A borrowed type (`&str`) or a type without `FromStr` is a
/// compile error at the argument's type.
///
/// The command runs with the app's context, like a `#[task]`:
/// `Topic::send`, agents' `send` and `ask` and `faust::sleep` work, through
/// the broker the config file, environment and `--broker` name. It joins
/// no consumer group and holds no table partitions (use `table get`). The
/// program exits once what it sent is acknowledged: 0 after `Ok`, 1 after
/// printing the error. A command named like a built-in one (`worker`,
/// `send`, ...) or an argument named like a global flag (`broker`,
/// `config`, `loglevel`) is an error when the program starts.
///
/// # Options
///
/// | option | value | default |
/// | --- | --- | --- |
/// | `name` | `"zero"`: the subcommand's name | the function's name, `_` written `-` |
///
/// # Expansion
///
/// ```text
/// async fn reset_totals(account: String, to: Option<f64>, dry_run: bool) -> faust::Result<()> { ... }
///
/// static __faust_command_args_reset_totals: [CommandArg; 3] = [
///     CommandArg { name: "account", long: "account", value_name: "ACCOUNT", ty: "String",
///                  kind: ArgKind::Required, parse: parse_command_arg::<String> },
///     // to: ArgKind::Optional, parse_command_arg::<f64>; dry_run: ArgKind::Flag
/// ];
/// fn __faust_command_run_reset_totals(args: &CommandArgs) -> Result<TaskFuture> {
///     Ok(task_future(reset_totals(
///         args.value::<String>("account")?,
///         args.option::<f64>("to")?,
///         args.flag("dry_run")?,
///     )))
/// }
///
/// #[doc(hidden)]
/// mod reset_totals {
///     pub static COMMAND: CommandDef = CommandDef {
///         name: "reset-totals",
///         doc: "Sets an account's total back to zero.",
///         args: &super::__faust_command_args_reset_totals,
///         location: ...,
///         run: super::__faust_command_run_reset_totals,
///     };
///     register! { command COMMAND }
/// }
/// ```
///
/// An app built with `App::bare` adds it with `.command(&reset_totals::COMMAND)`.
#[proc_macro_attribute]
pub fn command(args: TokenStream, item: TokenStream) -> TokenStream {
    command::expand(args.into(), item.into()).into()
}

/// Turns an `async fn` into a page of the worker's web endpoint (Python
/// Faust's `@app.page`): it answers `GET` on its path.
///
/// ```ignore
/// /// A word's count, from this worker's copy of the table.
/// #[faust::page("/counts/{word}")]
/// async fn word_count(word: String, default: Option<u64>) -> faust::Result<u64> {
///     Ok(COUNTS.get(&word)?.or(default).unwrap_or(0))
/// }
/// ```
///
/// `GET /counts/hello?default=0` answers `42` (JSON). Each `{name}`
/// segment of the path is the argument of that name, parsed from the
/// segment with its `FromStr`; an `Option<T>` argument is read from the
/// query string, and a `bool` is true when the query string names it
/// (`?verbose`). A value that does not parse answers `400` naming the
/// parameter. Arguments and path parameters that do not match, a
/// parameter that is not a whole segment, or a path without its leading
/// `/` are compile errors.
///
/// The function must be a free `async fn`, not generic, returning
/// `Result<T, E>`: `T` is any `Serialize` value, answered as JSON, or a
/// `faust::web::Reply` for HTML, text or another status; an `Err` answers
/// `500` with `{"error": "..."}`. It runs with the app's context, like a
/// `#[task]`: tables, `Topic::send` and agents' `ask` work. A path that is
/// one of the endpoint's own routes (`/metrics`, `/tables/{t}/{k}`, ...)
/// or another page's is an error when the worker starts. Test a page with
/// `TestDriver::get("/counts/hello")`.
///
/// # Options
///
/// One: the path, a string starting with `/`.
///
/// # Expansion
///
/// ```text
/// async fn word_count(word: String, default: Option<u64>) -> faust::Result<u64> { ... }
///
/// static __faust_page_args_word_count: [CommandArg; 2] = [
///     CommandArg { name: "word", long: "word", value_name: "WORD", ty: "String",
///                  kind: ArgKind::Required, parse: parse_command_arg::<String> },
///     // default: ArgKind::Optional, parse_command_arg::<u64>
/// ];
/// fn __faust_page_run_word_count(args: &CommandArgs) -> Result<PageFuture> {
///     Ok(page_future(word_count(args.value::<String>("word")?, args.option::<u64>("default")?)))
/// }
///
/// #[doc(hidden)]
/// mod word_count {
///     pub static PAGE: PageDef = PageDef {
///         path: "/counts/{word}",
///         doc: "A word's count, from this worker's copy of the table.",
///         args: &super::__faust_page_args_word_count,
///         location: ...,
///         run: super::__faust_page_run_word_count,
///     };
///     register! { page PAGE }
/// }
/// ```
///
/// An app built with `App::bare` adds it with `.page(&word_count::PAGE)`.
#[proc_macro_attribute]
pub fn page(args: TokenStream, item: TokenStream) -> TokenStream {
    page::expand(args.into(), item.into()).into()
}

/// Turns an `async fn` without arguments into a timer the worker runs every
/// `interval` (the first run after one interval).
///
/// ```ignore
/// #[faust::timer(interval = "10s", on_leader)]
/// async fn report() -> faust::Result<()> {
///     // ...
///     Ok(())
/// }
/// ```
///
/// The function has the same shape as a `#[task]`'s.
///
/// # Options
///
/// | option | value | default |
/// | --- | --- | --- |
/// | `interval` | `"10s"`, `"500ms"`, `"1m 30s"` (humantime), or seconds as a number (`10`, `2.5`); more than zero | required |
/// | `on_leader` | flag (or `= true` / `= false`): run only on the group's leader worker (the member holding partition 0 of `<app id>-__leader`, as in Faust) | off |
/// | `name` | `"report"`: the timer's name | the function's name |
///
/// # Expansion
///
/// As for `#[task]`, with
/// `pub static TIMER: TimerDef = TimerDef { name, interval, on_leader, location, run }`
/// and `register! { timer TIMER }`.
#[proc_macro_attribute]
pub fn timer(args: TokenStream, item: TokenStream) -> TokenStream {
    task::expand(task::Kind::Timer, args.into(), item.into()).into()
}

/// Turns an `async fn` without arguments into a crontab: the worker runs it
/// at the times a cron expression names, in a time zone (Faust's
/// `@app.crontab`).
///
/// ```ignore
/// #[faust::crontab("0 9 * * mon-fri", timezone = "Europe/Paris", on_leader)]
/// async fn morning_report() -> faust::Result<()> {
///     // ...
///     Ok(())
/// }
/// ```
///
/// The function has the same shape as a `#[task]`'s. Under the test
/// driver it runs on virtual time (`t.advance(..)`).
///
/// # Options
///
/// | option | value | default |
/// | --- | --- | --- |
/// | first, or `cron` | `"*/5 * * * *"`: minute hour day-of-month month day-of-week (a sixth field in front for seconds; names, ranges, steps, `L` and `#` work), checked when compiling | required |
/// | `timezone` | `"Europe/Paris"`: the IANA zone the times are in (checked when the app starts) | UTC |
/// | `on_leader` | flag: run only on the group's leader worker | off |
/// | `name` | `"morning_report"`: the crontab's name | the function's name |
///
/// # Expansion
///
/// As for `#[timer]`, with `interval: Duration::ZERO`,
/// `cron: Some("0 9 * * mon-fri")` and `timezone: Some("Europe/Paris")`.
#[proc_macro_attribute]
pub fn crontab(args: TokenStream, item: TokenStream) -> TokenStream {
    task::expand(task::Kind::Crontab, args.into(), item.into()).into()
}

/// Declares a topic: a `static` handle with a key type and a value type,
/// registered so the worker knows (and can create) it.
///
/// ```ignore
/// #[faust::topic("orders", partitions = 8)]
/// pub static ORDERS: Topic<String, Order>;
///
/// #[faust::topic(name = "audit", value_serializer = "msgpack")]
/// static AUDIT: Topic<String, AuditEvent>;
/// ```
///
/// The declaration has no initializer: the macro writes it.
///
/// # Options
///
/// | option | value | default |
/// | --- | --- | --- |
/// | `name` | `"orders"` (or just `#[topic("orders")]`): the topic's name on the broker | required |
/// | `partitions` | integer >= 1: partition count when the app creates the topic | the app's default |
/// | `key_serializer` | codec name (`"json"`, `"msgpack"`, `"raw"`, `"str"` or a custom one) | the key type's default |
/// | `value_serializer` | codec name | the value type's default |
///
/// Codec names are checked when the app starts, since custom codecs are
/// registered at run time.
///
/// # Expansion
///
/// ```text
/// pub static ORDERS: Topic<String, Order> = {
///     static DEF: TopicDef = TopicDef {
///         name: "orders",
///         partitions: Some(8u32),
///         key_serializer: None,
///         value_serializer: None,
///         location: Some(Location { ... }),
///     };
///     register! { topic DEF }
///     Topic::from_def(&DEF)
/// };
/// ```
#[proc_macro_attribute]
pub fn topic(args: TokenStream, item: TokenStream) -> TokenStream {
    topic::expand(args.into(), item.into()).into()
}

/// Declares a table: a `static` handle on a key-value map kept per
/// partition and backed by a changelog topic, like Python Faust's
/// `app.Table`.
///
/// ```ignore
/// #[faust::table("totals", default, partitions = 8)]
/// pub static TOTALS: Table<String, f64>;
///
/// #[faust::table(name = "last-seen", store = "rocksdb", help = "Last order per account")]
/// static LAST_SEEN: Table<String, Order>;
/// ```
///
/// The declaration has no initializer: the macro writes it.
///
/// # Options
///
/// | option | value | default |
/// | --- | --- | --- |
/// | `name` | `"totals"` (or just `#[table("totals")]`): the table's name, which its changelog topic is named after | required |
/// | `default` | flag: a missing key reads as `V::default()` in `update` | off |
/// | `partitions` | integer >= 1: partition count of the changelog topic | the app's default |
/// | `key_serializer` | codec name (`"json"`, `"msgpack"`, `"raw"`, `"str"` or a custom one) | the key type's default |
/// | `value_serializer` | codec name | the value type's default |
/// | `store` | `"memory"` or `"rocksdb"`: where the table keeps its data | the app's default |
/// | `help` | `"text"`: what the table holds, for humans | empty |
///
/// A `WindowedTable<K, V>` (from `faust::window`) takes one window kind
/// and, optionally, the rest:
///
/// | option | value | default |
/// | --- | --- | --- |
/// | `tumbling` | `"1m"`: back-to-back windows of this size | one kind is required |
/// | `hopping` | `hopping(size = "10m", step = "1m")`: windows of `size` every `step` (`step <= size`) | |
/// | `sliding` | `sliding(before = "30s", after = "30s")`: a window around each event's time | |
/// | `expires` | `"1h"`: how long after its end a window is kept (then deleted, with a changelog tombstone) | kept for good |
/// | `grace` | `"30s"`: how long after its end a window still takes events; at the end of it the window closes (`<= expires`) | `expires`, or zero |
/// | `time` | `"event"` (the record's timestamp field, else its Kafka timestamp) or `"processing"` (the clock) | `"event"` |
/// | `late` | `"drop"` or `"dead_letter"` (to the agent's dead-letter topic): what happens to an event whose windows have all closed | `"drop"` |
/// | `on_window_close` | `path::to::f` with `async fn f(key: K, window: Window, value: V) -> Result<()>`: each window's final value, once | none |
/// | `on_late` | `path::to::f` with `async fn f(key: K, event_time_ms: i64) -> Result<()>` | none |
/// | `emit_closed` | `"views-final"`: topic that gets each closed window as a `WindowClosed<V>` record, keyed by the table key | none |
///
/// ```ignore
/// #[faust::table(name = "views", default, tumbling = "1m", expires = "1h",
///                emit_closed = "views-per-minute")]
/// static VIEWS: WindowedTable<String, u64>;
/// ```
///
/// The windows are a `static WINDOW: WindowDef` beside the `TableDef`
/// (`window: Some(&WINDOW)`), with a small function per hook that decodes
/// the key and value and calls yours.
///
/// The name is checked against Kafka's topic-name rules when compiling;
/// codec names are checked when the app starts, since custom codecs are
/// registered at run time.
///
/// # Expansion
///
/// ```text
/// pub static TOTALS: Table<String, f64> = {
///     static DEF: TableDef = TableDef {
///         name: "totals",
///         partitions: Some(8u32),
///         key_serializer: None,
///         value_serializer: None,
///         store: None,
///         help: "",
///         default: true,
///         kind: <Table<String, f64>>::KIND,
///         types: <Table<String, f64>>::TYPES,
///         location: Some(Location { ... }),
///     };
///     register! { table DEF }
///     <Table<String, f64>>::from_def(&DEF)
/// };
/// ```
///
/// The declared type may be any kind of table: `Table`, `GlobalTable`,
/// `SetTable` or `SetGlobalTable` (from `faust::table`):
///
/// ```ignore
/// #[table(name = "rates")]
/// static RATES: GlobalTable<String, f64>;
/// #[table(name = "pages-by-user")]
/// static PAGES: SetTable<String, String>;
/// ```
#[proc_macro_attribute]
pub fn table(args: TokenStream, item: TokenStream) -> TokenStream {
    table::expand(args.into(), item.into()).into()
}

/// Makes a struct a record: a value that can travel on a topic, like Python
/// Faust's `Record`.
///
/// ```ignore
/// #[faust::record(validate, namespace = "shop.models.Order")]
/// #[derive(Debug, Clone)]
/// pub struct Order {
///     #[validate(length(min = 1))]
///     pub account: String,
///     #[validate(range(min = 0))]
///     pub amount: f64,
///     #[validate(pattern = "^[A-Z]{3}-[0-9]+$")]
///     pub sku: String,
/// }
/// ```
///
/// It derives serde's `Serialize` and `Deserialize` (do not derive them
/// yourself; `#[serde(...)]` attributes work as usual) and implements
/// `Payload`. Structs with named fields only, not generic.
///
/// `Payload::SCHEMA` describes the record: its doc comment, codec,
/// namespace and timestamp field, and per field its name, Rust type as
/// written, doc comment and `#[validate]` rules (`my-app model Order`
/// prints it).
///
/// # Options
///
/// | option | value | default |
/// | --- | --- | --- |
/// | `serializer` | `"json"`, `"msgpack"`, `"raw"` or `"str"`: the codec used when a topic names none | `"json"` |
/// | `validate` | flag: check the fields' `#[validate]` rules on every decoded value | off |
/// | `namespace` | `"myapp.models.Order"`: Python Faust's `__faust.ns`, written in encoded values | none |
/// | `timestamp` | `"created_at"`: the field holding the event's time (`i64`/`u64` ms, `f64` seconds, `SystemTime`, or an `Option` of one), which windowed tables use instead of the Kafka timestamp | none |
///
/// # Field rules
///
/// With `#[record(validate)]`, a field may carry `#[validate(...)]` with any
/// of these rules (an `Option` field is checked only when `Some`):
///
/// | rule | checks |
/// | --- | --- |
/// | `range(min = 0, max = 100)` | `min <= value <= max` (either bound may be left out) |
/// | `length(min = 1, max = 64)` | the length of a string or collection |
/// | `pattern = "^[A-Z]+$"` | a string matches the regex (checked when compiling) |
/// | `custom = path::to::check` | `fn(&FieldType) -> Result<(), E>` with `E: Display` returns `Ok` |
/// | `nested` | the field is a record (or `Option` / `Vec` of one): validate it too |
///
/// A value that decodes but breaks a rule is an error like a malformed one,
/// handled by the consuming agent's error policy.
///
/// # Expansion
///
/// ```text
/// #[derive(serde::Serialize, serde::Deserialize)]
/// #[serde(crate = "...")]
/// pub struct Order { ... }          // without the #[validate] attributes
///
/// impl Payload for Order {
///     const DEFAULT_CODEC: &'static str = "json";
///     const FAUST_NAMESPACE: Option<&'static str> = Some("shop.models.Order");
///     const SCHEMA: Option<&'static RecordSchema> = {   // always
///         static RECORD_SCHEMA: RecordSchema = RecordSchema {
///             name: "Order", module: module_path!(), doc: "...", serializer: "json",
///             namespace: Some("shop.models.Order"), timestamp: None, validate: true,
///             fields: &[
///                 FieldSchema { name: "account", ty: "String", doc: "",
///                               rules: &[FieldRule::Length { min: Some(1usize), max: None }],
///                               nested: None },
///                 // ...; a `nested` field: `nested: Some(|| nested_record(|r: &Order| &r.field))`
///             ],
///         };
///         Some(&RECORD_SCHEMA)
///     };
///     // with `timestamp = "created_at"`:
///     // fn event_time(&self) -> Option<i64> { EventTime::event_time_ms(&self.created_at) }
///     fn validate(&self) -> Result<(), ValidationError> {   // only with `validate`
///         let mut c = validate::Checker::new();
///         validate::length(&mut c, "account", &self.account, Some(1usize), None);
///         // ...
///         c.finish("Order")
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn record(args: TokenStream, item: TokenStream) -> TokenStream {
    record::expand(args.into(), item.into()).into()
}
