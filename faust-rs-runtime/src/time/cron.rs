//! Crontab schedules: the next time a cron expression names, in a time
//! zone.

use croner::Cron;
use croner::parser::{CronParser, Seconds};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::app::registry::TimerDef;
use crate::error::{Error, Result};

/// When a `#[crontab]` runs.
#[derive(Debug, Clone)]
pub(crate) struct CronSchedule {
    cron: Cron,
    zone: TimeZone,
}

impl CronSchedule {
    /// The schedule of `def`, which has a cron expression; an expression
    /// or time zone that is not understood is an error naming the timer.
    pub(crate) fn of(def: &TimerDef) -> Result<Option<CronSchedule>> {
        let Some(expr) = def.cron else {
            return Ok(None);
        };
        let cron = parse(expr).map_err(|e| {
            Error::config(format!(
                "crontab `{}`: {expr:?} is not a cron expression: {e}",
                def.name
            ))
        })?;
        let zone = match def.timezone {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|e| {
                Error::config(format!(
                    "crontab `{}`: unknown time zone {name:?} ({e}); use an IANA name such as \
                     \"Europe/Paris\" or \"UTC\"",
                    def.name
                ))
            })?,
        };
        Ok(Some(CronSchedule { cron, zone }))
    }

    /// The first time after `after_ms` (ms since the epoch) the expression
    /// names, in ms; `None` when there is none.
    pub(crate) fn next_after(&self, after_ms: i64) -> Option<i64> {
        let now = Timestamp::from_millisecond(after_ms)
            .ok()?
            .to_zoned(self.zone.clone());
        let next = self.cron.find_next_occurrence(&now, false).ok()?;
        Some(next.timestamp().as_millisecond())
    }
}

/// Parses a cron expression of 5 fields (minute first) or 6 (seconds
/// first), with croner's extensions (`L`, `#`, names).
pub(crate) fn parse(expr: &str) -> std::result::Result<Cron, croner::errors::CronError> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(expr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(cron: &'static str, timezone: Option<&'static str>) -> TimerDef {
        fn run() -> crate::time::TaskFuture {
            Box::pin(async { Ok(()) })
        }
        TimerDef {
            name: "t",
            interval: std::time::Duration::ZERO,
            cron: Some(cron),
            timezone,
            on_leader: false,
            location: crate::app::registry::Location {
                module: "m",
                file: "f",
                line: 1,
            },
            run,
        }
    }

    /// 2025-01-01T00:00:00Z.
    const T0: i64 = 1_735_689_600_000;
    const MIN: i64 = 60_000;

    #[test]
    fn the_next_time_is_after_not_at() {
        let s = CronSchedule::of(&def("*/15 * * * *", None))
            .unwrap()
            .unwrap();
        assert_eq!(s.next_after(T0), Some(T0 + 15 * MIN));
        assert_eq!(s.next_after(T0 + 15 * MIN - 1), Some(T0 + 15 * MIN));
        assert_eq!(s.next_after(T0 + 15 * MIN), Some(T0 + 30 * MIN));
    }

    #[test]
    fn a_time_zone_moves_the_hours() {
        // 09:00 in Paris on 1 January is 08:00 UTC (CET, UTC+1).
        let s = CronSchedule::of(&def("0 9 * * *", Some("Europe/Paris")))
            .unwrap()
            .unwrap();
        assert_eq!(s.next_after(T0), Some(T0 + 8 * 60 * MIN));
    }

    #[test]
    fn mistakes_name_the_crontab() {
        let e = CronSchedule::of(&def("61 * * * *", None)).unwrap_err();
        assert!(e.to_string().contains("crontab `t`"), "{e}");
        let e = CronSchedule::of(&def("* * * * *", Some("Mars/Olympus"))).unwrap_err();
        assert!(
            e.to_string().contains("unknown time zone \"Mars/Olympus\""),
            "{e}"
        );
    }
}
