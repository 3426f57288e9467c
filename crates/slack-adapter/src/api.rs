//! The Slack directory through the REST API (admins): the conversations the product posts to and
//! their tags, the user groups it knows and their tags, and the incident categories each responds to.
//! Served when Slack is configured.

use actix_web::{HttpRequest, HttpResponse, web};
use http_api::auth::authorize_admin;
use http_api::blocking;
use http_api::body::{decode, required};
use http_api::errors::ApiError;
use http_api::json::time;
use http_api::openapi::{BadRequest, Forbidden, NotFound, Throttled, Unauthorized, Unsupported};
use incidents_core::RepositoryError;
use serde::{Deserialize, Serialize};
use storage::Database;
use utoipa::{OpenApi, ToSchema};

use crate::directory::{Linked, UserGroupRow};
use crate::sos::{SosError, SosTarget};
use crate::store::{ConversationRow, SlackStore};
use crate::validate_tag;

type ApiState = http_api::ApiState<Database>;

pub(crate) fn configure(routes: &mut web::ServiceConfig) {
    routes
        .service(web::resource("/conversations").route(web::get().to(conversations)))
        .service(
            web::resource("/conversations/{channel_id}")
                .route(web::put().to(put_conversation))
                .route(web::delete().to(delete_conversation)),
        )
        .service(web::resource("/user-groups").route(web::get().to(user_groups)))
        .service(
            web::resource("/user-groups/{usergroup_id}")
                .route(web::put().to(put_user_group))
                .route(web::delete().to(delete_user_group)),
        )
        .service(web::resource("/sos").route(web::get().to(sos_targets)))
        .service(
            web::resource("/sos/{name}").route(web::put().to(put_sos)).route(web::delete().to(delete_sos)),
        );
}

/// The routes' OpenAPI paths.
#[derive(OpenApi)]
#[openapi(
    paths(conversations, put_conversation, delete_conversation, user_groups, put_user_group, delete_user_group,
        sos_targets, put_sos, delete_sos),
    tags((name = "slack", description = "The Slack directory (admins; served when Slack is configured): see docs/slack.md")),
)]
pub(crate) struct SlackDoc;

/// A conversation the product knows (not an incident's channel).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"channel_id": "C0123ABCD", "name": "tech-incidents", "kind": "public", "status": "opened",
    "tag": "tech_incidents", "incident_category_ids": [], "members": 42, "updated_at": "2026-12-01T10:00:00+01:00"}))]
pub struct SlackConversation {
    pub channel_id: String,
    pub name: String,
    /// `public` or `private`.
    pub kind: String,
    /// `opened` or `archived`.
    pub status: String,
    /// `tech_incidents`, `it_deploy`, `dev_firefighter`, `raid_alert__…`, or empty.
    pub tag: String,
    /// Its members are invited to the incident channels of these categories.
    pub incident_category_ids: Vec<String>,
    /// Members known from the last directory sync.
    pub members: usize,
    pub updated_at: String,
}

impl SlackConversation {
    fn new(linked: Linked<ConversationRow>, tz: chrono_tz::Tz) -> Self {
        let row = linked.item;
        Self {
            channel_id: row.channel_id,
            name: row.name,
            kind: row.kind,
            status: row.status,
            tag: row.tag,
            incident_category_ids: linked.categories,
            members: linked.members,
            updated_at: time(row.updated_at, tz),
        }
    }
}

/// The body of `PUT /slack/conversations/{channel_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "tech-incidents", "tag": "tech_incidents"}))]
pub struct PutConversation {
    /// Its name, without `#`.
    #[schema(required, max_length = 80)]
    pub name: Option<String>,
    /// `public` (the default) or `private`.
    pub kind: Option<String>,
    /// Empty for none; unique among conversations.
    pub tag: Option<String>,
    /// Replaces the categories it responds to, when given.
    pub incident_category_ids: Option<Vec<String>>,
}

/// A user group the product knows.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"usergroup_id": "S0123ABCD", "handle": "oncall-platform", "name": "On-call platform",
    "description": "", "tag": "invited_for_all_public_p1", "incident_category_ids": [], "members": 6,
    "updated_at": "2026-12-01T10:00:00+01:00"}))]
pub struct SlackUserGroup {
    pub usergroup_id: String,
    pub handle: String,
    pub name: String,
    pub description: String,
    /// `invited_for_all_public_p1`, or empty.
    pub tag: String,
    pub incident_category_ids: Vec<String>,
    pub members: usize,
    pub updated_at: String,
}

impl SlackUserGroup {
    fn new(linked: Linked<UserGroupRow>, tz: chrono_tz::Tz) -> Self {
        let row = linked.item;
        Self {
            usergroup_id: row.usergroup_id,
            handle: row.handle,
            name: row.name,
            description: row.description,
            tag: row.tag,
            incident_category_ids: linked.categories,
            members: linked.members,
            updated_at: time(row.updated_at, tz),
        }
    }
}

/// The body of `PUT /slack/user-groups/{usergroup_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"handle": "oncall-platform", "tag": "invited_for_all_public_p1"}))]
pub struct PutUserGroup {
    /// Its handle, without `@`.
    #[schema(required, max_length = 80)]
    pub handle: Option<String>,
    #[schema(max_length = 80)]
    pub name: Option<String>,
    pub tag: Option<String>,
    pub incident_category_ids: Option<Vec<String>>,
}

/// An SOS target: where responders ask for help from an incident (the SOS modal lists them).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "SRE", "channel_id": "C0123ABCD", "channel_name": "sre", "usergroup_id": "S0123ABCD",
    "handle": "sre-oncall", "updated_at": "2026-12-01T10:00:00+01:00"}))]
pub struct SlackSos {
    pub name: String,
    pub channel_id: String,
    pub channel_name: String,
    /// The user group mentioned in the request (`null`: `@here`).
    pub usergroup_id: Option<String>,
    pub handle: Option<String>,
    pub updated_at: String,
}

impl SlackSos {
    fn new(target: SosTarget, tz: chrono_tz::Tz) -> Self {
        Self {
            name: target.name,
            channel_id: target.channel_id,
            channel_name: target.channel_name,
            usergroup_id: target.usergroup_id,
            handle: target.handle,
            updated_at: time(target.updated_at, tz),
        }
    }
}

/// The body of `PUT /slack/sos/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"channel_id": "C0123ABCD", "usergroup_id": "S0123ABCD"}))]
pub struct PutSos {
    /// A conversation the product knows (`PUT /slack/conversations/{channel_id}` first).
    #[schema(required)]
    pub channel_id: Option<String>,
    /// A user group the product knows, mentioned in the request; none: `@here`.
    pub usergroup_id: Option<String>,
}

/// A Slack id as Slack makes them: upper-case letters and digits.
fn slack_id(raw: &str) -> Result<String, ApiError> {
    if (2..=32).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::not_found())
    }
}

fn text(value: Option<String>, attr: &str, max: usize) -> Result<String, ApiError> {
    let value = value.unwrap_or_default().trim().to_owned();
    if value.chars().count() > max {
        return Err(ApiError::invalid(
            attr,
            "max_length",
            format!("Ensure this field has no more than {max} characters."),
        ));
    }
    if value.contains('\0') {
        return Err(ApiError::invalid(
            attr,
            "null_characters_not_allowed",
            "Null characters are not allowed.",
        ));
    }
    Ok(value)
}

fn tag(value: Option<String>) -> Result<String, ApiError> {
    let value = text(value, "tag", 80)?;
    if !value.is_empty() {
        validate_tag(&value).map_err(|message| ApiError::invalid("tag", "invalid", message))?;
    }
    Ok(value)
}

fn stored(error: RepositoryError, conflict_attr: &str) -> ApiError {
    match error {
        RepositoryError::Conflict { constraint }
            if constraint.contains("categor") || constraint.contains("FOREIGN") =>
        {
            ApiError::invalid(
                "incident_category_ids",
                "does_not_exist",
                "An incident category does not exist.",
            )
        }
        RepositoryError::Conflict { .. } => {
            ApiError::invalid(conflict_attr, "unique", format!("Another one has this {conflict_attr}."))
        }
        RepositoryError::NotFound(_) => ApiError::not_found(),
        other => other.into(),
    }
}

/// The conversations the product knows (admins).
#[utoipa::path(get, path = "/slack/conversations", tag = "slack",
    params(http_api::paging::PageParams),
    responses((status = 200, body = Vec<SlackConversation>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))), BadRequest, Unauthorized, Forbidden, NotFound, Throttled))]
pub(crate) async fn conversations(
    request: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let store = SlackStore::new(state.backend.clone());
    let rows = blocking(move || Ok(store.conversations()?)).await?;
    let tz = state.time_zone;
    http_api::paging::in_memory(
        &request,
        &state.base_url,
        rows.into_iter().map(|row| SlackConversation::new(row, tz)).collect(),
    )
}

/// Records a conversation, its tag and its categories (admins).
#[utoipa::path(put, path = "/slack/conversations/{channel_id}", tag = "slack",
    params(("channel_id" = String, Path, description = "Slack's id of the conversation (`C…`)")),
    request_body(content((PutConversation = "application/json"), (PutConversation = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = SlackConversation), BadRequest, Unauthorized, Forbidden, NotFound, Unsupported, Throttled))]
pub(crate) async fn put_conversation(
    request: HttpRequest,
    state: web::Data<ApiState>,
    channel_id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let channel_id = slack_id(&channel_id)?;
    let body: PutConversation = decode(&request, &body)?;
    let name = text(Some(required(body.name, "name")?), "name", 80)?.trim_start_matches('#').to_owned();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "blank", "This field may not be blank."));
    }
    let kind = body.kind.unwrap_or_else(|| "public".to_owned());
    if !matches!(kind.as_str(), "public" | "private") {
        return Err(ApiError::invalid("kind", "invalid_choice", format!("{kind:?} is not a valid choice.")));
    }
    let tag = tag(body.tag)?;
    let categories = body.incident_category_ids;
    let store = SlackStore::new(state.backend.clone());
    let row = blocking(move || {
        let now = incidents_core::clock::now();
        let existing = store.conversation(&channel_id)?;
        if existing.as_ref().is_some_and(|row| row.incident_id.is_some()) {
            return Err(ApiError::invalid(
                "channel_id",
                "incident_channel",
                "This is an incident's channel.",
            ));
        }
        store
            .put_conversation(&channel_id, &name, &kind, &tag, categories.as_deref(), now)
            .map_err(|e| stored(e, "tag"))?;
        let found = store.conversations()?.into_iter().find(|row| row.item.channel_id == channel_id);
        found.ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SlackConversation::new(row, state.time_zone)))
}

/// Forgets a conversation (admins).
#[utoipa::path(delete, path = "/slack/conversations/{channel_id}", tag = "slack",
    params(("channel_id" = String, Path)),
    responses((status = 204, description = "Forgotten"), Unauthorized, Forbidden, NotFound, Throttled))]
pub(crate) async fn delete_conversation(
    request: HttpRequest,
    state: web::Data<ApiState>,
    channel_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let channel_id = slack_id(&channel_id)?;
    let store = SlackStore::new(state.backend.clone());
    if blocking(move || Ok(store.delete_tagged(&channel_id)?)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found())
    }
}

/// The user groups the product knows (admins).
#[utoipa::path(get, path = "/slack/user-groups", tag = "slack",
    params(http_api::paging::PageParams),
    responses((status = 200, body = Vec<SlackUserGroup>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))), BadRequest, Unauthorized, Forbidden, NotFound, Throttled))]
pub(crate) async fn user_groups(
    request: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let store = SlackStore::new(state.backend.clone());
    let rows = blocking(move || Ok(store.user_groups()?)).await?;
    let tz = state.time_zone;
    http_api::paging::in_memory(
        &request,
        &state.base_url,
        rows.into_iter().map(|row| SlackUserGroup::new(row, tz)).collect(),
    )
}

/// Records a user group, its tag and its categories (admins); its members come from the directory sync.
#[utoipa::path(put, path = "/slack/user-groups/{usergroup_id}", tag = "slack",
    params(("usergroup_id" = String, Path, description = "Slack's id of the user group (`S…`)")),
    request_body(content((PutUserGroup = "application/json"), (PutUserGroup = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = SlackUserGroup), BadRequest, Unauthorized, Forbidden, NotFound, Unsupported, Throttled))]
pub(crate) async fn put_user_group(
    request: HttpRequest,
    state: web::Data<ApiState>,
    usergroup_id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let usergroup_id = slack_id(&usergroup_id)?;
    let body: PutUserGroup = decode(&request, &body)?;
    let handle =
        text(Some(required(body.handle, "handle")?), "handle", 80)?.trim_start_matches('@').to_owned();
    if handle.is_empty() {
        return Err(ApiError::invalid("handle", "blank", "This field may not be blank."));
    }
    let name = text(body.name, "name", 80)?;
    let tag = tag(body.tag)?;
    let categories = body.incident_category_ids;
    let store = SlackStore::new(state.backend.clone());
    let row = blocking(move || {
        let now = incidents_core::clock::now();
        store
            .upsert_user_group(&usergroup_id, &handle, &name, &tag, categories.as_deref(), now)
            .map_err(|e| stored(e, "tag"))?;
        let found = store.user_groups()?.into_iter().find(|row| row.item.usergroup_id == usergroup_id);
        found.ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SlackUserGroup::new(row, state.time_zone)))
}

/// Forgets a user group (admins).
#[utoipa::path(delete, path = "/slack/user-groups/{usergroup_id}", tag = "slack",
    params(("usergroup_id" = String, Path)),
    responses((status = 204, description = "Forgotten"), Unauthorized, Forbidden, NotFound, Throttled))]
pub(crate) async fn delete_user_group(
    request: HttpRequest,
    state: web::Data<ApiState>,
    usergroup_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let usergroup_id = slack_id(&usergroup_id)?;
    let store = SlackStore::new(state.backend.clone());
    if blocking(move || Ok(store.delete_user_group(&usergroup_id)?)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found())
    }
}

/// The SOS targets (admins).
#[utoipa::path(get, path = "/slack/sos", tag = "slack",
    params(http_api::paging::PageParams),
    responses((status = 200, body = Vec<SlackSos>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))), BadRequest, Unauthorized, Forbidden, NotFound, Throttled))]
pub(crate) async fn sos_targets(
    request: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let store = SlackStore::new(state.backend.clone());
    let rows = blocking(move || Ok(store.sos_targets()?)).await?;
    let tz = state.time_zone;
    http_api::paging::in_memory(
        &request,
        &state.base_url,
        rows.into_iter().map(|row| SlackSos::new(row, tz)).collect(),
    )
}

/// Records an SOS target, or changes where it points (admins).
#[utoipa::path(put, path = "/slack/sos/{name}", tag = "slack",
    params(("name" = String, Path, description = "The name people choose in the SOS modal (1 to 255 characters)")),
    request_body(content((PutSos = "application/json"), (PutSos = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = SlackSos), BadRequest, Unauthorized, Forbidden, NotFound, Unsupported, Throttled))]
pub(crate) async fn put_sos(
    request: HttpRequest,
    state: web::Data<ApiState>,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let name = text(Some(name.into_inner()), "name", crate::sos::NAME_MAX_CHARS)?;
    if name.is_empty() {
        return Err(ApiError::invalid("name", "blank", "This field may not be blank."));
    }
    let body: PutSos = decode(&request, &body)?;
    let channel_id = text(Some(required(body.channel_id, "channel_id")?), "channel_id", 32)?;
    let usergroup_id = text(body.usergroup_id, "usergroup_id", 32)?;
    let store = SlackStore::new(state.backend.clone());
    let target = blocking(move || {
        let group = (!usergroup_id.is_empty()).then_some(usergroup_id.as_str());
        store.put_sos(&name, &channel_id, group, incidents_core::clock::now()).map_err(|error| match error {
            SosError::Name(message) => ApiError::invalid("name", "invalid", message),
            SosError::UnknownConversation(_) => {
                ApiError::invalid("channel_id", "does_not_exist", format!("{error}"))
            }
            SosError::UnknownUserGroup(_) => {
                ApiError::invalid("usergroup_id", "does_not_exist", format!("{error}"))
            }
            SosError::Storage(error) => error.into(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(SlackSos::new(target, state.time_zone)))
}

/// Forgets an SOS target (admins).
#[utoipa::path(delete, path = "/slack/sos/{name}", tag = "slack",
    params(("name" = String, Path)),
    responses((status = 204, description = "Forgotten"), Unauthorized, Forbidden, NotFound, Throttled))]
pub(crate) async fn delete_sos(
    request: HttpRequest,
    state: web::Data<ApiState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let name = name.into_inner();
    let store = SlackStore::new(state.backend.clone());
    if blocking(move || Ok(store.delete_sos(&name)?)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found())
    }
}
