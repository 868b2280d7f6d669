#[faust::table("totals", store = "memory", help = "per account", store = "rocksdb")]
static TOTALS: faust::Table<String, u64>;

fn main() {}
