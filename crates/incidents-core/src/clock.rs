//! The one clock: every timestamp the product stores comes from [`now`].

use chrono::NaiveDateTime;

/// The current time as stored: naive UTC, truncated to microseconds (PostgreSQL's precision), so both
/// backends return exactly what was written.
#[must_use]
pub fn now() -> NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now().naive_utc();
    now.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(now)
}
