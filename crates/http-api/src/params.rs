//! Query parameters as the OpenAPI document describes them.

use serde::Deserialize;
use utoipa::IntoParams;

/// Paging of every list: the body stays a JSON array; `Link: <…>; rel="next"` points at the next page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page, 1 to 1000 (100 when omitted).
    #[param(minimum = 1, maximum = 1000, example = 50)]
    pub limit: Option<u32>,
    /// Rows to skip; the `Link` header carries the next page's offset.
    #[param(minimum = 0)]
    pub offset: Option<u64>,
    /// Also count every matching row, returned as `X-Total-Count`.
    pub count: Option<bool>,
}

/// The original's incident filters (§3.2). Repeat `status`, `environment`, `priority`, `group` or
/// `incident_category` to match any of several values. Unknown parameters are ignored.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the parameters `parse_list_query` reads, for the OpenAPI document")]
pub struct IncidentFilters {
    /// Full-text search in titles and descriptions.
    search: Option<String>,
    /// A date range in `TIME_ZONE`: `last_week`, `current_quarter`, `2026`, `2026/Q1 - May 2026`,
    /// `2026/11/01 - 2026/11/28`, `W20` ….
    #[param(example = "current_quarter")]
    created_at: Option<String>,
    /// A status label or value (repeatable).
    #[param(example = "Investigating")]
    status: Option<Vec<String>>,
    /// Status at least (label or value).
    #[param(rename = "status__gte")]
    status_gte: Option<String>,
    /// Status above.
    #[param(rename = "status__gt")]
    status_gt: Option<String>,
    /// Status at most.
    #[param(rename = "status__lte")]
    status_lte: Option<String>,
    /// Status below.
    #[param(rename = "status__lt")]
    status_lt: Option<String>,
    /// An environment id (repeatable).
    environment: Option<Vec<String>>,
    /// An environment value such as `PRD` (repeatable).
    #[param(rename = "environment__value")]
    environment_value: Option<Vec<String>>,
    /// Environment values, comma-separated.
    #[param(rename = "environment__value__in", example = "PRD,STG")]
    environment_value_in: Option<String>,
    /// A priority id (repeatable).
    priority: Option<Vec<String>>,
    /// A group id (repeatable).
    group: Option<Vec<String>>,
    /// An incident category id (repeatable).
    incident_category: Option<Vec<String>>,
    /// The creator's user id (repeatable).
    created_by: Option<Vec<uuid::Uuid>>,
    /// An incident id.
    id: Option<i64>,
    /// Incident ids, comma-separated.
    #[param(rename = "id__in", example = "1,2,3")]
    id_in: Option<String>,
    #[param(rename = "id__gte")]
    id_gte: Option<i64>,
    #[param(rename = "id__gt")]
    id_gt: Option<i64>,
    #[param(rename = "id__lte")]
    id_lte: Option<i64>,
    #[param(rename = "id__lt")]
    id_lt: Option<i64>,
    /// Declared at or after (RFC 3339 or a date).
    #[param(rename = "created_at__gte")]
    created_at_gte: Option<String>,
    #[param(rename = "created_at__gt")]
    created_at_gt: Option<String>,
    #[param(rename = "created_at__lte")]
    created_at_lte: Option<String>,
    #[param(rename = "created_at__lt")]
    created_at_lt: Option<String>,
    /// Only ignored (true) or counted (false) incidents.
    ignore: Option<bool>,
    /// Sort key, `-` for descending: `id`, `created_at`, `created_by`, `priority`, `title`.
    #[param(example = "-created_at")]
    order_by: Option<String>,
    /// `csv` or `tsv` to export every matching incident instead of a page of JSON.
    format: Option<String>,
    /// Export columns, comma-separated; `__all__` for every column, `*` as a wildcard (`metrics.*.duration`).
    fields: Option<String>,
    /// `__hidden__` to export without the header line.
    labels: Option<String>,
}

/// CSV/TSV export of a list: every row (ignoring `limit` and `offset`), streamed.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "describes the parameters `export::list_export` reads, for the OpenAPI document"
)]
pub struct ExportParams {
    /// `csv` or `tsv` (or send `Accept: text/csv`); JSON otherwise.
    format: Option<String>,
    /// Columns, comma-separated dotted paths with `*` wildcards; every column when omitted.
    fields: Option<String>,
    /// `__hidden__` to leave out the header line.
    labels: Option<String>,
}
