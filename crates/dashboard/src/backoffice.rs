//! The back-office (`/admin/`), for staff only: every table of the catalog
//! (`incidents_core::backoffice`, the core's and the integrations') as a list and a form, API tokens
//! (shown once; revocable), permission groups, and jobs (dead ones retried).
//!
//! Changes go through the same services as the CLI's (`storage::backoffice`, the access repository,
//! the job store), are audited, and a refused change shows its form again with the reasons. What
//! grants power over people (users, permission groups, another person's tokens) is a superuser's.

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use dashboard_templates::{
    ActionForm, ActionInput, AdminField, AdminFormPage, AdminGroup, AdminGroupsPage, AdminIndexPage,
    AdminJob, AdminJobsPage, AdminLink, AdminListPage, AdminRow, AdminToken, AdminTokensPage, Choice,
};
use incidents_core::access::{AccessRepository as _, Permission};
use incidents_core::backoffice::{Input, Invalid, Kind, Model, Row, Value};
use incidents_core::{EntryPoint, UserId};
use jobs::JobAdmin as _;
use serde::Deserialize;
use storage::backoffice::{BackofficeError, Change};

use crate::State;
use crate::render::{PageError, Visitor, html, respond, visitor};

/// Models only superusers change: they grant power over people.
const SUPERUSER_MODELS: &[&str] = &["users"];

pub(crate) fn configure(routes: &mut web::ServiceConfig) {
    routes
        .service(web::resource("/admin").route(web::get().to(index)))
        .service(
            web::resource("/admin/tokens").route(web::get().to(tokens)).route(web::post().to(create_token)),
        )
        .service(web::resource("/admin/tokens/{id}/revoke").route(web::post().to(revoke_token)))
        .service(
            web::resource("/admin/permission-groups")
                .route(web::get().to(groups))
                .route(web::post().to(put_group)),
        )
        .service(web::resource("/admin/permission-groups/delete").route(web::post().to(delete_group)))
        .service(web::resource("/admin/permission-groups/members").route(web::post().to(group_member)))
        .service(web::resource("/admin/jobs").route(web::get().to(jobs)))
        .service(web::resource("/admin/jobs/{id}/retry").route(web::post().to(retry_job)))
        .service(web::resource("/admin/{model}").route(web::get().to(list)))
        .service(
            web::resource("/admin/{model}/add").route(web::get().to(add_form)).route(web::post().to(add)),
        )
        .service(
            web::resource("/admin/{model}/{id}").route(web::get().to(edit_form)).route(web::post().to(edit)),
        )
        .service(web::resource("/admin/{model}/{id}/delete").route(web::post().to(delete)))
        .service(
            web::resource("/admin/{model}/actions/{integration}/{name}").route(web::post().to(table_action)),
        );
}

fn is_superuser(visitor: &Visitor) -> bool {
    visitor.principal.user.is_superuser
}

/// The visitor, if staff; everyone else is refused before anything is looked up.
async fn staff(
    request: &HttpRequest,
    state: &web::Data<State>,
    csrf: Option<&str>,
) -> Result<Visitor, PageError> {
    let visitor = visitor(request, state, csrf).await?;
    let user = &visitor.principal.user;
    if user.is_staff || user.is_superuser {
        Ok(visitor)
    } else {
        Err(PageError::Forbidden("The back-office is for staff. Ask an administrator.".to_owned()))
    }
}

fn superuser(visitor: &Visitor, what: &str) -> Result<(), PageError> {
    if is_superuser(visitor) { Ok(()) } else { Err(PageError::Forbidden(format!("Only superusers {what}."))) }
}

fn change(visitor: &Visitor) -> Change {
    Change { actor: Some(visitor.principal.user.id), entry_point: EntryPoint::Web }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_owned())).finish()
}

/// A page shown again with a refusal: 422, so scripts and tests see the change did not happen.
fn refused(page: &impl dashboard_templates::Template) -> Result<HttpResponse, PageError> {
    let body = page.render().map_err(|error| PageError::internal(&error))?;
    Ok(HttpResponse::build(StatusCode::UNPROCESSABLE_ENTITY)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

fn model(state: &State, slug: &str) -> Result<&'static Model, PageError> {
    state.context.catalog.get(slug).ok_or(PageError::NotFound)
}

/// Everything after the CSRF token of a form, as the catalog reads it.
/// A field sent more than once (a multiple select's choices) is one comma-separated value.
fn fields(body: &[u8]) -> Result<(String, BTreeMap<String, String>), PageError> {
    // Refuses what every form refuses (null characters).
    crate::render::form::<BTreeMap<String, String>>(body)?;
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        fields
            .entry(name.into_owned())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    let csrf = fields.remove("csrf_token").unwrap_or_default();
    Ok((csrf, fields))
}

async fn index(request: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let visitor = staff(&request, &state, None).await?;
        let mut sections: Vec<(String, Vec<AdminLink>)> = Vec::new();
        for model in state.context.catalog.models() {
            let link = AdminLink {
                href: format!("/admin/{}/", model.slug),
                label: model.plural.to_owned(),
                help: model.help.to_owned(),
            };
            match sections.iter_mut().find(|(name, _)| name == model.section) {
                Some((_, links)) => links.push(link),
                None => sections.push((model.section.to_owned(), vec![link])),
            }
        }
        let access = vec![
            AdminLink {
                href: "/admin/tokens/".to_owned(),
                label: "API tokens".to_owned(),
                help: "Create (shown once) and revoke.".to_owned(),
            },
            AdminLink {
                href: "/admin/permission-groups/".to_owned(),
                label: "Permission groups".to_owned(),
                help: "Named permission sets and their members.".to_owned(),
            },
        ];
        match sections.iter_mut().find(|(name, _)| name == "People") {
            Some((_, links)) => links.extend(access),
            None => sections.push(("People".to_owned(), access)),
        }
        let jobs = AdminLink {
            href: "/admin/jobs/".to_owned(),
            label: "Jobs".to_owned(),
            help: "Background side effects; retry the dead ones.".to_owned(),
        };
        match sections.iter_mut().find(|(name, _)| name == "Operations") {
            Some((_, links)) => links.insert(0, jobs),
            None => sections.push(("Operations".to_owned(), vec![jobs])),
        }
        html(&AdminIndexPage { layout: visitor.layout(&state, "Back-office", "admin"), sections })
    }
    .await;
    respond(&request, result)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    search: String,
    page: i64,
    notice: String,
}

/// How a cell shows a value; a reference shows the title of the row it points to.
fn cell(model: &Model, name: &str, value: Option<&Value>, choices: &storage::backoffice::Choices) -> String {
    let Some(value) = value else { return String::new() };
    if let Some(options) = choices.get(name) {
        let id = value.to_form();
        if let Some((_, title)) = options.iter().find(|(option, _)| *option == id) {
            return title.clone();
        }
    }
    if let Some(Kind::Choice { options, .. }) = model.field(name).map(|field| field.kind) {
        let text = value.to_form();
        if let Some((_, label)) = options.iter().find(|(option, _)| *option == text) {
            return (*label).to_owned();
        }
    }
    value.to_string()
}

async fn list(
    request: HttpRequest,
    state: web::Data<State>,
    slug: web::Path<String>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    let result = async {
        let visitor = staff(&request, &state, None).await?;
        let model = model(&state, &slug)?;
        let query = query.into_inner();
        let notice = match query.notice.as_str() {
            "deleted" => Some(format!("The {} was deleted.", model.label)),
            _ => None,
        };
        html(&list_page(&state, &visitor, model, query.search, query.page, notice, None).await?)
    }
    .await;
    respond(&request, result)
}

/// A table's list page: a page of its rows, its integrations' actions, and what the last one said.
async fn list_page(
    state: &web::Data<State>,
    visitor: &Visitor,
    model: &'static Model,
    search: String,
    page: i64,
    notice: Option<String>,
    error: Option<String>,
) -> Result<AdminListPage, PageError> {
    let page = page.max(0);
    let (database, catalog, typed) =
        (state.context.database.clone(), state.context.catalog.clone(), search.clone());
    let (found, choices) = web::block(move || -> Result<_, PageError> {
        let found = database.backoffice_rows(model, Some(&typed), page)?;
        Ok((found, database.backoffice_choices(&catalog, model)?))
    })
    .await??;
    let columns = model
        .columns
        .iter()
        .map(|name| model.field(name).map_or_else(|| (*name).to_owned(), |field| field.label.to_owned()))
        .collect();
    let rows = found
        .rows
        .iter()
        .map(|row| AdminRow {
            href: format!("/admin/{}/{}/", model.slug, row.get("id").map(Value::to_form).unwrap_or_default()),
            cells: model.columns.iter().map(|name| cell(model, name, row.get(*name), &choices)).collect(),
        })
        .collect();
    let actions = state
        .context
        .table_actions
        .of(model.slug)
        .map(|action| ActionForm {
            integration: action.integration.to_owned(),
            name: action.name.to_owned(),
            title: action.title.clone(),
            help: action.help.clone(),
            submit: action.submit.clone(),
            fields: action
                .fields
                .iter()
                .map(|field| ActionInput {
                    name: field.name.to_owned(),
                    label: field.label.clone(),
                    placeholder: field.placeholder.clone(),
                    secret: field.secret,
                })
                .collect(),
        })
        .collect();
    Ok(AdminListPage {
        layout: visitor.layout(state, model.plural, "admin"),
        slug: model.slug.to_owned(),
        plural: model.plural.to_owned(),
        label: model.label.to_owned(),
        help: model.help.to_owned(),
        columns,
        rows,
        can_create: model.create,
        search,
        page,
        has_more: found.has_more,
        notice,
        error,
        actions,
    })
}

/// `POST /admin/<model>/actions/<integration>/<name>/`: an integration's operation on its table
/// (register a webhook …), audited without its secret fields; the list again with what it said.
async fn table_action(
    request: HttpRequest,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (csrf, fields) = fields(&body)?;
        let visitor = staff(&request, &state, Some(&csrf)).await?;
        let (slug, integration, name) = path.into_inner();
        let model = model(&state, &slug)?;
        let action = state
            .context
            .table_actions
            .find(model.slug, &integration, &name)
            .cloned()
            .ok_or(PageError::NotFound)?;
        let (database, user) = (state.context.database.clone(), visitor.principal.user.id);
        let outcome = web::block(move || -> Result<Result<String, String>, PageError> {
            let actor = incidents_core::Actor { user, entry_point: EntryPoint::Web };
            match (action.run)(&fields, actor) {
                Ok(said) => {
                    let shown: BTreeMap<&str, &str> = action
                        .fields
                        .iter()
                        .filter(|field| !field.secret)
                        .filter_map(|field| fields.get(field.name).map(|value| (field.name, value.as_str())))
                        .collect();
                    database.record_audit(
                        Some(user),
                        EntryPoint::Web,
                        (
                            "backoffice.action",
                            action.model,
                            &format!("{}.{}", action.integration, action.name),
                        ),
                        &serde_json::json!({"fields": shown, "said": said}),
                    )?;
                    Ok(Ok(said))
                }
                Err(platform::actions::ActionError::Invalid(why)) => Ok(Err(why)),
                Err(platform::actions::ActionError::Failed(why)) => Err(PageError::internal(&why)),
            }
        })
        .await??;
        match outcome {
            Ok(said) => html(&list_page(&state, &visitor, model, String::new(), 0, Some(said), None).await?),
            Err(why) => {
                refused(&list_page(&state, &visitor, model, String::new(), 0, None, Some(why)).await?)
            }
        }
    }
    .await;
    respond(&request, result)
}

/// The form's fields: a stored row's values, or what was typed (with each field's refusal).
fn form_fields(
    model: &Model,
    adding: bool,
    values: &BTreeMap<String, String>,
    invalid: Option<&Invalid>,
    choices: &storage::backoffice::Choices,
) -> Vec<AdminField> {
    model
        .fields
        .iter()
        .map(|field| {
            let value = values
                .get(field.name)
                .cloned()
                .unwrap_or_else(|| if adding { field.default.to_owned() } else { String::new() });
            let required = match field.kind {
                Kind::Text { min, .. } => min > 0,
                Kind::Slug { .. } => true,
                Kind::Choice { optional, .. } | Kind::Ref { optional, .. } => !optional,
                _ => false,
            };
            let mut admin = AdminField {
                name: field.name.to_owned(),
                label: field.label.to_owned(),
                help: field.help.to_owned(),
                widget: "text",
                checked: matches!(value.as_str(), "true" | "on" | "1"),
                required,
                error: invalid.and_then(|invalid| invalid.fields.get(field.name).cloned()),
                choices: Vec::new(),
                value: value.clone(),
            };
            let options: Vec<(String, String)> = match field.kind {
                Kind::Choice { options, .. } => {
                    options.iter().map(|(v, l)| ((*v).to_owned(), (*l).to_owned())).collect()
                }
                Kind::Ref { .. } => choices.get(field.name).cloned().unwrap_or_default(),
                _ => Vec::new(),
            };
            if !adding && !field.editable {
                admin.widget = "readonly";
                admin.value =
                    options.iter().find(|(id, _)| *id == value).map_or(value, |(_, title)| title.clone());
                return admin;
            }
            admin.widget = match field.kind {
                Kind::Bool => "checkbox",
                Kind::Int { .. } => "number",
                Kind::Choice { .. } | Kind::Ref { .. } => "select",
                Kind::Text { max, .. } | Kind::OptionalText { max } if max > 255 => "textarea",
                _ => "text",
            };
            admin.choices = options
                .into_iter()
                .map(|(id, title)| Choice { selected: id == value, value: id, label: title })
                .collect();
            admin
        })
        .chain(model.links.iter().map(|link| {
            let chosen: Vec<String> =
                values.get(link.name).map(|v| v.split(',').map(str::to_owned).collect()).unwrap_or_default();
            AdminField {
                name: link.name.to_owned(),
                label: link.label.to_owned(),
                help: link.help.to_owned(),
                widget: "multiple",
                error: invalid.and_then(|invalid| invalid.fields.get(link.name).cloned()),
                choices: choices
                    .get(link.name)
                    .map(|options| {
                        options
                            .iter()
                            .map(|(id, title)| Choice {
                                selected: chosen.contains(id),
                                value: id.clone(),
                                label: title.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                ..AdminField::default()
            }
        }))
        .collect()
}

fn row_values(row: &Row) -> BTreeMap<String, String> {
    row.iter().map(|(name, value)| (name.clone(), value.to_form())).collect()
}

struct FormState<'a> {
    model: &'static Model,
    id: Option<String>,
    values: BTreeMap<String, String>,
    invalid: Option<Invalid>,
    saved: bool,
    title: &'a str,
}

async fn form_page(
    state: &web::Data<State>,
    visitor: &Visitor,
    form: FormState<'_>,
) -> Result<AdminFormPage, PageError> {
    let (database, catalog, model) =
        (state.context.database.clone(), state.context.catalog.clone(), form.model);
    let choices = web::block(move || database.backoffice_choices(&catalog, model)).await??;
    let editable = form.id.is_none() || model.fields.iter().any(|field| field.editable);
    let restricted = SUPERUSER_MODELS.contains(&model.slug) && !is_superuser(visitor);
    Ok(AdminFormPage {
        layout: visitor.layout(state, form.title, "admin"),
        slug: model.slug.to_owned(),
        plural: model.plural.to_owned(),
        label: model.label.to_owned(),
        fields: form_fields(model, form.id.is_none(), &form.values, form.invalid.as_ref(), &choices),
        error: form.invalid.and_then(|invalid| invalid.general),
        can_edit: editable && !restricted,
        can_delete: form.id.is_some() && model.delete && !restricted,
        id: form.id,
        saved: form.saved,
    })
}

fn title(model: &Model, row: &Row) -> String {
    let name = row.get(model.title).map(Value::to_form).unwrap_or_default();
    let label = model.label;
    let mut chars = label.chars();
    let label =
        chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default();
    format!("{label} {name}")
}

/// A change's common start: the form's fields, the visitor (staff, with the form's CSRF token), the
/// table, and the superuser check of the tables that grant power.
async fn changing(
    request: &HttpRequest,
    state: &web::Data<State>,
    slug: &str,
    body: &[u8],
) -> Result<(Visitor, &'static Model, BTreeMap<String, String>), PageError> {
    let (csrf, input) = fields(body)?;
    let visitor = staff(request, state, Some(&csrf)).await?;
    let model = model(state, slug)?;
    if SUPERUSER_MODELS.contains(&model.slug) {
        superuser(&visitor, &format!("change {}", model.plural.to_lowercase()))?;
    }
    Ok((visitor, model, input))
}

/// A stored row, or 404.
async fn stored(state: &web::Data<State>, model: &'static Model, id: &str) -> Result<Row, PageError> {
    let (database, id) = (state.context.database.clone(), id.to_owned());
    web::block(move || database.backoffice_row(model, &id)).await??.ok_or(PageError::NotFound)
}

async fn add_form(request: HttpRequest, state: web::Data<State>, slug: web::Path<String>) -> HttpResponse {
    let result = async {
        let visitor = staff(&request, &state, None).await?;
        let model = model(&state, &slug)?;
        if !model.create {
            return Err(PageError::NotFound);
        }
        let title = format!("Add {}", model.label);
        let state_ = FormState {
            model,
            id: None,
            values: BTreeMap::new(),
            invalid: None,
            saved: false,
            title: &title,
        };
        html(&form_page(&state, &visitor, state_).await?)
    }
    .await;
    respond(&request, result)
}

/// What a refused change shows, or the failure.
fn refusal(error: BackofficeError) -> Result<Invalid, PageError> {
    match error {
        BackofficeError::Invalid(invalid) => Ok(invalid),
        BackofficeError::NotFound(_) => Err(PageError::NotFound),
        BackofficeError::Storage(error) => Err(error.into()),
    }
}

async fn add(
    request: HttpRequest,
    state: web::Data<State>,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (visitor, model, input) = changing(&request, &state, &slug, &body).await?;
        let (database, catalog, change, typed) =
            (state.context.database.clone(), state.context.catalog.clone(), change(&visitor), input.clone());
        let outcome =
            web::block(move || database.backoffice_create(&catalog, model, &typed, Input::Form, change)).await?;
        match outcome {
            Ok(row) => {
                let id = row.get("id").map(Value::to_form).unwrap_or_default();
                tracing::info!(model = model.slug, %id, user = %visitor.principal.user.email, "back-office: added");
                Ok(see_other(&format!("/admin/{}/{id}/?saved=1", model.slug)))
            }
            Err(error) => {
                let invalid = refusal(error)?;
                let title = format!("Add {}", model.label);
                let form = FormState { model, id: None, values: input, invalid: Some(invalid), saved: false, title: &title };
                refused(&form_page(&state, &visitor, form).await?)
            }
        }
    }
    .await;
    respond(&request, result)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Saved {
    saved: String,
}

async fn edit_form(
    request: HttpRequest,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    query: web::Query<Saved>,
) -> HttpResponse {
    let result = async {
        let visitor = staff(&request, &state, None).await?;
        let (slug, id) = path.into_inner();
        let model = model(&state, &slug)?;
        let row = stored(&state, model, &id).await?;
        let title = title(model, &row);
        let form = FormState {
            model,
            id: Some(id),
            values: row_values(&row),
            invalid: None,
            saved: !query.saved.is_empty(),
            title: &title,
        };
        html(&form_page(&state, &visitor, form).await?)
    }
    .await;
    respond(&request, result)
}

async fn edit(
    request: HttpRequest,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (slug, id) = path.into_inner();
        let (visitor, model, input) = changing(&request, &state, &slug, &body).await?;
        let (database, catalog, change, typed, target) =
            (state.context.database.clone(), state.context.catalog.clone(), change(&visitor), input.clone(), id.clone());
        let outcome =
            web::block(move || database.backoffice_update(&catalog, model, &target, &typed, Input::Form, change)).await?;
        match outcome {
            Ok(_) => {
                tracing::info!(model = model.slug, %id, user = %visitor.principal.user.email, "back-office: changed");
                Ok(see_other(&format!("/admin/{}/{id}/?saved=1", model.slug)))
            }
            Err(error) => {
                let invalid = refusal(error)?;
                // Fixed fields are not sent: show them as stored.
                let row = stored(&state, model, &id).await?;
                let mut values = row_values(&row);
                for field in model.fields.iter().filter(|f| f.editable) {
                    match input.get(field.name) {
                        Some(typed) => values.insert(field.name.to_owned(), typed.clone()),
                        // An unchecked box is not sent.
                        None if field.kind == Kind::Bool => values.insert(field.name.to_owned(), "false".to_owned()),
                        None => None,
                    };
                }
                for link in model.links {
                    values.insert(link.name.to_owned(), input.get(link.name).cloned().unwrap_or_default());
                }
                let title = title(model, &row);
                let form = FormState { model, id: Some(id), values, invalid: Some(invalid), saved: false, title: &title };
                refused(&form_page(&state, &visitor, form).await?)
            }
        }
    }
    .await;
    respond(&request, result)
}

async fn delete(
    request: HttpRequest,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (slug, id) = path.into_inner();
        let (visitor, model, _) = changing(&request, &state, &slug, &body).await?;
        let (database, change, target) = (state.context.database.clone(), change(&visitor), id.clone());
        match web::block(move || database.backoffice_delete(model, &target, change)).await? {
            Ok(()) => {
                tracing::info!(model = model.slug, %id, user = %visitor.principal.user.email, "back-office: deleted");
                Ok(see_other(&format!("/admin/{}/?notice=deleted", model.slug)))
            }
            Err(error) => {
                let invalid = refusal(error)?;
                let row = stored(&state, model, &id).await?;
                let title = title(model, &row);
                let form =
                    FormState { model, id: Some(id), values: row_values(&row), invalid: Some(invalid), saved: false, title: &title };
                refused(&form_page(&state, &visitor, form).await?)
            }
        }
    }
    .await;
    respond(&request, result)
}

/// The shortest password a local account may have.
const PASSWORD_MIN: usize = 12;

/// *Create a local account* on the users' list: someone who signs in here with a password (those
/// of single sign-on and Slack are created by their first visit). Superusers only; the password is
/// hashed (argon2) and never audited.
pub(crate) fn create_account(context: &platform::Context) -> platform::actions::TableAction {
    use platform::actions::{ActionError, ActionField, TableAction};
    let database = context.database.clone();
    let field = |name, label: &str, placeholder: &str, secret| ActionField {
        name,
        label: label.to_owned(),
        placeholder: placeholder.to_owned(),
        secret,
    };
    TableAction {
        integration: "dashboard",
        model: "users",
        name: "create_account",
        title: "Create a local account".to_owned(),
        help: format!(
            "Someone who signs in on this site's sign-in page with a password (at least {PASSWORD_MIN} characters). \
             Give them permissions with a permission group. Superusers only."
        ),
        submit: "Create the account".to_owned(),
        fields: vec![
            field("email", "E-mail", "jane@example.com", false),
            field("name", "Name", "Jane Doe", false),
            field("password", "Password", "", true),
        ],
        run: std::sync::Arc::new(move |fields, actor| {
            use incidents_core::UserRepository as _;
            let invalid = |message: String| ActionError::Invalid(message);
            let failed = |error: &dyn std::fmt::Display| ActionError::Failed(error.to_string());
            let asking = database.user(actor.user).map_err(|e| failed(&e))?;
            if !asking.is_some_and(|user| user.is_superuser) {
                return Err(invalid("Only superusers create accounts.".to_owned()));
            }
            let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
            let email = incidents_core::Email::parse(get("email").trim())
                .map_err(|e| invalid(format!("email: {e}")))?;
            let name = get("name").trim().to_owned();
            if name.chars().count() > 128 {
                return Err(invalid("name: at most 128 characters.".to_owned()));
            }
            let password = get("password");
            if password.chars().count() < PASSWORD_MIN {
                return Err(invalid(format!("password: at least {PASSWORD_MIN} characters.")));
            }
            let hash = platform::password::hash_password(&password).map_err(|e| failed(&e))?;
            let user = database
                .create_user(&incidents_core::NewUser {
                    email: email.clone(),
                    name,
                    is_admin: false,
                    password_hash: Some(hash),
                })
                .map_err(|error| match error {
                    incidents_core::RepositoryError::Conflict { .. } => {
                        invalid(format!("email: {email} has an account already."))
                    }
                    other => failed(&other),
                })?;
            Ok(format!("{} can sign in now (username {}).", user.email, user.username))
        }),
    }
}

// API tokens.

#[derive(Debug, Default)]
struct TokenForm {
    created: Option<String>,
    error: Option<String>,
    notice: Option<String>,
    name: String,
    expires_in_days: String,
    user: Option<String>,
}

async fn tokens_page(
    state: &web::Data<State>,
    visitor: &Visitor,
    form: TokenForm,
) -> Result<AdminTokensPage, PageError> {
    let database = state.context.database.clone();
    let all = is_superuser(visitor);
    let me = visitor.principal.user.id;
    let people = state.context.catalog.get("users").ok_or(PageError::NotFound)?;
    let (tokens, users) = web::block(move || -> Result<_, PageError> {
        let tokens = database.api_tokens(incidents_core::query::PageRequest::new(500, 0))?.items;
        let mut users = BTreeMap::new();
        if all {
            // Everyone active, a page of the back-office's user list at a time (bounded).
            for page in 0..50 {
                let found = database.backoffice_rows(people, None, page)?;
                users.extend(
                    found.rows.iter().filter(|u| u.get("is_active").is_some_and(Value::is_true)).map(|u| {
                        (
                            u.get("id").map(Value::to_form).unwrap_or_default(),
                            u.get("email").map(Value::to_form).unwrap_or_default(),
                        )
                    }),
                );
                if !found.has_more {
                    break;
                }
            }
        }
        Ok((tokens, users))
    })
    .await??;
    let tz = state.context.config.time_zone;
    let mine = |token_user: &UserId| all || *token_user == me;
    let email_of = |id: &UserId| users.get(&id.to_string()).cloned().unwrap_or_else(|| id.to_string());
    let tokens = tokens
        .iter()
        .filter(|token| mine(&token.user_id))
        .map(|token| AdminToken {
            id: token.id,
            user: if token.user_id == me {
                visitor.principal.user.email.clone()
            } else {
                email_of(&token.user_id)
            },
            name: token.name.clone(),
            created_at: crate::pages::date(token.created_at, tz),
            expires_at: token
                .expires_at
                .map(|at| crate::pages::date(at, tz))
                .unwrap_or_else(|| "never".to_owned()),
            last_used_at: token.last_used_at.map(|at| crate::pages::date(at, tz)).unwrap_or_default(),
            revoked: token.revoked_at.is_some(),
        })
        .collect();
    let selected = form.user.unwrap_or_else(|| me.to_string());
    let mut choices: Vec<Choice> = if all {
        users
            .iter()
            .map(|(id, email)| Choice { value: id.clone(), label: email.clone(), selected: *id == selected })
            .collect()
    } else {
        Vec::new()
    };
    if !choices.iter().any(|c| c.value == me.to_string()) {
        choices.insert(
            0,
            Choice {
                value: me.to_string(),
                label: visitor.principal.user.email.clone(),
                selected: selected == me.to_string(),
            },
        );
    }
    Ok(AdminTokensPage {
        layout: visitor.layout(state, "API tokens", "admin"),
        tokens,
        users: choices,
        created: form.created,
        error: form.error,
        notice: form.notice,
        name: form.name,
        expires_in_days: form.expires_in_days,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: String,
}

async fn tokens(
    request: HttpRequest,
    state: web::Data<State>,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let result = async {
        let visitor = staff(&request, &state, None).await?;
        let notice =
            (query.notice == "revoked").then(|| "The token was revoked: it no longer works.".to_owned());
        html(&tokens_page(&state, &visitor, TokenForm { notice, ..TokenForm::default() }).await?)
    }
    .await;
    respond(&request, result)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateTokenForm {
    csrf_token: String,
    user: String,
    name: String,
    expires_in_days: String,
}

/// `POST /admin/tokens/`: the token is in this response's page only (never in a URL or a log).
async fn create_token(request: HttpRequest, state: web::Data<State>, body: web::Bytes) -> HttpResponse {
    let result = async {
        let form: CreateTokenForm = crate::render::form(&body)?;
        let visitor = staff(&request, &state, Some(&form.csrf_token)).await?;
        let me = visitor.principal.user.id;
        let again = |error: String| TokenForm {
            error: Some(error),
            name: form.name.clone(),
            expires_in_days: form.expires_in_days.clone(),
            user: Some(form.user.clone()),
            ..TokenForm::default()
        };
        let user = if form.user.trim().is_empty() {
            me
        } else {
            match form.user.trim().parse::<uuid::Uuid>() {
                Ok(id) => UserId(id),
                Err(_) => return refused(&tokens_page(&state, &visitor, again("Choose a user.".to_owned())).await?),
            }
        };
        if user != me {
            superuser(&visitor, "create tokens for someone else")?;
        }
        let name = form.name.trim().to_owned();
        if name.chars().count() > 255 {
            return refused(&tokens_page(&state, &visitor, again("The name is at most 255 characters.".to_owned())).await?);
        }
        let expires_at = match form.expires_in_days.trim() {
            "" => None,
            days => match days.parse::<i64>() {
                Ok(days) if (1..=3650).contains(&days) => Some(incidents_core::clock::now() + chrono::TimeDelta::days(days)),
                _ => {
                    return refused(
                        &tokens_page(&state, &visitor, again("Expiry: a number of days from 1 to 3650, or empty for never.".to_owned()))
                            .await?,
                    );
                }
            },
        };
        let database = state.context.database.clone();
        let token = incidents_core::access::new_token();
        let hash = incidents_core::access::hash_token(&token);
        let actor = me;
        let record = web::block(move || -> Result<_, PageError> {
            let Some(owner) = database.user(user)? else {
                return Err(PageError::BadRequest("No such user.".to_owned()));
            };
            if !owner.is_active {
                return Err(PageError::BadRequest(format!("{} is inactive: their tokens would not work.", owner.email)));
            }
            let record = database.create_api_token(user, &name, &hash, expires_at)?;
            database.record_audit(
                Some(actor),
                EntryPoint::Web,
                ("api_token.create", "api_token", &record.id.to_string()),
                &serde_json::json!({"user": owner.email, "name": name, "expires_at": expires_at}),
            )?;
            Ok(record)
        })
        .await??;
        tracing::info!(token_id = record.id, user = %visitor.principal.user.email, "API token created in the back-office");
        let page = tokens_page(&state, &visitor, TokenForm { created: Some(token), ..TokenForm::default() }).await?;
        html(&page)
    }
    .await;
    respond(&request, result)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CsrfForm {
    csrf_token: String,
}

async fn revoke_token(
    request: HttpRequest,
    state: web::Data<State>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let form: CsrfForm = crate::render::form(&body)?;
        let visitor = staff(&request, &state, Some(&form.csrf_token)).await?;
        let id = id.into_inner();
        let (database, me, all) =
            (state.context.database.clone(), visitor.principal.user.id, is_superuser(&visitor));
        web::block(move || -> Result<(), PageError> {
            let tokens = database.api_tokens(incidents_core::query::PageRequest::new(10_000, 0))?.items;
            let token = tokens.iter().find(|token| token.id == id).ok_or(PageError::NotFound)?;
            if !all && token.user_id != me {
                return Err(PageError::Forbidden("Only superusers revoke someone else's token.".to_owned()));
            }
            database.revoke_api_token(id, incidents_core::clock::now())?;
            database.record_audit(
                Some(me),
                EntryPoint::Web,
                ("api_token.revoke", "api_token", &id.to_string()),
                &serde_json::json!({"name": token.name, "user_id": token.user_id.to_string()}),
            )?;
            Ok(())
        })
        .await??;
        Ok(see_other("/admin/tokens/?notice=revoked"))
    }
    .await;
    respond(&request, result)
}

// Permission groups.

async fn groups_page(
    state: &web::Data<State>,
    visitor: &Visitor,
    error: Option<String>,
    notice: Option<String>,
) -> Result<AdminGroupsPage, PageError> {
    let database = state.context.database.clone();
    let groups = web::block(move || database.permission_groups()).await??;
    Ok(AdminGroupsPage {
        layout: visitor.layout(state, "Permission groups", "admin"),
        groups: groups
            .into_iter()
            .map(|group| AdminGroup {
                name: group.name,
                permissions: group.permissions,
                members: group.members,
            })
            .collect(),
        permissions: Permission::all().into_iter().map(Permission::codename).collect(),
        error,
        notice,
    })
}

async fn groups(
    request: HttpRequest,
    state: web::Data<State>,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let result = async {
        let visitor = staff(&request, &state, None).await?;
        let notice = Some(query.into_inner().notice).filter(|n| !n.is_empty()).map(|n| match n.as_str() {
            "saved" => "Saved.".to_owned(),
            "deleted" => {
                "The group was deleted; its members keep what was granted to them directly.".to_owned()
            }
            _ => String::new(),
        });
        html(&groups_page(&state, &visitor, None, notice).await?)
    }
    .await;
    respond(&request, result)
}

/// Every value of a repeated form field (`permission=…&permission=…`).
fn all_of(body: &[u8], field: &str) -> Vec<String> {
    url::form_urlencoded::parse(body)
        .filter(|(name, _)| name == field)
        .map(|(_, value)| value.into_owned())
        .collect()
}

fn one_of(body: &[u8], field: &str) -> String {
    all_of(body, field).into_iter().next().unwrap_or_default()
}

/// A permission group change's start: a well-formed form from a superuser, with its CSRF token.
async fn group_change(
    request: &HttpRequest,
    state: &web::Data<State>,
    body: &[u8],
) -> Result<Visitor, PageError> {
    crate::render::form::<BTreeMap<String, String>>(body)?;
    let visitor = staff(request, state, Some(&one_of(body, "csrf_token"))).await?;
    superuser(&visitor, "change permission groups")?;
    Ok(visitor)
}

async fn put_group(request: HttpRequest, state: web::Data<State>, body: web::Bytes) -> HttpResponse {
    let result = async {
        let visitor = group_change(&request, &state, &body).await?;
        let name = one_of(&body, "name");
        let name = match incidents_core::access::group_name(&name) {
            Ok(name) => name.to_owned(),
            Err(error) => return refused(&groups_page(&state, &visitor, Some(error), None).await?),
        };
        let permissions = match all_of(&body, "permission")
            .iter()
            .map(|p| Permission::parse(p))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(permissions) => permissions,
            Err(error) => return refused(&groups_page(&state, &visitor, Some(error), None).await?),
        };
        let (database, actor) = (state.context.database.clone(), visitor.principal.user.id);
        web::block(move || -> Result<(), PageError> {
            let (group, created) = database.put_permission_group(&name, &permissions)?;
            database.record_audit(
                Some(actor),
                EntryPoint::Web,
                ("permission_group.put", "permission_group", &group.name),
                &serde_json::json!({"created": created, "permissions": group.permissions}),
            )?;
            Ok(())
        })
        .await??;
        Ok(see_other("/admin/permission-groups/?notice=saved"))
    }
    .await;
    respond(&request, result)
}

async fn delete_group(request: HttpRequest, state: web::Data<State>, body: web::Bytes) -> HttpResponse {
    let result = async {
        let visitor = group_change(&request, &state, &body).await?;
        let name = one_of(&body, "name").trim().to_owned();
        let (database, actor) = (state.context.database.clone(), visitor.principal.user.id);
        web::block(move || -> Result<(), PageError> {
            if !database.delete_permission_group(&name)? {
                return Err(PageError::NotFound);
            }
            database.record_audit(
                Some(actor),
                EntryPoint::Web,
                ("permission_group.delete", "permission_group", &name),
                &serde_json::json!({}),
            )?;
            Ok(())
        })
        .await??;
        Ok(see_other("/admin/permission-groups/?notice=deleted"))
    }
    .await;
    respond(&request, result)
}

async fn group_member(request: HttpRequest, state: web::Data<State>, body: web::Bytes) -> HttpResponse {
    let result = async {
        let visitor = group_change(&request, &state, &body).await?;
        let name = one_of(&body, "name").trim().to_owned();
        let member = one_of(&body, "member") != "false";
        let email = match incidents_core::Email::parse(one_of(&body, "email").trim()) {
            Ok(email) => email,
            Err(error) => {
                return refused(&groups_page(&state, &visitor, Some(error.to_string()), None).await?);
            }
        };
        let (database, actor) = (state.context.database.clone(), visitor.principal.user.id);
        let outcome = web::block(move || -> Result<Result<(), String>, PageError> {
            use incidents_core::UserRepository as _;
            let Some(user) = database.find_user_by_email(&email)? else {
                return Ok(Err(format!("No user with e-mail {email}.")));
            };
            let Some(_) = database.set_group_member(&name, user.id, member)? else {
                return Ok(Err(format!("No group named {name:?}.")));
            };
            database.record_audit(
                Some(actor),
                EntryPoint::Web,
                (
                    if member { "permission_group.add_member" } else { "permission_group.remove_member" },
                    "permission_group",
                    &name,
                ),
                &serde_json::json!({"user": user.email.clone()}),
            )?;
            Ok(Ok(()))
        })
        .await??;
        match outcome {
            Ok(()) => Ok(see_other("/admin/permission-groups/?notice=saved")),
            Err(error) => refused(&groups_page(&state, &visitor, Some(error), None).await?),
        }
    }
    .await;
    respond(&request, result)
}

// Jobs.

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct JobsQuery {
    state: String,
    page: i64,
    notice: String,
}

const JOBS_SHOWN: i64 = 100;

async fn jobs(request: HttpRequest, state: web::Data<State>, query: web::Query<JobsQuery>) -> HttpResponse {
    let result = async {
        let visitor = staff(&request, &state, None).await?;
        let query = query.into_inner();
        let wanted = Some(query.state.trim().to_owned()).filter(|s| !s.is_empty());
        if let Some(wanted) = wanted.as_deref().filter(|s| !jobs::JOB_STATES.contains(s)) {
            return Err(PageError::BadRequest(format!(
                "Unknown state {wanted:?}: one of {}.",
                jobs::JOB_STATES.join(", ")
            )));
        }
        let page = query.page.max(0);
        let (database, filter) = (state.context.database.clone(), wanted.clone());
        let found = web::block(move || {
            database.jobs(
                filter.as_deref(),
                incidents_core::query::PageRequest::new(
                    u32::try_from(JOBS_SHOWN).unwrap_or(100),
                    u64::try_from(page * JOBS_SHOWN).unwrap_or(0),
                ),
            )
        })
        .await??;
        let tz = state.context.config.time_zone;
        let rows = crate::side_effects::rows(&found.items, tz);
        html(&AdminJobsPage {
            layout: visitor.layout(&state, "Jobs", "admin"),
            jobs: found
                .items
                .iter()
                .zip(rows)
                .map(|(job, row)| AdminJob {
                    id: job.id,
                    name: job.name.clone(),
                    state: job.state.clone(),
                    attempts: job.attempts,
                    run_at: crate::pages::date(job.run_at, tz),
                    error: row.error,
                })
                .collect(),
            states: jobs::JOB_STATES
                .iter()
                .map(|s| Choice {
                    value: (*s).to_owned(),
                    label: (*s).to_owned(),
                    selected: wanted.as_deref() == Some(*s),
                })
                .collect(),
            state: wanted.unwrap_or_default(),
            page,
            has_more: found.has_more,
            notice: (query.notice == "retried").then(|| "The job is pending again.".to_owned()),
        })
    }
    .await;
    respond(&request, result)
}

async fn retry_job(
    request: HttpRequest,
    state: web::Data<State>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let form: CsrfForm = crate::render::form(&body)?;
        let visitor = staff(&request, &state, Some(&form.csrf_token)).await?;
        let id = id.into_inner();
        let (database, actor) = (state.context.database.clone(), visitor.principal.user.id);
        web::block(move || -> Result<(), PageError> {
            let job = database.job(id)?.ok_or(PageError::NotFound)?;
            crate::side_effects::retry_dead(&database, &job, actor, None)
        })
        .await??;
        Ok(see_other("/admin/jobs/?notice=retried"))
    }
    .await;
    respond(&request, result)
}
