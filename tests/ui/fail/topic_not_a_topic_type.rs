#[faust::topic("orders")]
static ORDERS: String;

fn main() {}
