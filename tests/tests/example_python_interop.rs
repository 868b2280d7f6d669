//! `examples/python_interop.rs`, run by the test driver: orders written as
//! Python Faust writes them (`__faust` entry, `json.dumps` spacing, raw
//! key) are billed four at once, and each receipt is written in the form
//! Python Faust reads: its fields, then its namespace, keyed like the order.

use std::time::Duration;

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/python_interop.rs"]
pub mod python_interop;

use python_interop::{GATEWAY, Receipt};

const ORDERS: [(&str, f64); 4] = [
    ("alice", 5.5),
    ("bob", 12.0),
    ("carol", 0.99),
    ("dave", 20.25),
];

/// The receipts' bytes, as Python Faust reads them, by account.
const RECEIPTS: [(&str, &str); 4] = [
    (
        "alice",
        r#"{"account":"alice","cents":550,"__faust":{"ns":"shop.models.Receipt"}}"#,
    ),
    (
        "bob",
        r#"{"account":"bob","cents":1200,"__faust":{"ns":"shop.models.Receipt"}}"#,
    ),
    (
        "carol",
        r#"{"account":"carol","cents":99,"__faust":{"ns":"shop.models.Receipt"}}"#,
    ),
    (
        "dave",
        r#"{"account":"dave","cents":2025,"__faust":{"ns":"shop.models.Receipt"}}"#,
    ),
];

/// Each record of `topic` as (key, value) text, sorted: concurrent
/// handlers finish in any order.
fn sorted_records(t: &TestDriver, topic: &str) -> Vec<(String, String)> {
    let text = |b: Option<&faust::Bytes>| {
        String::from_utf8_lossy(b.map_or(&[][..], |b| &b[..])).into_owned()
    };
    let mut records: Vec<(String, String)> = t
        .records(topic)
        .iter()
        .map(|m| (text(m.key.as_ref()), text(m.value.as_ref())))
        .collect();
    records.sort();
    records
}

#[test]
fn python_order_is_the_bytes_python_faust_writes() {
    assert_eq!(
        python_interop::python_order("alice", 5.5),
        r#"{"account": "alice", "amount": 5.5, "__faust": {"ns": "shop.models.Order"}}"#
    );
    assert_eq!(
        python_interop::python_order("bob", 12.0),
        r#"{"account": "bob", "amount": 12.0, "__faust": {"ns": "shop.models.Order"}}"#
    );
}

#[tokio::test]
async fn python_orders_are_billed_four_at_once_into_receipts_python_reads() -> faust::Result<()> {
    let app = App::bare("python-interop")
        .topic_partitions(1)
        .agent(&python_interop::bill::AGENT);
    let mut t = TestDriver::with_app(app);
    for (account, amount) in ORDERS {
        let value = python_interop::python_order(account, amount);
        t.send_raw(
            "orders",
            Some(account.into()),
            Some(value.into()),
            Headers::new(),
        )
        .await;
    }
    t.run_until_idle().await?;
    t.topic::<Receipt>("receipts").assert_len(0); // all four wait on the gateway
    t.advance(GATEWAY).await?; // one at a time would take four times as long

    let expected: Vec<(String, String)> = RECEIPTS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(sorted_records(&t, "receipts"), expected);
    assert_eq!(t.committed("orders", 0), Some(4));
    Ok(())
}

#[tokio::test]
async fn the_stand_in_python_app_sends_faust_json_that_is_billed() -> faust::Result<()> {
    let mut t = TestDriver::with_app(python_interop::app());
    t.advance(Duration::from_secs(1)).await?; // the timer's first tick

    let orders = t.records("orders");
    assert_eq!(orders.len(), 4);
    assert_eq!(orders[0].key.as_deref(), Some(&b"alice"[..]));
    assert_eq!(
        orders[0].value.as_deref(),
        Some(
            &br#"{"account": "alice", "amount": 5.5, "__faust": {"ns": "shop.models.Order"}}"#[..]
        )
    );
    t.topic::<Receipt>("receipts").assert_len(0);

    t.advance(GATEWAY).await?; // the first four billed; the second tick's still wait
    let mut receipts = t.topic::<Receipt>("receipts").into_values();
    receipts.sort_by_key(|r| r.cents);
    let cents: Vec<(&str, i64)> = receipts
        .iter()
        .map(|r| (r.account.as_str(), r.cents))
        .collect();
    assert_eq!(
        cents,
        [("carol", 99), ("alice", 550), ("bob", 1200), ("dave", 2025)]
    );
    Ok(())
}
