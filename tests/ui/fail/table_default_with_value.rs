#[faust::table("totals", default = 5)]
static TOTALS: faust::Table<String, u64>;

fn main() {}
