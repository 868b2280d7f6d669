use faust::prelude::*;

#[faust::timer(on_leader)]
async fn report() -> Result<()> {
    Ok(())
}

fn main() {}
