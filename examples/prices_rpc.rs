//! Asking an agent and waiting for its reply (Faust's `agent.ask`).
//!
//! `price` answers what an item costs. Every two seconds `shop` asks it
//! for one item (`price::RPC.ask`), then for a basket at once
//! (`price::RPC.join`), and prints the answers. An ask is a record on
//! `price`'s topic with a reply address; the reply comes back on
//! `prices-rpc-replies`, which each worker reads from its first ask on.
//!
//! ```text
//! cargo run --example prices_rpc             # Ctrl-C to stop
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use faust::prelude::*;

/// Cents per item; unknown items are an error, which the asker receives
/// (and the request goes to the dead-letter topic, as any failed event).
#[agent(topic = "price-requests", dead_letter = "price-requests-dlq")]
pub async fn price(item: String) -> Result<u64> {
    match item.as_str() {
        "apple" => Ok(40),
        "bread" => Ok(250),
        "cheese" => Ok(780),
        other => Err(faust::Error::msg(format!("no price for {other:?}"))),
    }
}

static ROUND: AtomicU64 = AtomicU64::new(0);

/// Asks for prices, one and then a basket.
#[timer(interval = "2s")]
pub async fn shop() -> Result<()> {
    let round = ROUND.fetch_add(1, Ordering::Relaxed);
    let item = ["apple", "bread", "caviar"][round as usize % 3];
    match price::RPC
        .ask_within("shop", item.to_owned(), Duration::from_secs(10))
        .await
    {
        Ok(cents) => println!("{item}: {:.2}", cents as f64 / 100.0),
        Err(e) => println!("{item}: {e}"),
    }
    let basket = ["apple", "bread", "cheese"].map(str::to_owned);
    let total: u64 = price::RPC.join(basket).await?.iter().sum();
    println!("basket: {:.2}", total as f64 / 100.0);
    Ok(())
}

faust::main!(App::new("prices-rpc"));
