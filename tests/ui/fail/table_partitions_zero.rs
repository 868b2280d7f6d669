#[faust::table("totals", partitions = 0)]
static TOTALS: faust::Table<String, u64>;

fn main() {}
