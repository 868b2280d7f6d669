#[faust::record]
struct Amount(f64);

fn main() {}
