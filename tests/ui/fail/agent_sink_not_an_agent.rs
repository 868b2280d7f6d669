use faust::prelude::*;

fn audit(value: String) -> String {
    value
}

#[faust::agent(topic = "orders", sink = audit)]
async fn process(order: String) -> Result<String> {
    Ok(audit(order))
}

fn main() {}
