use faust::prelude::*;

#[faust::agent(concurrency = 2)]
async fn process(order: String) -> Result<()> {
    let _ = order;
    Ok(())
}

fn main() {}
