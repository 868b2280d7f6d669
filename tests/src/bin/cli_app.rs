//! A small app for `tests/cli.rs`: the command line `faust::main!`
//! generates, run as a real process.

use faust::prelude::*;

/// Greetings per name.
#[table(name = "counts", default, help = "Greetings per name")]
static COUNTS: Table<String, u64>;

/// Prints each greeting and counts it.
#[agent(topic = "greetings")]
async fn greet(name: String) -> Result<()> {
    let n = COUNTS.update(&name, |n| *n += 1)?;
    println!("hello, {name} (#{n})");
    Ok(())
}

/// Where greetings are sent from the command line.
#[topic("greetings")]
static GREETINGS: Topic<String, String>;

/// Announcements, on a topic of their own partitions.
#[topic("announcements", partitions = 3)]
static ANNOUNCEMENTS: Topic<String, String>;

/// An order as the shop sends it.
///
/// Amounts are in euros.
#[record(validate, namespace = "shop.Order")]
#[derive(Debug, Clone)]
struct Order {
    /// Who pays.
    #[validate(length(min = 1))]
    account: String,
    /// What it costs.
    #[validate(range(min = 0.0))]
    amount: f64,
    /// Where it goes, if anywhere.
    #[validate(nested)]
    ship_to: Option<Address>,
}

/// A postal address.
#[record(validate)]
#[derive(Debug, Clone)]
struct Address {
    #[validate(length(min = 1, max = 64))]
    city: String,
}

/// What a paid order gives back.
#[record]
#[derive(Debug, Clone)]
struct Receipt {
    account: String,
    cents: u64,
}

/// The last order per account.
#[table(name = "last-order", partitions = 4)]
static LAST_ORDER: Table<String, Order>;

/// Bills each order.
#[agent(topic = "orders", sink = "receipts", dead_letter = "orders-dlq")]
async fn bill(order: Order) -> Result<Receipt> {
    LAST_ORDER.set(&order.account, order.clone())?;
    Ok(Receipt {
        account: order.account,
        cents: (order.amount * 100.0) as u64,
    })
}

/// Runs on the group's leader only.
#[timer(interval = "1h", on_leader)]
async fn hourly_report() -> Result<()> {
    Ok(())
}

/// Sends a greeting to `greetings`, as a worker would receive it.
///
/// Each copy is sent keyed by the name and acknowledged before the next.
#[command]
async fn greet_someone(name: String, times: Option<u32>, shout: bool) -> Result<()> {
    let times = times.unwrap_or(1);
    if times == 0 {
        return Err(faust::Error::msg("--times must be at least 1"));
    }
    let text = if shout { name.to_uppercase() } else { name };
    for _ in 0..times {
        let meta = GREETINGS
            .record(text.clone())
            .key(text.clone())
            .send_and_wait()
            .await?;
        println!(
            "sent {text} to greetings[{}]@{}",
            meta.partition, meta.offset
        );
    }
    Ok(())
}

/// Announces something (sent, not waited for: the program waits for it
/// before exiting).
#[command(name = "announce")]
async fn make_announcement(text: String) -> Result<()> {
    ANNOUNCEMENTS.send("all".to_owned(), text).await
}

faust::main!(App::new("cli-app").topic_partitions(2));
