//! `processing_guarantee = "exactly_once"` over the Kafka protocol, on the
//! embedded broker (librdkafka's mock cluster): the worker's transactional
//! producer registers its id, and every commit is a real transaction
//! cycle (AddPartitionsToTxn, produce, AddOffsetsToTxn, TxnOffsetCommit,
//! EndTxn), run on tokio's blocking pool. The mock cluster accepts these
//! calls but writes no commit markers and keeps no transactional offsets,
//! so this proves the wiring, not the guarantee (the driver's crash model
//! and `real_broker_transactions.rs` do that).

use std::sync::Mutex;
use std::time::Duration;

use faust::prelude::*;

static OUTPUTS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

static NUMBERS: Topic<String, u64> = Topic::new("emb-tx-numbers");

#[table(name = "emb-tx-sums", default, partitions = 3)]
static SUMS: Table<String, u64>;

#[agent(topic = "emb-tx-numbers", sink = "emb-tx-doubled")]
async fn double(n: u64) -> Result<u64> {
    SUMS.update(&"all".to_owned(), |s| *s += n)?;
    Ok(n * 2)
}

#[agent(topic = "emb-tx-doubled")]
async fn collect(n: u64) -> Result<()> {
    OUTPUTS.lock().unwrap().push(n);
    Ok(())
}

/// A task's records go out with the next transaction.
#[task]
async fn feed() -> Result<()> {
    for i in 0..100u64 {
        NUMBERS.send(format!("k{}", i % 7), i).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactional_pipeline_runs_on_the_embedded_broker() {
    let app = App::bare("embedded-tx")
        .broker("embedded://")
        .topic_partitions(3)
        .commit_interval(Duration::from_millis(100))
        .processing_guarantee(ProcessingGuarantee::ExactlyOnce)
        .transactional_id("embedded-tx-1")
        .table(&SUMS)
        .agent(&double::AGENT)
        .agent(&collect::AGENT)
        .task(&feed::TASK);
    let done = async {
        // Bounded: the first group join of the mock cluster takes ~3 s.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while OUTPUTS.lock().unwrap().len() < 100 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    faust::worker::run_until(app, done)
        .await
        .expect("the worker runs its transactions and stops cleanly");
    let mut outputs = OUTPUTS.lock().unwrap().clone();
    outputs.sort_unstable();
    let expected: Vec<u64> = (0..100u64).map(|i| i * 2).collect();
    assert_eq!(
        outputs, expected,
        "every input doubled once, in a committed transaction"
    );
}
