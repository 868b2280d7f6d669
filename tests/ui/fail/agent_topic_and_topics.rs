use faust::prelude::*;

#[faust::agent(topic = "orders", topics = ["payments", "refunds"])]
async fn process(order: String) -> Result<()> {
    let _ = order;
    Ok(())
}

fn main() {}
