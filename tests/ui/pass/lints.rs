//! Generated code is warning-free under strict lints.
#![deny(warnings, missing_docs, unreachable_pub, missing_debug_implementations)]
#![forbid(unsafe_code)]

use faust::prelude::*;

/// An order.
#[record(validate)]
#[derive(Debug)]
pub struct Order {
    /// Its amount.
    #[validate(range(min = 0))]
    pub amount: f64,
}

/// Orders.
#[topic("orders")]
pub static ORDERS: Topic<String, Order>;

/// A public agent.
#[agent(topic = "orders", sink = private_agent)]
pub async fn public_agent(order: Order) -> Result<Order> {
    Ok(order)
}

#[agent(topic = "private")]
async fn private_agent(order: Order) -> Result<()> {
    let _ = order.amount;
    Ok(())
}

mod inner {
    use faust::prelude::*;

    #[agent(topic = "inner")]
    pub(crate) async fn crate_agent(value: String) -> Result<()> {
        let _ = value;
        Ok(())
    }

    #[task]
    pub(super) async fn super_task() -> Result<()> {
        Ok(())
    }
}

/// A public timer.
#[timer(interval = "1s")]
pub async fn public_timer() -> Result<()> {
    Ok(())
}

fn main() {
    let _ = (
        &inner::crate_agent::AGENT,
        &inner::super_task::TASK,
        &ORDERS,
    );
}
