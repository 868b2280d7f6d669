//! Exactly-once payments: a ledger and balances that a crash cannot double.
//!
//! `post` reads `payments` (keyed by account), keeps each account's
//! balance in cents in the `balances` table and writes a `LedgerEntry` to
//! `ledger`. A withdrawal that would overdraw its account is declined: it
//! changes no balance and goes to `payments-declined` (with `Topic::send`);
//! a payment that fails validation goes to `payments-dlq`. `statement` and
//! `declined` print what `ledger` and `payments-declined` receive, and a
//! timer sends demo payments every second.
//!
//! The app runs with `processing_guarantee = "exactly_once"` (Faust's
//! setting of the same name). Every record the worker writes while
//! handling a payment — the ledger entry, the declined notice, the dead
//! letter, the `balances` changelog record — waits for its commit, and
//! each commit writes those records, the input offsets and the commit
//! marker in one Kafka transaction. A crash before the commit aborts the
//! transaction: none of its records ever becomes visible to
//! `read_committed` readers (every reader of an `exactly_once` app is
//! one), the offsets stay where they were, and the restarted worker
//! (which fences its crashed incarnation by its transactional id) handles
//! those payments again, once. So however the worker dies, `ledger` holds
//! each accepted payment exactly once, in order per account, with no
//! de-duplication by its readers, and every balance is exact. Compare the
//! `exactly_once` example, which keeps the default `at_least_once`: its tables are
//! exact too, but its sink can repeat and its reader drops the repeats.
//!
//! What it does not cover: effects outside Kafka. `statement` prints an
//! entry when it reads it, and its own input offset is committed by a
//! later transaction, so a crash in between prints that entry again
//! (a record it sent instead would not repeat).
//! Inside an agent only the sends that do not wait are allowed (`send`,
//! not `send_and_wait`): a record's fate is known at the commit, after
//! the handler has returned.
//!
//! # Brokers
//!
//! The guarantee needs a broker with Kafka transactions (Apache Kafka,
//! Redpanda...). Neither local broker gives it: Tansu 0.6 rejects
//! `EndTxn`, so the first commit fails, and the embedded broker (the
//! default, librdkafka's mock cluster) accepts every transactional call
//! but writes no commit markers and keeps no transactional offsets, so
//! the example runs there, real transactions over the Kafka protocol, but
//! a crash would prove nothing. Locally the guarantee is proven in the
//! test driver, whose in-memory broker models transactions and crash
//! points: `tests/tests/example_transactions.rs` kills the worker between
//! every two of its writes, restarts it, and finds each payment once.
//!
//! ```text
//! cargo run --example transactions                          # embedded broker; Ctrl-C to stop
//! cargo run --example transactions -- --broker memory://    # the in-memory transactions
//! cargo run --example transactions -- --broker kafka://localhost:9092
//! FAUST_BROKER=kafka://localhost:9092 FAUST_TRANSACTIONAL_ID=ledger-worker-2 \
//!     cargo run --example transactions                      # a second worker
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use faust::prelude::*;

/// A payment into (`cents > 0`) or out of (`cents < 0`) an account.
#[record(validate)]
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    /// The payment's id, unique.
    pub id: String,
    /// The account.
    #[validate(length(min = 1, max = 32))]
    pub account: String,
    /// How much, in cents: at most 10,000.00 either way.
    #[validate(range(min = -1_000_000, max = 1_000_000))]
    pub cents: i64,
}

/// A payment posted to its account, as `post` writes it to `ledger`.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    /// The payment's id.
    pub payment: String,
    /// The account.
    pub account: String,
    /// The payment's amount, in cents.
    pub cents: i64,
    /// The account's balance after it, in cents.
    pub balance: i64,
}

/// A withdrawal `post` refused, as it sends it to `payments-declined`.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct Declined {
    /// The payment's id.
    pub payment: String,
    /// The account.
    pub account: String,
    /// The amount asked for, in cents (negative).
    pub cents: i64,
    /// The balance it would have overdrawn, in cents.
    pub balance: i64,
}

/// Cents as euros: `-1234` is `-12.34`.
struct Euros(i64);

impl fmt::Display for Euros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let cents = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", cents / 100, cents % 100)
    }
}

impl fmt::Display for LedgerEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<6} {:>6} {:>9}  balance {:>9}",
            self.account,
            self.payment,
            Euros(self.cents).to_string(),
            Euros(self.balance).to_string()
        )
    }
}

/// Payments in, keyed by account: every payment of an account reaches the
/// partition that holds its balance.
#[topic(name = "payments")]
pub static PAYMENTS: Topic<String, Payment>;

/// Withdrawals that would have overdrawn their account, keyed by account.
#[topic(name = "payments-declined")]
pub static DECLINED: Topic<String, Declined>;

/// Each account's balance, in cents.
#[table(name = "balances", default, help = "Balance per account, in cents")]
pub static BALANCES: Table<String, i64>;

/// Posts a payment: the new balance, and the ledger entry (`None`, so no
/// entry, for a declined withdrawal). Bad payments are dead-lettered.
#[agent(topic = "payments", sink = "ledger", dead_letter = "payments-dlq")]
pub async fn post(payment: Payment) -> Result<Option<LedgerEntry>> {
    let balance = BALANCES.get(&payment.account)?.unwrap_or(0);
    if balance + payment.cents < 0 {
        // Goes out in the same transaction as the input offset: once.
        let declined = Declined {
            payment: payment.id,
            account: payment.account.clone(),
            cents: payment.cents,
            balance,
        };
        DECLINED.send(payment.account, declined).await?;
        return Ok(None);
    }
    // The changelog record of this update is in the transaction too: a
    // restarted worker rebuilds the balance from committed records only.
    let balance = BALANCES.update(&payment.account, |b| *b += payment.cents)?;
    Ok(Some(LedgerEntry {
        payment: payment.id,
        account: payment.account,
        cents: payment.cents,
        balance,
    }))
}

/// Prints the ledger: each entry once, as committed.
#[agent(topic = "ledger")]
pub async fn statement(entry: LedgerEntry) -> Result<()> {
    println!("{entry}");
    Ok(())
}

/// Prints each declined withdrawal.
#[agent(topic = "payments-declined")]
pub async fn declined(notice: Declined) -> Result<()> {
    println!(
        "{:<6} {:>6} {:>9}  declined (balance {})",
        notice.account,
        notice.payment,
        Euros(notice.cents).to_string(),
        Euros(notice.balance)
    );
    Ok(())
}

/// The demo feed's tick count.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Demo input, every second: a payment for each of three accounts, now
/// and then a withdrawal too large for its account, and on every seventh
/// tick one above the 10,000.00 limit (dead-lettered).
#[timer(interval = "1s")]
pub async fn feed() -> Result<()> {
    let tick = NEXT.fetch_add(1, Ordering::Relaxed);
    for (i, account) in ["alice", "bob", "carol"].into_iter().enumerate() {
        let n = tick * 3 + i as u64;
        // Mostly deposits; every fourth payment takes out more.
        let cents = match n % 4 {
            3 => -((n % 9) as i64 + 1) * 1_500,
            _ => ((n * 37) % 50 + 1) as i64 * 100,
        };
        let payment = Payment {
            id: format!("p{n}"),
            account: account.to_owned(),
            cents,
        };
        PAYMENTS.send(account.to_owned(), payment).await?;
    }
    if tick % 7 == 6 {
        let too_much = Payment {
            id: format!("p{tick}x"),
            account: "bob".into(),
            cents: 2_000_000,
        };
        PAYMENTS.send("bob".to_owned(), too_much).await?;
    }
    Ok(())
}

/// The app: exactly-once processing under a transactional id of its own.
pub fn app() -> App {
    App::new("ledger")
        .topic_partitions(4)
        .processing_guarantee(ProcessingGuarantee::ExactlyOnce)
        // The same across this worker's restarts (so a restart fences the
        // crashed incarnation), different for every other worker: a second
        // one runs with FAUST_TRANSACTIONAL_ID=ledger-worker-2. Like every
        // setting, FAUST_PROCESSING_GUARANTEE and the config file override
        // what is set here.
        .transactional_id("ledger-worker-1")
}

faust::main!(app());
