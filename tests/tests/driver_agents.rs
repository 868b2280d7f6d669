//! Test-driver tests of agents: per-event and stream forms, sinks chaining
//! agents, events with keys and headers, concurrency and commits.

use faust::prelude::*;
use faust::testing::TestDriver;
use std::time::Duration;

#[record]
#[derive(Debug, Clone, PartialEq)]
struct Order {
    account: String,
    amount: f64,
}

#[record]
#[derive(Debug, Clone, PartialEq)]
struct Receipt {
    account: String,
    cents: u64,
}

#[agent(topic = "orders", sink = "receipts")]
async fn to_receipt(order: Order) -> Result<Receipt> {
    Ok(Receipt {
        account: order.account,
        cents: (order.amount * 100.0).round() as u64,
    })
}

#[tokio::test]
async fn per_event_agent_sends_its_result_to_the_sink() -> faust::Result<()> {
    let mut t = TestDriver::for_agent(&to_receipt::AGENT);
    t.send(
        "orders",
        "alice",
        Order {
            account: "alice".into(),
            amount: 5.0,
        },
    )
    .await;
    t.send(
        "orders",
        "bob",
        Order {
            account: "bob".into(),
            amount: 2.25,
        },
    )
    .await;
    t.run_until_idle().await?;
    let receipts = t.topic::<Receipt>("receipts");
    receipts.assert_values_unordered(&[
        Receipt {
            account: "alice".into(),
            cents: 500,
        },
        Receipt {
            account: "bob".into(),
            cents: 225,
        },
    ]);
    // The sink record keeps the source key.
    let mut keys: Vec<_> = receipts.keys().into_iter().flatten().collect();
    keys.sort();
    assert_eq!(keys, ["alice", "bob"]);
    Ok(())
}

#[tokio::test]
async fn records_arriving_in_later_batches_of_the_same_partition_are_all_processed()
-> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("batches")
            .topic_partitions(1)
            .agent(&to_receipt::AGENT),
    );
    for round in 0..3u32 {
        t.send(
            "orders",
            "alice",
            Order {
                account: format!("a{round}"),
                amount: 1.0,
            },
        )
        .await;
        t.run_until_idle().await?;
    }
    t.topic::<Receipt>("receipts").assert_len(3);
    assert_eq!(t.committed("orders", 0), Some(3));
    Ok(())
}

#[agent(topic = "words", sink = [count_letters])]
async fn upper(word: String) -> Result<String> {
    Ok(word.to_uppercase())
}

#[agent(topic = "upper-words", sink = "letter-counts")]
async fn count_letters(word: String) -> Result<u64> {
    Ok(word.chars().filter(|c| c.is_alphabetic()).count() as u64)
}

#[tokio::test]
async fn a_sink_naming_an_agent_chains_the_two() -> faust::Result<()> {
    let app = App::bare("chain")
        .agent(&upper::AGENT)
        .agent(&count_letters::AGENT);
    let mut t = TestDriver::with_app(app);
    t.send("words", "k", "hello".to_string()).await;
    t.send("words", "k", "a-b-c".to_string()).await;
    t.run_until_idle().await?;
    t.topic::<String>("upper-words")
        .assert_values(&["HELLO".into(), "A-B-C".into()]);
    t.topic::<u64>("letter-counts").assert_values(&[5, 3]);
    Ok(())
}

#[agent(topic = "greetings", sink = "greeting-log")]
async fn describe(event: Event<String>) -> Result<String> {
    Ok(format!(
        "{}={} h={} p={} o={}",
        event.key.as_deref().unwrap_or("-"),
        event.value,
        event.headers().get_str("lang").unwrap_or("-"),
        event.partition(),
        event.offset()
    ))
}

#[tokio::test]
async fn an_event_input_sees_key_headers_partition_and_offset() -> faust::Result<()> {
    let mut t = TestDriver::with_app(App::bare("ev").topic_partitions(1).agent(&describe::AGENT));
    t.send_raw(
        "greetings",
        Some("k1".into()),
        Some("hola".into()),
        Headers::new().with("lang", "es"),
    )
    .await;
    t.send("greetings", "k2", "hi".to_string()).await;
    t.run_until_idle().await?;
    t.topic::<String>("greeting-log")
        .assert_values(&["k1=hola h=es p=0 o=0".into(), "k2=hi h=- p=0 o=1".into()]);
    Ok(())
}

#[agent(topic = "maybe", sink = "kept")]
async fn keep_even(n: u64) -> Result<Option<u64>> {
    Ok(n.is_multiple_of(2).then_some(n))
}

#[tokio::test]
async fn an_option_output_sends_only_some() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("opt")
            .topic_partitions(1)
            .agent(&keep_even::AGENT),
    );
    for n in 0..6u64 {
        t.send("maybe", "k", n).await;
    }
    t.run_until_idle().await?;
    t.topic::<u64>("kept").assert_values(&[0, 2, 4]);
    assert_eq!(t.committed("maybe", 0), Some(6));
    Ok(())
}

#[agent(topic = "clicks", sink = "click-batches")]
async fn batch_clicks(mut stream: Stream<String>) -> Result<()> {
    while let Some(batch) = stream.take(3, Duration::from_secs(1)).next().await {
        stream.emit(batch.join(",")).await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_stream_agent_batches_with_take_and_virtual_time() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("batches")
            .topic_partitions(1)
            .agent(&batch_clicks::AGENT),
    );
    for page in ["a", "b", "c", "d"] {
        t.send("clicks", "u", page.to_string()).await;
    }
    t.run_until_idle().await?;
    // A full batch went out; "d" waits for the batch's time limit.
    t.topic::<String>("click-batches")
        .assert_values(&["a,b,c".into()]);
    t.advance(Duration::from_millis(999)).await?;
    t.topic::<String>("click-batches").assert_len(1);
    t.advance(Duration::from_millis(1)).await?;
    t.topic::<String>("click-batches")
        .assert_values(&["a,b,c".into(), "d".into()]);
    // Acked when the agent asked for the next batch: all four are committed.
    t.send("clicks", "u", "e".to_string()).await;
    t.run_until_idle().await?;
    assert_eq!(t.committed("clicks", 0), Some(4));
    Ok(())
}

#[agent(topic = "numbers", sink = "labelled")]
async fn label(stream: Stream<u64>) -> Result<()> {
    let mut stream = stream
        .filter(|n| n % 10 != 0)
        .map(|n| n * 2)
        .enumerate()
        .events();
    while let Some(event) = stream.next().await {
        let (i, doubled) = event.value;
        let key = event.key.clone().unwrap_or_default();
        stream
            .emit(format!("{i}:{key}:{doubled}@{}", event.offset()))
            .await?;
    }
    Ok(())
}

#[tokio::test]
async fn stream_combinators_filter_map_enumerate_and_events() -> faust::Result<()> {
    let mut t = TestDriver::with_app(App::bare("comb").topic_partitions(1).agent(&label::AGENT));
    for n in [1u64, 10, 2, 20, 3] {
        t.send("numbers", "k", n).await;
    }
    t.run_until_idle().await?;
    t.topic::<String>("labelled").assert_values(&[
        "0:k:2@0".into(),
        "1:k:4@2".into(),
        "2:k:6@4".into(),
    ]);
    Ok(())
}

#[agent(topic = "slow", concurrency = 4, sink = "slow-done")]
async fn slow(n: u64) -> Result<u64> {
    // Higher numbers finish first: completions come out of order.
    faust::sleep(Duration::from_secs(10 - n)).await?;
    Ok(n)
}

#[tokio::test]
async fn concurrency_runs_handlers_at_once_and_commits_only_the_finished_prefix()
-> faust::Result<()> {
    let mut t = TestDriver::with_app(App::bare("conc").topic_partitions(1).agent(&slow::AGENT));
    for n in 0..4u64 {
        t.send("slow", "k", n).await;
    }
    t.run_until_idle().await?;
    // 7 s: only n = 3 (10 - 3 = 7 s) has finished; offset 0 has not.
    t.advance(Duration::from_secs(7)).await?;
    t.topic::<u64>("slow-done").assert_values(&[3]);
    assert_eq!(
        t.committed("slow", 0),
        None,
        "no commit past the unfinished offset 0"
    );
    // 9 s: 3, 2 and 1 done; offset 0 still running.
    t.advance(Duration::from_secs(2)).await?;
    t.topic::<u64>("slow-done").assert_values(&[3, 2, 1]);
    assert_eq!(t.committed("slow", 0), None);
    // 10 s: all done, everything committed; all four ran at once.
    t.advance(Duration::from_secs(1)).await?;
    t.topic::<u64>("slow-done").assert_values(&[3, 2, 1, 0]);
    assert_eq!(t.committed("slow", 0), Some(4));
    Ok(())
}

static AUDIT: Topic<String, String> = Topic::new("audit");

#[agent(topic = "payments")]
async fn audit_payments(event: Event<u64>) -> Result<()> {
    AUDIT
        .record(format!("paid {}", event.value))
        .key(event.key.clone().unwrap_or_default())
        .header("source", "audit_payments")
        .send()
        .await
}

#[tokio::test]
async fn topic_send_from_an_agent_with_headers() -> faust::Result<()> {
    let mut t = TestDriver::for_agent(&audit_payments::AGENT);
    t.send("payments", "alice", 30u64).await;
    t.run_until_idle().await?;
    let audit = t.topic::<String>("audit");
    audit.assert_values(&["paid 30".into()]);
    assert_eq!(
        audit.events()[0].headers().get_str("source"),
        Some("audit_payments")
    );
    assert_eq!(audit.keys(), [Some("alice")]);
    Ok(())
}

#[tokio::test]
async fn topic_send_outside_an_app_is_a_clear_error() {
    let err = AUDIT.send("k", "v").await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("outside a running faust app"), "{message}");
    assert!(message.contains("TestDriver"), "{message}");
}
