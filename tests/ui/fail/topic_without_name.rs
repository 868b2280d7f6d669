#[faust::topic(partitions = 4)]
static ORDERS: faust::Topic<String, String>;

fn main() {}
