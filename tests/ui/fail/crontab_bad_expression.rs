#[faust::crontab("61 * * * *", timezone = "Europe/Paris")]
async fn hourly() -> faust::Result<()> {
    Ok(())
}

fn main() {}
