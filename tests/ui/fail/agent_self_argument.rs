use faust::prelude::*;

struct Shop;

impl Shop {
    #[faust::agent(topic = "orders")]
    async fn process(&self, order: String) -> Result<()> {
        let _ = order;
        Ok(())
    }
}

fn main() {}
