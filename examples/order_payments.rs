//! A stream-stream join: orders and their payments, within 10 minutes.
//!
//! Orders arrive on `orders`, payments on `payments`, both keyed by order
//! id. The two agents share `PAIRS`, a `JoinWindow`: `orders` keeps each
//! order and gets the payments already there for it, `payments` keeps each
//! payment and gets the orders; whichever comes second sends the `Paid`
//! pair to `paid` (the inner join). An order that no payment matched
//! within 10 minutes goes to `unpaid`, once (the left join), which sends
//! it to `orders-unpaid`.
//!
//! ```text
//! cargo run --example order_payments         # Ctrl-C to stop
//! ```
//!
//! The demo plays ten minutes of orders a second (their times run ahead
//! of the clock), most paid a few minutes after, some never.

use std::sync::atomic::{AtomicU64, Ordering};

use faust::prelude::*;
use faust::window::JoinWindow;

/// An order. `at`: when it was placed, ms since the epoch.
#[record(timestamp = "at")]
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The order id (also the record key).
    pub id: String,
    /// Cents.
    pub amount: u64,
    /// When.
    pub at: i64,
}

/// A payment of an order.
#[record(timestamp = "at")]
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    /// The order it pays (also the record key).
    pub order: String,
    /// Cents.
    pub amount: u64,
    /// When.
    pub at: i64,
}

/// An order with its payment.
#[record]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Paid {
    /// The order.
    pub order: String,
    /// What it cost.
    pub amount: u64,
    /// What was paid.
    pub paid: u64,
    /// Seconds from order to payment (negative: paid first).
    pub after_s: i64,
}

/// Orders by id.
#[topic(name = "orders")]
pub static ORDERS: Topic<String, Order>;
/// Payments by order id.
#[topic(name = "payments")]
pub static PAYMENTS: Topic<String, Payment>;
/// Orders nobody paid in time.
#[topic(name = "orders-unpaid")]
pub static UNPAID: Topic<String, Order>;

/// Sends an order that no payment matched to `orders-unpaid`.
pub async fn unpaid(id: String, order: Order) -> Result<()> {
    UNPAID.send(id, order).await
}

/// Orders and payments of the last 10 minutes, by order id.
#[table(name = "order-payments", join(within = "10m", grace = "30s", on_unmatched = unpaid))]
pub static PAIRS: JoinWindow<String, Order, Payment>;

/// Keeps each order; pairs it with the payments already there.
#[agent(topic = "orders", sink = "paid")]
pub async fn orders(order: Order) -> Result<Many<Paid>> {
    let payments = PAIRS.left(&order.id, order.clone())?;
    Ok(payments.iter().map(|p| paid(&order, p)).collect())
}

/// Keeps each payment; pairs it with its order if it is there.
#[agent(topic = "payments", sink = "paid")]
pub async fn payments(payment: Payment) -> Result<Many<Paid>> {
    let orders = PAIRS.right(&payment.order, payment.clone())?;
    Ok(orders.iter().map(|o| paid(o, &payment)).collect())
}

/// The pair.
pub fn paid(order: &Order, payment: &Payment) -> Paid {
    Paid {
        order: order.id.clone(),
        amount: order.amount,
        paid: payment.amount,
        after_s: (payment.at - order.at) / 1000,
    }
}

/// Prints each pair.
#[agent(topic = "paid")]
pub async fn show_paid(paid: Paid) -> Result<()> {
    println!(
        "paid    {}: {:.2} of {:.2}, {} s after the order",
        paid.order,
        paid.paid as f64 / 100.0,
        paid.amount as f64 / 100.0,
        paid.after_s
    );
    Ok(())
}

/// Prints each unpaid order.
#[agent(topic = "orders-unpaid")]
pub async fn show_unpaid(order: Order) -> Result<()> {
    println!("UNPAID  {}: {:.2}", order.id, order.amount as f64 / 100.0);
    Ok(())
}

static TICK: AtomicU64 = AtomicU64::new(0);

/// Each second, ten minutes of demo traffic: an order every minute, paid
/// 0 to 5 minutes later, every seventh one never.
#[timer(interval = "1s")]
pub async fn traffic() -> Result<()> {
    let tick = TICK.fetch_add(1, Ordering::Relaxed);
    let start = faust::time::now_ms()? + tick as i64 * 600_000;
    for minute in 0..10u64 {
        let n = tick * 10 + minute;
        let at = start + minute as i64 * 60_000;
        let id = format!("o{n}");
        let amount = 1_000 + n * 731 % 20_000;
        ORDERS
            .send(
                id.as_str(),
                Order {
                    id: id.clone(),
                    amount,
                    at,
                },
            )
            .await?;
        if n % 7 != 3 {
            let later = (n % 6) as i64 * 60_000;
            let payment = Payment {
                order: id.clone(),
                amount,
                at: at + later,
            };
            PAYMENTS.send(id.as_str(), payment).await?;
        }
    }
    Ok(())
}

faust::main!(App::new("order-payments").topic_partitions(4));
