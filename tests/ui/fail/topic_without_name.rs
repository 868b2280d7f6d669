use faust::prelude::*;

#[faust::topic(partitions = 4)]
static ORDERS: Topic<String, String>;

fn main() {}
