//! The date-range mini-language of the incident filters (`created_at=2022/Q1 - May 2022`).
//!
//! A moment is one of: `now`, `today`, `yesterday`, `current_week`, `last_week`, `current_quarter`,
//! `last_quarter`, a year (`2022`), an ISO year (`I2022`), an ISO-week quarter (`2022/Q1` or `Q1` for the
//! current year: weeks 13q−12 … 13q, Q4 running to the last ISO week), an ISO week (`2022/W20`, `W20`),
//! a month (`May 2022`, `may`), a day (`1 may 2022`, `may 1`, `1 jan`, `2022/05/01`). A range is two
//! moments joined by a single `-` (or, when there are more dashes, by a single ` - `); it runs from the
//! start of the first to the end of the second. Moments are read in the deployment's time zone and the
//! bounds returned in UTC.

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Weekday};
use chrono_tz::Tz;

/// A closed interval, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

/// Why a range was refused; the message is shown to users as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateRangeError {
    #[error("Invalid date range: {0}")]
    Invalid(String),
    #[error("Invalid range: {0}. Only one separator is allowed")]
    TooManySeparators(String),
    #[error("Start date must be before end date ({start} > {end}).")]
    StartAfterEnd { start: String, end: String },
}

/// A moment in local (deployment) time: its first and last instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LocalSpan {
    start: NaiveDateTime,
    end: NaiveDateTime,
}

fn last_instant(day: NaiveDate) -> NaiveDateTime {
    day.and_time(NaiveTime::MIN) + TimeDelta::days(1) - TimeDelta::microseconds(1)
}

fn days(first: NaiveDate, last: NaiveDate) -> LocalSpan {
    LocalSpan { start: first.and_time(NaiveTime::MIN), end: last_instant(last) }
}

fn iso_weeks_in(year: i32) -> u32 {
    NaiveDate::from_ymd_opt(year, 12, 28).map_or(52, |d| d.iso_week().week())
}

fn iso_week(year: i32, week: u32) -> Option<LocalSpan> {
    if week == 0 || week > iso_weeks_in(year) {
        return None;
    }
    let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)?;
    Some(days(monday, monday + Days::new(6)))
}

/// The quarter an ISO week belongs to: weeks 1–13 → Q1 … 40–53 → Q4.
#[must_use]
pub fn quarter_of_week(week: u32) -> Option<u32> {
    match week {
        1..=13 => Some(1),
        14..=26 => Some(2),
        27..=39 => Some(3),
        40..=53 => Some(4),
        _ => None,
    }
}

fn iso_quarter(year: i32, quarter: u32) -> Option<LocalSpan> {
    if !(1..=4).contains(&quarter) {
        return None;
    }
    let first = iso_week(year, 13 * quarter - 12)?;
    let last_week = if quarter == 4 { iso_weeks_in(year) } else { 13 * quarter };
    let last = iso_week(year, last_week)?;
    Some(LocalSpan { start: first.start, end: last.end })
}

fn month(year: i32, month: u32) -> Option<LocalSpan> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let last = first.checked_add_months(Months::new(1))? - Days::new(1);
    Some(days(first, last))
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let name = name.to_ascii_lowercase();
    if name.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&name) && (name.len() == 3 || *m == name || name == "sept"))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// Parses one moment relative to `now` (local time).
fn moment(text: &str, now: NaiveDateTime) -> Option<LocalSpan> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let today = now.date();
    let this_week = today.iso_week();
    match lower.as_str() {
        "now" => return Some(LocalSpan { start: now, end: now }),
        "today" => return Some(days(today, today)),
        "yesterday" => return today.pred_opt().map(|d| days(d, d)),
        "current_week" => return iso_week(this_week.year(), this_week.week()),
        "last_week" => {
            let previous = (today - Days::new(7)).iso_week();
            return iso_week(previous.year(), previous.week());
        }
        "current_quarter" => return iso_quarter(this_week.year(), quarter_of_week(this_week.week())?),
        "last_quarter" => {
            let quarter = quarter_of_week(this_week.week())?;
            return if quarter == 1 {
                iso_quarter(this_week.year() - 1, 4)
            } else {
                iso_quarter(this_week.year(), quarter - 1)
            };
        }
        _ => {}
    }
    // [I]YYYY
    if let Some(year) = lower.strip_prefix('i').filter(|y| y.len() == 4).and_then(|y| y.parse::<i32>().ok()) {
        let first = iso_week(year, 1)?;
        let last = iso_week(year, iso_weeks_in(year))?;
        return Some(LocalSpan { start: first.start, end: last.end });
    }
    if lower.len() == 4
        && let Ok(year) = lower.parse::<i32>()
    {
        return Some(days(NaiveDate::from_ymd_opt(year, 1, 1)?, NaiveDate::from_ymd_opt(year, 12, 31)?));
    }
    // [YYYY/]Qn and [YYYY/]Wnn
    let (year, rest) = match lower.split_once('/') {
        Some((year, rest)) if year.len() == 4 && !rest.contains('/') => (year.parse::<i32>().ok()?, rest),
        _ => (this_week.year(), lower.as_str()),
    };
    if let Some(quarter) = rest.strip_prefix('q').and_then(|q| q.parse::<u32>().ok()) {
        return iso_quarter(year, quarter);
    }
    if let Some(week) = rest.strip_prefix('w').and_then(|w| w.parse::<u32>().ok()) {
        return iso_week(year, week);
    }
    // YYYY/MM/DD
    if let Ok(day) = NaiveDate::parse_from_str(&lower, "%Y/%m/%d") {
        return Some(days(day, day));
    }
    natural(&lower, today)
}

/// Month and day phrases: `may 2022`, `may`, `1 may 2022`, `may 1`, `may 1 2022`, `1 jan`.
fn natural(text: &str, today: NaiveDate) -> Option<LocalSpan> {
    let words: Vec<&str> =
        text.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()).collect();
    let mut month_of_year = None;
    let mut numbers = Vec::new();
    for word in &words {
        if let Ok(number) = word.trim_end_matches(['s', 't', 'n', 'd', 'r', 'h']).parse::<u32>() {
            numbers.push(number);
        } else if month_of_year.is_none() {
            month_of_year = Some(month_number(word)?);
        } else {
            return None;
        }
    }
    let month_of_year = month_of_year?;
    let (day, year) = match numbers.as_slice() {
        [] => (None, today.year()),
        [n] if *n >= 1000 => (None, i32::try_from(*n).ok()?),
        [d] => (Some(*d), today.year()),
        [a, b] if *b >= 1000 => (Some(*a), i32::try_from(*b).ok()?),
        [a, b] if *a >= 1000 => (Some(*b), i32::try_from(*a).ok()?),
        _ => return None,
    };
    match day {
        None => month(year, month_of_year),
        Some(day) => {
            let date = NaiveDate::from_ymd_opt(year, month_of_year, day)?;
            Some(days(date, date))
        }
    }
}

fn to_utc(local: NaiveDateTime, tz: Tz) -> NaiveDateTime {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.naive_utc(),
        chrono::LocalResult::Ambiguous(earliest, _) => earliest.naive_utc(),
        // In a daylight-saving gap: the instant an hour later exists.
        chrono::LocalResult::None => {
            tz.from_local_datetime(&(local + TimeDelta::hours(1))).earliest().map_or(local, |t| t.naive_utc())
        }
    }
}

/// Parses a moment or a range, relative to `now` (UTC) in time zone `tz`; `Ok(None)` for a blank input.
///
/// # Errors
/// [`DateRangeError`] with the message users see.
pub fn parse_date_range(text: &str, now: NaiveDateTime, tz: Tz) -> Result<Option<DateRange>, DateRangeError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let local_now = tz.from_utc_datetime(&now).naive_local();
    let (left, right) = if text.matches('-').count() == 1 {
        text.split_once('-').map_or((text, text), |(l, r)| (l, r))
    } else if text.contains('-') {
        if text.matches(" - ").count() != 1 {
            return Err(DateRangeError::TooManySeparators(text.to_owned()));
        }
        text.split_once(" - ").map_or((text, text), |(l, r)| (l, r))
    } else {
        (text, text)
    };
    let (start, end) = match (moment(left, local_now), moment(right, local_now)) {
        (Some(start), Some(end)) => (start.start, end.end),
        _ => return Err(DateRangeError::Invalid(text.to_owned())),
    };
    if start > end {
        let format = "%Y-%m-%d %H:%M:%S";
        return Err(DateRangeError::StartAfterEnd {
            start: start.format(format).to_string(),
            end: end.format(format).to_string(),
        });
    }
    Ok(Some(DateRange { start: to_utc(start, tz), end: to_utc(end, tz) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).and_then(|d| d.and_hms_opt(12, 0, 0)).unwrap_or_default()
    }

    fn start(y: i32, m: u32, d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).map(|d| d.and_time(NaiveTime::MIN)).unwrap_or_default()
    }

    fn end(y: i32, m: u32, d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).map(last_instant).unwrap_or_default()
    }

    fn range(text: &str) -> Option<(NaiveDateTime, NaiveDateTime)> {
        parse_date_range(text, at(2022, 6, 15), Tz::UTC).ok().flatten().map(|r| (r.start, r.end))
    }

    #[test]
    fn quarters_and_weeks_follow_iso_weeks() {
        assert_eq!(range("2022/Q1"), Some((start(2022, 1, 3), end(2022, 4, 3))));
        assert_eq!(range("2022/Q1 - 2022/Q2"), Some((start(2022, 1, 3), end(2022, 7, 3))));
        assert_eq!(range("2022/Q1 - May 2022"), Some((start(2022, 1, 3), end(2022, 5, 31))));
        assert_eq!(range("2021/Q4"), Some((start(2021, 10, 4), end(2022, 1, 2))));
        assert_eq!(range("2022/W20"), Some((start(2022, 5, 16), end(2022, 5, 22))));
        assert_eq!(range("2022/W52"), Some((start(2022, 12, 26), end(2023, 1, 1))));
        assert_eq!(range("W20"), range("2022/W20"), "the current year by default");
        assert_eq!(range("Q1"), range("2022/Q1"));
        assert_eq!(range("2022/W54"), None);
        assert_eq!(quarter_of_week(53), Some(4));
        assert_eq!(quarter_of_week(54), None);
    }

    #[test]
    fn years_months_and_days() {
        assert_eq!(range("2022"), Some((start(2022, 1, 1), end(2022, 12, 31))));
        assert_eq!(range("I2022"), Some((start(2022, 1, 3), end(2023, 1, 1))));
        assert_eq!(range("May 2022"), Some((start(2022, 5, 1), end(2022, 5, 31))));
        assert_eq!(range("1 may 2022"), Some((start(2022, 5, 1), end(2022, 5, 1))));
        assert_eq!(range("may 1"), Some((start(2022, 5, 1), end(2022, 5, 1))));
        assert_eq!(range("1 jan"), Some((start(2022, 1, 1), end(2022, 1, 1))));
        assert_eq!(range("February"), Some((start(2022, 2, 1), end(2022, 2, 28))));
        assert_eq!(range("2022/05/01"), Some((start(2022, 5, 1), end(2022, 5, 1))));
        assert_eq!(range("now"), Some((at(2022, 6, 15), at(2022, 6, 15))));
        assert_eq!(range("invalid_input"), None);
    }

    #[test]
    fn relative_moments() {
        // 2022-06-15 is a Wednesday of ISO week 24 (Q2).
        assert_eq!(range("current_week"), Some((start(2022, 6, 13), end(2022, 6, 19))));
        assert_eq!(range("last_week"), Some((start(2022, 6, 6), end(2022, 6, 12))));
        assert_eq!(range("current_quarter"), range("2022/Q2"));
        assert_eq!(range("last_quarter"), range("2022/Q1"));
        let january = parse_date_range("last_quarter", at(2022, 1, 10), Tz::UTC).ok().flatten();
        assert_eq!(january.map(|r| r.start), Some(start(2021, 10, 4)));
    }

    #[test]
    fn errors_are_the_original_messages() {
        assert_eq!(parse_date_range("  ", at(2022, 6, 15), Tz::UTC), Ok(None));
        assert_eq!(
            parse_date_range("nonsense - garbage", at(2022, 6, 15), Tz::UTC),
            Err(DateRangeError::Invalid("nonsense - garbage".into()))
        );
        assert!(matches!(
            parse_date_range("2022-01-01", at(2022, 6, 15), Tz::UTC),
            Err(DateRangeError::TooManySeparators(_))
        ));
        assert_eq!(
            parse_date_range("May 2022 - 2022/Q1", at(2022, 6, 15), Tz::UTC),
            Err(DateRangeError::StartAfterEnd {
                start: "2022-05-01 00:00:00".into(),
                end: "2022-04-03 23:59:59".into()
            })
        );
    }

    #[test]
    fn bounds_are_local_days_returned_in_utc() {
        let paris = parse_date_range("1 may 2022", at(2022, 6, 15), chrono_tz::Europe::Paris).ok().flatten();
        // Midnight in Paris (UTC+2 in May) is 22:00 UTC the day before.
        assert_eq!(
            paris.map(|r| r.start),
            NaiveDate::from_ymd_opt(2022, 4, 30).and_then(|d| d.and_hms_opt(22, 0, 0))
        );
    }
}
