//! `examples/order_payments.rs`, run by the test driver: orders paid
//! within 10 minutes come out paired, once; the others go to
//! `orders-unpaid`, once.

use std::collections::BTreeSet;

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/order_payments.rs"]
pub mod order_payments;

use order_payments::{Order, PAIRS, Paid, Payment};

const T0: i64 = 1_735_689_600_000;
const MIN: i64 = 60_000;

#[tokio::test]
async fn paid_orders_pair_up_and_unpaid_ones_are_reported() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("order-payments")
            .topic_partitions(4)
            .table(&PAIRS)
            .agent(&order_payments::orders::AGENT)
            .agent(&order_payments::payments::AGENT),
    );
    let order = |id: &str, m: i64| Order {
        id: id.into(),
        amount: 100,
        at: T0 + m * MIN,
    };
    let payment = |id: &str, m: i64| Payment {
        order: id.into(),
        amount: 100,
        at: T0 + m * MIN,
    };
    // o1 paid after 3 min, o2 after 12 (too late), o3 never, o4 paid
    // before it was ordered (1 min).
    t.send("orders", "o1", order("o1", 0)).await;
    t.send("orders", "o2", order("o2", 1)).await;
    t.send("payments", "o4", payment("o4", 2)).await;
    t.send("orders", "o3", order("o3", 2)).await;
    t.send("payments", "o1", payment("o1", 3)).await;
    t.send("orders", "o4", order("o4", 3)).await;
    t.send("payments", "o2", payment("o2", 13)).await;
    // Both streams move on, in every partition (40 keys cover the 4).
    for p in 0..40 {
        let id = format!("late-{p}");
        t.send("orders", id.as_str(), order(&id, 40)).await;
        t.send("payments", id.as_str(), payment(&id, 40)).await;
    }
    t.run_until_idle().await?;
    let paid: BTreeSet<(String, i64)> = t
        .topic::<Paid>("paid")
        .into_values()
        .into_iter()
        .filter(|p| !p.order.starts_with("late"))
        .map(|p| (p.order, p.after_s))
        .collect();
    assert_eq!(
        paid,
        BTreeSet::from([("o1".to_owned(), 180), ("o4".to_owned(), -60)])
    );
    let unpaid: BTreeSet<String> = t
        .topic::<Order>("orders-unpaid")
        .into_values()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(unpaid, BTreeSet::from(["o2".to_owned(), "o3".to_owned()]));
    Ok(())
}
