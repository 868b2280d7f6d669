//! Stream operators under the test driver: `echo`, manual acks
//! (`noack` + `Event::ack`), and stream-table joins (`join`, `left_join`),
//! checked against what a hand-computed join gives.

use std::collections::BTreeMap;
use std::sync::Mutex;

use faust::prelude::*;
use faust::table::GlobalTable;
use faust::testing::TestDriver;

// ----------------------------------------------------------------- echo

#[agent(topic = "echo-in", sink = "echo-lengths")]
async fn echoing(stream: Stream<String>) -> Result<()> {
    let mut stream = stream.echo(&["echo-copy-a", "echo-copy-b"]);
    while let Some(word) = stream.next().await {
        stream.emit(word.len() as u64).await?;
    }
    Ok(())
}

#[tokio::test]
async fn echo_copies_each_event_with_its_key_to_every_topic_named() -> faust::Result<()> {
    let mut t = TestDriver::for_agent(&echoing::AGENT);
    t.send("echo-in", "k1", "hello").await;
    t.send("echo-in", "k2", "hi").await;
    t.run_until_idle().await?;
    for topic in ["echo-copy-a", "echo-copy-b"] {
        let copies = t.topic::<String>(topic);
        copies.assert_values_unordered(&["hello".into(), "hi".into()]);
        let mut keys = copies.keys();
        keys.sort();
        assert_eq!(keys, [Some("k1"), Some("k2")]);
    }
    t.topic::<u64>("echo-lengths")
        .assert_values_unordered(&[5, 2]);
    Ok(())
}

// ----------------------------------------------------------- manual acks

/// Events held back: acked only when a later "release" event comes.
static HELD: Mutex<Vec<Event<String>>> = Mutex::new(Vec::new());

#[agent(topic = "jobs")]
async fn jobs(stream: Stream<String>) -> Result<()> {
    let mut events = stream.noack();
    while let Some(event) = events.next().await {
        match event.value.as_str() {
            "slow" => HELD.lock().unwrap().push(event),
            "release" => {
                for held in HELD.lock().unwrap().drain(..) {
                    held.ack();
                }
                event.ack();
            }
            _ => {
                event.ack();
                event.ack(); // a second ack does nothing
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn with_noack_an_event_counts_as_done_only_once_the_agent_acks_it() -> faust::Result<()> {
    HELD.lock().unwrap().clear();
    let mut t = TestDriver::with_app(App::bare("noack").topic_partitions(1).agent(&jobs::AGENT));
    for job in ["a", "b", "slow", "c", "d"] {
        t.send("jobs", "k", job).await;
    }
    t.run_until_idle().await?;
    // "slow" (offset 2) is not acked: the commit stops before it.
    assert_eq!(t.committed("jobs", 0), Some(2));
    t.send("jobs", "k", "release").await;
    t.run_until_idle().await?;
    assert_eq!(t.committed("jobs", 0), Some(6));
    Ok(())
}

// ------------------------------------------------------------------ joins

#[record]
#[derive(Debug, Clone, PartialEq)]
struct Order {
    id: u32,
    customer: String,
    amount: u32,
}

#[record]
#[derive(Debug, Clone, PartialEq, PartialOrd)]
struct Enriched {
    id: u32,
    customer: String,
    amount: u32,
    country: Option<String>,
}

/// Customer -> country, on every worker.
#[table(name = "countries")]
static COUNTRIES: GlobalTable<String, String>;

#[agent(topic = "customers")]
async fn load_country(customer: Event<String>) -> Result<()> {
    COUNTRIES.set(&customer.key.clone().unwrap_or_default(), customer.value)?;
    Ok(())
}

#[agent(topic = "orders", sink = "orders-matched")]
async fn inner_join(stream: Stream<Order>) -> Result<()> {
    let mut joined = stream.join(&*COUNTRIES, |order| order.customer.clone());
    while let Some((order, country)) = joined.next().await {
        joined.emit(enriched(order, Some(country))).await?;
    }
    Ok(())
}

#[agent(topic = "orders", sink = "orders-all")]
async fn left_join(stream: Stream<Order>) -> Result<()> {
    let mut joined = stream.left_join(&*COUNTRIES, |order| order.customer.clone());
    while let Some((order, country)) = joined.next().await {
        joined.emit(enriched(order, country)).await?;
    }
    Ok(())
}

fn enriched(order: Order, country: Option<String>) -> Enriched {
    Enriched {
        id: order.id,
        customer: order.customer,
        amount: order.amount,
        country,
    }
}

#[tokio::test]
async fn stream_table_joins_match_a_hand_computed_join() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("joins")
            .table(&COUNTRIES)
            .agent(&load_country::AGENT)
            .agent(&inner_join::AGENT)
            .agent(&left_join::AGENT),
    );
    let customers = [("ann", "FR"), ("bob", "DE"), ("cid", "NL")];
    for (name, country) in customers {
        t.send("customers", name, country).await;
    }
    t.run_until_idle().await?;
    let orders: Vec<Order> = (0..12)
        .map(|i| Order {
            id: i,
            customer: ["ann", "bob", "cid", "dan"][i as usize % 4].into(),
            amount: 10 * i,
        })
        .collect();
    for order in &orders {
        t.send("orders", order.customer.as_str(), order.clone())
            .await;
    }
    t.run_until_idle().await?;

    // The join by hand.
    let lookup: BTreeMap<&str, &str> = customers.into_iter().collect();
    let mut want_all: Vec<Enriched> = orders
        .iter()
        .map(|o| {
            enriched(
                o.clone(),
                lookup.get(o.customer.as_str()).map(|c| c.to_string()),
            )
        })
        .collect();
    let mut want_matched: Vec<Enriched> = want_all
        .iter()
        .filter(|e| e.country.is_some())
        .cloned()
        .collect();
    let sorted = |mut v: Vec<Enriched>| {
        v.sort_by_key(|e| e.id);
        v
    };
    want_all = sorted(want_all);
    want_matched = sorted(want_matched);
    assert_eq!(
        sorted(t.topic::<Enriched>("orders-all").into_values()),
        want_all
    );
    assert_eq!(
        sorted(t.topic::<Enriched>("orders-matched").into_values()),
        want_matched
    );
    assert_eq!(want_matched.len(), 9, "dan has no country");
    // Unmatched orders were skipped, not left behind: all committed.
    let committed: i64 = (0..8).map(|p| t.committed("orders", p).unwrap_or(0)).sum();
    assert_eq!(committed, orders.len() as i64);
    Ok(())
}
