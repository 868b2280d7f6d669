use faust::prelude::*;

#[faust::task(name = "warm-up")]
fn warm_up() -> Result<()> {
    Ok(())
}

fn main() {}
