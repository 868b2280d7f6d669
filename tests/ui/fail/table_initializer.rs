#[faust::table("totals")]
static TOTALS: faust::Table<String, u64> = faust::Table::from_def(&DEF);

fn main() {}
