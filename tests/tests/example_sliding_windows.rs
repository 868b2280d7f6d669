//! `examples/sliding_windows.rs`, run by the test driver: a failed login
//! counts for the five minutes after it; the fourth failure of a user
//! within five minutes raises an alert with the count, failures further
//! apart do not, successes never count, a failure too late for its window
//! is dropped, and old windows expire.

use std::time::Duration;

use faust::prelude::*;
use faust::testing::TestDriver;
use faust::window::Window;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/sliding_windows.rs"]
pub mod sliding_windows;

use sliding_windows::{Alert, FAILURES, Login};

/// 2025-01-01T00:00:00Z, the driver's virtual clock at start.
const T0: i64 = 1_735_689_600_000;

fn app() -> App {
    // Without the demo timer.
    App::bare("sliding-windows")
        .topic_partitions(1)
        .table(&FAILURES)
        .agent(&sliding_windows::watch::AGENT)
}

/// A login attempt by `user`, `s` seconds after T0.
async fn login(t: &mut TestDriver, user: &str, ok: bool, s: i64) {
    let attempt = Login {
        user: user.into(),
        ok,
        at: T0 + s * 1000,
    };
    t.send("logins", user, attempt).await;
}

fn alert(user: &str, failures: u64, s: i64) -> Alert {
    Alert {
        user: user.into(),
        failures,
        at: T0 + s * 1000,
    }
}

#[tokio::test]
async fn more_than_three_failures_within_five_minutes_raise_an_alert() -> faust::Result<()> {
    let mut t = TestDriver::with_app(app());
    for (user, ok, s) in [
        ("mallory", false, 0),
        ("ann", false, 30),
        ("mallory", false, 60),
        ("mallory", false, 120),
        ("ann", true, 150),
        ("mallory", false, 180), // the fourth within [0 s, 180 s]: alert
        ("mallory", true, 200),  // a success counts for nothing
        ("mallory", false, 310), // 0 s is more than 5 min ago: 60, 120, 180, 310
        ("ann", false, 320),     // ann: two failures, 290 s apart
        ("mallory", false, 700), // alone in its five minutes
        ("mallory", false, 100), // too late: its window closed at 460 s
    ] {
        login(&mut t, user, ok, s).await;
    }
    t.run_until_idle().await?;

    let alerts = t.topic::<Alert>("login-alerts");
    alerts.assert_values(&[alert("mallory", 4, 180), alert("mallory", 4, 310)]);
    assert_eq!(alerts.keys(), [Some("mallory"); 2]);
    assert_eq!(t.committed("logins", 0), Some(11));
    // Every window but the last failure's expired a minute after its end.
    let last = Window {
        start: T0 + 700_000,
        end: T0 + 1_000_001,
    };
    assert_eq!(t.table(&FAILURES).get("mallory"), Some(vec![(last, 1)]));
    Ok(())
}

#[tokio::test]
async fn the_demo_alerts_on_mallorys_burst_only() -> faust::Result<()> {
    let mut t = TestDriver::with_app(sliding_windows::app());
    // Eight ticks, four minutes of logins: mallory fails eight times.
    t.advance(Duration::from_secs(8)).await?;
    let alerts = t.topic::<Alert>("login-alerts").into_values();
    let counts: Vec<(&str, u64)> = alerts
        .iter()
        .map(|a| (a.user.as_str(), a.failures))
        .collect();
    assert_eq!(
        counts,
        [
            ("mallory", 4),
            ("mallory", 5),
            ("mallory", 6),
            ("mallory", 7),
            ("mallory", 8)
        ]
    );
    Ok(())
}
