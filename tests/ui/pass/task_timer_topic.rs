#![deny(warnings)]

use faust::prelude::*;
use std::time::Duration;

#[topic(
    "orders",
    partitions = 8,
    key_serializer = "str",
    value_serializer = "json"
)]
pub static ORDERS: Topic<String, String>;

#[topic(name = "totals")]
static TOTALS: Topic<String, u64>;

#[task]
async fn announce() -> Result<()> {
    ORDERS.send("worker".to_owned(), "started".to_owned()).await
}

#[task(name = "warm-up")]
async fn warm_up() -> std::result::Result<(), std::io::Error> {
    Ok(())
}

#[timer(interval = "10s")]
async fn every_ten_seconds() -> Result<()> {
    TOTALS.send("all".to_owned(), 0).await
}

#[timer(interval = 2.5, on_leader, name = "leader-report")]
async fn leader_report() -> Result<()> {
    Ok(())
}

#[timer(interval = 1, on_leader = false)]
async fn each_second() -> Result<()> {
    Ok(())
}

#[timer(interval = "1m 30s")]
pub(crate) async fn slow() -> Result<()> {
    Ok(())
}

fn main() {
    assert_eq!(ORDERS.name(), "orders");
    assert_eq!(TOTALS.name(), "totals");

    assert_eq!(announce::TASK.name, "announce");
    assert_eq!(warm_up::TASK.name, "warm-up");

    assert_eq!(every_ten_seconds::TIMER.interval, Duration::from_secs(10));
    assert!(!every_ten_seconds::TIMER.on_leader);
    assert_eq!(leader_report::TIMER.name, "leader-report");
    assert_eq!(leader_report::TIMER.interval, Duration::from_millis(2500));
    assert!(leader_report::TIMER.on_leader);
    assert_eq!(each_second::TIMER.interval, Duration::from_secs(1));
    assert!(!each_second::TIMER.on_leader);
    assert_eq!(slow::TIMER.interval, Duration::from_secs(90));
    assert_eq!(weekday_report::TIMER.cron, Some("0 9 * * mon-fri"));
    assert_eq!(weekday_report::TIMER.timezone, Some("Europe/Paris"));
    assert!(weekday_report::TIMER.on_leader);
    assert_eq!(seconds_too::TIMER.name, "every-half-minute");
    assert_eq!(seconds_too::TIMER.timezone, None);
}

#[faust::crontab("0 9 * * mon-fri", timezone = "Europe/Paris", on_leader)]
async fn weekday_report() -> faust::Result<()> {
    Ok(())
}

#[faust::crontab(cron = "*/30 * * * * *", name = "every-half-minute")]
async fn seconds_too() -> faust::Result<()> {
    Ok(())
}
