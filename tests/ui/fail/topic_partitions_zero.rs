use faust::prelude::*;

#[faust::topic("orders", partitions = 0)]
static ORDERS: Topic<String, String>;

fn main() {}
