//! Word count: the classic stateful stream, with a RocksDB table.
//!
//! A timer sends a line of text to `sentences` every second; `split` cuts
//! each line into words and sends every word to `words`, keyed by the word
//! itself; `count` adds one to the word's count in the `word-counts` table
//! and prints it. Re-keying by word is what makes the count right: a
//! table is partitioned like the topic its agent reads, so all of one
//! word's events must come through the same partition (Faust's
//! `group_by`).
//!
//! The table lives in RocksDB under the system temp folder,
//! `$TMPDIR/faust-rs-word-count` (`/tmp/faust-rs-word-count` on Linux);
//! `FAUST_STORE=rocksdb://./word-count-data` puts it elsewhere. Every write
//! also goes to the changelog topic `word-count-word-counts-changelog`.
//!
//! ```text
//! cargo run --example word_count                # Ctrl-C to stop
//! cargo run --example word_count -- tables      # the table, its store and changelog
//! ```
//!
//! The embedded broker forgets its topics when the program exits, so the
//! next run finds a store its (new, empty) changelog does not match: it
//! says so, empties the store and counts from zero. Against a real broker
//! (`--broker kafka://localhost:9092`) a restart carries on counting,
//! replaying only the changelog written since the last commit. Two copies
//! of the program must not share a store folder.

use faust::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The demo text, one line a second, over and over.
pub const TEXT: &[&str] = &[
    "The quick brown fox jumps over the lazy dog.",
    "The dog sleeps; the fox runs.",
    "A quick brown dog? No: a lazy fox!",
];

/// Lines of text, keyed by line number.
#[topic(name = "sentences")]
pub static SENTENCES: Topic<String, String>;

/// Single words, keyed by the word: one word, one partition.
#[topic(name = "words")]
pub static WORDS: Topic<String, String>;

/// How many times each word was seen.
#[table(name = "word-counts", default, help = "Occurrences of each word")]
pub static COUNTS: Table<String, u64>;

/// Splits a line into words and re-keys them by word.
#[agent(topic = "sentences")]
pub async fn split(sentence: String) -> Result<()> {
    for word in words(&sentence) {
        WORDS.send(word.clone(), word).await?;
    }
    Ok(())
}

/// Counts a word and prints its new count.
#[agent(topic = "words")]
pub async fn count(word: String) -> Result<()> {
    let n = COUNTS.update(&word, |n| *n += 1)?;
    println!("{word:<8} {n:>4}");
    Ok(())
}

/// The words of `sentence`: lower case, without punctuation.
pub fn words(sentence: &str) -> Vec<String> {
    sentence
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

static NEXT_LINE: AtomicUsize = AtomicUsize::new(0);

/// Demo input: the next line of [`TEXT`] every second.
#[timer(interval = "1s")]
pub async fn feed() -> Result<()> {
    let n = NEXT_LINE.fetch_add(1, Ordering::Relaxed);
    let line = TEXT[n % TEXT.len()];
    SENTENCES.send(format!("line-{n}"), line.to_owned()).await
}

/// The app: RocksDB under the temp folder unless `FAUST_STORE` or the
/// config file says otherwise.
pub fn app() -> App {
    let dir = std::env::temp_dir().join("faust-rs-word-count");
    App::new("word-count")
        .topic_partitions(4)
        .store(format!("rocksdb://{}", dir.display()))
}

faust::main!(app());
