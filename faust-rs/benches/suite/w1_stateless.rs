//! W1, stateless: decode a JSON order, validate it, turn it into a
//! receipt (the amount in cents) and send that to a sink, keyed like the
//! order.
//!
//! The input: `env.events` orders such as
//! `{"id":17,"account":"acct-17","amount":12.5,"currency":"EUR"}` on
//! [`INPUT`] (4 partitions, keyed by account, 1,000 accounts), every one
//! valid. The faust side is [`receipts`], a `#[record(validate)]` agent
//! with a sink; the plain side decodes into an equivalent serde struct,
//! runs the same checks and the same transform, and writes the same JSON.
//! Each side writes its own sink topic and is its own consumer group.
//!
//! Timed on both sides: first record read to the broker's
//! acknowledgement of the last receipt (see [`crate::faust_side`] and
//! [`crate::plain_side`]). The consumer group's join is not counted.
//!
//! The faust worker runs with `App::bare` defaults but for
//! `topic_partitions` (4, like the topics): at-least-once, web endpoint
//! and Prometheus metrics on, origin headers on the sink records. The
//! plain loop writes the same `faust.source` header on each output, so
//! both sides send the broker the same records, byte for byte.

use faust::prelude::*;
use serde::{Deserialize, Serialize};

use crate::env::{self, Env};
use crate::faust_side::{self, Progress};
use crate::plain_side::Relay;
use crate::report::{Report, Side};

/// The orders both sides read.
pub(crate) const INPUT: &str = "bench-w1-orders";
/// Where the faust side writes its receipts.
pub(crate) const FAUST_SINK: &str = "bench-w1-receipts-faust";
/// Where the plain side writes its receipts.
const PLAIN_SINK: &str = "bench-w1-receipts-rdkafka";
/// Partitions of every W1 topic.
pub(crate) const PARTITIONS: i32 = 4;
/// The currencies an order may be in.
const CURRENCIES: [&str; 4] = ["EUR", "USD", "GBP", "CHF"];

/// An order, as faust decodes and validates it.
#[record(validate)]
#[derive(Debug, Clone)]
pub(crate) struct Order {
    /// The order's number.
    pub(crate) id: u64,
    /// Who placed it.
    #[validate(length(min = 1, max = 64))]
    pub(crate) account: String,
    /// How much, in `currency`.
    #[validate(range(min = 0.0, max = 1_000_000.0))]
    pub(crate) amount: f64,
    /// One of [`CURRENCIES`].
    #[validate(custom = known_currency)]
    pub(crate) currency: String,
}

/// What the agent sends on.
#[record]
#[derive(Debug, Clone)]
pub(crate) struct Receipt {
    /// The order's number.
    pub(crate) id: u64,
    /// Who placed it.
    pub(crate) account: String,
    /// The amount in cents.
    pub(crate) cents: u64,
    /// The order's currency.
    pub(crate) currency: String,
}

/// The currency rule both sides check.
fn known_currency(currency: &str) -> Result<(), String> {
    if CURRENCIES.contains(&currency) {
        Ok(())
    } else {
        Err(format!("{currency:?} is not one of {CURRENCIES:?}"))
    }
}

/// The amount in cents, on both sides.
fn cents(amount: f64) -> u64 {
    (amount * 100.0).round() as u64
}

/// The faust side's agent.
#[agent(topic = "bench-w1-orders", sink = "bench-w1-receipts-faust")]
pub(crate) async fn receipts(order: Order) -> Result<Receipt> {
    Ok(Receipt {
        id: order.id,
        cents: cents(order.amount),
        account: order.account,
        currency: order.currency,
    })
}

/// The `i`-th order: `(key, JSON value)`.
pub(crate) fn order(i: u64) -> (String, Vec<u8>) {
    let account = format!("acct-{}", i % 1000);
    let amount = (i % 10_000) as f64 / 4.0;
    let value = format!(
        r#"{{"id":{i},"account":"{account}","amount":{amount},"currency":"{}"}}"#,
        CURRENCIES[(i % 4) as usize]
    );
    (account, value.into_bytes())
}

/// The workload.
pub(crate) fn workload() -> crate::Workload {
    crate::Workload {
        id: "w1",
        title: "stateless: JSON decode, validate, transform, sink",
        prepare,
        sides: &[(Side::Faust, faust), (Side::Rdkafka, plain)],
        min_ratio: Some(0.9),
        rounds: true,
    }
}

fn prepare(env: &Env) -> Result<(), Box<dyn std::error::Error>> {
    env::create_topics(
        &env.broker,
        &[
            (INPUT, PARTITIONS),
            (FAUST_SINK, PARTITIONS),
            (PLAIN_SINK, PARTITIONS),
        ],
    )?;
    env::load(&env.broker, INPUT, PARTITIONS as u32, env.events, order)?;
    Ok(())
}

fn faust(env: &Env) -> Result<Report, Box<dyn std::error::Error>> {
    let progress = Progress::new(FAUST_SINK, env.events);
    let app = App::bare(format!("bench-w1-faust-{}", env.run_id))
        .broker(env.broker_url())
        .topic_partitions(PARTITIONS as u32)
        .agent(&receipts::AGENT);
    let span = faust_side::run_to_target(app, &progress)?;
    Ok(Report::new(env.events, span.as_secs_f64()))
}

/// An order, as the plain side decodes it.
#[derive(Deserialize)]
struct PlainOrder {
    id: u64,
    account: String,
    amount: f64,
    currency: String,
}

/// A receipt, as the plain side writes it.
#[derive(Serialize)]
struct PlainReceipt<'a> {
    id: u64,
    account: &'a str,
    cents: u64,
    currency: &'a str,
}

/// The rules of [`Order`], checked by hand.
fn check(order: &PlainOrder) -> Result<(), String> {
    let len = order.account.chars().count();
    if !(1..=64).contains(&len) {
        return Err(format!("account: length {len}, not 1..=64"));
    }
    if !(0.0..=1_000_000.0).contains(&order.amount) {
        return Err(format!("amount: {}, not in 0..=1000000", order.amount));
    }
    known_currency(&order.currency).map_err(|e| format!("currency: {e}"))
}

fn plain(env: &Env) -> Result<Report, Box<dyn std::error::Error>> {
    let group = format!("bench-w1-rdkafka-{}", env.run_id);
    let relay = Relay {
        input: INPUT,
        sink: PLAIN_SINK,
        group: &group,
        target: Some(env.events),
        stop: None,
        origin: Some("receipts"),
    };
    let done = relay.run(env, |value| {
        let order: PlainOrder =
            serde_json::from_slice(value).map_err(|e| format!("not an order: {e}"))?;
        check(&order)?;
        serde_json::to_vec(&PlainReceipt {
            id: order.id,
            account: &order.account,
            cents: cents(order.amount),
            currency: &order.currency,
        })
        .map_err(|e| format!("encoding the receipt: {e}"))
    })?;
    Ok(Report::new(done.delivered, done.span.as_secs_f64()))
}
