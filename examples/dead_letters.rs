//! Dead letters: what happens to events an agent cannot process.
//!
//! A task sends good orders and bad ones: malformed JSON, a wrong type, a
//! missing field, an empty payload, a failed validation, and one the
//! handler rejects. The good ones are processed; each bad one lands on
//! `orders-dlq` with its original bytes and headers saying what failed,
//! where, and by which agent — and `inspect` prints them.
//!
//! ```text
//! cargo run --example dead_letters     # Ctrl-C to stop
//! ```

use faust::dead_letter::headers;
use faust::prelude::*;

/// An order; `amount` must not be negative.
#[record(validate)]
#[derive(Debug, Clone)]
pub struct Order {
    /// Who ordered.
    pub account: String,
    /// How much.
    #[validate(range(min = 0.0))]
    pub amount: f64,
}

/// Raw access to the same topic, to send malformed bytes on purpose.
static RAW_ORDERS: Topic<String, faust::Bytes> = Topic::new("orders");

/// Typed access to the topic.
static ORDERS: Topic<String, Order> = Topic::new("orders");

/// Processes orders; rejects the account "mallory". Retries twice before
/// dead-lettering a handler error.
#[agent(
    topic = "orders",
    dead_letter = "orders-dlq",
    retries = 2,
    retry_backoff = "10ms"
)]
pub async fn process(order: Order) -> Result<(), BoxError> {
    if order.account == "mallory" {
        return Err(format!("account `{}` is blocked", order.account).into());
    }
    println!("processed: {} paid {:.2}", order.account, order.amount);
    Ok(())
}

/// Prints every dead letter with the reason from its headers.
#[agent(topic = "orders-dlq")]
pub async fn inspect(letter: Event<faust::Bytes>) -> Result<()> {
    let h = letter.headers();
    println!(
        "dead letter from {}[{}]@{} ({} error in agent `{}`): {}\n    original value: {:?}",
        h.get_str(headers::TOPIC).unwrap_or("?"),
        h.get_str(headers::PARTITION).unwrap_or("?"),
        h.get_str(headers::OFFSET).unwrap_or("?"),
        h.get_str(headers::ERROR_KIND).unwrap_or("?"),
        h.get_str(headers::AGENT).unwrap_or("?"),
        h.get_str(headers::ERROR).unwrap_or("?"),
        String::from_utf8_lossy(&letter.value),
    );
    Ok(())
}

/// Sends the demo input once at start.
#[task]
pub async fn demo_input() -> Result<()> {
    let key = || "demo".to_owned();
    ORDERS
        .send(
            key(),
            Order {
                account: "alice".into(),
                amount: 5.0,
            },
        )
        .await?;
    for bad in [
        &b"{not json"[..],
        br#"{"account": "bob", "amount": "ten"}"#,
        br#"{"account": "carol"}"#,
        b"",
        br#"{"account": "dave", "amount": -3.0}"#,
    ] {
        RAW_ORDERS
            .send(key(), faust::Bytes::from_static(bad))
            .await?;
    }
    ORDERS
        .send(
            key(),
            Order {
                account: "mallory".into(),
                amount: 1.0,
            },
        )
        .await?;
    ORDERS
        .send(
            key(),
            Order {
                account: "erin".into(),
                amount: 7.5,
            },
        )
        .await?;
    Ok(())
}

faust::main!(App::new("dead-letters-demo").topic_partitions(1));
