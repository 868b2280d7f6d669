#[faust::table("totals per account")]
static TOTALS: faust::Table<String, u64>;

#[faust::table(name = "totals/v2")]
static TOTALS_V2: faust::Table<String, u64>;

fn main() {}
