//! `examples/transactions.rs`, run by the test driver, whose in-memory
//! broker models Kafka transactions: a clean run posts, declines and
//! dead-letters as it should, and a worker killed between any two of its
//! writes and restarted leaves each payment exactly once in `ledger` (read
//! as it is, no de-duplication) and every balance exact. The same crashes
//! under `at_least_once` do repeat entries: the crash points bite.

use std::collections::BTreeMap;
use std::time::Duration;

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/transactions.rs"]
pub mod transactions;

use transactions::{BALANCES, Declined, LedgerEntry, Payment};

/// The input, in the batches the worker processes and commits one by one:
/// `(id, account, cents)`.
const BATCHES: [[(&str, &str, i64); 4]; 3] = [
    [
        ("p01", "alice", 5_000),
        ("p02", "bob", 2_000),
        ("p03", "carol", 10_000),
        ("p04", "alice", -1_500),
    ],
    [
        ("p05", "bob", -3_000),    // declined: bob has 20.00
        ("p06", "carol", -10_000), // carol's balance to 0
        ("p07", "bob", 2_000_000), // above the limit: dead-lettered
        ("p08", "alice", -4_000),  // declined: alice has 35.00
    ],
    [
        ("p09", "bob", 1_000),
        ("p10", "bob", -3_000), // all bob has
        ("p11", "carol", 1),
        ("p12", "alice", 500),
    ],
];

const INPUTS: usize = 12;

fn entry(payment: &str, account: &str, cents: i64, balance: i64) -> LedgerEntry {
    LedgerEntry {
        payment: payment.into(),
        account: account.into(),
        cents,
        balance,
    }
}

/// Each account's ledger, in order: what one clean pass writes.
fn expected_ledger() -> BTreeMap<String, Vec<LedgerEntry>> {
    BTreeMap::from([
        (
            "alice".to_owned(),
            vec![
                entry("p01", "alice", 5_000, 5_000),
                entry("p04", "alice", -1_500, 3_500),
                entry("p12", "alice", 500, 4_000),
            ],
        ),
        (
            "bob".to_owned(),
            vec![
                entry("p02", "bob", 2_000, 2_000),
                entry("p09", "bob", 1_000, 3_000),
                entry("p10", "bob", -3_000, 0),
            ],
        ),
        (
            "carol".to_owned(),
            vec![
                entry("p03", "carol", 10_000, 10_000),
                entry("p06", "carol", -10_000, 0),
                entry("p11", "carol", 1, 1),
            ],
        ),
    ])
}

fn expected_declined() -> Vec<Declined> {
    let declined = |payment: &str, account: &str, cents, balance| Declined {
        payment: payment.into(),
        account: account.into(),
        cents,
        balance,
    };
    vec![
        declined("p05", "bob", -3_000, 2_000),
        declined("p08", "alice", -4_000, 3_500),
    ]
}

const EXPECTED_BALANCES: [(&str, i64); 3] = [("alice", 4_000), ("bob", 0), ("carol", 1)];

/// Sends the batches, the worker processing and committing after each;
/// with `crash_after`, the broker takes that many of the worker's writes
/// and then none (the worker stops where it is), and the worker is
/// restarted after the last batch.
async fn run(crash_after: Option<u64>) -> TestDriver {
    run_app(transactions::app(), crash_after).await
}

async fn run_app(app: App, crash_after: Option<u64>) -> TestDriver {
    let mut t = TestDriver::with_app(app);
    t.run_until_idle().await.expect("start");
    if let Some(n) = crash_after {
        t.broker().crash_after(n);
    }
    for batch in BATCHES {
        for (id, account, cents) in batch {
            let payment = Payment {
                id: id.into(),
                account: account.into(),
                cents,
            };
            t.send("payments", account, payment).await;
        }
        // Past the crash point the transaction fails and the worker stops:
        // later calls report that it has stopped.
        let result = t.run_until_idle().await;
        if crash_after.is_none() {
            result.expect("run");
        }
    }
    if crash_after.is_some() {
        // Fences the crashed producer, aborting its open transaction, and
        // handles every uncommitted payment again.
        t.restart().await.expect("restart");
    }
    t.run_until_idle().await.expect("run after restart");
    t
}

/// `ledger` as readers see it (committed transactions only), by account,
/// in order, repeats and all.
fn ledger(t: &TestDriver) -> BTreeMap<String, Vec<LedgerEntry>> {
    let mut by_account: BTreeMap<String, Vec<LedgerEntry>> = BTreeMap::new();
    for e in t.topic::<LedgerEntry>("ledger").into_values() {
        by_account.entry(e.account.clone()).or_default().push(e);
    }
    by_account
}

fn declined(t: &TestDriver) -> Vec<Declined> {
    let mut notices = t.topic::<Declined>("payments-declined").into_values();
    notices.sort_by(|a, b| a.payment.cmp(&b.payment));
    notices
}

fn balances(t: &TestDriver) -> Vec<(String, i64)> {
    let mut items = t.table(&BALANCES).items();
    items.sort();
    items
}

fn expected_balances() -> Vec<(String, i64)> {
    EXPECTED_BALANCES
        .iter()
        .map(|(account, cents)| (account.to_string(), *cents))
        .collect()
}

/// Asserts everything the worker wrote, each once.
fn assert_exactly_once(t: &TestDriver, at: &str) {
    assert_eq!(ledger(t), expected_ledger(), "ledger, {at}");
    assert_eq!(declined(t), expected_declined(), "declined, {at}");
    let letters = t.dead_letters("payments-dlq");
    assert_eq!(letters.len(), 1, "dead letters, {at}");
    assert_eq!(letters[0].kind(), "validation", "{at}");
    assert_eq!(balances(t), expected_balances(), "balances, {at}");
    let committed: i64 = (0..4).filter_map(|p| t.committed("payments", p)).sum();
    assert_eq!(committed, INPUTS as i64, "committed input offsets, {at}");
}

#[tokio::test]
async fn a_clean_run_posts_declines_and_dead_letters_each_payment_once() {
    let t = run(None).await;
    assert_exactly_once(&t, "clean run");

    let letter = &t.dead_letters("payments-dlq")[0];
    assert!(
        letter.error().contains("field `cents`"),
        "{}",
        letter.error()
    );
    let value = String::from_utf8_lossy(letter.value().unwrap_or_default()).into_owned();
    assert!(value.contains("\"p07\""), "{value}");

    // What `statement` prints.
    assert_eq!(
        entry("p04", "alice", -1_500, 3_500).to_string(),
        "alice     p04    -15.00  balance     35.00"
    );
}

#[tokio::test]
async fn a_crash_between_any_two_writes_leaves_each_payment_once_in_the_ledger() {
    let total = run(None).await.broker().writes();
    // Per batch: a changelog record and a ledger entry per posted payment,
    // a notice per declined one, a dead letter, then the transaction's
    // offsets and its commit.
    assert!(total >= 9 * 2 + 2 + 1 + 3 * 2, "{total} writes");
    for n in 0..=total {
        let t = run(Some(n)).await;
        assert_exactly_once(&t, &format!("crash after write {n} of {total}"));
    }
}

/// The control: the same crashes under `at_least_once` repeat ledger
/// entries (the balances stay exact: tables keep exact state either way).
#[tokio::test]
async fn without_transactions_some_crash_repeats_a_ledger_entry() {
    let app = || transactions::app().processing_guarantee(ProcessingGuarantee::AtLeastOnce);
    let total = run_app(app(), None).await.broker().writes();
    let mut repeated = 0;
    for n in 0..=total {
        let t = run_app(app(), Some(n)).await;
        if ledger(&t) != expected_ledger() {
            repeated += 1;
        }
        assert_eq!(balances(&t), expected_balances(), "crash after write {n}");
    }
    assert!(repeated > 0, "no crash point of {total} repeated an entry");
}

#[tokio::test]
async fn the_demo_feed_posts_or_declines_every_payment_once() {
    let mut t = TestDriver::with_app(transactions::app());
    // Seven ticks: 21 payments, and one above the limit (tick 7).
    t.advance(Duration::from_secs(7)).await.expect("run");
    let entries = t.topic::<LedgerEntry>("ledger").into_values();
    let notices = t.topic::<Declined>("payments-declined").into_values();
    assert_eq!(entries.len() + notices.len(), 21);
    assert!(!notices.is_empty(), "some withdrawals are too large");
    assert_eq!(t.dead_letters("payments-dlq").len(), 1);

    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for e in &entries {
        let before = last.insert(e.account.clone(), e.balance).unwrap_or(0);
        assert_eq!(e.balance, before + e.cents, "{e:?}");
        assert!(e.balance >= 0, "{e:?}");
    }
    for n in &notices {
        assert!(n.balance + n.cents < 0, "{n:?}");
    }
    for (account, balance) in last {
        assert_eq!(t.table(&BALANCES).get(account.as_str()), Some(balance));
    }
}
