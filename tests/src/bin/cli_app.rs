//! A small app for `tests/cli.rs`: the command line `faust::main!`
//! generates, run as a real process.

use faust::prelude::*;

/// Greetings per name.
#[table(name = "counts", default, help = "Greetings per name")]
static COUNTS: Table<String, u64>;

/// Prints each greeting and counts it.
#[agent(topic = "greetings")]
async fn greet(name: String) -> Result<()> {
    let n = COUNTS.update(&name, |n| *n += 1)?;
    println!("hello, {name} (#{n})");
    Ok(())
}

faust::main!(App::new("cli-app").topic_partitions(2));
