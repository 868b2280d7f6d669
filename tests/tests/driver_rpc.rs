//! Calling agents under the test driver: `ask` gets what the agent
//! returns, or its error, or a timeout on virtual time; `map`, `kvmap` and
//! `join` ask many at once; `send` and `cast` need no reply.

use std::time::Duration;

use faust::prelude::*;
use faust::testing::TestDriver;

/// Prices in cents, by the length of the item's name; "broken" fails.
#[agent(topic = "price-requests", dead_letter = "price-dlq")]
async fn price(item: String) -> Result<u64> {
    if item == "broken" {
        return Err(faust::Error::msg("no price for broken items"));
    }
    Ok(item.len() as u64 * 100)
}

#[agent(topic = "maybe-requests")]
async fn maybe(item: String) -> Result<Option<String>> {
    Ok((!item.is_empty()).then(|| item.to_uppercase()))
}

#[tokio::test]
async fn the_driver_asks_and_gets_what_the_agent_returns() -> faust::Result<()> {
    let mut t = TestDriver::with_app(App::bare("rpc").agent(&price::AGENT).agent(&maybe::AGENT));
    assert_eq!(t.ask(&price::RPC, "k", "apple".into()).await?, 500);
    assert_eq!(
        t.ask(&maybe::RPC, "k", "x".into()).await?,
        Some("X".to_owned())
    );
    assert_eq!(t.ask(&maybe::RPC, "k", String::new()).await?, None);
    let err = t.ask(&price::RPC, "k", "broken".into()).await.unwrap_err();
    assert!(
        err.to_string().contains("agent `price` failed on the ask")
            && err.to_string().contains("no price for broken items"),
        "{err}"
    );
    Ok(())
}

// -------------------------------------------------- asking from an app

static ANSWERS: Topic<String, String> = Topic::new("answers");

#[task]
async fn ask_around() -> Result<()> {
    let one = price::RPC.ask("k", "pear".into()).await?;
    let many = price::RPC
        .join(["a".to_owned(), "bb".into(), "ccc".into()])
        .await?;
    let pairs = price::RPC
        .kvmap([("x", "apple".to_owned()), ("y", "broken".into())])
        .await;
    let pairs: Vec<String> = pairs
        .into_iter()
        .map(|(k, r)| {
            format!(
                "{k}={}",
                r.map(|v| v.to_string()).unwrap_or_else(|_| "error".into())
            )
        })
        .collect();
    price::RPC.cast("k", "fig".into()).await?;
    let sent = price::RPC.send("k", "kiwi".into()).await?;
    ANSWERS
        .send(
            "answers",
            format!(
                "one={one} many={many:?} pairs={pairs:?} sent@{}",
                sent.offset >= 0
            ),
        )
        .await
}

#[tokio::test]
async fn a_task_asks_an_agent_of_its_app_and_gets_the_replies() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("rpc-task")
            .agent(&price::AGENT)
            .task(&ask_around::TASK),
    );
    t.run_until_idle().await?;
    t.topic::<String>("answers").assert_values(&[
        "one=400 many=[100, 200, 300] pairs=[\"x=500\", \"y=error\"] sent@true".into(),
    ]);
    // The failing ask was dead-lettered as usual.
    assert_eq!(t.dead_letters("price-dlq").len(), 1);
    Ok(())
}

// ---------------------------------------------------------- timeouts

static TIMEOUTS: Topic<String, String> = Topic::new("timeouts");

#[agent(topic = "nobody-reads-this")]
async fn absent(item: String) -> Result<String> {
    Ok(item)
}

#[task]
async fn ask_the_absent() -> Result<()> {
    let err = absent::RPC
        .ask_within("k", "hello".into(), Duration::from_secs(5))
        .await
        .unwrap_err();
    TIMEOUTS.send("t", err.to_string()).await
}

#[tokio::test]
async fn an_ask_nobody_answers_times_out_on_virtual_time() -> faust::Result<()> {
    // `absent` is not part of this app: nothing answers.
    let mut t = TestDriver::with_app(App::bare("rpc-timeout").task(&ask_the_absent::TASK));
    t.advance(Duration::from_millis(4_999)).await?;
    assert!(t.records("timeouts").is_empty(), "timed out early");
    t.advance(Duration::from_millis(1)).await?;
    let errors = t.topic::<String>("timeouts").into_values();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("agent `absent` did not reply within 5s"),
        "{}",
        errors[0]
    );
    Ok(())
}
