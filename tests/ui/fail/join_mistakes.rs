use faust::window::{JoinWindow, WindowedTable};

#[faust::table("pairs", join(grace = "1s"), expires = "1h")]
static PAIRS: JoinWindow<String, String, String>;

#[faust::table("views", join(within = "5m"))]
static VIEWS: WindowedTable<String, u64>;

#[faust::table("bare")]
static BARE: JoinWindow<String, String, String>;

fn main() {}
