use faust::prelude::*;

#[faust::agent(topic = "orders")]
async fn process(key: String, order: String) -> Result<()> {
    let _ = (key, order);
    Ok(())
}

fn main() {}
