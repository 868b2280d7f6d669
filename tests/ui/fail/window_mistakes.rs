use faust::window::WindowedTable;

#[faust::table(
    "views",
    hopping(size = "1m", step = "5m"),
    tumbling = "1m",
    grace = "2h",
    expires = "1h",
    time = "wall",
    emit_closed = "views closed"
)]
static VIEWS: WindowedTable<String, u64>;

fn main() {}
