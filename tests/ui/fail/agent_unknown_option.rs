use faust::prelude::*;

#[faust::agent(topc = "orders")]
async fn process(order: String) -> Result<()> {
    let _ = order;
    Ok(())
}

fn main() {}
