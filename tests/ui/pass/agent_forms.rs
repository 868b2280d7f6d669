#![deny(warnings)]

use faust::prelude::*;
use std::time::Duration;

#[record]
#[derive(Debug, Clone)]
pub struct Order {
    pub id: u64,
}

#[record]
#[derive(Debug, Clone)]
pub struct Receipt {
    pub id: u64,
}

// Per-event form with every option; sinks to a topic and to agents named by
// a plain, a `self::`, a `crate::` and a module-relative path.
#[agent(
    topics = ["orders", "orders-replay"],
    sink = ["receipts", audit, self::audit, crate::audit, flows::archive],
    concurrency = 4,
    dead_letter = "orders-dlq",
    on_error = "dead_letter",
    retries = 3,
    retry_backoff = "250ms",
    name = "enrich-orders",
)]
async fn enrich(order: Order) -> Result<Receipt> {
    Ok(Receipt { id: order.id })
}

#[agent(topic = "receipts")]
pub async fn audit(receipt: Receipt) -> Result<()> {
    let _ = receipt.id;
    Ok(())
}

pub(crate) mod flows {
    use faust::prelude::*;

    // `pub(super)`: the hidden module gets the same visibility, so the
    // crate root can name `flows::archive::AGENT`.
    #[agent(topic = "archive", sink = super::audit)]
    pub(super) async fn archive(receipt: super::Receipt) -> Result<super::Receipt> {
        Ok(receipt)
    }

    // An `Event<T>` argument, a custom error type, `on_error = "stop"`.
    #[agent(topic = "archive-events", on_error = "stop", retry_backoff = 0)]
    pub(crate) async fn archive_events(
        event: Event<super::Receipt>,
    ) -> std::result::Result<(), std::io::Error> {
        let _ = event.value.id;
        Ok(())
    }
}

// Stream form, with a sink it emits to.
#[agent(topic = "clicks", sink = "click-counts")]
async fn clicks(mut stream: Stream<String>) -> Result<()> {
    let mut seen = 0u64;
    while let Some(click) = stream.next().await {
        seen += 1;
        let _ = click;
        stream.emit(seen).await?;
    }
    Ok(())
}

// A raw identifier is named without `r#`.
#[agent(topic = "types")]
async fn r#type(value: String) -> Result<Option<String>> {
    Ok(Some(value))
}

fn main() {
    let def = &enrich::AGENT;
    assert_eq!(def.name, "enrich-orders");
    assert_eq!(def.topics, ["orders", "orders-replay"]);
    assert_eq!(def.sinks.len(), 5);
    assert_eq!(def.concurrency, 4);
    assert_eq!(def.dead_letter, Some("orders-dlq"));
    assert_eq!(def.on_error, Some(OnError::DeadLetter));
    assert_eq!(def.retries, 3);
    assert_eq!(def.retry_backoff, Duration::from_millis(250));
    assert!(def.location.file.ends_with("agent_forms.rs"));

    let def = &audit::AGENT;
    assert_eq!(def.name, "audit");
    assert!(def.sinks.is_empty());
    assert_eq!(def.concurrency, 1);
    assert_eq!(def.dead_letter, None);
    assert_eq!(def.on_error, None);
    assert_eq!(def.retries, 0);
    assert_eq!(def.retry_backoff, Duration::from_millis(100));

    assert_eq!(flows::archive::AGENT.sinks.len(), 1);
    assert_eq!(flows::archive_events::AGENT.on_error, Some(OnError::Stop));
    assert_eq!(flows::archive_events::AGENT.retry_backoff, Duration::ZERO);
    assert_eq!(clicks::AGENT.name, "clicks");
    assert_eq!(r#type::AGENT.name, "type");
}
