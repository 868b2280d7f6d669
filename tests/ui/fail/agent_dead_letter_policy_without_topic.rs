use faust::prelude::*;

#[faust::agent(topic = "orders", on_error = "dead_letter", retries = 3)]
async fn process(order: String) -> Result<()> {
    let _ = order;
    Ok(())
}

fn main() {}
