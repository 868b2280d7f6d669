use faust::prelude::*;

#[faust::task]
async fn warm_up() -> Result<u32> {
    Ok(1)
}

fn main() {}
