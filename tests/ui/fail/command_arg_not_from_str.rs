use faust::prelude::*;

// No `FromStr`: it cannot be read from the command line.
#[derive(Debug)]
struct Account {
    id: u64,
}

#[faust::command]
async fn reset(account: Account, ids: Vec<u64>) -> Result<()> {
    let _ = (account.id, ids);
    Ok(())
}

fn main() {}
