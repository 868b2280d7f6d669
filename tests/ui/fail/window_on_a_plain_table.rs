#[faust::table("views", default, tumbling = "1m")]
static VIEWS: faust::Table<String, u64>;

fn main() {}
