//! Recovery: bringing table partitions up to their changelogs' end.
//!
//! Each partition resumes past the last changelog offset its store holds
//! (0 for an empty store). A stored offset the changelog does not reach, or
//! one that falls before the changelog's first record, means the store
//! belongs to another history (the topic was recreated): the store is
//! cleared and rebuilt from the start, with a warning. Progress (records
//! done, records per second, records remaining) goes to the log every
//! second and to the metrics `faust_recovery_records_total` and
//! `faust_recovery_remaining_records` (labelled by table).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    let total: i64 = specs.iter().map(|(_, _, from, high)| high - from).sum();
    let started = Instant::now();
    let mut done: u64 = 0;
    let mut last_report = started;
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
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            report_progress(purpose, done, total, started.elapsed());
        }
        Ok(())
    })?;
    for plan in plans.values_mut().flatten() {
        apply_chunk(plan)?;
        if plan.records >= PERSIST_AFTER {
            plan.store.persist()?;
        }
    }
    let took = started.elapsed();
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

fn report_progress(purpose: &str, done: u64, total: i64, elapsed: Duration) {
    let remaining = (total - done as i64).max(0);
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    metrics::gauge!("faust_recovery_remaining_records", "table" => "all").set(remaining as f64);
    tracing::info!(
        records = done,
        remaining,
        "{purpose}: {done} records of {total} ({rate:.0} records/s, about {:.0?} left)",
        Duration::from_secs_f64(remaining as f64 / rate.max(1.0))
    );
}
