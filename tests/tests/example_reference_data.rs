//! `examples/reference_data.rs`, run by the test driver: orders are priced
//! with the global rates table, whichever agent set the rate and whichever
//! partitions this worker owns, and carry their item's tags.

use std::collections::BTreeSet;

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/reference_data.rs"]
pub mod reference_data;

use reference_data::{Order, PricedOrder, RATES, TAGS, TagChange};

fn app() -> App {
    App::new("reference-data").topic_partitions(4)
}

async fn order(t: &mut TestDriver, id: u64, item: &str, price: f64, currency: &str) {
    let order = Order {
        id,
        item: item.into(),
        price,
        currency: currency.into(),
    };
    t.send("orders", item, order).await;
}

async fn change_tag(t: &mut TestDriver, item: &str, tag: &str, remove: bool) {
    let change = TagChange {
        item: item.into(),
        tag: tag.into(),
        remove,
    };
    t.send("tag-changes", item, change).await;
}

fn priced(t: &TestDriver, id: u64) -> PricedOrder {
    let all = t.topic::<PricedOrder>("priced-orders").into_values();
    all.iter()
        .find(|p| p.id == id)
        .cloned()
        .unwrap_or_else(|| panic!("no priced order #{id} in {all:#?}"))
}

#[tokio::test]
async fn orders_are_priced_with_the_rates_and_carry_their_items_tags() -> faust::Result<()> {
    let mut t = TestDriver::with_app(app());
    // The start-up task sets the first rates and tags.
    t.run_until_idle().await?;
    assert_eq!(t.table(&RATES).len(), 3);
    assert_eq!(t.table(&RATES).get("usd"), Some(0.92));
    let tags = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(t.table(&TAGS).get("book"), Some(tags(&["paper", "used"])));

    order(&mut t, 1, "book", 12.0, "usd").await;
    order(&mut t, 2, "pen", 2.5, "gbp").await;
    order(&mut t, 3, "lamp", 9.0, "chf").await;
    t.run_until_idle().await?;
    let book = priced(&t, 1);
    assert_eq!(book.euros, Some(11.04));
    assert_eq!(book.tags, ["paper", "used"]);
    assert_eq!(priced(&t, 2).euros, Some(2.93));
    // What `price` prints.
    assert_eq!(
        book.to_string(),
        "order #1   book    11.04 EUR  tags: paper, used"
    );
    assert_eq!(priced(&t, 3).to_string(), "order #3   lamp      no rate");

    // One agent moves a rate and changes tags; the next order sees both.
    t.send("rates", "usd", 0.96).await;
    change_tag(&mut t, "book", "sale", false).await;
    change_tag(&mut t, "book", "used", true).await;
    change_tag(&mut t, "pen", "blue", true).await;
    t.run_until_idle().await?;
    order(&mut t, 4, "book", 12.0, "usd").await;
    order(&mut t, 5, "pen", 2.5, "gbp").await;
    t.run_until_idle().await?;
    assert_eq!(priced(&t, 4).euros, Some(11.52));
    assert_eq!(priced(&t, 4).tags, ["paper", "sale"]);
    assert!(priced(&t, 5).tags.is_empty());
    assert_eq!(t.table(&TAGS).get("pen"), None, "an emptied set goes");
    Ok(())
}

#[tokio::test]
async fn after_a_rebalance_the_global_rates_stay_whole_and_the_tags_follow_their_partitions()
-> faust::Result<()> {
    let mut t = TestDriver::with_app(app());
    t.run_until_idle().await?;
    let book = faust::partition_for_key(b"book", 4);
    let pen = faust::partition_for_key(b"pen", 4);
    assert_ne!(book, pen, "the test needs them apart");

    // Another worker takes every partition but the book's.
    t.rebalance([book]).await?;
    assert_eq!(t.table(&RATES).len(), 3, "a global table stays whole");
    assert_eq!(t.table(&TAGS).len(), 1, "only the book's tags stay here");
    order(&mut t, 1, "book", 10.0, "gbp").await;
    t.run_until_idle().await?;
    assert_eq!(priced(&t, 1).euros, Some(11.7));

    // Every partition back: the pen's tags come back from the changelog.
    t.rebalance(0..4).await?;
    let blue: BTreeSet<String> = ["blue".to_owned()].into();
    assert_eq!(t.table(&TAGS).get("pen"), Some(blue));
    Ok(())
}
