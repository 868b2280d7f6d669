#[faust::table("totals", store = "redis")]
static TOTALS: faust::Table<String, u64>;

fn main() {}
