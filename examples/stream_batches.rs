//! A stream agent: iterate the stream yourself, batch with `take`.
//!
//! `clicks` takes up to 10 clicks at a time, or whatever arrived within a
//! second, and emits a count per batch to `click-counts`; `show` prints the
//! counts. A timer produces a burst of clicks every 300 ms.
//!
//! ```text
//! cargo run --example stream_batches     # Ctrl-C to stop
//! ```

use faust::prelude::*;
use std::time::Duration;

/// A click on a page.
#[record]
#[derive(Debug, Clone)]
pub struct Click {
    /// The page.
    pub page: String,
}

/// How many clicks a batch had.
#[record]
#[derive(Debug, Clone)]
pub struct BatchCount {
    /// Clicks in the batch.
    pub clicks: usize,
    /// Pages seen in the batch, sorted.
    pub pages: Vec<String>,
}

static CLICKS: Topic<String, Click> = Topic::new("clicks");

/// Batches clicks and emits a count per batch.
#[agent(topic = "clicks", sink = "click-counts")]
pub async fn clicks(mut stream: Stream<Click>) -> Result<()> {
    while let Some(batch) = stream.take(10, Duration::from_secs(1)).next().await {
        let mut pages: Vec<String> = batch.iter().map(|c| c.page.clone()).collect();
        pages.sort();
        pages.dedup();
        stream
            .emit(BatchCount {
                clicks: batch.len(),
                pages,
            })
            .await?;
    }
    Ok(())
}

/// Prints each batch count.
#[agent(topic = "click-counts")]
pub async fn show(count: BatchCount) -> Result<()> {
    println!("batch of {:>2} clicks on {:?}", count.clicks, count.pages);
    Ok(())
}

/// Seven clicks every 300 ms.
#[timer(interval = "300ms")]
pub async fn demo_clicks() -> Result<()> {
    for page in ["/", "/docs", "/", "/pricing", "/docs", "/", "/blog"] {
        CLICKS
            .send(
                "visitor".to_owned(),
                Click {
                    page: page.to_owned(),
                },
            )
            .await?;
    }
    Ok(())
}

faust::main!(App::new("stream-batches").topic_partitions(1));
