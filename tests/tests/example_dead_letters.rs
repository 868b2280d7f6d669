//! `examples/dead_letters.rs`, run by the test driver: the two good orders
//! are processed; each bad one (malformed, wrong type, missing field,
//! empty, invalid, rejected by the handler after its retries) lands on
//! `orders-dlq` with its original bytes and the reason, and the input
//! partition is committed past all of them.

use std::time::Duration;

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/dead_letters.rs"]
pub mod dead_letters;

#[tokio::test]
async fn every_bad_order_is_dead_lettered_with_its_reason() -> faust::Result<()> {
    // The example's app, as its `main!` builds it.
    let mut t = TestDriver::with_app(App::new("dead-letters-demo").topic_partitions(1));
    t.run_until_idle().await?;
    // The handler's retries wait 10 ms each.
    t.advance(Duration::from_secs(1)).await?;

    assert_eq!(t.committed("orders", 0), Some(8), "nothing is stuck");
    let letters = t.dead_letters("orders-dlq");
    let summary: Vec<(i64, &str, &str)> = letters
        .iter()
        .map(|l| (l.source().2, l.kind(), l.agent()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "decode", "process"),
            (2, "decode", "process"),
            (3, "decode", "process"),
            (4, "decode", "process"),
            (5, "validation", "process"),
            (6, "handler", "process"),
        ]
    );
    assert_eq!(
        letters[0].value(),
        Some(&b"{not json"[..]),
        "original bytes"
    );
    assert!(
        letters[5].error().contains("account `mallory` is blocked"),
        "{}",
        letters[5].error()
    );
    for letter in &letters {
        assert_eq!(letter.source().0, "orders");
        assert!(!letter.error().is_empty());
    }
    Ok(())
}
