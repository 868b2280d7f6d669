// Every mistake is reported in one build.
#[faust::agent(topic = "orders", concurency = 4, retries = -1, on_error = "ignore")]
fn process(key: String, order: String) {
    let _ = (key, order);
}

fn main() {}
