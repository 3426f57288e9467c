//! The knowledge base (`/docs/metrics/`, `/docs/role_types/` with each role's page and its slug's
//! redirection) and people's pages (`/user/<id>/`): read-only, for anyone signed in.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use dashboard_templates::{
    KeyEventDoc, MetricDoc, MetricsPage, RoleDoc, RoleTypePage, RoleTypesPage, UserPage,
};
use incidents_core::access::Action;
use incidents_core::query::{IncidentFilter, IncidentQueries as _, OrderBy, PageRequest, RoleTypeView};
use incidents_core::{IncidentId, UserId};

use crate::State;
use crate::render::{PageError, html, respond, visitor};

/// How many of a person's declared incidents their page lists.
const DECLARED_SHOWN: u32 = 10;

pub(crate) fn configure(routes: &mut web::ServiceConfig) {
    routes
        .service(web::resource("/docs/metrics").route(web::get().to(metrics)))
        .service(web::resource("/docs/role_types").route(web::get().to(role_types)))
        .service(web::resource("/docs/role_types/{id:\\d+}").route(web::get().to(role_type)))
        .service(web::resource("/docs/role_types/{slug}").route(web::get().to(role_type_by_slug)))
        .service(web::resource("/user/{id}").route(web::get().to(user)));
}

fn role_doc(role: &RoleTypeView) -> RoleDoc {
    RoleDoc {
        id: role.id,
        slug: role.slug.clone(),
        name: role.name.clone(),
        emoji: role.emoji.clone(),
        summary: role.summary.clone(),
        description: role.description.clone(),
        aka: role.aka.clone(),
        required: role.required,
    }
}

async fn metrics(request: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        let database = state.context.database.clone();
        let (metric_types, key_event_types) =
            web::block(move || Ok::<_, PageError>((database.metric_types()?, database.key_event_types()?)))
                .await??;
        let name_of = |event_type: &str| {
            key_event_types
                .iter()
                .find(|k| k.event_type == event_type)
                .map_or_else(|| event_type.to_owned(), |k| k.name.clone())
        };
        let metrics = metric_types
            .iter()
            .map(|m| MetricDoc {
                name: m.name.clone(),
                code: m.code.clone(),
                description: m.description.clone(),
                from: name_of(&m.milestone_rhs),
                to: name_of(&m.milestone_lhs),
            })
            .collect();
        let key_events = key_event_types
            .iter()
            .map(|k| KeyEventDoc {
                name: k.name.clone(),
                event_type: k.event_type.clone(),
                summary: k.summary.clone(),
                description: k.description.clone().unwrap_or_default(),
                required: k.required,
                user_editable: k.user_editable,
            })
            .collect();
        html(&MetricsPage {
            layout: visitor.layout(&state, "Metrics explanation", "docs-metrics"),
            metrics,
            key_events,
        })
    }
    .await;
    respond(&request, result)
}

async fn load_roles(state: &State) -> Result<Vec<RoleTypeView>, PageError> {
    let database = state.context.database.clone();
    let mut roles = web::block(move || Ok::<_, PageError>(database.role_types()?)).await??;
    roles.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name)));
    Ok(roles)
}

async fn role_types(request: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        let roles = load_roles(&state).await?.iter().map(role_doc).collect();
        html(&RoleTypesPage { layout: visitor.layout(&state, "Role types", "docs-roles"), roles })
    }
    .await;
    respond(&request, result)
}

async fn role_type(request: HttpRequest, state: web::Data<State>, id: web::Path<i64>) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        let id = id.into_inner();
        let role =
            load_roles(&state).await?.iter().find(|r| r.id == id).map(role_doc).ok_or(PageError::NotFound)?;
        let title = format!("{} | Role type", role.name);
        html(&RoleTypePage { layout: visitor.layout(&state, &title, "docs-roles"), role })
    }
    .await;
    respond(&request, result)
}

/// `/docs/role_types/<slug>/`: 302 to the role's page (its address by id), 404 for an unknown slug.
async fn role_type_by_slug(
    request: HttpRequest,
    state: web::Data<State>,
    slug: web::Path<String>,
) -> HttpResponse {
    let result = async {
        visitor(&request, &state, None).await?;
        let slug = slug.into_inner();
        let role =
            load_roles(&state).await?.into_iter().find(|r| r.slug == slug).ok_or(PageError::NotFound)?;
        Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, format!("/docs/role_types/{}/", role.id)))
            .finish())
    }
    .await;
    respond(&request, result)
}

/// `/user/<id>/`: who they are, the incidents they declared and their roles in open incidents, as
/// far as the visitor may see them.
async fn user(request: HttpRequest, state: web::Data<State>, id: web::Path<String>) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        visitor.require(Action::View, "see incidents")?;
        let id = uuid::Uuid::parse_str(&id).map(UserId).map_err(|_| PageError::NotFound)?;
        let (database, principal) = (state.context.database.clone(), visitor.principal.clone());
        let (person, declared, incidents, roles) = web::block(move || -> Result<_, PageError> {
            let person = database.user(id)?.ok_or(PageError::NotFound)?;
            let filter = IncidentFilter {
                created_by: vec![id],
                visible_to: principal.visibility(),
                ..IncidentFilter::default()
            };
            let page = database.incidents(
                &filter,
                OrderBy::default(),
                PageRequest::new(DECLARED_SHOWN, 0).counted(),
            )?;
            let held = database.open_roles_of(id)?;
            let ids: Vec<IncidentId> = held.iter().map(|(incident, _)| IncidentId(*incident)).collect();
            let mut roles = Vec::new();
            for incident in database.incidents_by_id(&ids)? {
                if principal.may_see(&incident, || database.is_member(incident.id, principal.user.id))? {
                    for (_, role) in held.iter().filter(|(held, _)| *held == incident.id.0) {
                        roles.push((role.clone(), incident.clone()));
                    }
                }
            }
            Ok((person, page.total.unwrap_or_default(), page.items, roles))
        })
        .await??;
        let tz = state.context.config.time_zone;
        let name = if person.name.trim().is_empty() { person.username.clone() } else { person.name.clone() };
        let title = format!("{name} | User");
        html(&UserPage {
            layout: visitor.layout(&state, &title, "users"),
            id: person.id.to_string(),
            name,
            email: person.email,
            username: person.username,
            declared,
            incidents: incidents.iter().map(|i| crate::pages::row(i, tz)).collect(),
            roles: roles.iter().map(|(role, i)| (role.clone(), crate::pages::row(i, tz))).collect(),
        })
    }
    .await;
    respond(&request, result)
}
