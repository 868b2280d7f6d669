#[faust::table(default, partitions = 4)]
static TOTALS: faust::Table<String, u64>;

fn main() {}
