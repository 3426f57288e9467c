//! The dashboard's reports: per-category reliability (incidents and downtime over a period, whence
//! the mean time between failures), as grouped queries over the whole history.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};
use incidents_core::RepositoryError;

use crate::connection::Database;
use crate::error::repository_error;
use crate::schema::{incident_metrics, incidents, metric_types};

/// One category's record over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryRecord {
    pub category_id: String,
    /// Incidents declared in the period.
    pub incidents: i64,
    /// The sum of their `time_to_fix`, in microseconds; `None` when none has it.
    pub downtime_micros: Option<i64>,
}

/// A category's mean time between failures over `[start, end]` (the original's
/// `queryset_with_mtbf`): the period's uptime (its length less the downtime) divided by the number of
/// incidents; `None` without incidents or without any `time_to_fix`.
#[must_use]
pub fn mtbf_micros(record: &CategoryRecord, start: NaiveDateTime, end: NaiveDateTime) -> Option<i64> {
    let downtime = record.downtime_micros?;
    if record.incidents == 0 {
        return None;
    }
    let period = (end - start).num_microseconds()?;
    Some((period - downtime).max(0) / record.incidents)
}

impl Database {
    /// Per category: the incidents declared in `[start, end]` and the sum of their `time_to_fix`.
    /// Categories without incidents in the period are absent.
    ///
    /// # Errors
    /// A storage failure.
    pub fn category_records(
        &self,
        start: NaiveDateTime,
        end: NaiveDateTime,
    ) -> Result<Vec<CategoryRecord>, RepositoryError> {
        let mut conn = self.connection()?;
        let counts: Vec<(String, i64)> = incidents::table
            .filter(incidents::created_at.ge(start))
            .filter(incidents::created_at.le(end))
            .group_by(incidents::incident_category_id)
            .select((incidents::incident_category_id, count_star()))
            .load(&mut *conn)
            .map_err(repository_error)?;
        // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back, on both backends alike.
        let downtimes: Vec<(String, Option<i64>)> = incident_metrics::table
            .inner_join(incidents::table)
            .inner_join(metric_types::table)
            .filter(metric_types::slug.eq("time_to_fix"))
            .filter(incidents::created_at.ge(start))
            .filter(incidents::created_at.le(end))
            .group_by(incidents::incident_category_id)
            .select((
                incidents::incident_category_id,
                sql::<Nullable<BigInt>>("CAST(SUM(incident_metrics.duration_micros) AS BIGINT)"),
            ))
            .load(&mut *conn)
            .map_err(repository_error)?;
        let downtime: std::collections::HashMap<String, Option<i64>> = downtimes.into_iter().collect();
        Ok(counts
            .into_iter()
            .map(|(category_id, incidents)| CategoryRecord {
                downtime_micros: downtime.get(&category_id).copied().flatten(),
                category_id,
                incidents,
            })
            .collect())
    }
}
