use faust::prelude::*;

#[faust::task]
async fn warm_up(count: u32) -> Result<()> {
    let _ = count;
    Ok(())
}

fn main() {}
