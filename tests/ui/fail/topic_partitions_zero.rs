#[faust::topic("orders", partitions = 0)]
static ORDERS: faust::Topic<String, String>;

fn main() {}
