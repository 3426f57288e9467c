//! `/incidents`: list (the original's filters, paged), retrieve, and create (idempotent on `dedup_key`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use incidents_core::access::{Action, Permission, Resource};
use incidents_core::date_range::parse_date_range;
use incidents_core::incident::{DeclareIncident, Declared, PriorityChoice};
use incidents_core::query::{IncidentFilter, OrderBy, PageRequest};
use incidents_core::{Actor, Email, EntryPoint, IncidentId, IncidentStatus, NewUser, UserId};
use serde_json::Value;

use crate::auth::authorize;
use crate::blocking;
use crate::errors::ApiError;
use crate::json;
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
struct ListQuery {
    filter: IncidentFilter,
    order: OrderBy,
    page: PageRequest,
}

fn parse_list_query(query: &str, tz: chrono_tz::Tz) -> Result<ListQuery, ApiError> {
    let mut filter = IncidentFilter::default();
    let mut order = OrderBy::default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let (key, value) = (key.as_ref(), value.as_ref());
        if value.is_empty() {
            continue;
        }
        match key {
            "search" => filter.search = Some(value.to_owned()),
            "created_at" => {
                filter.created_at = parse_date_range(value, incidents_core::lifecycle::now(), tz)
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
    let mut limit = DEFAULT_LIMIT;
    let mut offset = 0_u64;
    let mut with_total = false;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "limit" => {
                limit = u32::try_from(parse_int("limit", &value)?)
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| {
                        ApiError::invalid("limit", "invalid", format!("Must be between 1 and {MAX_LIMIT}."))
                    })?;
            }
            "offset" => {
                offset = u64::try_from(parse_int("offset", &value)?)
                    .map_err(|_| ApiError::invalid("offset", "invalid", "Must be 0 or more."))?;
            }
            "count" => with_total = parse_bool("count", &value)?,
            _ => {}
        }
    }
    Ok((limit, offset, with_total))
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

/// `GET /incidents`: a JSON array; `Link: <…>; rel="next"` when more follow; `X-Total-Count` with
/// `count=true`. As CSV or TSV (`?format=` or `Accept`), every matching incident, streamed.
pub async fn list<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    list_as(request, state, None).await
}

/// `GET /incidents.csv`, `/incidents.tsv`, `/incidents.json`.
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
    authorize(&request, &state, Permission::new(Action::View, Resource::Incident)).await?;
    let format = crate::export::requested(&request, suffix.as_deref())?;
    let query = parse_list_query(request.query_string(), state.time_zone)?;
    if let Some(format) = format {
        let columns = crate::export::Columns::from_request(&request, &DEFAULT_EXPORT_COLUMNS);
        let show_header = !crate::export::header_hidden(&request);
        let backend = state.backend.clone();
        let (base_url, tz) = (state.base_url.clone(), state.time_zone);
        let (filter, order) = (query.filter, query.order);
        return Ok(crate::export::stream(format, columns, show_header, move |page| {
            let request = PageRequest::new(EXPORT_BATCH, page * u64::from(EXPORT_BATCH));
            let items = backend.incidents(&filter, order, request)?.items;
            Ok(items.iter().map(|incident| json::incident(incident, &base_url, tz)).collect())
        }));
    }
    let backend = state.backend.clone();
    let (filter, order, page) = (query.filter, query.order, query.page);
    let result = blocking(move || Ok(backend.incidents(&filter, order, page)?)).await?;
    let body: Vec<Value> =
        result.items.iter().map(|i| json::incident(i, &state.base_url, state.time_zone)).collect();
    let mut response = HttpResponse::Ok();
    if result.has_more {
        let next = page_url(&request, &state.base_url, page.offset + u64::from(page.limit));
        response.insert_header((header::LINK, format!("<{next}>; rel=\"next\"")));
    }
    if let Some(total) = result.total {
        response.insert_header(("X-Total-Count", total.to_string()));
    }
    Ok(response.json(body))
}

/// `GET /incidents/{id}`.
pub async fn retrieve<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Permission::new(Action::View, Resource::Incident)).await?;
    let id = id.trim_end_matches(".json").parse::<i64>().map_err(|_| ApiError::not_found())?;
    let backend = state.backend.clone();
    let incident =
        blocking(move || Ok(backend.incident(IncidentId(id))?)).await?.ok_or_else(ApiError::not_found)?;
    Ok(crate::conditional::respond(&request, &json::incident(&incident, &state.base_url, state.time_zone)))
}

fn string_field(
    body: &serde_json::Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) if required => {
            Err(ApiError::invalid(name, "required", "This field is required."))
        }
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ApiError::invalid(name, "invalid", "Not a valid string.")),
    }
}

/// `POST /incidents`: 201 with a new incident, or 200 with the open incident already holding `dedup_key`.
pub async fn create<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Permission::new(Action::Add, Resource::Incident)).await?;
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid("non_field_errors", "parse_error", format!("JSON parse error - {e}"))
    })?;
    let Value::Object(body) = body else {
        return Err(ApiError::invalid("non_field_errors", "invalid", "Invalid data. Expected a dictionary."));
    };
    let title = string_field(&body, "title", true)?.unwrap_or_default();
    let description = string_field(&body, "description", true)?.unwrap_or_default();
    let environment_id = string_field(&body, "environment_id", true)?.unwrap_or_default();
    let category_id = string_field(&body, "incident_category_id", true)?.unwrap_or_default();
    let priority_id = string_field(&body, "priority_id", true)?.unwrap_or_default();
    let email = string_field(&body, "created_by_email", true)?.unwrap_or_default();
    let email = Email::parse(&email)
        .map_err(|_| ApiError::invalid("created_by_email", "invalid", "Enter a valid email address."))?;
    let dedup_key = string_field(&body, "dedup_key", false)?;
    let ignored = match body.get("ignore") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(ApiError::invalid("ignore", "invalid", "Must be a valid boolean.")),
    };
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
        created_by: None,
    };
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    let backend = state.backend.clone();
    let lifecycle = state.lifecycle.clone();
    let (declared, incident) = blocking(move || {
        // An unknown creator becomes a user (the original did this too, but failed on the second one).
        let creator = match backend.find_user_by_email(&email)? {
            Some(user) => user,
            None => match backend.create_user(&NewUser {
                email: email.clone(),
                name: String::new(),
                is_admin: false,
                password_hash: None,
            }) {
                Ok(user) => user,
                // Created concurrently by another request.
                Err(incidents_core::RepositoryError::Conflict { .. }) => {
                    backend.find_user_by_email(&email)?.ok_or_else(ApiError::internal)?
                }
                Err(other) => return Err(other.into()),
            },
        };
        // The token's user acts (and is audited); the incident is declared for its creator.
        let command = DeclareIncident { created_by: Some(creator.id), ..command };
        let declared = lifecycle.declare(actor, &command)?;
        let incident = backend.incident(declared.id())?.ok_or_else(ApiError::internal)?;
        Ok((declared, incident))
    })
    .await?;
    let body = json::incident(&incident, &state.base_url, state.time_zone);
    Ok(match declared {
        Declared::Created(_) => HttpResponse::Created().json(body),
        Declared::Existing(_) => HttpResponse::Ok().json(body),
    })
}
