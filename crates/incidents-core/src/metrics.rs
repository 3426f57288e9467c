//! Metrics: durations between key events, recomputed from the key events on every change.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::incident::MetricTypeRef;

/// One computed metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedMetric {
    pub metric_type_id: i64,
    /// Microseconds, never negative.
    pub duration_micros: i64,
}

/// Every metric whose two key events are recorded and in order. A metric whose end precedes its start
/// (an incident declared after it recovered, say) is left out rather than stored negative.
#[must_use]
pub fn compute_metrics(
    key_events: &HashMap<String, NaiveDateTime>,
    metric_types: &[MetricTypeRef],
) -> Vec<ComputedMetric> {
    metric_types
        .iter()
        .filter_map(|metric| {
            let end = key_events.get(&metric.end_event)?;
            let start = key_events.get(&metric.start_event)?;
            let duration = (*end - *start).num_microseconds()?;
            (duration >= 0).then_some(ComputedMetric { metric_type_id: metric.id, duration_micros: duration })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate};

    use super::*;

    fn at(minutes: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 28).and_then(|d| d.and_hms_opt(10, 0, 0)).unwrap_or_default()
            + Duration::minutes(minutes)
    }

    fn metric(id: i64, end: &str, start: &str) -> MetricTypeRef {
        MetricTypeRef { id, slug: format!("m{id}"), end_event: end.into(), start_event: start.into() }
    }

    #[test]
    fn computes_present_and_ordered_pairs_only() {
        let events: HashMap<String, NaiveDateTime> = [
            ("started".to_owned(), at(0)),
            ("detected".to_owned(), at(12)),
            ("declared".to_owned(), at(20)),
            ("recovered".to_owned(), at(5)),
        ]
        .into_iter()
        .collect();
        let metrics = compute_metrics(
            &events,
            &[
                metric(1, "detected", "started"),
                metric(2, "recovered", "declared"),
                metric(3, "resolved", "started"),
                metric(4, "recovered", "started"),
            ],
        );
        assert_eq!(
            metrics,
            vec![
                ComputedMetric { metric_type_id: 1, duration_micros: 12 * 60 * 1_000_000 },
                ComputedMetric { metric_type_id: 4, duration_micros: 5 * 60 * 1_000_000 },
            ]
        );
    }
}
