//! `examples/prices_rpc.rs`, run by the test driver: the shop's asks get
//! the prices back, and an unknown item's error.

use std::time::Duration;

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/prices_rpc.rs"]
pub mod prices_rpc;

#[tokio::test]
async fn asks_get_the_prices_and_an_unknown_items_error() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("prices-rpc")
            .agent(&prices_rpc::price::AGENT)
            .timer(&prices_rpc::shop::TIMER),
    );
    assert_eq!(
        t.ask(&prices_rpc::price::RPC, "k", "bread".into()).await?,
        250
    );
    let err = t
        .ask(&prices_rpc::price::RPC, "k", "caviar".into())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no price for \"caviar\""), "{err}");
    // Three rounds of the shop timer, each asking once and for a basket:
    // none fails the app (the caviar error is printed).
    t.advance(Duration::from_secs(6)).await?;
    let requests = t.records("price-requests").len();
    assert_eq!(requests, 2 + 3 * 4, "2 asks here, 4 per round");
    assert_eq!(t.records("prices-rpc-replies").len(), 3 * 4);
    Ok(())
}
