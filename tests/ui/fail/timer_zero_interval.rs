use faust::prelude::*;

#[faust::timer(interval = 0)]
async fn report() -> Result<()> {
    Ok(())
}

fn main() {}
