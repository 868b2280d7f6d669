//! Enriching a stream from a table: a stream-table join.
//!
//! Customers arrive on `customers` (keyed by customer id) and `remember`
//! keeps each one in `CUSTOMERS`, a `GlobalTable`: every worker holds all
//! of them. Orders arrive on `orders`; `enrich` joins each with its
//! customer (`stream.left_join(&*CUSTOMERS, ...)`) and sends an
//! `EnrichedOrder` to `orders-enriched`: with the customer's name and
//! country when it is known, marked unknown otherwise. `show` prints them.
//!
//! ```text
//! cargo run --example enrich                 # Ctrl-C to stop
//! ```
//!
//! With a partitioned `Table` instead, key the orders by customer id (or
//! regroup them with `group_by`) so each order reaches the partition that
//! holds its customer. `stream.join` (inner) drops the orders without a
//! customer instead.

use std::sync::atomic::{AtomicU64, Ordering};

use faust::prelude::*;
use faust::table::GlobalTable;

/// A customer.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// Their name.
    pub name: String,
    /// Where they live.
    pub country: String,
}

/// An order, keyed by order id.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The order.
    pub id: u64,
    /// Who placed it.
    pub customer: String,
    /// Cents.
    pub amount: u64,
}

/// An order with what is known of its customer.
#[record]
#[derive(Debug, Clone, PartialEq)]
pub struct EnrichedOrder {
    /// The order.
    pub id: u64,
    /// Cents.
    pub amount: u64,
    /// The customer's id.
    pub customer: String,
    /// Their name, when known.
    pub name: Option<String>,
    /// Their country, when known.
    pub country: Option<String>,
}

/// Customers, by id.
#[topic(name = "customers")]
pub static CUSTOMERS_IN: Topic<String, Customer>;

/// Orders, by order id.
#[topic(name = "orders")]
pub static ORDERS: Topic<String, Order>;

/// Every customer, on every worker.
#[table(name = "customers", help = "Customers by id")]
pub static CUSTOMERS: GlobalTable<String, Customer>;

/// Keeps each customer.
#[agent(topic = "customers")]
pub async fn remember(customer: Event<Customer>) -> Result<()> {
    let id = customer.key.clone().unwrap_or_default();
    CUSTOMERS.set(&id, customer.value)?;
    Ok(())
}

/// Joins each order with its customer.
#[agent(topic = "orders", sink = "orders-enriched")]
pub async fn enrich(orders: Stream<Order>) -> Result<()> {
    let mut joined = orders.left_join(&*CUSTOMERS, |order| order.customer.clone());
    while let Some((order, customer)) = joined.next().await {
        joined.emit(enriched(order, customer)).await?;
    }
    Ok(())
}

/// The enriched form of `order`.
pub fn enriched(order: Order, customer: Option<Customer>) -> EnrichedOrder {
    EnrichedOrder {
        id: order.id,
        amount: order.amount,
        customer: order.customer,
        name: customer.as_ref().map(|c| c.name.clone()),
        country: customer.map(|c| c.country),
    }
}

/// Prints each enriched order.
#[agent(topic = "orders-enriched")]
pub async fn show(order: EnrichedOrder) -> Result<()> {
    println!(
        "order {:>3}: {:>6.2} by {} ({}, {})",
        order.id,
        order.amount as f64 / 100.0,
        order.customer,
        order.name.as_deref().unwrap_or("unknown customer"),
        order.country.as_deref().unwrap_or("?")
    );
    Ok(())
}

/// The customers, once at start.
#[task]
pub async fn load_customers() -> Result<()> {
    for (id, name, country) in [
        ("c1", "Ann", "FR"),
        ("c2", "Bob", "DE"),
        ("c3", "Cid", "NL"),
    ] {
        let customer = Customer {
            name: name.into(),
            country: country.into(),
        };
        CUSTOMERS_IN.send(id, customer).await?;
    }
    Ok(())
}

static NEXT_ORDER: AtomicU64 = AtomicU64::new(1);

/// An order a second, now and then from a customer nobody knows.
#[timer(interval = "1s")]
pub async fn orders() -> Result<()> {
    let id = NEXT_ORDER.fetch_add(1, Ordering::Relaxed);
    let order = Order {
        id,
        customer: ["c1", "c2", "c3", "c9"][id as usize % 4].into(),
        amount: 500 + id * 137 % 9_000,
    };
    ORDERS.send(id.to_string(), order).await
}

faust::main!(App::new("enrich").topic_partitions(4));
