//! Periodic jobs: cron expressions read in the deployment's time zone. Every runner computes the same
//! ticks and enqueues each as a job whose idempotency key names the tick, so the job table's unique
//! key lets exactly one of them in, however many runners there are.

use std::str::FromStr;

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use crate::Enqueue;

type BuildFn = Box<dyn Fn(NaiveDateTime) -> Result<Enqueue, serde_json::Error> + Send + Sync>;

struct Entry {
    name: &'static str,
    schedule: cron::Schedule,
    build: BuildFn,
}

/// Periodic jobs and the last instant they were considered.
pub struct Scheduler {
    entries: Vec<Entry>,
    tz: Tz,
    /// Ticks at or before this (UTC) were handled.
    last: NaiveDateTime,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.entries.iter().map(|entry| entry.name).collect();
        f.debug_struct("Scheduler")
            .field("jobs", &names)
            .field("tz", &self.tz)
            .field("last", &self.last)
            .finish()
    }
}

/// A schedule that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule of {name} ({expression:?}): {error}")]
pub struct ScheduleError {
    pub name: &'static str,
    pub expression: String,
    pub error: String,
}

impl Scheduler {
    /// A scheduler whose first ticks are those after `now` (UTC).
    #[must_use]
    pub fn new(tz: Tz, now: NaiveDateTime) -> Self {
        Self { entries: Vec::new(), tz, last: now }
    }

    /// Adds a periodic job: `expression` is a cron expression with seconds
    /// (`sec min hour day-of-month month day-of-week`, e.g. `0 17 * * * *` for every hour at :17),
    /// in the scheduler's time zone; `build` makes the job for a tick (UTC).
    ///
    /// # Errors
    /// The expression does not parse.
    pub fn every(
        &mut self,
        name: &'static str,
        expression: &str,
        build: impl Fn(NaiveDateTime) -> Result<Enqueue, serde_json::Error> + Send + Sync + 'static,
    ) -> Result<&mut Self, ScheduleError> {
        let schedule = cron::Schedule::from_str(expression).map_err(|error| ScheduleError {
            name,
            expression: expression.to_owned(),
            error: error.to_string(),
        })?;
        self.entries.push(Entry { name, schedule, build: Box::new(build) });
        Ok(self)
    }

    /// The jobs of the ticks in (last call, `now`], each with the tick (UTC) as its run time and
    /// `<name>@<tick>` as its idempotency key. A tick whose job does not serialize is skipped and
    /// logged.
    pub fn due(&mut self, now: NaiveDateTime) -> Vec<(Enqueue, NaiveDateTime)> {
        if now <= self.last {
            return Vec::new();
        }
        let after = self.tz.from_utc_datetime(&self.last);
        let mut jobs = Vec::new();
        for entry in &self.entries {
            for tick in entry.schedule.after(&after) {
                let tick = tick.naive_utc();
                if tick > now {
                    break;
                }
                match (entry.build)(tick) {
                    Ok(mut job) => {
                        job.idempotency_key = format!("{}@{}", entry.name, tick.format("%Y-%m-%dT%H:%M:%SZ"));
                        jobs.push((job, tick));
                    }
                    Err(error) => {
                        tracing::error!(job = entry.name, %error, "periodic job does not serialize");
                    }
                }
            }
        }
        self.last = now;
        jobs
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn utc(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 7, 1).and_then(|d| d.and_hms_opt(h, m, 0)).unwrap_or_default()
    }

    fn job(tick: NaiveDateTime) -> Result<Enqueue, serde_json::Error> {
        Ok(Enqueue {
            name: "maintenance.cleanup",
            queue: "maintenance",
            payload: serde_json::to_string(&tick.to_string())?,
            idempotency_key: String::new(),
        })
    }

    #[test]
    fn ticks_come_once_each_in_the_deployment_time_zone() {
        // 09:00 in Paris is 07:00 UTC in July.
        let mut scheduler = Scheduler::new(chrono_tz::Europe::Paris, utc(6, 30));
        scheduler.every("cleanup", "0 0 9 * * *", job).map(drop).unwrap_or_else(|e| panic!("{e}"));
        assert!(scheduler.due(utc(6, 59)).is_empty());
        let due = scheduler.due(utc(7, 0));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1, utc(7, 0));
        assert_eq!(due[0].0.idempotency_key, "cleanup@2026-07-01T07:00:00Z");
        assert!(scheduler.due(utc(7, 1)).is_empty(), "a tick fires once per scheduler");
    }

    #[test]
    fn two_schedulers_name_the_same_tick_alike_and_a_long_gap_yields_every_tick() {
        let build = |start| {
            let mut scheduler = Scheduler::new(Tz::UTC, start);
            scheduler.every("sweep", "0 */15 * * * *", job).map(drop).unwrap_or_else(|e| panic!("{e}"));
            scheduler
        };
        let (mut one, mut two) = (build(utc(10, 0)), build(utc(10, 5)));
        let keys = |due: Vec<(Enqueue, NaiveDateTime)>| {
            due.into_iter().map(|(job, _)| job.idempotency_key).collect::<Vec<_>>()
        };
        assert_eq!(
            keys(one.due(utc(11, 0))),
            [
                "sweep@2026-07-01T10:15:00Z",
                "sweep@2026-07-01T10:30:00Z",
                "sweep@2026-07-01T10:45:00Z",
                "sweep@2026-07-01T11:00:00Z"
            ]
        );
        assert_eq!(keys(two.due(utc(10, 20))), ["sweep@2026-07-01T10:15:00Z"], "the same key: enqueued once");
    }

    #[test]
    fn a_bad_expression_is_refused_with_its_name() {
        let mut scheduler = Scheduler::new(Tz::UTC, utc(0, 0));
        let error = scheduler.every("cleanup", "every hour", job).err();
        assert_eq!(error.map(|e| e.name), Some("cleanup"));
    }
}
