//! `examples/word_count.rs`, run by the test driver: the demo text is
//! split, re-keyed by word and counted right, each word in one partition;
//! the RocksDB table survives a restart without replaying the changelog.

use std::collections::HashMap;
use std::time::Duration;

use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/word_count.rs"]
pub mod word_count;

use word_count::COUNTS;

#[test]
fn words_are_lower_case_without_punctuation() {
    assert_eq!(
        word_count::words("A quick brown dog? No: a lazy fox!"),
        ["a", "quick", "brown", "dog", "no", "a", "lazy", "fox"]
    );
    assert!(word_count::words(" -- ").is_empty());
}

#[tokio::test]
async fn the_demo_text_is_counted_per_word_and_survives_a_restart() -> faust::Result<()> {
    let dir = std::env::temp_dir().join(format!(
        "faust-rs-example-word-count-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let app = word_count::app().store(format!("rocksdb://{}", dir.display()));
    let mut t = TestDriver::with_app(app);

    // Three ticks of the timer: the three lines of the demo text.
    t.advance(Duration::from_secs(3)).await?;
    let expected = [
        ("the", 4),
        ("dog", 3),
        ("fox", 3),
        ("quick", 2),
        ("brown", 2),
        ("lazy", 2),
        ("a", 2),
        ("jumps", 1),
        ("over", 1),
        ("sleeps", 1),
        ("runs", 1),
        ("no", 1),
    ];
    for (word, n) in expected {
        assert_eq!(t.table(&COUNTS).get(word), Some(n), "{word}");
    }
    assert_eq!(t.table(&COUNTS).len(), expected.len());

    // Re-keyed: every occurrence of a word went to one partition of
    // `words`, and its count's changelog records to the same partition.
    let words = t.records("words");
    assert_eq!(words.len(), 23, "every word of the three lines");
    let mut partition_of: HashMap<Vec<u8>, i32> = HashMap::new();
    for record in &words {
        let key = record.key.clone().expect("keyed by the word").to_vec();
        let p = *partition_of.entry(key.clone()).or_insert(record.partition);
        assert_eq!(p, record.partition, "{}", String::from_utf8_lossy(&key));
    }
    let changelog = t.records("word-count-word-counts-changelog");
    assert_eq!(changelog.len(), 23, "one write per word");
    for record in &changelog {
        let key = record.key.clone().expect("keyed").to_vec();
        assert_eq!(Some(&record.partition), partition_of.get(&key));
    }

    // A commit writes the RocksDB stores; after a restart nothing needs
    // replaying, and counting carries on from the stored counts.
    t.commit();
    let read = t
        .broker()
        .changelog_records_read("word-count-word-counts-changelog");
    t.restart().await?;
    assert_eq!(
        t.broker()
            .changelog_records_read("word-count-word-counts-changelog"),
        read,
        "a warm restart replays nothing"
    );
    assert_eq!(t.table(&COUNTS).get("the"), Some(4));
    // The fourth tick sends the first line again.
    t.advance(Duration::from_secs(1)).await?;
    assert_eq!(t.table(&COUNTS).get("the"), Some(6));
    assert_eq!(t.table(&COUNTS).get("dog"), Some(4));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
