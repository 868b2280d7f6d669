//! `examples/sensors.rs`, run by the test driver: the sensor logs exactly
//! the lookups that took longer than its limit, with where they were and
//! how long they took (virtual time: the driver moves the clock).

use std::sync::Arc;
use std::time::Duration;

use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/sensors.rs"]
pub mod sensors;

use sensors::{LIMIT, SlowEvent, SlowEvents};

#[tokio::test]
async fn the_sensor_logs_the_slow_lookups_only() -> faust::Result<()> {
    let sensor = Arc::new(SlowEvents::new(LIMIT));
    let mut t = TestDriver::with_app(sensors::app_with(sensor.clone()));
    // Ten ticks of the timer: ids 0 to 9, of which 4 and 9 are slow (the
    // last one is done 400 ms after its tick).
    t.advance(Duration::from_millis(10_400)).await?;
    assert_eq!(t.records("lookups").len(), 10);
    let slow = |offset: i64| SlowEvent {
        agent: "lookup".into(),
        at: ("lookups".into(), 0, offset),
        took: Duration::from_millis(400),
    };
    assert_eq!(sensor.slow(), [slow(4), slow(9)]);
    assert!(sensors::cost(3) <= LIMIT && sensors::cost(4) > LIMIT);
    Ok(())
}
