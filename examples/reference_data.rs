//! Reference data: a global table of exchange rates and a set table of tags.
//!
//! `set_rate` keeps the `rates` table (a `GlobalTable`: every worker holds
//! all of it, whichever partitions it owns) current from the `rates`
//! topic. `tag` adds tags to items and removes them in `item-tags` (a
//! `SetTable`: a set of tags per item). `price` reads both for each
//! order: the rate of the order's currency, wherever that rate was
//! written, and the tags of the order's item, co-partitioned with the
//! orders since both topics are keyed by item. It prints the order in
//! euros and sends it to `priced-orders`.
//!
//! A task sets the first rates and tags at start; a timer sends an order
//! every second, and every fourth second moves the dollar's rate and puts
//! `sale` on the book or takes it off. An order priced in a currency with
//! no rate prints `no rate`: the franc never has one, and the first orders
//! may be read before the first rates (events are ordered within a
//! topic's partition, never across topics).
//!
//! ```text
//! cargo run --example reference_data            # Ctrl-C to stop
//! cargo run --example reference_data -- tables  # both tables, their kinds and changelogs
//! ```

use faust::prelude::*;
use faust::table::{GlobalTable, SetTable};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// A tag put on an item, or taken off it.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct TagChange {
    /// The item.
    pub item: String,
    /// The tag.
    pub tag: String,
    /// True to take the tag off.
    pub remove: bool,
}

/// An order for an item, priced in some currency.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Order number.
    pub id: u64,
    /// What was ordered.
    pub item: String,
    /// The price, in `currency`.
    pub price: f64,
    /// ISO code of the price's currency, lower case.
    pub currency: String,
}

/// An order with its price in euros and its item's tags.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct PricedOrder {
    /// Order number.
    pub id: u64,
    /// What was ordered.
    pub item: String,
    /// The price in euros; `None` when the currency has no rate yet.
    pub euros: Option<f64>,
    /// The item's tags, sorted.
    pub tags: Vec<String>,
}

impl fmt::Display for PricedOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "order #{:<3} {:<5} ", self.id, self.item)?;
        match self.euros {
            Some(euros) => write!(f, "{euros:>7.2} EUR")?,
            None => write!(f, "{:>11}", "no rate")?,
        }
        if !self.tags.is_empty() {
            write!(f, "  tags: {}", self.tags.join(", "))?;
        }
        Ok(())
    }
}

/// Rates in: the key is the currency, the value its price in euros.
#[topic(name = "rates")]
pub static RATE_UPDATES: Topic<String, f64>;

/// Tag changes in, keyed by item.
#[topic(name = "tag-changes")]
pub static TAG_CHANGES: Topic<String, TagChange>;

/// Orders in, keyed by item (like the tag changes: co-partitioned).
#[topic(name = "orders")]
pub static ORDERS: Topic<String, Order>;

/// The price of one unit of each currency, in euros; on every worker.
#[table(name = "rates", help = "Euros per unit of each currency")]
pub static RATES: GlobalTable<String, f64>;

/// The tags of each item.
#[table(name = "item-tags", help = "Tags per item")]
pub static TAGS: SetTable<String, String>;

/// Keeps the rates table current.
#[agent(topic = "rates")]
pub async fn set_rate(rate: Event<f64>) -> Result<()> {
    if let Some(currency) = &rate.key {
        RATES.set(currency, rate.value)?;
    }
    Ok(())
}

/// Puts tags on items and takes them off.
#[agent(topic = "tag-changes")]
pub async fn tag(change: TagChange) -> Result<()> {
    if change.remove {
        TAGS.discard(&change.item, &change.tag)?;
    } else {
        TAGS.add(&change.item, change.tag)?;
    }
    Ok(())
}

/// Prices an order in euros, with its item's tags, and prints it.
#[agent(topic = "orders", sink = "priced-orders")]
pub async fn price(order: Order) -> Result<PricedOrder> {
    let rate = RATES.get(&order.currency)?;
    let priced = PricedOrder {
        id: order.id,
        euros: rate.map(|r| (order.price * r * 100.0).round() / 100.0),
        tags: TAGS.get(&order.item)?.into_iter().collect(),
        item: order.item,
    };
    println!("{priced}");
    Ok(priced)
}

/// The first rates and tags.
#[task]
pub async fn reference_data() -> Result<()> {
    for (currency, rate) in [("eur", 1.0), ("usd", 0.92), ("gbp", 1.17)] {
        RATE_UPDATES.send(currency.to_owned(), rate).await?;
    }
    for (item, tag) in [("book", "paper"), ("book", "used"), ("pen", "blue")] {
        let change = TagChange {
            item: item.into(),
            tag: tag.into(),
            remove: false,
        };
        TAG_CHANGES.send(item.to_owned(), change).await?;
    }
    Ok(())
}

static TICK: AtomicU64 = AtomicU64::new(0);

/// Demo input: an order a second; every fourth second (2, 6, 10...) a new
/// dollar rate, and the book's `sale` tag on (2, 10...) or off (6, 14...).
#[timer(interval = "1s")]
pub async fn demo_orders() -> Result<()> {
    let tick = TICK.fetch_add(1, Ordering::Relaxed) + 1;
    if tick % 4 == 2 {
        let usd = 0.90 + (tick % 8) as f64 / 100.0;
        RATE_UPDATES.send("usd".to_owned(), usd).await?;
        let change = TagChange {
            item: "book".into(),
            tag: "sale".into(),
            remove: tick % 8 == 6,
        };
        TAG_CHANGES.send("book".to_owned(), change).await?;
    }
    let (item, price, currency) = [
        ("book", 12.0, "usd"),
        ("pen", 2.5, "gbp"),
        ("lamp", 40.0, "eur"),
        ("book", 9.0, "chf"),
    ][(tick % 4) as usize];
    let order = Order {
        id: tick,
        item: item.into(),
        price,
        currency: currency.into(),
    };
    ORDERS.send(item.to_owned(), order).await
}

faust::main!(App::new("reference-data").topic_partitions(4));
