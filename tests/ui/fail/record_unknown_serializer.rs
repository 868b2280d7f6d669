#[faust::record(serializer = "yaml")]
struct Order {
    id: u64,
}

fn main() {}
