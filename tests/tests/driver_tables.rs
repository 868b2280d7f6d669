//! Test-driver tests of tables: reads see the agent's own writes, every
//! write reaches the co-partitioned changelog, a restart rebuilds the
//! table from the changelog, and a crash before the commit reprocesses
//! events within the at-least-once bound.

use faust::prelude::*;
use faust::testing::TestDriver;

#[record]
#[derive(Debug, Clone, PartialEq)]
struct Payment {
    account: String,
    amount: f64,
}

#[table(name = "totals", default, partitions = 4)]
static TOTALS: Table<String, f64>;

#[table(name = "last-seen", partitions = 4)]
static LAST_SEEN: Table<String, String>;

#[agent(topic = "payments", sink = "balances")]
async fn add_payment(payment: Payment) -> Result<f64> {
    let total = TOTALS.update(&payment.account, |t| *t += payment.amount)?;
    // The agent reads its own write at once.
    assert_eq!(TOTALS.get(&payment.account)?, Some(total));
    LAST_SEEN.set(&payment.account, format!("{:.2}", payment.amount))?;
    if payment.amount == 0.0 {
        LAST_SEEN.delete(&payment.account)?;
    }
    Ok(total)
}

fn app() -> App {
    App::bare("tables")
        .topic_partitions(4)
        .table(&TOTALS)
        .table(&LAST_SEEN)
        .agent(&add_payment::AGENT)
}

async fn pay(t: &mut TestDriver, account: &str, amount: f64) {
    t.send(
        "payments",
        account,
        Payment {
            account: account.into(),
            amount,
        },
    )
    .await;
}

#[tokio::test]
async fn an_agent_updates_a_table_and_each_write_goes_to_the_changelog_partition_of_its_event()
-> faust::Result<()> {
    let mut t = TestDriver::with_app(app());
    pay(&mut t, "alice", 5.0).await;
    pay(&mut t, "alice", 2.5).await;
    pay(&mut t, "bob", 1.0).await;
    pay(&mut t, "bob", 0.0).await;
    t.run_until_idle().await?;

    assert_eq!(t.table(&TOTALS).get("alice"), Some(7.5));
    assert_eq!(t.table(&TOTALS).get("bob"), Some(1.0));
    assert_eq!(t.table(&TOTALS).get("carol"), None);
    assert_eq!(t.table(&TOTALS).len(), 2);
    assert_eq!(t.table(&LAST_SEEN).get("alice"), Some("2.50".into()));
    assert_eq!(t.table(&LAST_SEEN).get("bob"), None, "deleted");

    // Co-partitioned: each changelog record sits in the partition of the
    // event that wrote it; a delete is a tombstone.
    let inputs = t.records("payments");
    let changelog = t.records("tables-totals-changelog");
    assert_eq!(changelog.len(), 4);
    for record in &changelog {
        let source = inputs
            .iter()
            .find(|m| m.key == record.key)
            .expect("a source event");
        assert_eq!(record.partition, source.partition);
    }
    let last_seen = t.records("tables-last-seen-changelog");
    assert_eq!(
        last_seen.iter().filter(|m| m.value.is_none()).count(),
        1,
        "one tombstone"
    );
    assert_eq!(t.broker().partitions("tables-totals-changelog"), Some(4));
    Ok(())
}

#[tokio::test]
async fn a_restart_rebuilds_the_tables_from_their_changelogs_before_processing() -> faust::Result<()>
{
    let mut t = TestDriver::with_app(app());
    pay(&mut t, "alice", 5.0).await;
    pay(&mut t, "bob", 3.0).await;
    t.run_until_idle().await?;

    t.restart().await?;
    assert_eq!(t.table(&TOTALS).get("alice"), Some(5.0), "state came back");
    assert_eq!(t.table(&TOTALS).get("bob"), Some(3.0));

    // Processing after the restart builds on the recovered state.
    pay(&mut t, "alice", 1.0).await;
    t.run_until_idle().await?;
    assert_eq!(t.table(&TOTALS).get("alice"), Some(6.0));
    t.topic::<f64>("balances")
        .assert_values_unordered(&[5.0, 3.0, 6.0]);
    Ok(())
}

#[agent(topic = "touch-missing")]
async fn touch_missing(account: String) -> Result<()> {
    LAST_SEEN.update(&account, |v: &mut String| v.push('!'))?;
    Ok(())
}

#[tokio::test]
async fn updating_a_missing_key_of_a_table_without_default_stops_with_a_clear_error() {
    let app = App::bare("no-default")
        .table(&LAST_SEEN)
        .agent(&touch_missing::AGENT);
    let mut t = TestDriver::with_app(app);
    t.send("touch-missing", "k", "alice").await;
    let err = t.run_until_idle().await.unwrap_err().to_string();
    assert!(
        err.contains("table `last-seen` has no value for this key"),
        "{err}"
    );
    assert!(err.contains("default"), "says how to fix it: {err}");
}

#[tokio::test]
async fn reading_a_table_outside_an_app_is_a_clear_error() {
    let err = TOTALS.get(&"alice".to_owned()).unwrap_err().to_string();
    assert!(err.contains("outside a running faust app"), "{err}");
}
