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

// ------------------------------------------------------------ crontabs

/// 2025-01-01T00:00:00Z, the virtual clock's zero (a Wednesday), in ms.
const T0: i64 = 1_735_689_600_000;
const MINUTE: i64 = 60_000;

static CRON_RUNS: Topic<String, i64> = Topic::new("cron-runs");

#[crontab("*/15 * * * *")]
async fn quarter_hourly() -> Result<()> {
    CRON_RUNS.send("quarter", faust::time::now_ms()?).await
}

#[crontab("30 9 * * mon-fri", timezone = "Europe/Paris")]
async fn weekday_morning() -> Result<()> {
    CRON_RUNS.send("morning", faust::time::now_ms()?).await
}

#[tokio::test]
async fn a_crontab_runs_at_the_times_its_expression_names_on_virtual_time() -> faust::Result<()> {
    let mut t = TestDriver::with_app(App::bare("cron").timer(&quarter_hourly::TIMER));
    t.advance(Duration::from_secs(3600)).await?;
    let at: Vec<i64> = t.topic::<i64>("cron-runs").into_values();
    assert_eq!(
        at,
        [
            T0 + 15 * MINUTE,
            T0 + 30 * MINUTE,
            T0 + 45 * MINUTE,
            T0 + 60 * MINUTE
        ],
        "not at 00:00 itself, then every quarter hour"
    );
    Ok(())
}

#[tokio::test]
async fn a_crontab_follows_its_time_zone_and_weekdays() -> faust::Result<()> {
    let mut t = TestDriver::with_app(App::bare("cron-tz").timer(&weekday_morning::TIMER));
    // Wednesday 1 January to Tuesday 7 January 2025: five weekdays, at
    // 09:30 in Paris = 08:30 UTC (CET).
    t.advance(Duration::from_secs(7 * 24 * 3600)).await?;
    let at: Vec<i64> = t.topic::<i64>("cron-runs").into_values();
    let day = 24 * 60 * MINUTE;
    let morning = T0 + 8 * 60 * MINUTE + 30 * MINUTE;
    assert_eq!(
        at,
        [
            morning,
            morning + day,
            morning + 2 * day,
            morning + 5 * day,
            morning + 6 * day
        ],
        "Wed, Thu, Fri, then Mon and Tue"
    );
    Ok(())
}

// ------------------------------------------------------------- leader

static LEADER_TICKS: Topic<String, u64> = Topic::new("leader-ticks");

#[timer(interval = "10s", on_leader)]
async fn leader_only() -> Result<()> {
    LEADER_TICKS.send("t", 1u64).await
}

#[agent(topic = "leader-input")]
async fn leader_input(_n: u64) -> Result<()> {
    Ok(())
}

#[tokio::test]
async fn a_leader_timer_runs_only_while_the_worker_holds_partition_zero() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("leader")
            .topic_partitions(2)
            .agent(&leader_input::AGENT)
            .timer(&leader_only::TIMER),
    );
    t.advance(Duration::from_secs(20)).await?;
    t.topic::<u64>("leader-ticks").assert_len(2);
    // Another worker takes partition 0: it leads now.
    t.rebalance([1]).await?;
    t.advance(Duration::from_secs(30)).await?;
    t.topic::<u64>("leader-ticks").assert_len(2);
    // It comes back.
    t.rebalance([0, 1]).await?;
    t.advance(Duration::from_secs(10)).await?;
    t.topic::<u64>("leader-ticks").assert_len(3);
    assert!(
        t.broker().topics().contains(&"leader-__leader".to_owned()),
        "the election topic: {:?}",
        t.broker().topics()
    );
    Ok(())
}
