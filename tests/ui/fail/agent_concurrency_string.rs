use faust::prelude::*;

#[faust::agent(topic = "orders", concurrency = "4")]
async fn process(order: String) -> Result<()> {
    let _ = order;
    Ok(())
}

fn main() {}
