//! Test-driver tests of bad input and failing handlers: every decode and
//! validation failure reaches the dead-letter topic with its error headers
//! while the good events around it are processed; retries; the stop policy;
//! start-up errors.

use faust::dead_letter::headers;
use faust::prelude::*;
use faust::testing::TestDriver;
use std::time::Duration;

#[record(validate)]
#[derive(Debug, Clone, PartialEq)]
struct Order {
    #[validate(length(min = 1))]
    account: String,
    #[validate(range(min = 0.0))]
    amount: f64,
}

#[agent(topic = "orders", sink = "accepted", dead_letter = "orders-dlq")]
async fn accept(order: Order) -> Result<String> {
    Ok(order.account)
}

fn app() -> App {
    App::bare("errors")
        .topic_partitions(1)
        .agent(&accept::AGENT)
}

async fn send_bytes(t: &mut TestDriver, value: &'static [u8]) {
    t.send_raw(
        "orders",
        Some("k".into()),
        Some(faust::Bytes::from_static(value)),
        Headers::new().with("trace", "t-1"),
    )
    .await;
}

#[tokio::test]
async fn each_bad_message_reaches_the_dead_letter_topic_and_good_ones_flow() -> faust::Result<()> {
    let mut t = TestDriver::with_app(app());
    send_bytes(&mut t, br#"{"account": "a1", "amount": 1.0}"#).await; // 0 ok
    send_bytes(&mut t, b"{not json").await; // 1 malformed
    send_bytes(&mut t, br#"{"account": "a2", "amount": 2.0}"#).await; // 2 ok
    send_bytes(&mut t, br#"{"account": "x", "amount": "ten"}"#).await; // 3 wrong type
    send_bytes(&mut t, br#"{"account": "x"}"#).await; // 4 missing field
    send_bytes(&mut t, b"").await; // 5 empty
    send_bytes(&mut t, br#"{"account": "", "amount": -1.0}"#).await; // 6 validation
    t.send_raw("orders", Some("k".into()), None, Headers::new())
        .await; // 7 tombstone
    send_bytes(&mut t, br#"{"account": "a3", "amount": 3.0}"#).await; // 8 ok
    t.run_until_idle().await?;

    t.topic::<String>("accepted")
        .assert_values(&["a1".into(), "a2".into(), "a3".into()]);
    assert_eq!(t.committed("orders", 0), Some(9), "nothing is stuck");

    let letters = t.dead_letters("orders-dlq");
    let summary: Vec<(i64, &str)> = letters.iter().map(|l| (l.source().2, l.kind())).collect();
    assert_eq!(
        summary,
        [
            (1, "decode"),
            (3, "decode"),
            (4, "decode"),
            (5, "decode"),
            (6, "validation"),
            (7, "decode")
        ]
    );
    for letter in &letters {
        assert_eq!(letter.agent(), "accept");
        assert_eq!(letter.source().0, "orders");
        assert_eq!(letter.key(), Some(&b"k"[..]), "original key kept");
        let attempts = letter.0.headers.get_str(headers::ATTEMPTS);
        assert_eq!(attempts, Some("1"), "decode errors are not retried");
    }
    // Original value and headers are kept.
    assert_eq!(letters[0].value(), Some(&b"{not json"[..]));
    assert_eq!(letters[0].0.headers.get_str("trace"), Some("t-1"));
    // Each error names what went wrong.
    let errors: Vec<&str> = letters.iter().map(|l| l.error()).collect();
    assert!(
        errors[1].contains("amount") && errors[1].contains("string"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].contains("missing field") && errors[2].contains("amount"),
        "{}",
        errors[2]
    );
    assert!(errors[3].to_lowercase().contains("empty"), "{}", errors[3]);
    assert!(
        errors[4].contains("account") && errors[4].contains("amount"),
        "{}",
        errors[4]
    );
    assert!(errors[4].contains("-1"), "found value named: {}", errors[4]);
    Ok(())
}

#[agent(
    topic = "flaky",
    sink = "flaky-done",
    dead_letter = "flaky-dlq",
    retries = 2,
    retry_backoff = "1s"
)]
async fn flaky(n: u64) -> Result<u64, BoxError> {
    if n == 13 {
        return Err(format!("unlucky number {n}").into());
    }
    Ok(n)
}

#[tokio::test]
async fn a_handler_error_is_retried_with_backoff_then_dead_lettered() -> faust::Result<()> {
    let mut t = TestDriver::with_app(App::bare("retry").topic_partitions(1).agent(&flaky::AGENT));
    t.send("flaky", "k", 1u64).await;
    t.send("flaky", "k", 13u64).await;
    t.send("flaky", "k", 2u64).await;
    t.run_until_idle().await?;
    // First attempt failed; the partition waits for the backoff (in order).
    t.topic::<u64>("flaky-done").assert_values(&[1]);
    assert!(t.dead_letters("flaky-dlq").is_empty());
    t.advance(Duration::from_secs(1)).await?; // retry 1 (after 1 s)
    assert!(t.dead_letters("flaky-dlq").is_empty());
    t.advance(Duration::from_secs(2)).await?; // retry 2 (after 2 s more)
    let letters = t.dead_letters("flaky-dlq");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].kind(), "handler");
    assert_eq!(letters[0].0.headers.get_str(headers::ATTEMPTS), Some("3"));
    assert!(letters[0].error().contains("unlucky number 13"));
    t.topic::<u64>("flaky-done").assert_values(&[1, 2]);
    assert_eq!(t.committed("flaky", 0), Some(3));
    Ok(())
}

#[agent(topic = "strict", on_error = "stop")]
async fn strict(n: u64) -> Result<()> {
    if n > 100 {
        return Err(faust::Error::msg(format!("{n} is too big")));
    }
    Ok(())
}

#[tokio::test]
async fn the_stop_policy_stops_the_app_and_does_not_commit_the_failed_event() {
    let mut t = TestDriver::with_app(App::bare("stop").topic_partitions(1).agent(&strict::AGENT));
    t.send("strict", "k", 1u64).await;
    t.send("strict", "k", 500u64).await;
    t.send("strict", "k", 2u64).await;
    let err = t.run_until_idle().await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("agent `strict` stopped the worker"),
        "{message}"
    );
    assert!(message.contains("strict[0] offset 1"), "{message}");
    assert!(message.contains("500 is too big"), "{message}");
    // Offset 0 is committed; the failed offset 1 is not, so a restart reprocesses it.
    assert_eq!(t.committed("strict", 0), Some(1));
    let again = t.run_until_idle().await.unwrap_err();
    assert!(again.to_string().contains("already stopped"), "{again}");
}

#[agent(topic = "no-dlq")]
async fn no_policy(n: u64) -> Result<u64> {
    Ok(n)
}

#[tokio::test]
async fn without_a_dead_letter_topic_a_bad_message_stops_rather_than_vanishes() {
    let mut t = TestDriver::with_app(
        App::bare("nodlq")
            .topic_partitions(1)
            .agent(&no_policy::AGENT),
    );
    t.send_raw(
        "no-dlq",
        None,
        Some("\"not a number\"".into()),
        Headers::new(),
    )
    .await;
    let err = t.run_until_idle().await.unwrap_err().to_string();
    assert!(
        err.contains("no_policy") && err.contains("offset 0"),
        "{err}"
    );
    assert_eq!(t.committed("no-dlq", 0), None);
}

mod other {
    use faust::prelude::*;

    #[agent(topic = "dup-a", name = "same_name")]
    pub(crate) async fn first(n: u64) -> Result<()> {
        let _ = n;
        Ok(())
    }

    #[agent(topic = "dup-b", name = "same_name")]
    pub(crate) async fn second(n: u64) -> Result<()> {
        let _ = n;
        Ok(())
    }
}

#[test]
fn two_agents_with_one_name_is_a_start_up_error_naming_both() {
    let app = App::bare("dups")
        .agent(&other::first::AGENT)
        .agent(&other::second::AGENT);
    let err = TestDriver::try_with_app(app).unwrap_err().to_string();
    assert!(err.contains("two agents are named `same_name`"), "{err}");
    assert!(
        err.contains("driver_errors.rs"),
        "names the definitions: {err}"
    );
    assert!(err.matches("driver_errors::other").count() == 2, "{err}");
}

#[agent(topic = "unit", sink = "nowhere")]
async fn returns_nothing(n: u64) -> Result<()> {
    let _ = n;
    Ok(())
}

#[test]
fn a_sink_on_an_agent_that_returns_nothing_is_a_start_up_error() {
    let app = App::bare("unit").agent(&returns_nothing::AGENT);
    let err = TestDriver::try_with_app(app).unwrap_err().to_string();
    assert!(err.contains("has sink `nowhere` but returns `()`"), "{err}");
}

#[topic(name = "coded", value_serializer = "avro")]
static CODED: Topic<String, u64>;

#[agent(topic = "coded")]
async fn read_coded(n: u64) -> Result<()> {
    let _ = n;
    Ok(())
}

#[test]
fn an_unknown_codec_is_a_start_up_error_listing_the_known_ones() {
    let app = App::bare("codec").topic(&CODED).agent(&read_coded::AGENT);
    let err = TestDriver::try_with_app(app).unwrap_err().to_string();
    assert!(err.contains("avro"), "{err}");
    assert!(err.contains("json") && err.contains("msgpack"), "{err}");
}

#[agent(topic = "big", sink = "big-ok", dead_letter = "big-dlq")]
async fn small_only(order: Order) -> Result<String> {
    Ok(order.account)
}

#[tokio::test]
async fn a_dead_letter_too_large_for_its_topic_is_written_without_its_value() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("big")
            .topic_partitions(1)
            .agent(&small_only::AGENT),
    );
    let huge = "x".repeat(4096);
    let bad = format!("{{\"account\": \"{huge}\"");
    t.send(
        "big",
        "k",
        Order {
            account: "a1".into(),
            amount: 1.0,
        },
    )
    .await;
    t.send_raw(
        "big",
        Some("k".into()),
        Some(bad.clone().into()),
        Headers::new(),
    )
    .await;
    t.send(
        "big",
        "k",
        Order {
            account: "a2".into(),
            amount: 2.0,
        },
    )
    .await;
    // From now on the broker takes records up to 1 KiB, like a topic's max.message.bytes.
    t.broker().set_max_record_bytes(1024);
    t.run_until_idle().await?;

    t.topic::<String>("big-ok")
        .assert_values(&["a1".into(), "a2".into()]);
    assert_eq!(
        t.committed("big", 0),
        Some(3),
        "the large record does not block its partition"
    );
    let letters = t.dead_letters("big-dlq");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].value(), None, "the value is left out");
    assert_eq!(letters[0].kind(), "decode");
    assert_eq!(letters[0].source(), ("big".to_owned(), 0, 1));
    let dropped = letters[0]
        .0
        .headers
        .get_str(headers::VALUE_DROPPED)
        .unwrap_or("");
    assert!(
        dropped.contains(&format!("{} bytes", bad.len())),
        "{dropped}"
    );
    Ok(())
}
