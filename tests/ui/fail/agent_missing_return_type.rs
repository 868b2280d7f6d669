#[faust::agent(topic = "orders")]
async fn process(order: String) {
    let _ = order;
}

fn main() {}
