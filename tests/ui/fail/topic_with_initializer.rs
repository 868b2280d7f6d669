#[faust::topic("orders")]
static ORDERS: faust::Topic<String, String> = faust::Topic::new("orders");

fn main() {}
