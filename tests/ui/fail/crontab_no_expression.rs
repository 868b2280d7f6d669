#[faust::crontab(timezone = "UTC", interval = "1h")]
async fn hourly() -> faust::Result<()> {
    Ok(())
}

fn main() {}
