#[faust::record(validate)]
struct Order {
    #[validate(lenght(min = 1), range(mn = 0))]
    account: String,
}

fn main() {}
