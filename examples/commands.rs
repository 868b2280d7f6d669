//! Commands of your own: a `#[command]` is a subcommand of the program's
//! command line, like Python Faust's `@app.command`.
//!
//! `seed` sends demo orders to `orders`; `bill` turns each into a receipt
//! on `receipts`. Each argument of `seed` is a flag named after it:
//! `count: u64` is `--count N` (required), `account: Option<String>` is
//! `--account NAME` (optional), `dry_run: bool` is `--dry-run` (alone).
//! Its doc comment is its `--help`. It runs with the app's context, like
//! a `#[task]`, so `Topic` sends work, and the program exits once the
//! broker has what it sent.
//!
//! ```text
//! cargo run --example commands -- seed --count 5                  # five orders, then exit
//! cargo run --example commands -- seed --count 2 --account ann --dry-run
//! cargo run --example commands -- seed --help
//! cargo run --example commands                                    # the worker; Ctrl-C to stop
//! ```
//!
//! The default broker, `embedded://`, lives only as long as one run of the
//! program (`seed` warns that a running worker will not see its orders),
//! so the worker seeds three orders itself at start (`demo_input`, calling
//! the same function). With a real broker, run the worker in one terminal
//! and `seed` in another, both with `--broker kafka://localhost:9092`.

use faust::prelude::*;

/// An order; `cents` is its amount.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The order's number.
    pub id: u64,
    /// Who pays.
    pub account: String,
    /// How much, in cents.
    pub cents: u64,
}

/// Orders, keyed by account.
#[topic(name = "orders")]
pub static ORDERS: Topic<String, Order>;

/// The demo orders `seed` sends: numbered from 1, 2.50 more each.
pub fn demo_orders(count: u64, account: &str) -> Vec<Order> {
    (1..=count)
        .map(|id| Order {
            id,
            account: account.to_owned(),
            cents: 250 * id,
        })
        .collect()
}

/// Sends `--count` demo orders to `orders`, for `--account` (default `demo`).
///
/// Prints where each one landed; with `--dry-run`, prints them and sends
/// nothing.
#[command]
pub async fn seed(count: u64, account: Option<String>, dry_run: bool) -> Result<()> {
    let account = account.unwrap_or_else(|| "demo".to_owned());
    for order in demo_orders(count, &account) {
        if dry_run {
            println!("would send {order:?}");
            continue;
        }
        let id = order.id;
        let at = ORDERS
            .record(order)
            .key(account.clone())
            .send_and_wait()
            .await?;
        println!("sent order {id} to orders[{}]@{}", at.partition, at.offset);
    }
    Ok(())
}

/// Bills each order: its receipt, keyed like the order.
#[agent(topic = "orders", sink = "receipts")]
pub async fn bill(order: Order) -> Result<String> {
    let receipt = receipt(&order);
    println!("{receipt}");
    Ok(receipt)
}

/// How a receipt reads.
pub fn receipt(order: &Order) -> String {
    format!(
        "order {}: {} pays {}.{:02}",
        order.id,
        order.account,
        order.cents / 100,
        order.cents % 100
    )
}

/// Demo input for the worker alone: what `seed --count 3` sends.
#[task]
pub async fn demo_input() -> Result<()> {
    seed(3, None, false).await
}

/// The app.
pub fn app() -> App {
    App::new("commands").topic_partitions(1)
}

faust::main!(app());
