//! Test-driver tests of table stores and kinds: RocksDB keeps state across a
//! restart and replays only the changelog's tail; a corrupt, deleted or
//! foreign store folder is rebuilt from the changelog; global and set
//! tables; a rebalance closes the partitions that leave and recovers the
//! ones that come back, and a handler still running when its partition is
//! revoked writes nothing to its tables.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use faust::prelude::*;
use faust::table::{GlobalTable, SetGlobalTable, SetTable};
use faust::testing::TestDriver;

#[table(name = "counts", default, partitions = 4)]
static COUNTS: Table<String, u64>;

#[agent(topic = "words")]
async fn count(word: Event<String>) -> Result<()> {
    COUNTS.update(&word.value, |n| *n += 1)?;
    Ok(())
}

fn rocks_app(dir: &Path) -> App {
    App::bare("stores")
        .topic_partitions(4)
        .store(format!("rocksdb://{}", dir.display()))
        .table(&COUNTS)
        .agent(&count::AGENT)
}

/// A fresh folder under the target directory's temp area.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "faust-rs-driver-stores-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

async fn send_words(t: &mut TestDriver, words: &[&str]) {
    for w in words {
        t.send("words", *w, w.to_string()).await;
    }
}

fn changelog_records(t: &TestDriver) -> usize {
    t.records("stores-counts-changelog").len()
}

#[tokio::test]
async fn rocksdb_keeps_state_across_a_restart_and_replays_only_the_tail() -> faust::Result<()> {
    let dir = temp_dir("warm");
    let mut t = TestDriver::with_app(rocks_app(&dir));
    send_words(&mut t, &["a", "b", "a", "c", "a"]).await;
    t.run_until_idle().await?;
    // A commit writes the stores: data and changelog offset together.
    t.commit();
    assert_eq!(t.table(&COUNTS).get("a"), Some(3));

    let read_before = t.broker().changelog_records_read("stores-counts-changelog");
    t.restart().await?;
    let replayed = t.broker().changelog_records_read("stores-counts-changelog") - read_before;
    assert_eq!(
        replayed, 0,
        "everything was in the store: nothing to replay"
    );
    assert_eq!(t.table(&COUNTS).get("a"), Some(3));
    assert_eq!(t.table(&COUNTS).get("c"), Some(1));

    // While this worker was down, another one owned a partition and wrote
    // to its changelog: the restart replays exactly those records.
    // String keys travel as their UTF-8 bytes (codec `str`).
    let partition = faust::partition_for_key(b"b", 4);
    for (key, value) in [("b", "5"), ("b", "7")] {
        t.broker()
            .append(faust::OutgoingRecord {
                topic: "stores-counts-changelog".into(),
                partition: Some(partition),
                key: Some(faust::Bytes::from(key)),
                value: Some(faust::Bytes::from(value)),
                ..Default::default()
            })
            .expect("append");
    }
    let read_before = t.broker().changelog_records_read("stores-counts-changelog");
    t.restart().await?;
    let replayed = t.broker().changelog_records_read("stores-counts-changelog") - read_before;
    assert_eq!(replayed, 2, "only the two records past the stored offset");
    assert_eq!(t.table(&COUNTS).get("b"), Some(7));
    assert_eq!(t.table(&COUNTS).len(), 3);
    assert_eq!(changelog_records(&t), 7);
    Ok(())
}

fn partition_dirs(dir: &Path) -> Vec<PathBuf> {
    let root = dir.join("stores").join("v1").join("counts");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| !p.to_string_lossy().ends_with(".broken"))
        .collect();
    dirs.sort();
    dirs
}

#[tokio::test]
async fn a_corrupt_store_is_moved_aside_and_rebuilt_from_the_changelog() -> faust::Result<()> {
    let dir = temp_dir("corrupt");
    let mut t = TestDriver::with_app(rocks_app(&dir));
    send_words(&mut t, &["x", "y", "x", "z", "w"]).await;
    t.run_until_idle().await?;
    t.commit();
    let dirs = partition_dirs(&dir);
    assert!(!dirs.is_empty(), "one folder per partition");
    // Garbage over every file RocksDB needs to open the database.
    for partition in &dirs {
        for entry in std::fs::read_dir(partition).expect("store folder") {
            let path = entry.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("MANIFEST") || name == "CURRENT" {
                std::fs::write(&path, b"this is not a RocksDB file").expect("corrupt");
            }
        }
    }
    t.restart().await?;
    assert_eq!(
        t.table(&COUNTS).get("x"),
        Some(2),
        "rebuilt from the changelog"
    );
    assert_eq!(t.table(&COUNTS).len(), 4);
    for partition in &dirs {
        let aside = PathBuf::from(format!("{}.broken", partition.display()));
        assert!(aside.exists(), "{} kept for inspection", aside.display());
    }
    // And it goes on from there.
    send_words(&mut t, &["x"]).await;
    t.run_until_idle().await?;
    assert_eq!(t.table(&COUNTS).get("x"), Some(3));
    Ok(())
}

#[tokio::test]
async fn a_truncated_store_is_rebuilt_from_the_changelog() -> faust::Result<()> {
    let dir = temp_dir("truncated");
    let mut t = TestDriver::with_app(rocks_app(&dir));
    send_words(&mut t, &["a", "b", "a", "c", "a", "b"]).await;
    t.run_until_idle().await?;
    t.commit();
    let dirs = partition_dirs(&dir);
    assert!(!dirs.is_empty(), "one folder per partition");
    // Every file cut to half its length, as a crash mid-write or a copy
    // that stopped would leave it.
    let mut cut = 0;
    for partition in &dirs {
        for entry in std::fs::read_dir(partition).expect("store folder") {
            let path = entry.expect("entry").path();
            let len = std::fs::metadata(&path).expect("file").len();
            if path.is_file() && len > 0 {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .expect("open");
                file.set_len(len / 2).expect("truncate");
                cut += 1;
            }
        }
    }
    assert!(cut > 0, "the store wrote files");
    t.restart().await?;
    assert_eq!(t.table(&COUNTS).get("a"), Some(3), "rebuilt exactly");
    assert_eq!(t.table(&COUNTS).get("b"), Some(2));
    assert_eq!(t.table(&COUNTS).get("c"), Some(1));
    assert_eq!(t.table(&COUNTS).len(), 3);
    // And it goes on from there.
    send_words(&mut t, &["c"]).await;
    t.run_until_idle().await?;
    assert_eq!(t.table(&COUNTS).get("c"), Some(2));
    Ok(())
}

#[tokio::test]
async fn a_deleted_store_folder_is_rebuilt_from_the_changelog() -> faust::Result<()> {
    let dir = temp_dir("deleted");
    let mut t = TestDriver::with_app(rocks_app(&dir));
    send_words(&mut t, &["p", "q", "p"]).await;
    t.run_until_idle().await?;
    t.commit();
    std::fs::remove_dir_all(&dir).expect("delete the store");
    t.restart().await?;
    assert_eq!(t.table(&COUNTS).get("p"), Some(2));
    assert_eq!(t.table(&COUNTS).get("q"), Some(1));
    Ok(())
}

#[tokio::test]
async fn a_store_written_for_another_changelog_is_rebuilt() -> faust::Result<()> {
    let dir = temp_dir("foreign");
    // A first broker's history...
    let mut first = TestDriver::with_app(rocks_app(&dir));
    send_words(&mut first, &["m", "m", "m", "n", "n", "o", "o", "o"]).await;
    first.run_until_idle().await?;
    first.commit();
    drop(first);
    // ...then the same folder against a new, shorter changelog (the topic
    // was recreated): the stored offsets point past its end.
    let mut second = TestDriver::with_app(rocks_app(&dir));
    send_words(&mut second, &["m"]).await;
    second.run_until_idle().await?;
    assert_eq!(second.table(&COUNTS).get("m"), Some(1), "not 4: rebuilt");
    assert_eq!(second.table(&COUNTS).get("o"), None);
    Ok(())
}

#[table(name = "rates", partitions = 4)]
static RATES: GlobalTable<String, f64>;

#[table(name = "tags", partitions = 4)]
static TAGS: SetTable<String, String>;

#[table(name = "all-tags", partitions = 4)]
static ALL_TAGS: SetGlobalTable<String, String>;

#[record]
#[derive(Debug, Clone, PartialEq)]
struct Tag {
    item: String,
    tag: String,
    remove: bool,
}

#[agent(topic = "rates-in")]
async fn set_rate(rate: Event<f64>) -> Result<()> {
    RATES.set(&rate.key.clone().unwrap_or_default(), rate.value)?;
    Ok(())
}

#[agent(topic = "tags-in")]
async fn tag(tag: Tag) -> Result<()> {
    if tag.remove {
        TAGS.discard(&tag.item, &tag.tag)?;
        ALL_TAGS.discard(&tag.item, &tag.tag)?;
    } else {
        TAGS.add(&tag.item, tag.tag.clone())?;
        ALL_TAGS.add(&tag.item, tag.tag)?;
    }
    Ok(())
}

fn kinds_app() -> App {
    App::bare("kinds")
        .topic_partitions(4)
        .table(&RATES)
        .table(&TAGS)
        .table(&ALL_TAGS)
        .agent(&set_rate::AGENT)
        .agent(&tag::AGENT)
}

async fn send_tag(t: &mut TestDriver, item: &str, tag: &str, remove: bool) {
    let tag = Tag {
        item: item.into(),
        tag: tag.into(),
        remove,
    };
    t.send("tags-in", item, tag).await;
}

#[tokio::test]
async fn set_tables_add_and_discard_members_and_survive_a_restart() -> faust::Result<()> {
    let mut t = TestDriver::with_app(kinds_app());
    send_tag(&mut t, "book", "paper", false).await;
    send_tag(&mut t, "book", "used", false).await;
    send_tag(&mut t, "book", "paper", false).await;
    send_tag(&mut t, "pen", "blue", false).await;
    send_tag(&mut t, "pen", "blue", true).await;
    t.run_until_idle().await?;
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(t.table(&TAGS).get("book"), Some(set(&["paper", "used"])));
    assert_eq!(
        t.table(&TAGS).get("pen"),
        None,
        "an emptied set removes the key"
    );
    assert_eq!(
        t.table(&ALL_TAGS).get("book"),
        Some(set(&["paper", "used"]))
    );
    // A repeated add writes nothing: 2 adds + 1 add + 1 delete.
    assert_eq!(t.records("kinds-tags-changelog").len(), 4);

    t.restart().await?;
    assert_eq!(t.table(&TAGS).get("book"), Some(set(&["paper", "used"])));
    assert_eq!(t.table(&TAGS).len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_global_table_keeps_each_key_in_its_hash_partition_and_holds_them_all()
-> faust::Result<()> {
    let mut t = TestDriver::with_app(kinds_app());
    for (currency, rate) in [("eur", 1.1), ("gbp", 1.3), ("jpy", 0.007), ("chf", 1.2)] {
        // Any partition of the input: the rate still lands by key.
        t.send_raw(
            "rates-in",
            Some(currency.as_bytes().to_vec().into()),
            Some(serde_json::to_vec(&rate).unwrap().into()),
            Default::default(),
        )
        .await;
    }
    t.run_until_idle().await?;
    assert_eq!(t.table(&RATES).len(), 4);
    assert_eq!(t.table(&RATES).get("gbp"), Some(1.3));
    let changelog = t.records("kinds-rates-changelog");
    for record in &changelog {
        let key = record.key.as_deref().expect("keyed");
        assert_eq!(
            record.partition,
            faust::partition_for_key(key, 4),
            "a global table's key lives in its hash partition"
        );
    }
    // A rebalance leaves a global table whole: every worker holds it all.
    t.rebalance([0]).await?;
    assert_eq!(t.table(&RATES).len(), 4);
    Ok(())
}

#[tokio::test]
async fn a_rebalance_closes_partitions_that_leave_and_recovers_those_that_come_back()
-> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("stores")
            .topic_partitions(4)
            .table(&COUNTS)
            .agent(&count::AGENT),
    );
    let words = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
    ];
    send_words(&mut t, &words).await;
    t.run_until_idle().await?;
    assert_eq!(t.table(&COUNTS).len(), words.len());
    let partition_of = |w: &str| faust::partition_for_key(w.as_bytes(), 4);
    let (kept, moved): (Vec<&str>, Vec<&str>) =
        words.iter().copied().partition(|w| partition_of(w) == 0);
    assert!(!moved.is_empty() && !kept.is_empty());

    // Another worker takes partitions 1..4: their state leaves this one.
    t.rebalance([0]).await?;
    assert_eq!(t.table(&COUNTS).len(), kept.len());
    // Events of the partitions it lost wait for their owner.
    send_words(&mut t, &moved).await;
    send_words(&mut t, &kept).await;
    t.run_until_idle().await?;
    for w in &kept {
        assert_eq!(t.table(&COUNTS).get(*w), Some(2));
    }
    assert_eq!(t.table(&COUNTS).get(moved[0]), None, "not held here");

    // They come back: recovered from the changelog, then the waiting
    // events are processed on top.
    t.rebalance(0..4).await?;
    for w in words {
        assert_eq!(t.table(&COUNTS).get(w), Some(2), "{w}");
    }
    Ok(())
}

/// Whether the `gated` agent's handlers may go on.
static GATE_OPEN: AtomicBool = AtomicBool::new(false);
static GATE: Notify = Notify::const_new();

#[table(name = "gated-counts", default, partitions = 4)]
static GATED: Table<String, u64>;

/// Counts its words once the test opens the gate: a handler waiting on
/// something outside the app (a slow call) while its partition moves.
#[agent(topic = "gated-words")]
async fn gated(word: Event<String>) -> Result<()> {
    loop {
        let opened = GATE.notified();
        if GATE_OPEN.load(Ordering::Acquire) {
            break;
        }
        opened.await;
    }
    GATED.update(&word.value, |n| *n += 1)?;
    Ok(())
}

#[tokio::test]
async fn a_handler_still_running_when_its_partition_is_revoked_writes_nothing_and_its_event_counts_once()
-> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("zombies")
            .topic_partitions(4)
            .table(&GATED)
            .agent(&gated::AGENT),
    );
    t.send("gated-words", "w", "w".to_owned()).await;
    t.run_until_idle().await?;
    assert_eq!(
        t.table(&GATED).get("w"),
        None,
        "the handler waits at the gate"
    );

    // The partition is revoked and given back while the handler waits: the
    // event is read again from the committed offset (nothing committed).
    t.rebalance(0..4).await?;
    GATE_OPEN.store(true, Ordering::Release);
    GATE.notify_waiters();
    t.run_until_idle().await?;

    // The first run's write was dropped; the second run counted it.
    assert_eq!(t.table(&GATED).get("w"), Some(1));
    let changelog: Vec<_> = t
        .records("zombies-gated-counts-changelog")
        .into_iter()
        .filter(|r| r.key.as_deref() == Some(b"w".as_slice()))
        .collect();
    assert_eq!(changelog.len(), 1, "one changelog record: {changelog:?}");
    let partition = faust::partition_for_key(b"w", 4) as i32;
    assert_eq!(t.committed("gated-words", partition), Some(1));
    Ok(())
}
