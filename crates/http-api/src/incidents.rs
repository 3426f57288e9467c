//! `/incidents`: list (the original's filters, paged), retrieve, and create (idempotent on `dedup_key`).

use actix_web::{HttpRequest, HttpResponse, web};
use incidents_core::access::{Action, Permission, Resource};
use incidents_core::date_range::parse_date_range;
use incidents_core::incident::{Creator, DeclareIncident, Declared, PriorityChoice};
use incidents_core::query::{IncidentFilter, OrderBy, PageRequest};
use incidents_core::{Actor, Email, EntryPoint, IncidentId, IncidentStatus, UserId};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{Credentials, authorize};
use crate::blocking;
use crate::body::required;
use crate::errors::ApiError;
use crate::json;
use crate::openapi::{BadRequest, Forbidden, NotFound, NotModified, Throttled, Unauthorized, Unsupported};
use crate::params::{IncidentFilters, PageParams};
use crate::{ApiBackend, ApiState};

pub use crate::paging::{DEFAULT_LIMIT, MAX_LIMIT};
pub(crate) use crate::paging::{page_params, paged_response};

fn parse_status(attr: &str, raw: &str) -> Result<IncidentStatus, ApiError> {
    raw.parse::<i32>()
        .ok()
        .and_then(|value| IncidentStatus::from_value(value).ok())
        .or_else(|| IncidentStatus::from_label(raw).ok())
        .ok_or_else(|| {
            ApiError::invalid(
                attr,
                "invalid_choice",
                format!("Select a valid choice. {raw} is not one of the available choices."),
            )
        })
}

pub(crate) fn parse_int(attr: &str, raw: &str) -> Result<i64, ApiError> {
    raw.trim().parse().map_err(|_| ApiError::invalid(attr, "invalid", "Enter a number."))
}

fn parse_time(attr: &str, raw: &str) -> Result<chrono::NaiveDateTime, ApiError> {
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.naive_utc())
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .map_err(|_| ApiError::invalid(attr, "invalid", "Enter a valid date/time."))
}

pub(crate) fn parse_bool(attr: &str, raw: &str) -> Result<bool, ApiError> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ApiError::invalid(attr, "invalid", "Must be true or false.")),
    }
}

/// The filters, order and page of a list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: IncidentFilter,
    pub order: OrderBy,
    pub page: PageRequest,
}

/// How a list parameter's value is read, and documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    Text,
    Integer,
    Boolean,
    Uuid,
}

/// One parameter of the incident list: the parser reads the parameters from this table, and the
/// OpenAPI document describes them from it ([`crate::params::IncidentFilters`]), so the two cannot
/// drift apart.
pub(crate) struct ListParam {
    /// Its name, then the names it is also read under (the original's aliases).
    pub names: &'static [&'static str],
    pub kind: ParamKind,
    /// Whether it may be repeated (each value adds to the filter).
    pub repeatable: bool,
    pub description: &'static str,
    pub example: Option<&'static str>,
    /// Reads one (non-empty) value into the query; `key` is the name it came under.
    pub apply: fn(&mut ListQuery, &str, &str, chrono_tz::Tz) -> Result<(), ApiError>,
}

fn parse_uuid(attr: &str, raw: &str) -> Result<UserId, ApiError> {
    raw.trim().parse().map(UserId).map_err(|_| ApiError::invalid(attr, "invalid", "Enter a valid UUID."))
}

/// The incident list's parameters (§3.2), besides paging (`PageParams`) and export
/// (`ExportParams`). Unknown parameters are ignored, as in the original.
pub(crate) const LIST_PARAMS: &[ListParam] = &[
    ListParam {
        names: &["search"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "Full-text search in titles and descriptions.",
        example: Some("checkout"),
        apply: |q, _, value, _| {
            q.filter.search = Some(value.to_owned());
            Ok(())
        },
    },
    ListParam {
        names: &["created_at"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "A date range in `TIME_ZONE`: `last_week`, `current_quarter`, `2026`, `2026/Q1 - May 2026`, \
                      `2026/11/01 - 2026/11/28`, `W20` ….",
        example: Some("current_quarter"),
        apply: |q, key, value, tz| {
            q.filter.created_at = parse_date_range(value, incidents_core::clock::now(), tz)
                .map_err(|e| ApiError::invalid(key, "invalid", e.to_string()))?;
            Ok(())
        },
    },
    ListParam {
        names: &["status"],
        kind: ParamKind::Text,
        repeatable: true,
        description: "A status label or value (repeatable).",
        example: Some("Investigating"),
        apply: |q, key, value, _| {
            q.filter.status.push(parse_status(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["status__gte", "_status__gte"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "Status at least (label or value).",
        example: Some("Mitigating"),
        apply: |q, key, value, _| {
            q.filter.status_gte = Some(parse_status(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["status__gt", "_status__gt"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "Status above (label or value).",
        example: Some("Mitigating"),
        apply: |q, key, value, _| {
            q.filter.status_gt = Some(parse_status(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["status__lte", "_status__lte"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "Status at most (label or value).",
        example: Some("Mitigated"),
        apply: |q, key, value, _| {
            q.filter.status_lte = Some(parse_status(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["status__lt", "_status__lt"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "Status below (label or value).",
        example: Some("Closed"),
        apply: |q, key, value, _| {
            q.filter.status_lt = Some(parse_status(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["environment"],
        kind: ParamKind::Text,
        repeatable: true,
        description: "An environment id (repeatable).",
        example: None,
        apply: |q, _, value, _| {
            q.filter.environment.push(value.to_owned());
            Ok(())
        },
    },
    ListParam {
        names: &["environment__value"],
        kind: ParamKind::Text,
        repeatable: true,
        description: "An environment value such as `PRD` (repeatable).",
        example: Some("PRD"),
        apply: |q, _, value, _| {
            q.filter.environment_value.push(value.to_owned());
            Ok(())
        },
    },
    ListParam {
        names: &["environment__value__in"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "Environment values, comma-separated.",
        example: Some("PRD,STG"),
        apply: |q, _, value, _| {
            q.filter.environment_value.extend(value.split(',').map(str::to_owned));
            Ok(())
        },
    },
    ListParam {
        names: &["priority"],
        kind: ParamKind::Text,
        repeatable: true,
        description: "A priority id (repeatable).",
        example: None,
        apply: |q, _, value, _| {
            q.filter.priority.push(value.to_owned());
            Ok(())
        },
    },
    ListParam {
        names: &["group"],
        kind: ParamKind::Text,
        repeatable: true,
        description: "A group id (repeatable).",
        example: None,
        apply: |q, _, value, _| {
            q.filter.group.push(value.to_owned());
            Ok(())
        },
    },
    ListParam {
        names: &["incident_category"],
        kind: ParamKind::Text,
        repeatable: true,
        description: "An incident category id (repeatable).",
        example: None,
        apply: |q, _, value, _| {
            q.filter.category.push(value.to_owned());
            Ok(())
        },
    },
    ListParam {
        names: &["created_by"],
        kind: ParamKind::Uuid,
        repeatable: true,
        description: "The creator's user id (repeatable).",
        example: None,
        apply: |q, key, value, _| {
            q.filter.created_by.push(parse_uuid(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["id", "id__iexact"],
        kind: ParamKind::Integer,
        repeatable: true,
        description: "An incident id (repeatable).",
        example: Some("42"),
        apply: |q, key, value, _| {
            q.filter.id.push(IncidentId(parse_int(key, value)?));
            Ok(())
        },
    },
    ListParam {
        names: &["id__in"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "Incident ids, comma-separated.",
        example: Some("1,2,3"),
        apply: |q, key, value, _| {
            for part in value.split(',') {
                q.filter.id.push(IncidentId(parse_int(key, part)?));
            }
            Ok(())
        },
    },
    ListParam {
        names: &["id__gte"],
        kind: ParamKind::Integer,
        repeatable: false,
        description: "Incident ids from this one.",
        example: Some("100"),
        apply: |q, key, value, _| {
            q.filter.id_gte = Some(parse_int(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["id__gt"],
        kind: ParamKind::Integer,
        repeatable: false,
        description: "Incident ids above this one.",
        example: Some("100"),
        apply: |q, key, value, _| {
            q.filter.id_gt = Some(parse_int(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["id__lte"],
        kind: ParamKind::Integer,
        repeatable: false,
        description: "Incident ids up to this one.",
        example: Some("100"),
        apply: |q, key, value, _| {
            q.filter.id_lte = Some(parse_int(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["id__lt"],
        kind: ParamKind::Integer,
        repeatable: false,
        description: "Incident ids below this one.",
        example: Some("100"),
        apply: |q, key, value, _| {
            q.filter.id_lt = Some(parse_int(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["created_at__gte"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "Declared at or after (RFC 3339, or a date).",
        example: Some("2026-11-01"),
        apply: |q, key, value, _| {
            q.filter.created_at_gte = Some(parse_time(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["created_at__gt"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "Declared after (RFC 3339, or a date).",
        example: Some("2026-11-01T08:00:00Z"),
        apply: |q, key, value, _| {
            q.filter.created_at_gt = Some(parse_time(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["created_at__lte"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "Declared at or before (RFC 3339, or a date).",
        example: Some("2026-11-30"),
        apply: |q, key, value, _| {
            q.filter.created_at_lte = Some(parse_time(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["created_at__lt"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "Declared before (RFC 3339, or a date).",
        example: Some("2026-12-01"),
        apply: |q, key, value, _| {
            q.filter.created_at_lt = Some(parse_time(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["ignore"],
        kind: ParamKind::Boolean,
        repeatable: false,
        description: "Only ignored (true) or counted (false) incidents.",
        example: Some("false"),
        apply: |q, key, value, _| {
            q.filter.ignored = Some(parse_bool(key, value)?);
            Ok(())
        },
    },
    ListParam {
        names: &["order_by"],
        kind: ParamKind::Text,
        repeatable: false,
        description: "Sort key, `-` for descending: `id`, `created_at`, `created_by`, `priority`, `title`.",
        example: Some("-created_at"),
        apply: |q, key, value, _| {
            q.order = OrderBy::parse(value).map_err(|e| ApiError::invalid(key, "invalid_choice", e))?;
            Ok(())
        },
    },
];

/// Reads the original's list parameters (§3.2: the filters of [`LIST_PARAMS`], `order_by`, `limit`,
/// `offset`, `count`) as the API does, for every entry point that lists incidents (the dashboard's
/// pages and exports). Empty values and unknown parameters are ignored, as in the original.
///
/// # Errors
/// A bad value, naming its parameter.
pub fn parse_list_query(query: &str, tz: chrono_tz::Tz) -> Result<ListQuery, ApiError> {
    let mut list = ListQuery {
        filter: IncidentFilter::default(),
        order: OrderBy::default(),
        page: PageRequest::new(DEFAULT_LIMIT, 0),
    };
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let (key, value) = (key.as_ref(), value.as_ref());
        crate::body::refuse_nul(key, value)?;
        if value.is_empty() {
            continue;
        }
        if let Some(param) = LIST_PARAMS.iter().find(|param| param.names.contains(&key)) {
            (param.apply)(&mut list, key, value, tz)?;
        }
    }
    let (limit, offset, with_total) = page_params(query)?;
    list.page = PageRequest { limit, offset, with_total };
    Ok(list)
}

/// The original's default export columns for incidents, in order (a public contract).
pub const DEFAULT_EXPORT_COLUMNS: [&str; 16] = [
    "id",
    "status",
    "environment.value",
    "priority.name",
    "title",
    "description",
    "incident_category.name",
    "incident_category.group.name",
    "created_at",
    "slack_channel_name",
    "status_page_url",
    "jira_ticket_key",
    "jira_ticket_url",
    "metrics.*.duration_seconds",
    "costs.*.amount",
    "roles.*.email",
];

/// Rows read per database round trip while exporting.
const EXPORT_BATCH: u32 = 500;

/// What an incident export reads: shared by the API and the dashboard, so that both export the same
/// columns with the same formula neutralisation.
#[derive(Debug, Clone)]
pub struct Exported<B> {
    pub backend: B,
    pub facets: incidents_core::facets::Facets,
    pub base_url: String,
    pub time_zone: chrono_tz::Tz,
}

impl<B: ApiBackend> Exported<B> {
    /// Every incident matching `filter`, streamed as CSV or TSV (columns from `?fields=`, the original's
    /// by default; `?labels=__hidden__` leaves the header out).
    pub fn response(
        self,
        request: &HttpRequest,
        format: crate::export::Tabular,
        filter: IncidentFilter,
        order: OrderBy,
    ) -> HttpResponse {
        let columns = crate::export::Columns::from_request(request, &DEFAULT_EXPORT_COLUMNS);
        let show_header = !crate::export::header_hidden(request);
        let Self { backend, facets, base_url, time_zone: tz } = self;
        crate::export::stream(format, columns, show_header, move |page| {
            let request = PageRequest::new(EXPORT_BATCH, page * u64::from(EXPORT_BATCH));
            let items = backend.incidents(&filter, order, request)?.items;
            let ids: Vec<IncidentId> = items.iter().map(|incident| incident.id).collect();
            let facets = facets.of(&ids)?;
            items
                .iter()
                .map(|incident| {
                    let json =
                        json::Incident::new(incident, &base_url, tz).with_facets(facets.get(&incident.id));
                    serde_json::to_value(json).map_err(|_| ApiError::internal())
                })
                .collect()
        })
    }
}

/// List incidents: a JSON array, newest first, with the original's filters. As CSV or TSV
/// (`?format=` or `Accept: text/csv`), every matching incident, streamed.
#[utoipa::path(
    get,
    path = "/incidents",
    tag = "incidents",
    params(IncidentFilters, PageParams, crate::params::ExportParams),
    responses(
        (status = 200, description = "A page of incidents, or every match as CSV/TSV", headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`")),
            content(
                (Vec<json::Incident> = "application/json"),
                (String = "text/csv"),
                (String = "text/tab-separated-values"),
            )),
        BadRequest, Unauthorized, Forbidden, Throttled,
    ),
)]
pub async fn list<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    list_as(request, state, None).await
}

/// List incidents in the format the suffix names: `/incidents.csv`, `/incidents.tsv`, `/incidents.json`.
#[utoipa::path(
    get,
    path = "/incidents.{format}",
    tag = "incidents",
    params(("format" = String, Path, description = "`json`, `csv` or `tsv`", example = "csv"),
        IncidentFilters, PageParams, crate::params::ExportParams),
    responses(
        (status = 200, description = "The incidents in the format asked for", content(
            (Vec<json::Incident> = "application/json"),
            (String = "text/csv"),
            (String = "text/tab-separated-values"),
        )),
        BadRequest, Unauthorized, Forbidden, NotFound, Throttled,
    ),
)]
pub async fn list_with_suffix<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    suffix: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let suffix = suffix.into_inner();
    list_as(request, state, Some(suffix)).await
}

async fn list_as<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    suffix: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let permission = Permission::new(Action::View, Resource::Incident);
    let credentials = Credentials::from_request(&request, &state).await?;
    // Bad parameters are reported after the credentials are checked, as before.
    let format = crate::export::requested(&request, suffix.as_deref());
    let query = parse_list_query(request.query_string(), state.time_zone);
    if !matches!(format, Ok(None)) {
        let backend = state.backend.clone();
        let principal = blocking(move || credentials.check(&backend, permission)).await?;
        let (format, mut query) = (format?.ok_or_else(ApiError::internal)?, query?);
        query.filter.visible_to = principal.visibility();
        let exported = Exported {
            backend: state.backend.clone(),
            facets: state.facets.clone(),
            base_url: state.base_url.clone(),
            time_zone: state.time_zone,
        };
        return Ok(exported.response(&request, format, query.filter, query.order));
    }
    let (backend, rendered, facets) = (state.backend.clone(), state.rendered.clone(), state.facets.clone());
    let (base_url, tz) = (state.base_url.clone(), state.time_zone);
    let (keys, items, page) = blocking(move || {
        // One hand-off to the blocking pool for the whole request: the token, then the page.
        let principal = credentials.check(&backend, permission)?;
        let ListQuery { mut filter, order, page } = query?;
        filter.visible_to = principal.visibility();
        let keys = backend.incident_keys(&filter, order, page)?;
        let items =
            rendered.render(&keys.items, |ids| Ok(backend.incidents_by_id(ids)?), &facets, &base_url, tz)?;
        Ok((keys, items, page))
    })
    .await?;
    Ok(paged_response(&request, &state.base_url, page, keys.has_more, keys.total)
        .content_type("application/json")
        .body(crate::rendered::array(&items)))
}

/// One incident, with an `ETag`; `If-None-Match` answers 304.
#[utoipa::path(
    get,
    path = "/incidents/{id}",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id", example = 42)),
    responses(
        (status = 200, body = json::Incident, headers(("ETag" = String))),
        NotModified, Unauthorized, Forbidden, NotFound, Throttled,
    ),
)]
pub async fn retrieve<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let credentials = Credentials::from_request(&request, &state).await?;
    let id = id.trim_end_matches(".json").parse::<i64>().ok();
    let (backend, rendered, facets) = (state.backend.clone(), state.rendered.clone(), state.facets.clone());
    let (base_url, tz) = (state.base_url.clone(), state.time_zone);
    let json = blocking(move || {
        // One hand-off for the whole request: the token, the version, then the kept rendering or
        // the incident itself.
        let principal = credentials.check(&backend, Permission::new(Action::View, Resource::Incident))?;
        let id = id.ok_or_else(ApiError::not_found)?;
        if let Some(user) = principal.visibility()
            && !crate::auth::sees(&backend, user, IncidentId(id))?
        {
            return Err(ApiError::not_found());
        }
        let key = backend.incident_key(IncidentId(id))?.ok_or_else(ApiError::not_found)?;
        let mut rendered =
            rendered.render(&[key], |ids| Ok(backend.incidents_by_id(ids)?), &facets, &base_url, tz)?;
        rendered.pop().ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(crate::conditional::respond_json(&request, json))
}

/// The body of `POST /incidents` (JSON or form-encoded). Unknown fields are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"title": "Checkout is down", "description": "Payments fail with 502.",
    "environment_id": "8c5f0c1e-7f43-4c36-9d43-3f1e0b7f6a10", "incident_category_id": "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d",
    "priority_id": "3e2b1a8c-7c1f-4b8e-9d2a-1f0e5c6b7a81", "created_by_email": "jane@example.com",
    "dedup_key": "alertmanager:checkout-5xx"}))]
pub struct CreateIncident {
    #[schema(required, max_length = 128)]
    pub title: Option<String>,
    #[schema(required)]
    pub description: Option<String>,
    /// An environment id (see `/environments`).
    #[schema(required)]
    pub environment_id: Option<String>,
    /// An incident category id (see `/incident-categories`).
    #[schema(required)]
    pub incident_category_id: Option<String>,
    /// A priority id (see `/priorities`).
    #[schema(required)]
    pub priority_id: Option<String>,
    /// The person declaring; unknown addresses become users.
    #[schema(required)]
    pub created_by_email: Option<String>,
    /// While an incident with this key is open, the same request returns it (200) instead of
    /// declaring another.
    pub dedup_key: Option<String>,
    /// Keep the incident out of statistics.
    pub ignore: Option<bool>,
}

/// `POST /incidents`: 201 with a new incident, or 200 with the open incident already holding `dedup_key`.
#[utoipa::path(
    post,
    path = "/incidents",
    tag = "incidents",
    request_body(content(
        (CreateIncident = "application/json"),
        (CreateIncident = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 201, description = "Declared", body = json::Incident),
        (status = 200, description = "An open incident already holds this `dedup_key`", body = json::Incident),
        BadRequest, Unauthorized, Forbidden, Unsupported, Throttled,
    ),
    security(("bearer" = [])),
)]
pub async fn create<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Permission::new(Action::Add, Resource::Incident)).await?;
    let body: CreateIncident = crate::body::decode(&request, &body)?;
    let title = required(body.title, "title")?;
    let description = required(body.description, "description")?;
    let environment_id = required(body.environment_id, "environment_id")?;
    let category_id = required(body.incident_category_id, "incident_category_id")?;
    let priority_id = required(body.priority_id, "priority_id")?;
    let email = required(body.created_by_email, "created_by_email")?;
    let email = Email::parse(&email)
        .map_err(|_| ApiError::invalid("created_by_email", "invalid", "Enter a valid email address."))?;
    let dedup_key = body.dedup_key;
    let ignored = body.ignore.unwrap_or(false);
    let command = DeclareIncident {
        title,
        description,
        priority: PriorityChoice::Given(priority_id),
        category_id,
        environment_id,
        private: None,
        dedup_key,
        ignored,
        custom_fields: serde_json::Map::new(),
        // The token's user acts (and is audited); the incident is declared for the creator, found
        // or created (with the responder permissions, audited) inside the declaration's transaction.
        created_by: Some(Creator::Email(email)),
    };
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    let (backend, facets) = (state.backend.clone(), state.facets.clone());
    let lifecycle = state.lifecycle.clone();
    let (declared, incident, facets) = blocking(move || {
        let declared = lifecycle.declare(actor, &command)?;
        let incident = backend.incident(declared.id())?.ok_or_else(ApiError::internal)?;
        let facets = facets.of(&[incident.id])?;
        Ok((declared, incident, facets))
    })
    .await?;
    let body = json::Incident::new(&incident, &state.base_url, state.time_zone)
        .with_facets(facets.get(&incident.id));
    Ok(match declared {
        Declared::Created(_) => HttpResponse::Created().json(body),
        Declared::Existing(_) => HttpResponse::Ok().json(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid value for a parameter without an example.
    fn value_for(param: &ListParam) -> &'static str {
        match (param.example, param.kind) {
            (Some(example), _) => example,
            (None, ParamKind::Uuid) => "5d1c9f2e-8b3a-4e6f-9a0b-7c2d4e6f8a1b",
            (None, ParamKind::Integer) => "7",
            (None, ParamKind::Boolean) => "true",
            (None, ParamKind::Text) => "some-id",
        }
    }

    #[test]
    fn every_documented_parameter_and_alias_is_read_and_changes_the_query() {
        let tz = chrono_tz::Tz::UTC;
        let default = parse_list_query("", tz).expect("no parameters");
        for param in LIST_PARAMS {
            for name in param.names {
                let query = format!(
                    "{name}={}",
                    url::form_urlencoded::byte_serialize(value_for(param).as_bytes()).collect::<String>()
                );
                let read = parse_list_query(&query, tz).unwrap_or_else(|error| panic!("{query}: {error:?}"));
                assert!(
                    read.filter != default.filter || read.order != default.order,
                    "{query} was documented but changed nothing"
                );
            }
        }
        // What is not in the table is ignored, as in the original.
        let ignored = parse_list_query("utm_source=mail&_status__between=1", tz).expect("ignored");
        assert_eq!((ignored.filter, ignored.order), (default.filter, default.order));
    }

    #[test]
    fn a_bad_value_is_a_400_naming_the_name_it_came_under() {
        let tz = chrono_tz::Tz::UTC;
        for (query, attr) in [
            ("_status__gte=nope", "_status__gte"),
            ("id__iexact=x", "id__iexact"),
            ("ignore=maybe", "ignore"),
        ] {
            let error = parse_list_query(query, tz).expect_err(query);
            assert!(format!("{error:?}").contains(attr), "{query}: {error:?}");
        }
    }
}
