#[faust::record]
struct Order {
    #[validate(length(min = 1))]
    account: String,
}

fn main() {}
