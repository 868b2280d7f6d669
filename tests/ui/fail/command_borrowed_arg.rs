use faust::prelude::*;

#[faust::command]
async fn reset(account: &str, (a, b): (u8, u8), note: Option<&str>) -> Result<()> {
    let _ = (account, a, b, note);
    Ok(())
}

fn main() {}
