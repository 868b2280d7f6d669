//! Stream-stream joins under the test driver: two agents sharing a
//! `JoinWindow`, checked pair by pair against a join computed by hand (an
//! order and a payment of the same order id at most 10 s apart), and the
//! left join's unmatched orders, handed over once their window has passed.

use std::collections::BTreeSet;
use std::sync::Mutex;

use faust::prelude::*;
use faust::testing::TestDriver;
use faust::window::JoinWindow;

/// 2025-01-01T00:00:00Z, the virtual clock's zero, in ms.
const T0: i64 = 1_735_689_600_000;

#[record(timestamp = "at")]
#[derive(Debug, Clone, PartialEq)]
struct Order {
    id: String,
    at: i64,
}

#[record(timestamp = "at")]
#[derive(Debug, Clone, PartialEq)]
struct Payment {
    order: String,
    at: i64,
}

#[record]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Paid {
    order: String,
    ordered_at: i64,
    paid_at: i64,
}

/// Orders no payment matched, as `on_unmatched` saw them.
static UNPAID: Mutex<Vec<(String, i64)>> = Mutex::new(Vec::new());

async fn unpaid(id: String, order: Order) -> Result<()> {
    UNPAID.lock().unwrap().push((id, order.at));
    Ok(())
}

#[table(name = "order-payments", join(within = "10s", grace = "2s", on_unmatched = unpaid))]
static PAIRS: JoinWindow<String, Order, Payment>;

#[agent(topic = "orders", sink = "paid")]
async fn orders(order: Order) -> Result<Many<Paid>> {
    let payments = PAIRS.left(&order.id, order.clone())?;
    Ok(payments
        .into_iter()
        .map(|p| Paid {
            order: order.id.clone(),
            ordered_at: order.at,
            paid_at: p.at,
        })
        .collect())
}

#[agent(topic = "payments", sink = "paid")]
async fn payments(payment: Payment) -> Result<Many<Paid>> {
    let orders = PAIRS.right(&payment.order, payment.clone())?;
    Ok(orders
        .into_iter()
        .map(|o| Paid {
            order: o.id,
            ordered_at: o.at,
            paid_at: payment.at,
        })
        .collect())
}

fn secs(s: i64) -> i64 {
    T0 + s * 1000
}

#[tokio::test]
async fn a_windowed_join_pairs_what_a_hand_computed_join_pairs() -> faust::Result<()> {
    UNPAID.lock().unwrap().clear();
    let mut t = TestDriver::with_app(
        App::bare("joins")
            .topic_partitions(1)
            .table(&PAIRS)
            .agent(&orders::AGENT)
            .agent(&payments::AGENT),
    );
    // (order id, order time s) and (order id, payment time s), interleaved
    // in time order as they would come.
    let orders_in = [("o1", 0), ("o2", 1), ("o3", 2), ("o4", 30), ("o5", 31)];
    let payments_in = [
        ("o1", 4),
        ("o2", 12),
        ("o3", 5),
        ("o3", 9),
        ("o5", 25),
        ("o6", 32),
    ];
    let mut timeline: Vec<(i64, bool, &str)> = orders_in
        .iter()
        .map(|(id, s)| (*s, true, *id))
        .chain(payments_in.iter().map(|(id, s)| (*s, false, *id)))
        .collect();
    timeline.sort();
    for (s, is_order, id) in &timeline {
        if *is_order {
            let order = Order {
                id: (*id).into(),
                at: secs(*s),
            };
            t.send("orders", *id, order).await;
        } else {
            let payment = Payment {
                order: (*id).into(),
                at: secs(*s),
            };
            t.send("payments", *id, payment).await;
        }
    }
    // Time moves on in both streams (a join's stream time is the lesser
    // of its two streams'), closing every window.
    t.send(
        "orders",
        "o9",
        Order {
            id: "o9".into(),
            at: secs(60),
        },
    )
    .await;
    t.send(
        "payments",
        "x9",
        Payment {
            order: "x9".into(),
            at: secs(60),
        },
    )
    .await;
    t.run_until_idle().await?;

    // By hand: same id, at most 10 s apart.
    let mut want: BTreeSet<Paid> = BTreeSet::new();
    for (order, o_at) in orders_in {
        for (paid, p_at) in payments_in {
            if order == paid && (o_at - p_at).abs() <= 10 {
                want.insert(Paid {
                    order: order.into(),
                    ordered_at: secs(o_at),
                    paid_at: secs(p_at),
                });
            }
        }
    }
    let got: Vec<Paid> = t.topic::<Paid>("paid").into_values();
    assert_eq!(got.len(), want.len(), "each pair once: {got:?}");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
    // o2 was paid 11 s later, o4 never: the left join reports both, once.
    let mut unpaid = UNPAID.lock().unwrap().clone();
    unpaid.sort();
    assert_eq!(
        unpaid,
        [("o2".to_owned(), secs(1)), ("o4".to_owned(), secs(30))]
    );
    Ok(())
}

#[tokio::test]
async fn join_events_come_back_after_a_restart() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("joins-restart")
            .topic_partitions(1)
            .table(&PAIRS)
            .agent(&orders::AGENT)
            .agent(&payments::AGENT),
    );
    t.send(
        "orders",
        "o1",
        Order {
            id: "o1".into(),
            at: secs(0),
        },
    )
    .await;
    t.run_until_idle().await?;
    t.restart().await?;
    t.send(
        "payments",
        "o1",
        Payment {
            order: "o1".into(),
            at: secs(3),
        },
    )
    .await;
    t.run_until_idle().await?;
    t.topic::<Paid>("paid").assert_values(&[Paid {
        order: "o1".into(),
        ordered_at: secs(0),
        paid_at: secs(3),
    }]);
    Ok(())
}
