use faust::prelude::*;

#[faust::timer(interval = "10 parsecs")]
async fn report() -> Result<()> {
    Ok(())
}

fn main() {}
