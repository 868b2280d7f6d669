use faust::prelude::*;

#[faust::agent(topic = "orders")]
async fn process() -> Result<()> {
    Ok(())
}

fn main() {}
