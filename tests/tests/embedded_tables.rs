//! Tables over the Kafka protocol (the embedded broker): a worker counts
//! into a table, stops; a second worker of the same app rebuilds the table
//! from the changelog when it is assigned the partitions, before it
//! processes anything, and carries on from there.

use std::sync::Mutex;
use std::time::Duration;

use faust::prelude::*;

#[table(name = "word-counts", default, partitions = 2)]
static COUNTS: Table<String, u64>;

static WORDS: Topic<String, String> = Topic::new("et-words");
static SEEN: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());

#[agent(topic = "et-words")]
async fn count(word: Event<String>) -> Result<()> {
    let n = COUNTS.update(&word.value, |n| *n += 1)?;
    SEEN.lock().unwrap().push((word.value.clone(), n));
    Ok(())
}

#[task]
async fn first_batch() -> Result<()> {
    for word in ["apple", "pear", "apple", "fig", "apple", "pear"] {
        WORDS.send(word, word).await?;
    }
    Ok(())
}

#[task]
async fn second_batch() -> Result<()> {
    for word in ["apple", "fig"] {
        WORDS.send(word, word).await?;
    }
    Ok(())
}

fn app() -> App {
    App::bare("embedded-tables")
        .broker("embedded://")
        .topic_partitions(2)
        .commit_interval(Duration::from_millis(100))
        // The mock cluster keeps a member that left until its session
        // expires: a short session lets the second worker in sooner.
        .consumer_config("session.timeout.ms", 6000)
        .table(&COUNTS)
        .agent(&count::AGENT)
}

async fn until_seen(n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while SEEN.lock().unwrap().len() < n && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_worker_rebuilds_the_table_from_the_changelog_and_carries_on() {
    // Logs show on failure (the test harness captures them otherwise).
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_test_writer()
        .try_init();
    faust::worker::run_until(app().task(&first_batch::TASK), until_seen(6))
        .await
        .expect("the first worker runs and stops");
    let first: Vec<(String, u64)> = SEEN.lock().unwrap().clone();
    assert_eq!(first.len(), 6, "{first:?}");
    assert!(first.contains(&("apple".into(), 3)), "{first:?}");

    // Same app id, same broker: it resumes after the committed offsets, with
    // the counts recovered.
    faust::worker::run_until(app().task(&second_batch::TASK), until_seen(8))
        .await
        .expect("the second worker runs and stops");
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(seen.len(), 8, "no event processed twice: {seen:?}");
    // apple and fig sit on different partitions: either may come first.
    let mut after_restart = seen[6..].to_vec();
    after_restart.sort();
    assert_eq!(
        after_restart,
        [("apple".into(), 4), ("fig".into(), 2)],
        "{seen:?}"
    );
}
