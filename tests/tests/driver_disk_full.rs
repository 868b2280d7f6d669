//! Test-driver tests of a full disk under a RocksDB table store.
//!
//! The store folder is a small tmpfs mounted for the test (`mount -t
//! tmpfs -o size=...`), filled to the last byte with a filler file: RocksDB
//! then gets the real `ENOSPC` from the kernel, as on a full volume. Mounting
//! needs root (CI and the dev machines run as root); elsewhere the tests
//! say they are skipped.
//!
//! What is checked: a full disk never fails an event or stalls its
//! partition (the writes wait in memory, reads see them, the changelog has
//! them); the commit reports a clear error naming the table partition, the
//! folder, the cause and the fix; once space is back the next commit
//! writes everything, and the store is whole: a crash and restart on the
//! folder gives the exact totals.

use std::path::{Path, PathBuf};
use std::process::Command;

use faust::prelude::*;
use faust::testing::TestDriver;

#[table(name = "counts", default, partitions = 2)]
static COUNTS: Table<String, u64>;

/// Each event's note, by its number: 4 KiB a write, so the writes outgrow
/// what RocksDB set aside before the disk filled (its write-ahead log is
/// preallocated, about 1.1 times a memtable) and reach the full disk.
#[table(name = "notes", partitions = 2)]
static NOTES: Table<u64, String>;

#[agent(topic = "words")]
async fn count(word: Event<String>) -> Result<()> {
    let (key, rest) = word.value.split_once(':').expect("key:number:note");
    let (number, _note) = rest.split_once(':').expect("key:number:note");
    COUNTS.update(&key.to_owned(), |n| *n += 1)?;
    NOTES.set(&number.parse().expect("a number"), word.value.clone())?;
    Ok(())
}

fn app(dir: &Path) -> App {
    App::bare("diskfull")
        .topic_partitions(2)
        .store(format!("rocksdb://{}", dir.display()))
        .table(&COUNTS)
        .table(&NOTES)
        .agent(&count::AGENT)
}

/// A tmpfs of `size` mounted on a fresh folder, unmounted on drop.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(name: &str, size: &str) -> Option<SmallDisk> {
        let dir =
            std::env::temp_dir().join(format!("faust-rs-disk-full-{name}-{}", std::process::id()));
        let _ = Command::new("umount")
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(SmallDisk { dir }),
            Ok(out) => {
                println!(
                    "skipped: mounting a {size} tmpfs on {} failed ({}); these tests need root",
                    dir.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                println!("skipped: no `mount` command ({e}); these tests need root");
                None
            }
        }
    }

    /// Where the stores go.
    fn stores(&self) -> PathBuf {
        self.dir.join("stores")
    }

    fn filler(&self) -> PathBuf {
        self.dir.join("filler")
    }

    /// Takes every free byte.
    fn fill(&self) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.filler())
            .expect("filler file");
        let block = vec![0xA5u8; 4096];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // The last partial block.
        for _ in 0..4096 {
            if file.write(&[0xA5]).is_err() {
                break;
            }
        }
        let _ = file.sync_all();
        let free = self.free_bytes();
        assert!(free < 4096, "the disk is full: {free} bytes left");
    }

    /// Gives the space back.
    fn free(&self) {
        std::fs::remove_file(self.filler()).expect("removing the filler");
    }

    fn free_bytes(&self) -> u64 {
        let out = Command::new("df")
            .args(["-P", "-B1"])
            .arg(&self.dir)
            .output()
            .expect("df");
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("df output: {text}"))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends `n` events cycling over `keys`, each numbered (the numbers go on
/// from the events sent before) and carrying a 4 KiB note.
async fn send_words(t: &mut TestDriver, keys: &[&str], n: usize) {
    let first = t.records("words").len();
    let note = "n".repeat(4096);
    for i in first..first + n {
        let w = keys[i % keys.len()];
        t.send("words", w, format!("{w}:{i}:{note}")).await;
    }
}

const KEYS: [&str; 5] = ["alpha", "beta", "gamma", "delta", "epsilon"];

fn assert_totals(t: &TestDriver, each: u64, when: &str) {
    for key in KEYS {
        assert_eq!(
            t.table(&COUNTS).get(key),
            Some(each),
            "{key} after {when}: every event counted once"
        );
    }
    assert_eq!(t.table(&COUNTS).len(), KEYS.len(), "{when}");
    assert_eq!(
        t.table(&NOTES).len(),
        each as usize * KEYS.len(),
        "every event's note after {when}"
    );
}

/// A driver on a fresh 16 MiB disk (`None` where it cannot be mounted),
/// with 50 events handled and committed.
async fn start(name: &str) -> faust::Result<Option<(SmallDisk, TestDriver)>> {
    let Some(disk) = SmallDisk::mount(name, "16m") else {
        return Ok(None);
    };
    let mut t = TestDriver::with_app(app(&disk.stores()));
    send_words(&mut t, &KEYS, 50).await;
    t.run_until_idle().await?;
    t.try_commit()?;
    Ok(Some((disk, t)))
}

/// On a full disk: sends rounds of 100 events and commits after each
/// until a commit fails (RocksDB writes into space it set aside first:
/// its log is preallocated, so the first few commits may still fit).
/// Returns the commit's error; every round's events went through.
async fn send_until_a_commit_fails(t: &mut TestDriver, sent: &mut u64) -> String {
    for _ in 0..40 {
        send_words(t, &KEYS, 100).await;
        *sent += 100;
        // Events go on: none fails (the agent's policy is `stop`, so a
        // failed one would end the run with its error), none waits on
        // the disk.
        t.run_until_idle()
            .await
            .unwrap_or_else(|e| panic!("an event failed on the full disk: {e}"));
        assert_totals(t, *sent / 5, "events on a full disk (reads see the buffer)");
        if let Err(e) = t.try_commit() {
            return e.to_string();
        }
    }
    panic!("4,000 events of 4 KiB each on a full 16 MiB disk and every commit succeeded");
}

#[tokio::test]
async fn a_full_disk_keeps_writes_in_memory_says_why_and_writes_them_once_space_is_back()
-> faust::Result<()> {
    let Some((disk, mut t)) = start("commit").await? else {
        return Ok(());
    };
    let mut sent = 50;
    assert_totals(&t, 10, "the first commit");

    disk.fill();
    let error = send_until_a_commit_fails(&mut t, &mut sent).await;
    for part in [
        "store error flushing table partition ",
        &disk.stores().display().to_string(),
        "No space left on device",
        "free space on that disk",
    ] {
        assert!(error.contains(part), "the error names {part:?}: {error}");
    }
    // The next commit opens the store again (RocksDB writes nothing more
    // after a failed write until then). Closing the failed handle can give
    // back the log space RocksDB had set aside, so this commit may fit;
    // either way it says why or writes, and nothing is lost.
    send_words(&mut t, &KEYS, 50).await;
    sent += 50;
    t.run_until_idle().await?;
    if let Err(e) = t.try_commit() {
        let e = e.to_string();
        assert!(e.contains("No space left on device"), "{e}");
    }
    assert_totals(&t, sent / 5, "a second commit on the full disk");
    // The input offsets go on: the changelog holds the writes.
    assert_eq!(
        (0..2)
            .map(|p| t.committed("words", p).unwrap_or(0))
            .sum::<i64>(),
        sent as i64,
        "every event's offset committed"
    );

    // Space comes back: the next commit opens the store again and writes
    // everything the buffer held.
    disk.free();
    t.try_commit()
        .unwrap_or_else(|e| panic!("the commit after space came back: {e}"));
    assert_totals(&t, sent / 5, "space came back");

    // The store is whole: a crash (the buffer is lost) and a restart on
    // the folder need nothing from the changelogs.
    let changelogs_read = |t: &TestDriver| {
        t.broker()
            .changelog_records_read("diskfull-counts-changelog")
            + t.broker()
                .changelog_records_read("diskfull-notes-changelog")
    };
    let read_before = changelogs_read(&t);
    t.restart().await?;
    assert_eq!(
        changelogs_read(&t) - read_before,
        0,
        "everything was on disk"
    );
    assert_totals(&t, sent / 5, "a restart");
    Ok(())
}

#[tokio::test]
async fn a_crash_on_a_full_disk_recovers_the_lost_buffer_from_the_changelog() -> faust::Result<()> {
    let Some((disk, mut t)) = start("crash").await? else {
        return Ok(());
    };
    let mut sent = 50;

    disk.fill();
    send_until_a_commit_fails(&mut t, &mut sent).await;

    // The worker dies with its buffer unwritten; space comes back (an
    // operator freed it) before it starts again.
    disk.free();
    t.restart().await?;
    assert_totals(
        &t,
        sent / 5,
        "a restart rebuilding the tail from the changelog",
    );
    // And it goes on from there, writing to disk again.
    send_words(&mut t, &KEYS, 5).await;
    sent += 5;
    t.run_until_idle().await?;
    t.try_commit()?;
    assert_totals(&t, sent / 5, "more events");
    Ok(())
}
