//! `examples/account_totals.rs`, run by the test driver: each valid
//! payment adds to its account's total and yields the balance `show`
//! prints; bad payments are dead-lettered and leave the totals alone.

use std::collections::HashMap;
use std::time::Duration;

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/account_totals.rs"]
pub mod account_totals;

use account_totals::{Balance, Payment, TOTALS};

fn app() -> App {
    App::new("account-totals").topic_partitions(4)
}

async fn pay(t: &mut TestDriver, account: &str, amount: f64) {
    let payment = Payment {
        account: account.into(),
        amount,
    };
    t.send("payments", account, payment).await;
}

#[tokio::test]
async fn payments_add_up_per_account_and_bad_ones_are_dead_lettered() -> faust::Result<()> {
    let mut t = TestDriver::with_app(app());
    pay(&mut t, "alice", 5.0).await;
    pay(&mut t, "bob", 2.5).await;
    pay(&mut t, "alice", 7.25).await;
    pay(&mut t, "bob", -1.0).await;
    pay(&mut t, "", 3.0).await;
    t.send_raw(
        "payments",
        Some(faust::Bytes::from_static(b"carol")),
        Some(faust::Bytes::from_static(b"{\"account\": ")),
        Default::default(),
    )
    .await;
    t.run_until_idle().await?;

    assert_eq!(t.table(&TOTALS).get("alice"), Some(12.25));
    assert_eq!(t.table(&TOTALS).get("bob"), Some(2.5));
    assert_eq!(t.table(&TOTALS).len(), 2, "bad payments add nothing");

    let balances = t.topic::<Balance>("balances");
    let balance = |account: &str, paid, total| Balance {
        account: account.into(),
        paid,
        total,
    };
    balances.assert_values_unordered(&[
        balance("alice", 5.0, 5.0),
        balance("bob", 2.5, 2.5),
        balance("alice", 7.25, 12.25),
    ]);
    // What `show` prints.
    let lines: Vec<String> = balances.values().iter().map(|b| b.to_string()).collect();
    assert!(
        lines.contains(&"alice  paid    7.25  total    12.25".to_owned()),
        "{lines:#?}"
    );

    let letters = t.topic::<faust::Bytes>("payments-dlq");
    let mut printed: Vec<String> = letters
        .events()
        .iter()
        .map(account_totals::dead_letter_line)
        .collect();
    printed.sort();
    assert_eq!(printed.len(), 3, "{printed:#?}");
    assert!(
        printed[0].starts_with("rejected {\"account\":  (decode error): cannot decode"),
        "{printed:#?}"
    );
    assert!(
        printed[1].contains("(validation error)") && printed[1].contains("field `account`"),
        "{printed:#?}"
    );
    assert!(
        printed[2].contains("(validation error)") && printed[2].contains("field `amount`"),
        "{printed:#?}"
    );
    Ok(())
}

#[tokio::test]
async fn the_demo_feed_gives_balances_that_match_the_table() -> faust::Result<()> {
    let mut t = TestDriver::with_app(app());
    // Five ticks: 15 payments, a negative one (tick 3), a malformed one
    // (tick 5).
    t.advance(Duration::from_secs(5)).await?;
    let balances = t.topic::<Balance>("balances").into_values();
    assert_eq!(balances.len(), 15);
    assert_eq!(t.records("payments-dlq").len(), 2);

    let mut sums: HashMap<String, f64> = HashMap::new();
    let mut last: HashMap<String, f64> = HashMap::new();
    for b in &balances {
        *sums.entry(b.account.clone()).or_default() += b.paid;
        // Each account's balances come in order: the totals only grow.
        let previous = last.insert(b.account.clone(), b.total).unwrap_or(0.0);
        assert_eq!(b.total, previous + b.paid, "{b:?}");
    }
    for account in ["alice", "bob", "carol"] {
        assert_eq!(t.table(&TOTALS).get(account), Some(sums[account]));
        assert_eq!(last[account], sums[account]);
    }
    Ok(())
}
