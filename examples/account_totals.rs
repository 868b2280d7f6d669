//! Account totals: a table of running totals, a sink, a dead-letter topic.
//!
//! A timer sends a few payments every second, keyed by account, and now
//! and then a bad one. `add` checks each payment (`#[record(validate)]`),
//! adds it to the account's total in the `totals` table and sends the new
//! `Balance` to `balances`, which `show` prints. A payment that does not
//! decode or validate goes to `payments-dlq` with what was wrong, and
//! `inspect` prints it. Payments are keyed by account, so every payment of
//! an account reaches the partition that holds its total.
//!
//! ```text
//! cargo run --example account_totals              # Ctrl-C to stop
//! cargo run --example account_totals -- tables    # the table and its changelog
//! ```
//!
//! The table is in memory (the default store) and rebuilt from its
//! changelog, `account-totals-totals-changelog`, at every start.

use faust::dead_letter::headers;
use faust::prelude::*;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// A payment into an account.
#[record(validate)]
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    /// The account paid into.
    #[validate(length(min = 1, max = 32))]
    pub account: String,
    /// How much, in euros: more than nothing, at most 10,000.
    #[validate(range(min = 0.01, max = 10000.0))]
    pub amount: f64,
}

/// An account's total after a payment.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct Balance {
    /// The account.
    pub account: String,
    /// The payment just added.
    pub paid: f64,
    /// The account's total, that payment included.
    pub total: f64,
}

impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<6} paid {:>7.2}  total {:>8.2}",
            self.account, self.paid, self.total
        )
    }
}

/// Payments in, keyed by account.
#[topic(name = "payments")]
pub static PAYMENTS: Topic<String, Payment>;

/// The same topic as bytes, to send a malformed payment on purpose.
static RAW_PAYMENTS: Topic<String, faust::Bytes> = Topic::new("payments");

/// Each account's total.
#[table(name = "totals", default, help = "Sum of the payments per account")]
pub static TOTALS: Table<String, f64>;

/// Adds a payment to its account's total; bad payments are dead-lettered.
#[agent(topic = "payments", sink = "balances", dead_letter = "payments-dlq")]
pub async fn add(payment: Payment) -> Result<Balance> {
    let total = TOTALS.update(&payment.account, |t| *t += payment.amount)?;
    Ok(Balance {
        account: payment.account,
        paid: payment.amount,
        total,
    })
}

/// Prints each new balance.
#[agent(topic = "balances")]
pub async fn show(balance: Balance) -> Result<()> {
    println!("{balance}");
    Ok(())
}

/// Prints each dead letter and why it is one.
#[agent(topic = "payments-dlq")]
pub async fn inspect(letter: Event<faust::Bytes>) -> Result<()> {
    println!("{}", dead_letter_line(&letter));
    Ok(())
}

/// How `inspect` describes a dead letter.
pub fn dead_letter_line(letter: &Event<faust::Bytes>) -> String {
    let h = letter.headers();
    format!(
        "rejected {} ({} error): {}",
        String::from_utf8_lossy(&letter.value),
        h.get_str(headers::ERROR_KIND).unwrap_or("?"),
        h.get_str(headers::ERROR).unwrap_or("?"),
    )
}

static TICK: AtomicU64 = AtomicU64::new(0);

/// Demo input, every second: a payment from each of three accounts; on
/// every third tick, a negative one, and on every fifth, one that is not
/// JSON.
#[timer(interval = "1s")]
pub async fn feed() -> Result<()> {
    let tick = TICK.fetch_add(1, Ordering::Relaxed) + 1;
    for (i, account) in ["alice", "bob", "carol"].into_iter().enumerate() {
        let amount = ((tick * 7 + i as u64 * 5) % 40) as f64 * 2.5 + 0.25;
        let payment = Payment {
            account: account.to_owned(),
            amount,
        };
        PAYMENTS.send(account.to_owned(), payment).await?;
    }
    if tick.is_multiple_of(3) {
        let refund = Payment {
            account: "bob".into(),
            amount: -20.0,
        };
        PAYMENTS.send("bob".to_owned(), refund).await?;
    }
    if tick.is_multiple_of(5) {
        let garbage = faust::Bytes::from_static(b"{\"account\": \"carol\", \"amount\": ");
        RAW_PAYMENTS.send("carol".to_owned(), garbage).await?;
    }
    Ok(())
}

faust::main!(App::new("account-totals").topic_partitions(4));
