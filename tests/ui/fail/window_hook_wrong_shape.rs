use faust::window::WindowedTable;

async fn report(key: String, value: u64) -> faust::Result<()> {
    let _ = (key, value);
    Ok(())
}

#[faust::table("views", default, tumbling = "1m", on_window_close = report)]
static VIEWS: WindowedTable<String, u64>;

fn main() {}
