//! A worker on the embedded broker (librdkafka's mock cluster: the real
//! Kafka protocol on loopback, in-process): events flow through a sink to a
//! second agent, a bad message reaches the dead-letter topic, and the worker
//! stops gracefully when asked.

use std::sync::Mutex;
use std::time::Duration;

use faust::prelude::*;

static OUTPUTS: Mutex<Vec<u64>> = Mutex::new(Vec::new());
static DEAD: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

static NUMBERS: Topic<String, u64> = Topic::new("emb-numbers");
static RAW_NUMBERS: Topic<String, faust::Bytes> = Topic::new("emb-numbers");

#[agent(topic = "emb-numbers", sink = "emb-doubled", dead_letter = "emb-dlq")]
async fn double(n: u64) -> Result<u64> {
    Ok(n * 2)
}

#[agent(topic = "emb-doubled")]
async fn collect(n: u64) -> Result<()> {
    OUTPUTS.lock().unwrap().push(n);
    Ok(())
}

#[agent(topic = "emb-dlq")]
async fn collect_dead(letter: Event<faust::Bytes>) -> Result<()> {
    let h = letter.headers();
    DEAD.lock().unwrap().push((
        h.get_str(faust::dead_letter::headers::ERROR_KIND)
            .unwrap_or("")
            .to_owned(),
        h.get_str(faust::dead_letter::headers::TOPIC)
            .unwrap_or("")
            .to_owned(),
    ));
    Ok(())
}

#[task]
async fn feed() -> Result<()> {
    for i in 0..200u64 {
        NUMBERS.send(format!("k{}", i % 7), i).await?;
    }
    RAW_NUMBERS
        .send("bad", faust::Bytes::from_static(b"not a number"))
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_on_the_embedded_broker_delivers_every_event_and_dead_letters_the_bad_one() {
    let app = App::bare("embedded-test")
        .broker("embedded://")
        .topic_partitions(3)
        .commit_interval(Duration::from_millis(200))
        .agent(&double::AGENT)
        .agent(&collect::AGENT)
        .agent(&collect_dead::AGENT)
        .task(&feed::TASK);
    let done = async {
        // Bounded: the first group join of the mock cluster takes ~3 s.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let outputs = OUTPUTS.lock().unwrap().len();
            let dead = DEAD.lock().unwrap().len();
            if (outputs >= 200 && dead >= 1) || tokio::time::Instant::now() > deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    faust::worker::run_until(app, done)
        .await
        .expect("the worker runs and stops cleanly");

    let mut outputs = OUTPUTS.lock().unwrap().clone();
    outputs.sort_unstable();
    outputs.dedup();
    let expected: Vec<u64> = (0..200u64).map(|i| i * 2).collect();
    assert_eq!(outputs, expected, "every input doubled at least once");
    let dead = DEAD.lock().unwrap().clone();
    assert_eq!(dead, [("decode".to_owned(), "emb-numbers".to_owned())]);
}
