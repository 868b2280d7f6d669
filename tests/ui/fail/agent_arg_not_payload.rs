use faust::prelude::*;

// Not a #[record]: no serde, no Payload.
struct Order {
    id: u64,
}

#[faust::agent(topic = "orders")]
async fn process(order: Order) -> Result<()> {
    let _ = order.id;
    Ok(())
}

fn main() {}
