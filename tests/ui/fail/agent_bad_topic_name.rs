use faust::prelude::*;

#[faust::agent(topic = "new orders", sink = ["ok", "bad/sink"])]
async fn process(order: String) -> Result<String> {
    Ok(order)
}

fn main() {}
