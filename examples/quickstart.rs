//! Quickstart: two agents chained through a sink.
//!
//! A timer produces a few demo orders every half second; `enrich` turns
//! each order into a receipt and sends it to `receipts`; `report` prints
//! each receipt. Run it with no broker:
//!
//! ```text
//! cargo run --example quickstart            # Ctrl-C to stop
//! cargo run --example quickstart -- agents  # list the agents
//! ```

use faust::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// An incoming order.
#[record(validate)]
#[derive(Debug, Clone)]
pub struct Order {
    /// Order number.
    pub id: u64,
    /// Who ordered.
    #[validate(length(min = 1))]
    pub account: String,
    /// How much, in euros.
    #[validate(range(min = 0.0))]
    pub amount: f64,
}

/// What `enrich` makes of an order.
#[record]
#[derive(Debug, Clone)]
pub struct Receipt {
    /// Order number.
    pub id: u64,
    /// Who ordered.
    pub account: String,
    /// Amount in cents.
    pub cents: u64,
    /// Big orders get a thank-you note.
    pub vip: bool,
}

/// The input topic, 4 partitions, keyed by account.
#[topic(name = "orders", partitions = 4)]
pub static ORDERS: Topic<String, Order>;

/// Order -> receipt; bad orders go to `orders-dlq`.
#[agent(topic = "orders", sink = "receipts", dead_letter = "orders-dlq")]
pub async fn enrich(order: Order) -> Result<Receipt> {
    Ok(Receipt {
        id: order.id,
        cents: (order.amount * 100.0).round() as u64,
        vip: order.amount >= 100.0,
        account: order.account,
    })
}

/// Prints each receipt with where it came from.
#[agent(topic = "receipts")]
pub async fn report(receipt: Event<Receipt>) -> Result<()> {
    println!(
        "processed order #{:<3} {:<6} {:>6} cents{}  (receipts[{}]@{})",
        receipt.value.id,
        receipt.value.account,
        receipt.value.cents,
        if receipt.value.vip { "  VIP" } else { "" },
        receipt.partition(),
        receipt.offset()
    );
    Ok(())
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Demo input: three orders every half second.
#[timer(interval = "500ms")]
pub async fn demo_orders() -> Result<()> {
    for account in ["alice", "bob", "carol"] {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let amount = (id * 37 % 150) as f64 + 0.5;
        ORDERS
            .send(
                account.to_owned(),
                Order {
                    id,
                    account: account.to_owned(),
                    amount,
                },
            )
            .await?;
    }
    Ok(())
}

faust::main!(App::new("quickstart"));
