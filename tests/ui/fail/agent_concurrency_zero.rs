use faust::prelude::*;

#[faust::agent(topic = "orders", concurrency = 0)]
async fn process(order: String) -> Result<()> {
    let _ = order;
    Ok(())
}

fn main() {}
