use faust::prelude::*;

// A stream agent sends with `stream.emit(value)`; it returns `Result<()>`.
#[faust::agent(topic = "clicks", sink = "counts")]
async fn clicks(mut stream: Stream<String>) -> Result<u64> {
    let mut n = 0;
    while stream.next().await.is_some() {
        n += 1;
    }
    Ok(n)
}

fn main() {}
