use faust::prelude::*;

#[faust::topic("orders")]
static ORDERS: Topic<String, String> = Topic::new("orders");

fn main() {}
