//! `examples/enrich.rs`, run by the test driver: each order comes out with
//! its customer's name and country, or marked unknown.

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/enrich.rs"]
pub mod enrich;

use enrich::{CUSTOMERS, Customer, EnrichedOrder, Order};

#[tokio::test]
async fn orders_are_enriched_from_the_customer_table() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("enrich")
            .topic_partitions(4)
            .table(&CUSTOMERS)
            .agent(&enrich::remember::AGENT)
            .agent(&enrich::enrich::AGENT)
            .task(&enrich::load_customers::TASK),
    );
    t.run_until_idle().await?;
    assert_eq!(
        t.table(&CUSTOMERS).get("c2"),
        Some(Customer {
            name: "Bob".into(),
            country: "DE".into()
        })
    );
    let orders: Vec<Order> = (1..=8)
        .map(|id| Order {
            id,
            customer: ["c1", "c2", "c3", "c9"][id as usize % 4].into(),
            amount: id * 100,
        })
        .collect();
    for order in &orders {
        t.send("orders", order.id.to_string().as_str(), order.clone())
            .await;
    }
    t.run_until_idle().await?;

    let names = [
        ("c1", "Ann", "FR"),
        ("c2", "Bob", "DE"),
        ("c3", "Cid", "NL"),
    ];
    let want: Vec<EnrichedOrder> = orders
        .iter()
        .map(|o| {
            let known = names.iter().find(|(id, _, _)| *id == o.customer);
            EnrichedOrder {
                id: o.id,
                amount: o.amount,
                customer: o.customer.clone(),
                name: known.map(|(_, n, _)| n.to_string()),
                country: known.map(|(_, _, c)| c.to_string()),
            }
        })
        .collect();
    t.topic::<EnrichedOrder>("orders-enriched")
        .assert_values_unordered(&want);
    Ok(())
}
