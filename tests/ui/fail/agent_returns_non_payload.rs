use faust::prelude::*;

struct Receipt {
    id: u64,
}

#[faust::agent(topic = "orders", sink = "receipts")]
async fn process(order: u64) -> Result<Receipt> {
    Ok(Receipt { id: order })
}

fn main() {
    let _ = |r: Receipt| r.id;
}
