//! `examples/quickstart.rs`, run by the test driver: the timer's demo
//! orders come out of `enrich` as receipts, in cents, big ones marked VIP;
//! an order that fails validation goes to `orders-dlq` and the rest flow.

use std::time::Duration;

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/quickstart.rs"]
pub mod quickstart;

use quickstart::{Order, Receipt};

/// The example's app: `App::new` picks up every agent, timer and topic the
/// example declares, as its `main!` does.
fn app() -> App {
    App::new("quickstart")
}

#[tokio::test]
async fn the_demo_orders_come_out_as_receipts() -> faust::Result<()> {
    let mut t = TestDriver::with_app(app());
    t.advance(Duration::from_secs(2)).await?;

    let orders = t.topic::<Order>("orders").into_values();
    assert!(
        orders.len() >= 3 && orders.len().is_multiple_of(3),
        "three demo orders a tick, got {}",
        orders.len()
    );
    let mut want: Vec<(u64, String, u64, bool)> = orders
        .iter()
        .map(|o| {
            let cents = (o.amount * 100.0).round() as u64;
            (o.id, o.account.clone(), cents, o.amount >= 100.0)
        })
        .collect();
    let mut got: Vec<(u64, String, u64, bool)> = t
        .topic::<Receipt>("receipts")
        .into_values()
        .into_iter()
        .map(|r| (r.id, r.account, r.cents, r.vip))
        .collect();
    want.sort();
    got.sort();
    assert_eq!(
        got, want,
        "one receipt per order, in cents, VIP from 100 euros"
    );
    assert!(t.dead_letters("orders-dlq").is_empty());
    Ok(())
}

#[tokio::test]
async fn an_order_that_fails_validation_is_dead_lettered_and_the_next_flows() -> faust::Result<()> {
    let mut t = TestDriver::with_app(app());
    let bad = Order {
        id: 900,
        account: String::new(),
        amount: 10.0,
    };
    let good = Order {
        id: 901,
        account: "dora".into(),
        amount: 250.0,
    };
    t.send("orders", "dora", bad).await;
    t.send("orders", "dora", good).await;
    t.run_until_idle().await?;

    let receipts: Vec<(u64, String, u64, bool)> = t
        .topic::<Receipt>("receipts")
        .into_values()
        .into_iter()
        .map(|r| (r.id, r.account, r.cents, r.vip))
        .collect();
    assert_eq!(receipts, [(901, "dora".to_owned(), 25_000, true)]);
    let letters = t.dead_letters("orders-dlq");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].kind(), "validation");
    assert_eq!(letters[0].agent(), "enrich");
    assert!(
        letters[0].error().contains("account"),
        "{}",
        letters[0].error()
    );
    Ok(())
}
