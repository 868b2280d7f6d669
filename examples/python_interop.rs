//! Sharing topics with Python Faust: records in Faust's JSON form, both
//! ways, and an agent with `concurrency`.
//!
//! A Python Faust app writes orders and reads receipts back:
//!
//! ```python
//! class Order(faust.Record, serializer='json', namespace='shop.models.Order'):
//!     account: str
//!     amount: float
//!
//! class Receipt(faust.Record, serializer='json', namespace='shop.models.Receipt'):
//!     account: str
//!     cents: int
//!
//! orders = app.topic('orders', key_type=str, value_type=Order)
//! await orders.send(key='alice', value=Order(account='alice', amount=5.5))
//! ```
//!
//! That `send` writes the key `alice` (Faust's default key serializer,
//! `raw`: the text's bytes, which is what `str` reads) and this value, the
//! record's fields then the `__faust` entry naming its class:
//!
//! ```text
//! {"account": "alice", "amount": 5.5, "__faust": {"ns": "shop.models.Order"}}
//! ```
//!
//! `bill` decodes it as an [`Order`] (the entry is ignored on reading) and
//! sends a [`Receipt`] to `receipts`, keyed `alice`, which Python Faust
//! decodes by its namespace:
//!
//! ```text
//! {"account":"alice","cents":550,"__faust":{"ns":"shop.models.Receipt"}}
//! ```
//!
//! Each bill waits a second on the payment gateway; `concurrency = 4`
//! (Python's `concurrency=4`) runs four at once, so receipts may come out
//! of order. Here a timer stands in for the Python app, sending exactly
//! the bytes above.
//!
//! ```text
//! cargo run --example python_interop     # Ctrl-C to stop
//! ```

use std::time::Duration;

use faust::prelude::*;

/// An order, as Python Faust's `shop.models.Order` writes it.
#[record(serializer = "json", namespace = "shop.models.Order")]
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Who pays.
    pub account: String,
    /// How much (Python's `float`).
    pub amount: f64,
}

/// A receipt, as Python Faust's `shop.models.Receipt` reads it.
#[record(serializer = "json", namespace = "shop.models.Receipt")]
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// Who paid.
    pub account: String,
    /// How much, in cents (Python's `int`).
    pub cents: i64,
}

/// How long the payment gateway takes over one order.
pub const GATEWAY: Duration = Duration::from_secs(1);

/// Bills an order: four at a time, each waiting on the gateway.
#[agent(topic = "orders", sink = "receipts", concurrency = 4)]
pub async fn bill(order: Order) -> Result<Receipt> {
    faust::sleep(GATEWAY).await?;
    let receipt = Receipt {
        account: order.account,
        cents: (order.amount * 100.0).round() as i64,
    };
    println!("billed {receipt:?}");
    Ok(receipt)
}

/// The orders topic, as bytes: to write exactly what Python writes.
static RAW_ORDERS: Topic<String, faust::Bytes> = Topic::new("orders");

/// Python's `json.dumps` of `Order(account=account, amount=amount)`.
pub fn python_order(account: &str, amount: f64) -> String {
    format!(
        r#"{{"account": "{account}", "amount": {amount:?}, "__faust": {{"ns": "shop.models.Order"}}}}"#
    )
}

/// Demo input, standing in for the Python app: four orders a second.
#[timer(interval = "1s")]
pub async fn python_app() -> Result<()> {
    for (account, amount) in [
        ("alice", 5.5),
        ("bob", 12.0),
        ("carol", 0.99),
        ("dave", 20.25),
    ] {
        let value = faust::Bytes::from(python_order(account, amount));
        RAW_ORDERS.send(account, value).await?;
    }
    Ok(())
}

/// The app.
pub fn app() -> App {
    App::new("python-interop").topic_partitions(1)
}

faust::main!(app());
