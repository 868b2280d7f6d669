use serde::Serialize;

#[faust::record]
#[derive(Debug, Serialize)]
struct Order {
    id: u64,
}

fn main() {}
