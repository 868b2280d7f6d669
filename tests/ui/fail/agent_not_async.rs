use faust::prelude::*;

#[faust::agent(topic = "orders")]
fn process(order: String) -> Result<()> {
    let _ = order;
    Ok(())
}

fn main() {}
