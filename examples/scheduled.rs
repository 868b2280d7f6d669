//! Scheduled work: a crontab in a time zone, and a timer that runs on one
//! worker of the group only.
//!
//! `morning_report` runs at 09:00 on weekdays, Paris time (Faust's
//! `@app.crontab`); `heartbeat` runs every 5 seconds, but only on the
//! group's leader: start two workers of this app and only one beats; stop
//! it, and the other takes over once the group has rebalanced. Both send
//! what they do to `schedule-log`, which `show` prints.
//!
//! ```text
//! cargo run --example scheduled              # Ctrl-C to stop
//! ```

use faust::prelude::*;

/// What the schedule did.
#[topic(name = "schedule-log")]
pub static LOG: Topic<String, String>;

/// Weekdays at 09:00 in Paris.
#[crontab("0 9 * * mon-fri", timezone = "Europe/Paris")]
pub async fn morning_report() -> Result<()> {
    LOG.send(
        "cron",
        format!("morning report at {}", faust::time::now_ms()?),
    )
    .await
}

/// Every 5 s, on the leader only.
#[timer(interval = "5s", on_leader)]
pub async fn heartbeat() -> Result<()> {
    LOG.send(
        "leader",
        format!("heartbeat from worker {}", std::process::id()),
    )
    .await
}

/// Prints the log.
#[agent(topic = "schedule-log")]
pub async fn show(line: String) -> Result<()> {
    println!("{line}");
    Ok(())
}

faust::main!(App::new("scheduled"));
