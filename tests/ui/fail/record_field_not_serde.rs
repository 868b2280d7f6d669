struct Money {
    cents: u64,
}

#[faust::record]
struct Order {
    amount: Money,
}

fn main() {
    let _ = |m: Money| m.cents;
}
