//! `examples/scheduled.rs`, run by the test driver on virtual time: the
//! crontab runs on weekday mornings, Paris time; the heartbeat only while
//! the app leads its group.

use std::time::Duration;

use faust::prelude::*;
use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/scheduled.rs"]
pub mod scheduled;

const T0: i64 = 1_735_689_600_000;
const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn the_crontab_and_the_leader_heartbeat_run_when_they_should() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("scheduled")
            .topic_partitions(2)
            .timer(&scheduled::morning_report::TIMER)
            .timer(&scheduled::heartbeat::TIMER)
            .agent(&scheduled::show::AGENT),
    );
    t.advance(Duration::from_secs(20)).await?;
    let beats = |t: &TestDriver| {
        t.topic::<String>("schedule-log")
            .events()
            .iter()
            .filter(|e| e.key.as_deref() == Some("leader"))
            .count()
    };
    assert_eq!(beats(&t), 4, "every 5 s while leading");
    t.rebalance([1]).await?; // another worker leads now
    t.advance(Duration::from_secs(20)).await?;
    assert_eq!(beats(&t), 4);
    // Wednesday 1 January 2025, 09:00 Paris = 08:00 UTC.
    t.advance(Duration::from_secs(9 * 3600)).await?;
    let reports: Vec<String> = t
        .topic::<String>("schedule-log")
        .events()
        .iter()
        .filter(|e| e.key.as_deref() == Some("cron"))
        .map(|e| e.value.clone())
        .collect();
    assert_eq!(reports, [format!("morning report at {}", T0 + 8 * HOUR)]);
    Ok(())
}
