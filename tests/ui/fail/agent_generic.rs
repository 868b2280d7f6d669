use faust::prelude::*;

#[faust::agent(topic = "orders")]
async fn process<T: Payload>(order: T) -> Result<()> {
    let _ = order;
    Ok(())
}

fn main() {}
