#[faust::table("totals", changelog = "totals-log")]
static TOTALS: faust::Table<String, u64>;

fn main() {}
