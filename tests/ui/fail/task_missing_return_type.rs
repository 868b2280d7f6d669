#[faust::task]
async fn warm_up() {}

fn main() {}
