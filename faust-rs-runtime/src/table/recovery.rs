//! Recovery: bringing table partitions up to their changelogs' end.
//!
//! Each partition resumes past the last changelog offset its store holds
//! (0 for an empty store). A stored offset the changelog does not reach, or
//! one that falls before the changelog's first record, means the store
//! belongs to another history (the topic was recreated): the store is
//! cleared and rebuilt from the start, with a warning.
//!
//! Progress (records done, records per second, records remaining): while
//! a worker (or `tables`, `table get`) recovers with stderr on a terminal,
//! a bar per table; otherwise a log line every second. Either way it goes
//! to the metrics `faust_recovery_records_total` and
//! `faust_recovery_remaining_records` (labelled by table, and `all` while
//! it runs), and to the status page (`/status`: each table's records done
//! and remaining, from [`RecoveryProgress`]).

use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::state::TableState;
use super::store::{ChangelogRecord, PartitionStore, SourceKey, SourceOffsets};
use crate::error::Result;
use crate::origin::Origin;
use crate::transport::Message;

/// Records applied per write (one RocksDB `WriteBatch`).
const CHUNK: usize = 4096;

/// A partition that replayed at least this many records has RocksDB write
/// them to its data files at the end: otherwise they stay in the
/// write-ahead log, which the next open replays record by record (1M
/// records: ~1 s more to restart).
const PERSIST_AFTER: u64 = 65_536;

/// One table partition to bring up to date.
#[derive(Clone, Debug)]
pub(crate) struct ChangelogTarget {
    pub(crate) table: Arc<TableState>,
    pub(crate) partition: i32,
}

/// A changelog partition to read: topic, partition, first offset, and the
/// end offset (exclusive) to stop at.
pub(crate) type ReadSpec = (Arc<str>, i32, i64, i64);

/// Reads changelog partitions.
pub(crate) trait ChangelogRead {
    /// The first offset and the end offset (one past the last record) of
    /// `topic`/`partition`.
    fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64)>;

    /// Calls `apply` for every record of each spec from its first offset
    /// until the record before its end offset; returns how many it read.
    /// Records of one partition come in offset order.
    fn read(
        &self,
        specs: &[ReadSpec],
        apply: &mut dyn FnMut(&Message) -> Result<()>,
    ) -> Result<u64>;
}

struct Plan {
    target: ChangelogTarget,
    /// The table's slot in the [`Progress`].
    slot: usize,
    store: Arc<PartitionStore>,
    chunk: Vec<ChangelogRecord>,
    records: u64,
    /// The offset of the last record read.
    read: Option<i64>,
    /// Records left out: their events come after the committed input.
    ignored: u64,
    /// The input topic of the last framed record: records of one
    /// partition come from one topic or few, so it is shared, not
    /// allocated again for each record.
    origin_topic: Option<Arc<str>>,
}

/// Brings every target up to its changelog's end; returns how many
/// changelog records it read. With `resume` (the offsets the worker
/// resumes each input partition from), an exact-state table leaves out
/// the records of events at or past them: those events are processed
/// again, and their records may be part of an event only. `purpose` names the work
/// in logs (`recovering`, `following`). With `skip_owned`, records of a
/// partition in that set by the time they are applied are dropped (a
/// standby must not overwrite what the partition's new owner writes; a
/// global table's records are always applied).
pub(crate) fn recover_partitions(
    targets: &[ChangelogTarget],
    reader: &dyn ChangelogRead,
    purpose: &str,
    skip_owned: Option<&Mutex<BTreeSet<i32>>>,
    resume: Option<&SourceOffsets>,
) -> Result<u64> {
    // By partition, then by changelog: finding a record's plan hashes an
    // integer, not the topic name (this runs for every record).
    let mut plans: HashMap<i32, Vec<Plan>> = HashMap::new();
    let mut specs = Vec::new();
    let mut progress = Progress::new(purpose, Progress::draw_target(purpose));
    for target in targets {
        let table = &target.table;
        let partition = target.partition;
        let store = table.open(partition)?;
        let (low, high) = reader.watermarks(&table.changelog, partition)?;
        if let Some(applied) = store.applied_offset()
            && (applied >= high || applied + 1 < low)
        {
            tracing::warn!(
                table = table.def.name,
                partition,
                "the store holds the changelog up to offset {applied}, but `{}`[{partition}] \
                 now spans offsets {low}..{high}: it was written for another history (was the \
                 topic recreated?); rebuilding it from the changelog",
                table.changelog
            );
            store.clear()?;
        }
        let from = store.applied_offset().map_or(0, |a| a + 1).max(low);
        if from >= high {
            continue;
        }
        specs.push((table.changelog.clone(), partition, from, high));
        let plan = Plan {
            slot: progress.slot(table.def.name, &table.recovery, (high - from) as u64),
            target: target.clone(),
            store,
            chunk: Vec::with_capacity(CHUNK),
            records: 0,
            read: None,
            ignored: 0,
            origin_topic: None,
        };
        let same = plans.entry(partition).or_default();
        match same
            .iter_mut()
            .find(|p| p.target.table.changelog == table.changelog)
        {
            Some(existing) => *existing = plan,
            None => same.push(plan),
        }
    }
    if specs.is_empty() {
        return Ok(0);
    }
    progress.start();
    let mut done: u64 = 0;
    let apply_chunk = |plan: &mut Plan| -> Result<()> {
        if plan.chunk.is_empty() && plan.ignored == 0 {
            return Ok(());
        }
        // A global table's partitions are applied whoever owns them.
        let owned = skip_owned
            .filter(|_| !plan.target.table.def.kind.is_global())
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()));
        if owned
            .as_ref()
            .is_none_or(|o| !o.contains(&plan.target.partition))
        {
            plan.store.apply_changelog(&plan.chunk, plan.read)?;
        }
        plan.chunk.clear();
        Ok(())
    };
    reader.read(&specs, &mut |message| {
        let Some(plan) = plans.get_mut(&message.partition).and_then(|same| {
            same.iter_mut().find(|p| {
                Arc::ptr_eq(&p.target.table.changelog, &message.topic)
                    || p.target.table.changelog == message.topic
            })
        }) else {
            return Ok(());
        };
        plan.records += 1;
        done += 1;
        let slot = plan.slot;
        plan.read = Some(message.offset);
        if let Some(key) = &message.key {
            // The origin: in the value's frame, or a tombstone's header.
            let framed = message.value.as_ref().and_then(|v| {
                super::unframe(v).map(|((topic, partition, offset), inner)| {
                    let topic = match &plan.origin_topic {
                        Some(last) if **last == *topic => last.clone(),
                        _ => plan.origin_topic.insert(Arc::from(topic)).clone(),
                    };
                    ((topic, partition), offset, v.slice_ref(inner))
                })
            });
            let (origin, value) = match framed {
                Some((source, offset, value)) => (Some((source, offset)), Some(value)),
                None => (
                    Origin::from_headers(&message.headers)
                        .map(|o| ((o.topic, o.partition), o.offset)),
                    message.value.clone(),
                ),
            };
            let after_resume = |(source, offset): &(SourceKey, i64)| {
                resume
                    .and_then(|r| r.get(source))
                    .is_some_and(|next| offset >= next)
            };
            if plan.target.table.is_exact() && origin.as_ref().is_some_and(after_resume) {
                plan.ignored += 1;
            } else {
                plan.chunk.push(ChangelogRecord {
                    offset: message.offset,
                    key: key.clone(),
                    value,
                    origin,
                });
            }
        }
        if plan.chunk.len() >= CHUNK {
            apply_chunk(plan)?;
        }
        progress.record(slot);
        Ok(())
    })?;
    progress.finish();
    for plan in plans.values_mut().flatten() {
        apply_chunk(plan)?;
        if plan.records >= PERSIST_AFTER {
            plan.store.persist()?;
        }
    }
    let took = progress.started.elapsed();
    let mut by_table: HashMap<&'static str, (u64, Vec<i32>)> = HashMap::new();
    for plan in plans.values().flatten() {
        let entry = by_table.entry(plan.target.table.def.name).or_default();
        entry.0 += plan.records;
        entry.1.push(plan.target.partition);
    }
    let ignored: u64 = plans.values().flatten().map(|p| p.ignored).sum();
    if ignored > 0 {
        tracing::info!(
            "{purpose}: left out {ignored} changelog records of events past the committed \
             input offsets (they are processed again)"
        );
    }
    for (table, (records, mut partitions)) in by_table {
        partitions.sort_unstable();
        metrics::counter!("faust_recovery_records_total", "table" => table).increment(records);
        metrics::gauge!("faust_recovery_remaining_records", "table" => table).set(0.0);
        if purpose == "recovering" || took > Duration::from_secs(1) {
            tracing::info!(
                table,
                ?partitions,
                records,
                "{purpose}: done in {took:.2?} ({:.0} records/s)",
                records as f64 / took.as_secs_f64().max(1e-9)
            );
        }
    }
    Ok(done)
}

/// How far a table's last recovery got, for the status page: records
/// read and records it had to read.
#[derive(Debug, Default)]
pub(crate) struct RecoveryProgress {
    done: AtomicU64,
    total: AtomicU64,
}

impl RecoveryProgress {
    /// Changelog records read by the last (or current) recovery.
    pub(crate) fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Changelog records it has still to read (0 once it is done).
    pub(crate) fn remaining(&self) -> u64 {
        self.total
            .load(Ordering::Relaxed)
            .saturating_sub(self.done())
    }

    fn begin(&self, total: u64) {
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }
}

/// How often (in records) the progress looks at the clock.
const LOOK_EVERY: u64 = 256;

/// Where one call's progress goes: a bar per table (on a terminal), or a
/// log line every [`log_every`](Progress::log_every); the tables'
/// [`RecoveryProgress`] and the remaining-records gauges either way.
struct Progress<'a> {
    purpose: &'a str,
    started: Instant,
    /// One per table: name, shared progress, records to read, read.
    tables: Vec<(&'static str, &'a RecoveryProgress, u64, u64)>,
    done: u64,
    /// The bars' target; `None`: log lines.
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
    draw: Option<ProgressDrawTarget>,
    /// How often the shared progress and the bars move.
    update_every: Duration,
    last_update: Instant,
    /// How often a log line (and the gauges) is written.
    log_every: Duration,
    last_log: Instant,
}

impl<'a> Progress<'a> {
    fn new(purpose: &'a str, draw: Option<ProgressDrawTarget>) -> Self {
        let now = Instant::now();
        Progress {
            purpose,
            started: now,
            tables: Vec::new(),
            done: 0,
            bars: None,
            draw,
            update_every: Duration::from_millis(100),
            last_update: now,
            log_every: Duration::from_secs(1),
            last_log: now,
        }
    }

    /// Bars on stderr when it is a terminal and this is a recovery (not a
    /// standby's or a global table's following, which runs all along).
    fn draw_target(purpose: &str) -> Option<ProgressDrawTarget> {
        (purpose == "recovering" && std::io::stderr().is_terminal())
            .then(ProgressDrawTarget::stderr)
    }

    /// The slot of table `name` (added on first use), with `records` more
    /// to read.
    fn slot(&mut self, name: &'static str, shared: &'a RecoveryProgress, records: u64) -> usize {
        match self.tables.iter().position(|(n, ..)| *n == name) {
            Some(slot) => {
                self.tables[slot].2 += records;
                slot
            }
            None => {
                self.tables.push((name, shared, records, 0));
                self.tables.len() - 1
            }
        }
    }

    fn total(&self) -> u64 {
        self.tables.iter().map(|t| t.2).sum()
    }

    /// Once the slots are known: the shared progress starts, and the bars
    /// are drawn.
    fn start(&mut self) {
        self.started = Instant::now();
        for (_, shared, total, _) in &self.tables {
            shared.begin(*total);
        }
        if let Some(draw) = self.draw.take() {
            let multi = MultiProgress::with_draw_target(draw);
            let style = bar_style();
            let bars = self
                .tables
                .iter()
                .map(|(name, _, total, _)| {
                    let bar = multi.add(ProgressBar::new(*total));
                    bar.set_style(style.clone());
                    bar.set_prefix(format!("{} {name}", self.purpose));
                    bar
                })
                .collect();
            self.bars = Some((multi, bars));
        }
    }

    /// One record of the table in `slot` read.
    fn record(&mut self, slot: usize) {
        if let Some(table) = self.tables.get_mut(slot) {
            table.3 += 1;
        }
        self.done += 1;
        if self.done.is_multiple_of(LOOK_EVERY) {
            self.update(false);
        }
    }

    fn update(&mut self, force: bool) {
        let now = Instant::now();
        if !force && now.duration_since(self.last_update) < self.update_every {
            return;
        }
        self.last_update = now;
        for (_, shared, _, done) in &self.tables {
            shared.done.store(*done, Ordering::Relaxed);
        }
        if let Some((_, bars)) = &self.bars {
            for (bar, (_, _, _, done)) in bars.iter().zip(&self.tables) {
                bar.set_position(*done);
            }
        }
        if force || now.duration_since(self.last_log) < self.log_every {
            return;
        }
        self.last_log = now;
        let total = self.total();
        let remaining = total.saturating_sub(self.done);
        metrics::gauge!("faust_recovery_remaining_records", "table" => "all").set(remaining as f64);
        for (name, _, total, done) in &self.tables {
            metrics::gauge!("faust_recovery_remaining_records", "table" => *name)
                .set(total.saturating_sub(*done) as f64);
        }
        if self.bars.is_none() {
            let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            tracing::info!(
                records = self.done,
                remaining,
                "{}: {} records of {total} ({rate:.0} records/s, about {:.0?} left)",
                self.purpose,
                self.done,
                Duration::from_secs_f64(remaining as f64 / rate.max(1.0))
            );
        }
    }

    /// Every record read: the shared progress says so, the bars end full.
    fn finish(&mut self) {
        self.update(true);
        if let Some((_, bars)) = &self.bars {
            for bar in bars {
                bar.finish();
            }
        }
    }
}

/// A recovery bar: `recovering counts [=====>    ] 1,200/3,000 records 250/s (7s left)`.
fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix} [{bar:30}] {human_pos}/{human_len} records {per_sec:0} ({eta} left)",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A terminal that keeps what is drawn on it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl Screen {
        fn text(&self) -> String {
            self.0.lock().unwrap().clone()
        }
    }

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            let mut text = self.0.lock().unwrap();
            text.push_str(s);
            text.push('\n');
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Runs `f` with the log lines it writes collected.
    fn logs_of(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = lines.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn on_a_terminal_each_table_gets_a_bar_with_records_done_of_total_and_no_log_lines() {
        let screen = Screen::default();
        let (counts, prices) = (RecoveryProgress::default(), RecoveryProgress::default());
        let logs = logs_of(|| {
            let draw = ProgressDrawTarget::term_like(Box::new(screen.clone()));
            let mut progress = Progress::new("recovering", Some(draw));
            progress.update_every = Duration::ZERO;
            progress.log_every = Duration::ZERO;
            let a = progress.slot("counts", &counts, 1024);
            let b = progress.slot("prices", &prices, 400);
            assert_eq!(progress.slot("counts", &counts, 0), a, "one slot per table");
            progress.start();
            for _ in 0..1024 {
                progress.record(a);
            }
            for _ in 0..100 {
                progress.record(b);
            }
            // The status page's figures move while it runs.
            assert_eq!((counts.done(), counts.remaining()), (1024, 0));
            progress.finish();
        });
        assert_eq!((prices.done(), prices.remaining()), (100, 300));
        let text = screen.text();
        assert!(text.contains("recovering counts ["), "{text}");
        assert!(text.contains("] 1,024/1,024 records "), "{text}");
        assert!(text.contains("recovering prices ["), "{text}");
        assert!(text.contains("] 100/400 records "), "{text}");
        assert!(text.contains("/s ("), "the rate: {text}");
        assert!(!logs.contains("records of"), "{logs}");
    }

    #[test]
    fn off_a_terminal_progress_is_logged_at_most_every_log_interval() {
        let counts = RecoveryProgress::default();
        let run = |every: Duration| {
            logs_of(|| {
                let mut progress = Progress::new("recovering", None);
                progress.update_every = Duration::ZERO;
                progress.log_every = every;
                let slot = progress.slot("counts", &counts, 1024);
                progress.start();
                for _ in 0..1024 {
                    progress.record(slot);
                }
                progress.finish();
            })
        };
        let logs = run(Duration::ZERO);
        for done in [256, 512, 768] {
            let line = format!("recovering: {done} records of 1024 (");
            assert!(logs.contains(&line), "no `{line}` in {logs}");
        }
        assert!(!logs.contains('['), "no bar off a terminal: {logs}");
        let logs = run(Duration::from_secs(3600));
        assert!(!logs.contains("records of"), "{logs}");
        assert_eq!((counts.done(), counts.remaining()), (1024, 0));
    }

    #[test]
    fn bars_only_for_recovery_on_a_terminal() {
        // `following` runs all along: a bar would never end.
        assert!(Progress::draw_target("following").is_none());
    }
}
