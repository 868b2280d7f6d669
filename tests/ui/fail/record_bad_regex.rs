#[faust::record(validate)]
struct Order {
    #[validate(pattern = "^[A-Z-$")]
    sku: String,
}

fn main() {}
