//! `examples/exactly_once.rs`, run by the test driver with crashes: the
//! counts stay exact and the reader reports each count once.

use std::sync::atomic::Ordering;

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/exactly_once.rs"]
pub mod exactly_once;

use exactly_once::{CLICKS, Click, REPORTED};

#[tokio::test]
async fn counts_stay_exact_and_the_report_has_no_repeats_through_crashes() -> faust::Result<()> {
    let writer = App::bare("exactly-once")
        .topic_partitions(4)
        .table(&CLICKS)
        .agent(&exactly_once::count::AGENT);
    let mut t = TestDriver::with_app(writer);
    t.run_until_idle().await?;
    let users = ["ann", "bob", "cid"];
    for round in 0..3u64 {
        for i in 0..30u64 {
            let user = users[(i % 3) as usize];
            t.send(
                "clicks",
                user,
                Click {
                    user: user.into(),
                    page: "/".into(),
                },
            )
            .await;
        }
        // The worker dies after a few writes of this round: some counts
        // reach the sink and the changelog, none is committed.
        t.broker().crash_after(20 + round * 7);
        let _ = t.run_until_idle().await;
        t.restart().await?;
        t.commit();
    }
    for user in users {
        assert_eq!(t.table(&CLICKS).get(user), Some(90 / 3), "{user}");
    }
    let sink = t.records("click-counts");
    assert!(
        sink.len() > 90,
        "the crashes repeated some counts: {}",
        sink.len()
    );

    // The reader, fed the sink as it is, repeats and all.
    let mut r = TestDriver::with_app(
        App::bare("report")
            .topic_partitions(4)
            .agent(&exactly_once::report::AGENT),
    );
    for record in sink {
        r.send_raw("click-counts", record.key, record.value, record.headers)
            .await;
    }
    r.run_until_idle().await?;
    assert_eq!(REPORTED.load(Ordering::Relaxed), 90);
    Ok(())
}
