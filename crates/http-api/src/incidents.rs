//! `/incidents`: list (the original's filters, paged), retrieve, and create (idempotent on `dedup_key`).

use actix_web::http::header;
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

/// Rows per page when the client does not say; the original returned everything, which does not
/// scale to a long history.
pub const DEFAULT_LIMIT: u32 = 100;
/// The most rows one page returns.
pub const MAX_LIMIT: u32 = 1000;

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

fn parse_int(attr: &str, raw: &str) -> Result<i64, ApiError> {
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

fn parse_bool(attr: &str, raw: &str) -> Result<bool, ApiError> {
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

/// Reads the original's list parameters (§3.2: filters, `order_by`, `limit`, `offset`, `count`) as
/// the API does, for every entry point that lists incidents (the dashboard's pages and exports).
///
/// # Errors
/// A bad value, naming its parameter.
pub fn parse_list_query(query: &str, tz: chrono_tz::Tz) -> Result<ListQuery, ApiError> {
    let mut filter = IncidentFilter::default();
    let mut order = OrderBy::default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let (key, value) = (key.as_ref(), value.as_ref());
        crate::body::refuse_nul(key, value)?;
        if value.is_empty() {
            continue;
        }
        match key {
            "search" => filter.search = Some(value.to_owned()),
            "created_at" => {
                filter.created_at = parse_date_range(value, incidents_core::clock::now(), tz)
                    .map_err(|e| ApiError::invalid(key, "invalid", e.to_string()))?;
            }
            "status" => filter.status.push(parse_status(key, value)?),
            "_status__gte" | "status__gte" => filter.status_gte = Some(parse_status(key, value)?),
            "_status__gt" | "status__gt" => filter.status_gt = Some(parse_status(key, value)?),
            "_status__lte" | "status__lte" => filter.status_lte = Some(parse_status(key, value)?),
            "_status__lt" | "status__lt" => filter.status_lt = Some(parse_status(key, value)?),
            "environment" => filter.environment.push(value.to_owned()),
            "environment__value" => filter.environment_value.push(value.to_owned()),
            "environment__value__in" => filter.environment_value.extend(value.split(',').map(str::to_owned)),
            "priority" => filter.priority.push(value.to_owned()),
            "group" => filter.group.push(value.to_owned()),
            "incident_category" => filter.category.push(value.to_owned()),
            "created_by" => filter.created_by.push(
                value
                    .parse()
                    .map(UserId)
                    .map_err(|_| ApiError::invalid(key, "invalid", "Enter a valid UUID."))?,
            ),
            "id" | "id__iexact" => filter.id.push(IncidentId(parse_int(key, value)?)),
            "id__in" => {
                for part in value.split(',') {
                    filter.id.push(IncidentId(parse_int(key, part)?));
                }
            }
            "id__gte" => filter.id_gte = Some(parse_int(key, value)?),
            "id__gt" => filter.id_gt = Some(parse_int(key, value)?),
            "id__lte" => filter.id_lte = Some(parse_int(key, value)?),
            "id__lt" => filter.id_lt = Some(parse_int(key, value)?),
            "created_at__gte" => filter.created_at_gte = Some(parse_time(key, value)?),
            "created_at__gt" => filter.created_at_gt = Some(parse_time(key, value)?),
            "created_at__lte" => filter.created_at_lte = Some(parse_time(key, value)?),
            "created_at__lt" => filter.created_at_lt = Some(parse_time(key, value)?),
            "ignore" => filter.ignored = Some(parse_bool(key, value)?),
            "order_by" => {
                order = OrderBy::parse(value).map_err(|e| ApiError::invalid(key, "invalid_choice", e))?;
            }
            // Paging is read by `page_params`.
            "limit" | "offset" | "count" => {}
            // Unknown parameters are ignored, as in the original.
            _ => {}
        }
    }
    let (limit, offset, with_total) = page_params(query)?;
    let page = PageRequest { limit, offset, with_total };
    Ok(ListQuery { filter, order, page })
}

/// `limit`, `offset` and `count` of a list request.
pub(crate) fn page_params(query: &str) -> Result<(u32, u64, bool), ApiError> {
    let mut params = PageParams::default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "limit" => {
                params.limit = Some(
                    u32::try_from(parse_int("limit", &value)?)
                        .ok()
                        .filter(|l| (1..=MAX_LIMIT).contains(l))
                        .ok_or_else(|| {
                        ApiError::invalid("limit", "invalid", format!("Must be between 1 and {MAX_LIMIT}."))
                    })?,
                );
            }
            "offset" => {
                params.offset = Some(
                    u64::try_from(parse_int("offset", &value)?)
                        .map_err(|_| ApiError::invalid("offset", "invalid", "Must be 0 or more."))?,
                );
            }
            "count" => params.count = Some(parse_bool("count", &value)?),
            _ => {}
        }
    }
    Ok((params.limit.unwrap_or(DEFAULT_LIMIT), params.offset.unwrap_or(0), params.count.unwrap_or(false)))
}

/// The same request with another offset, for the `Link` header.
pub(crate) fn page_url(request: &HttpRequest, base_url: &str, offset: u64) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(request.query_string().as_bytes())
        .filter(|(key, _)| key != "offset")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    pairs.push(("offset".to_owned(), offset.to_string()));
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("{base_url}{}?{query}", request.path())
}

/// A 200 response builder with the paging headers: `Link: <…>; rel="next"` when more rows follow,
/// `X-Total-Count` when counted.
pub(crate) fn paged_response(
    request: &HttpRequest,
    base_url: &str,
    page: PageRequest,
    has_more: bool,
    total: Option<u64>,
) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    if has_more {
        let next = page_url(request, base_url, page.offset + u64::from(page.limit));
        response.insert_header((header::LINK, format!("<{next}>; rel=\"next\"")));
    }
    if let Some(total) = total {
        response.insert_header(("X-Total-Count", total.to_string()));
    }
    response
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
    params(IncidentFilters, PageParams),
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
        IncidentFilters, PageParams),
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
