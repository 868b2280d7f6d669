//! `examples/stream_batches.rs`, run by the test driver: the stream agent
//! emits one count per batch of at most ten clicks, the batches together
//! hold every click but the last partial batch, and each batch's pages are
//! sorted and without repeats.

use std::time::Duration;

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/stream_batches.rs"]
pub mod stream_batches;

use stream_batches::{BatchCount, Click};

#[tokio::test]
async fn clicks_are_counted_in_batches_of_at_most_ten() -> faust::Result<()> {
    // The example's app, as its `main!` builds it.
    let mut t = TestDriver::with_app(App::new("stream-batches").topic_partitions(1));
    t.advance(Duration::from_secs(3)).await?;

    let clicks = t.topic::<Click>("clicks").len();
    let batches = t.topic::<BatchCount>("click-counts").into_values();
    assert!(clicks >= 7 * 9, "a burst of seven every 300 ms: {clicks}");
    assert!(!batches.is_empty());
    let counted: usize = batches.iter().map(|b| b.clicks).sum();
    assert!(
        counted <= clicks && clicks - counted < 10,
        "{counted} of {clicks} clicks counted; only the last batch may be open"
    );
    assert!(batches.iter().any(|b| b.clicks == 10), "{batches:?}");
    for batch in &batches {
        assert!((1..=10).contains(&batch.clicks), "{batch:?}");
        let mut pages = batch.pages.clone();
        pages.sort();
        pages.dedup();
        assert_eq!(pages, batch.pages, "sorted, no repeats");
        assert!(pages.iter().all(|p| p.starts_with('/')));
    }
    Ok(())
}
