//! Statistics over a filtered set of incidents (the original's statistics page) and the mean time
//! between failures of categories. Pure aggregation: storage supplies narrow rows, this module counts.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, TimeDelta};
use serde::Serialize;

use crate::status::IncidentStatus;

/// One incident, reduced to what the statistics need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatisticsRow {
    pub priority_id: String,
    pub status: IncidentStatus,
    pub created_at: NaiveDateTime,
    pub group_name: String,
    /// The `time_to_fix` metric, when computed.
    pub time_to_fix_micros: Option<i64>,
}

/// A priority, for labelling rows (every priority is listed in the age table, even without incidents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorityLabel {
    pub id: String,
    pub name: String,
}

/// Incidents of one priority: total, still open, closed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorityCounts {
    pub priority: PriorityLabel,
    pub total: u64,
    pub opened: u64,
    pub closed: u64,
    /// Closed ÷ total × 100, one decimal.
    pub closed_percent: f64,
}

/// Age buckets of non-closed incidents, by days since creation.
pub const AGE_BUCKETS: [(&str, i64, Option<i64>); 7] = [
    ("0-2 days", 0, Some(3)),
    ("3-4 days", 3, Some(5)),
    ("5-6 days", 5, Some(7)),
    ("7-14 days", 7, Some(15)),
    ("15-29 days", 15, Some(30)),
    ("30-89 days", 30, Some(90)),
    ("90+ days", 90, None),
];

/// Non-closed incidents of one priority, by age bucket (same order as [`AGE_BUCKETS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgeRow {
    pub priority: PriorityLabel,
    pub counts: Vec<u64>,
}

/// Cumulative time-to-fix thresholds in seconds; the last bucket counts fixes of a day or more.
pub const TTR_BUCKETS: [(&str, i64); 5] =
    [("< 15 min", 15 * 60), ("< 30 min", 30 * 60), ("< 1 h", 3600), ("< 3 h", 3 * 3600), ("< 1 day", 86_400)];

/// Time to fix of one priority: cumulative counts under each threshold, then the count at a day or more.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeToFixRow {
    pub priority: PriorityLabel,
    pub total: u64,
    /// One per [`TTR_BUCKETS`] threshold, then one for "≥ 1 day".
    pub counts: Vec<u64>,
    pub percents: Vec<f64>,
}

/// The whole statistics page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statistics {
    pub by_priority: Vec<PriorityCounts>,
    pub totals: PriorityTotals,
    pub age_by_priority: Vec<AgeRow>,
    pub time_to_fix_by_priority: Vec<TimeToFixRow>,
    /// Group (domain) name → incidents.
    pub by_group: BTreeMap<String, u64>,
    /// Every status label → incidents, in workflow order.
    pub by_status: Vec<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorityTotals {
    pub total: u64,
    pub opened: u64,
    pub closed: u64,
    pub closed_percent: f64,
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let value = part as f64 * 100.0 / whole as f64;
    (value * 10.0).round() / 10.0
}

/// Incidents of one (priority id, status, group name).
pub type IncidentCount = (String, IncidentStatus, String, u64);

/// What the statistics are made of, counted by storage in grouped queries (a few rows per priority,
/// whatever the number of incidents).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatisticsCounts {
    /// Incidents per (priority id, status, group name).
    pub incidents: Vec<IncidentCount>,
    /// Per priority id: its non-closed incidents by age bucket ([`AGE_BUCKETS`] order).
    pub ages: BTreeMap<String, Vec<u64>>,
    /// Per priority id: its fixed incidents (mitigated or later, time to fix of a second or more): how
    /// many, and how many under each [`TTR_BUCKETS`] threshold, then how many took a day or more.
    pub fixes: BTreeMap<String, (u64, Vec<u64>)>,
}

impl StatisticsCounts {
    /// Counts `rows` as storage does in SQL (`now` for ages): the reference the grouped queries are
    /// tested against.
    #[must_use]
    pub fn from_rows(rows: &[StatisticsRow], now: NaiveDateTime) -> Self {
        let mut counts = Self::default();
        let mut incidents: BTreeMap<(String, IncidentStatus, String), u64> = BTreeMap::new();
        for row in rows {
            *incidents.entry((row.priority_id.clone(), row.status, row.group_name.clone())).or_insert(0) += 1;
            if row.status < IncidentStatus::Closed {
                let age_days = (now - row.created_at).num_days();
                if let Some(bucket) = AGE_BUCKETS
                    .iter()
                    .position(|(_, from, to)| age_days >= *from && to.is_none_or(|to| age_days < to))
                {
                    counts
                        .ages
                        .entry(row.priority_id.clone())
                        .or_insert_with(|| vec![0; AGE_BUCKETS.len()])[bucket] += 1;
                }
            }
            if let Some(micros) = row.time_to_fix_micros.filter(|m| *m >= 1_000_000)
                && row.status >= IncidentStatus::Mitigated
            {
                let (total, under) = counts
                    .fixes
                    .entry(row.priority_id.clone())
                    .or_insert_with(|| (0, vec![0; TTR_BUCKETS.len() + 1]));
                *total += 1;
                for (index, (_, seconds)) in TTR_BUCKETS.iter().enumerate() {
                    if micros < seconds * 1_000_000 {
                        under[index] += 1;
                    }
                }
                if micros >= 86_400 * 1_000_000 {
                    under[TTR_BUCKETS.len()] += 1;
                }
            }
        }
        counts.incidents = incidents.into_iter().map(|((p, s, g), n)| (p, s, g, n)).collect();
        counts
    }
}

impl Statistics {
    /// Aggregates `rows` (the filtered incidents); `priorities` in display order; `now` for ages.
    #[must_use]
    pub fn compute(rows: &[StatisticsRow], priorities: &[PriorityLabel], now: NaiveDateTime) -> Self {
        Self::from_counts(&StatisticsCounts::from_rows(rows, now), priorities)
    }

    /// The page from storage's counts; `priorities` in display order.
    #[must_use]
    pub fn from_counts(counts: &StatisticsCounts, priorities: &[PriorityLabel]) -> Self {
        let mut by_priority = Vec::new();
        let mut age_by_priority = Vec::new();
        let mut time_to_fix_by_priority = Vec::new();
        let sum = |keep: &dyn Fn(&IncidentCount) -> bool| -> u64 {
            counts.incidents.iter().filter(|row| keep(row)).map(|row| row.3).sum()
        };
        for priority in priorities {
            let total = sum(&|row| row.0 == priority.id);
            let closed = sum(&|row| row.0 == priority.id && row.1 == IncidentStatus::Closed);
            if total > 0 {
                by_priority.push(PriorityCounts {
                    priority: priority.clone(),
                    total,
                    opened: total - closed,
                    closed,
                    closed_percent: percent(closed, total),
                });
            }
            let ages = counts.ages.get(&priority.id).cloned().unwrap_or_else(|| vec![0; AGE_BUCKETS.len()]);
            age_by_priority.push(AgeRow { priority: priority.clone(), counts: ages });
            if let Some((total, under)) = counts.fixes.get(&priority.id).filter(|(total, _)| *total > 0) {
                time_to_fix_by_priority.push(TimeToFixRow {
                    priority: priority.clone(),
                    total: *total,
                    counts: under.clone(),
                    percents: under.iter().map(|count| percent(*count, *total)).collect(),
                });
            }
        }
        let total = sum(&|_| true);
        let closed = sum(&|row| row.1 == IncidentStatus::Closed);
        let mut by_group = BTreeMap::new();
        for (_, _, group, count) in &counts.incidents {
            *by_group.entry(group.clone()).or_insert(0) += count;
        }
        let by_status = IncidentStatus::ALL
            .iter()
            .map(|status| (status.label().to_owned(), sum(&|row| row.1 == *status)))
            .collect();
        Self {
            by_priority,
            totals: PriorityTotals {
                total,
                opened: total - closed,
                closed,
                closed_percent: percent(closed, total),
            },
            age_by_priority,
            time_to_fix_by_priority,
            by_group,
            by_status,
        }
    }
}

/// A category's incidents and their total time to fix within a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryDowntime {
    pub category_id: String,
    pub category_name: String,
    pub group_name: String,
    pub incident_count: u64,
    /// Sum of `time_to_fix` of those incidents; `None` when none has the metric.
    pub downtime_micros: Option<i64>,
}

/// Mean time between failures of a category over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryMtbf {
    pub category_id: String,
    pub category_name: String,
    pub group_name: String,
    pub incident_count: u64,
    /// Their summed time to fix; `None` when none has the metric.
    pub downtime_micros: Option<i64>,
    /// (period − downtime) ÷ incidents; `None` without incidents or without any time-to-fix metric.
    pub mtbf_seconds: Option<i64>,
}

/// MTBF per category for the period `[from, to]`, `to` clamped to `now` (a future end counts no uptime).
#[must_use]
pub fn category_mtbf(
    downtimes: &[CategoryDowntime],
    from: NaiveDateTime,
    to: NaiveDateTime,
    now: NaiveDateTime,
) -> Vec<CategoryMtbf> {
    let period = (to.min(now) - from).max(TimeDelta::zero());
    downtimes
        .iter()
        .map(|row| {
            let mtbf_seconds = match (row.incident_count, row.downtime_micros) {
                (0, _) | (_, None) => None,
                (count, Some(downtime)) => {
                    let uptime = period - TimeDelta::microseconds(downtime);
                    i64::try_from(count).ok().map(|count| uptime.num_seconds() / count)
                }
            };
            CategoryMtbf {
                category_id: row.category_id.clone(),
                category_name: row.category_name.clone(),
                group_name: row.group_name.clone(),
                incident_count: row.incident_count,
                downtime_micros: row.downtime_micros,
                mtbf_seconds,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn day(d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, d).and_then(|d| d.and_hms_opt(12, 0, 0)).unwrap_or_default()
    }

    fn row(
        priority: &str,
        status: IncidentStatus,
        created: u32,
        group: &str,
        ttf_minutes: Option<i64>,
    ) -> StatisticsRow {
        StatisticsRow {
            priority_id: priority.into(),
            status,
            created_at: day(created),
            group_name: group.into(),
            time_to_fix_micros: ttf_minutes.map(|m| m * 60 * 1_000_000),
        }
    }

    fn label(id: &str) -> PriorityLabel {
        PriorityLabel { id: id.into(), name: id.into() }
    }

    #[test]
    fn counts_ages_and_times_to_fix() {
        use IncidentStatus::*;
        let rows = vec![
            row("P1", Closed, 1, "Platform", Some(10)),
            row("P1", Mitigated, 20, "Platform", Some(45)),
            row("P1", Open, 27, "Marketplace", None),
            row("P3", Investigating, 10, "Marketplace", None),
            row("P3", Closed, 5, "Platform", Some(60 * 30)),
        ];
        let stats = Statistics::compute(&rows, &[label("P1"), label("P2"), label("P3")], day(28));
        let counts: Vec<(&str, u64, u64, u64, f64)> = stats
            .by_priority
            .iter()
            .map(|p| (p.priority.name.as_str(), p.total, p.opened, p.closed, p.closed_percent))
            .collect();
        assert_eq!(
            counts,
            vec![("P1", 3, 2, 1, 33.3), ("P3", 2, 1, 1, 50.0)],
            "P2 has no incident: left out"
        );
        assert_eq!(stats.totals.closed_percent, 40.0);
        assert_eq!(stats.age_by_priority.len(), 3, "every priority is listed");
        assert_eq!(stats.age_by_priority[0].counts, vec![1, 0, 0, 1, 0, 0, 0], "1 day and 8 days old");
        assert_eq!(stats.age_by_priority[2].counts, vec![0, 0, 0, 0, 1, 0, 0], "18 days old");
        let ttf = &stats.time_to_fix_by_priority;
        assert_eq!(ttf.len(), 2);
        assert_eq!(ttf[0].counts, vec![1, 1, 2, 2, 2, 0], "10 and 45 minutes, cumulative");
        assert_eq!(ttf[0].percents, vec![50.0, 50.0, 100.0, 100.0, 100.0, 0.0]);
        assert_eq!(ttf[1].counts, vec![0, 0, 0, 0, 0, 1], "30 hours");
        assert_eq!(stats.by_group.get("Platform"), Some(&3));
        assert_eq!(stats.by_status[0], ("Open".to_owned(), 1));
        assert_eq!(stats.by_status.len(), 6);
    }

    #[test]
    fn mtbf_clamps_to_now_and_needs_metrics() {
        let rows = vec![
            CategoryDowntime {
                category_id: "a".into(),
                category_name: "A".into(),
                group_name: "G".into(),
                incident_count: 2,
                downtime_micros: Some(3600 * 1_000_000),
            },
            CategoryDowntime {
                category_id: "b".into(),
                category_name: "B".into(),
                group_name: "G".into(),
                incident_count: 1,
                downtime_micros: None,
            },
        ];
        let mtbf = category_mtbf(&rows, day(1), day(30), day(11));
        // 10 days of period (clamped to now), minus 1 h, over 2 incidents.
        assert_eq!(mtbf[0].mtbf_seconds, Some((10 * 86_400 - 3600) / 2));
        assert_eq!(mtbf[1].mtbf_seconds, None);
    }
}
