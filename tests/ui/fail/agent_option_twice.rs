use faust::prelude::*;

#[faust::agent(topic = "orders", concurrency = 2, topic = "payments")]
async fn process(order: String) -> Result<()> {
    let _ = order;
    Ok(())
}

fn main() {}
