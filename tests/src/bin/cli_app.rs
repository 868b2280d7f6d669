//! A small app for `tests/cli.rs`: the command line `faust::main!`
//! generates, run as a real process.

use faust::prelude::*;

/// Prints each greeting.
#[agent(topic = "greetings")]
async fn greet(name: String) -> Result<()> {
    println!("hello, {name}");
    Ok(())
}

faust::main!(App::new("cli-app").topic_partitions(2));
