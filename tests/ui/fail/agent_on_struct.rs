#[faust::agent(topic = "orders")]
struct Process;

fn main() {}
