//! Test-driver tests of tasks and timers under virtual time.

use faust::prelude::*;
use faust::testing::TestDriver;
use std::time::Duration;

static TICKS: Topic<String, u64> = Topic::new("ticks");
static STARTED: Topic<String, String> = Topic::new("started");

#[timer(interval = "10s")]
async fn every_ten_seconds() -> Result<()> {
    TICKS.send("t", 1u64).await
}

#[task]
async fn say_started() -> Result<()> {
    STARTED.send("app", "up").await
}

#[tokio::test]
async fn a_task_runs_once_at_start() -> faust::Result<()> {
    let mut t = TestDriver::with_app(App::bare("task").task(&say_started::TASK));
    t.run_until_idle().await?;
    t.advance(Duration::from_secs(3600)).await?;
    t.topic::<String>("started").assert_values(&["up".into()]);
    Ok(())
}

#[tokio::test]
async fn a_timer_fires_at_each_interval_of_virtual_time_only() -> faust::Result<()> {
    let mut t = TestDriver::with_app(App::bare("timer").timer(&every_ten_seconds::TIMER));
    t.run_until_idle().await?;
    t.topic::<u64>("ticks").assert_len(0);
    t.advance(Duration::from_secs(9)).await?;
    t.topic::<u64>("ticks").assert_len(0);
    t.advance(Duration::from_secs(1)).await?;
    t.topic::<u64>("ticks").assert_len(1);
    t.advance(Duration::from_secs(35)).await?; // 45 s: fired at 10, 20, 30, 40
    t.topic::<u64>("ticks").assert_len(4);
    assert_eq!(t.now(), Duration::from_secs(45));
    Ok(())
}

#[task]
async fn failing_task() -> Result<()> {
    Err(faust::Error::msg("cannot reach the reference data"))
}

#[tokio::test]
async fn a_failing_task_stops_the_app_with_its_error() {
    let mut t = TestDriver::with_app(App::bare("bad-task").task(&failing_task::TASK));
    let err = t.run_until_idle().await.unwrap_err().to_string();
    assert!(err.contains("task `failing_task` failed"), "{err}");
    assert!(err.contains("cannot reach the reference data"), "{err}");
}

static FLAKY_TICKS: Topic<String, u64> = Topic::new("flaky-ticks");

#[timer(interval = "1s")]
async fn flaky_timer() -> Result<()> {
    let now = faust::sleep(Duration::ZERO).await;
    now?;
    FLAKY_TICKS.send("t", 1u64).await?;
    Err(faust::Error::msg("timer failure is logged, not fatal"))
}

#[tokio::test]
async fn a_failing_timer_runs_again_at_its_next_interval() -> faust::Result<()> {
    let mut t = TestDriver::with_app(App::bare("flaky-timer").timer(&flaky_timer::TIMER));
    t.advance(Duration::from_secs(3)).await?;
    t.topic::<u64>("flaky-ticks").assert_len(3);
    Ok(())
}
