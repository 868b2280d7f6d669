use faust::prelude::*;

/// Resets an account.
#[faust::command]
fn reset(account: String) -> Result<()> {
    let _ = account;
    Ok(())
}

fn main() {}
