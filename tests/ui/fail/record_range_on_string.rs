#[faust::record(validate)]
struct Order {
    #[validate(range(min = 0))]
    account: String,
}

fn main() {}
