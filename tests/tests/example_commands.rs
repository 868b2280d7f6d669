//! `examples/commands.rs`, run by the test driver: the `seed` command's
//! function, run in the app's context as the command line runs it (like a
//! task), sends exactly `--count` orders for `--account`, a dry run sends
//! none, and `bill` turns each order into its receipt.

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/commands.rs"]
pub mod commands;

use commands::{ORDERS, Order};

/// `commands seed --count 3 --account ann`.
#[task]
async fn seed_for_ann() -> Result<()> {
    commands::seed(3, Some("ann".to_owned()), false).await
}

/// `commands seed --count 2 --dry-run`.
#[task]
async fn seed_dry_run() -> Result<()> {
    commands::seed(2, None, true).await
}

/// The example's topic, agent and command, without its demo input: each
/// test adds the task that runs `seed` as it needs it.
fn app() -> App {
    App::bare("commands")
        .topic_partitions(1)
        .topic(&ORDERS)
        .agent(&commands::bill::AGENT)
        .command(&commands::seed::COMMAND)
}

fn order(id: u64, account: &str, cents: u64) -> Order {
    Order {
        id,
        account: account.to_owned(),
        cents,
    }
}

#[tokio::test]
async fn seed_sends_count_orders_for_the_account_and_each_is_billed() -> faust::Result<()> {
    let mut t = TestDriver::with_app(app().task(&seed_for_ann::TASK));
    t.run_until_idle().await?;

    let orders = t.topic::<Order>("orders");
    orders.assert_values(&[
        order(1, "ann", 250),
        order(2, "ann", 500),
        order(3, "ann", 750),
    ]);
    assert_eq!(orders.keys(), [Some("ann"); 3]);
    let receipts = t.topic::<String>("receipts");
    receipts.assert_values(&[
        "order 1: ann pays 2.50".into(),
        "order 2: ann pays 5.00".into(),
        "order 3: ann pays 7.50".into(),
    ]);
    assert_eq!(receipts.keys(), [Some("ann"); 3]);
    assert_eq!(t.committed("orders", 0), Some(3));
    Ok(())
}

#[tokio::test]
async fn a_dry_run_of_seed_sends_nothing() -> faust::Result<()> {
    let mut t = TestDriver::with_app(app().task(&seed_dry_run::TASK));
    t.run_until_idle().await?;
    t.topic::<Order>("orders").assert_len(0);
    t.topic::<String>("receipts").assert_len(0);
    Ok(())
}

#[tokio::test]
async fn the_worker_alone_seeds_three_demo_orders() -> faust::Result<()> {
    let mut t = TestDriver::with_app(app().task(&commands::demo_input::TASK));
    t.run_until_idle().await?;
    t.topic::<Order>("orders")
        .assert_values(&commands::demo_orders(3, "demo"));
    t.topic::<String>("receipts").assert_values(&[
        "order 1: demo pays 2.50".into(),
        "order 2: demo pays 5.00".into(),
        "order 3: demo pays 7.50".into(),
    ]);
    Ok(())
}
