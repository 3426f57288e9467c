//! The incident pages (firefighter-core.md §3.1, §3.2, §6.8), at the original's paths.
//!
//! Reading goes through `IncidentQueries`, changing through the lifecycle (the API's rules and error
//! codes, shown on the field they concern). Every form is a plain HTML form that works without
//! JavaScript (a change answers `303 See Other` to the incident page); with HTMX, the list's results,
//! the update panel and the key-events panel are swapped in place.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDateTime, TimeZone as _};
use dashboard_templates::{
    Choice, Fact, FieldError, Filters, HomePage, IncidentPage, IncidentRow, KeyEventField, KeyEventsPanel,
    ListPage, Results, RoleField, StatusGroup, TimelineRow, UpdateForm, UpdatePanel,
};
use incidents_core::access::Action;
use incidents_core::incident::UpdateIncident;
use incidents_core::query::{
    CategoryView, IncidentFilter, IncidentQueries as _, IncidentView, OrderBy, PageRequest,
};
use incidents_core::workflow::TransitionError;
use incidents_core::{
    Actor, ClosureReason, EntryPoint, IncidentId, IncidentStatus, IncidentStore as _, LifecycleError,
};
use serde::Deserialize;

use crate::State;
use crate::render::{PageError, Visitor, html, is_htmx, respond, visitor};

/// Incidents per page of `/incident/`.
const PAGE_SIZE: u32 = 50;

pub(crate) fn configure(routes: &mut web::ServiceConfig) {
    routes
        .service(web::resource("/").route(web::get().to(home)))
        .service(web::resource("/incident").route(web::get().to(list)))
        .service(web::resource("/incident/export").route(web::get().to(export)))
        .service(
            web::resource("/incident/create")
                .route(web::get().to(crate::declare::create_form))
                .route(web::post().to(crate::declare::create)),
        )
        .service(web::resource("/incident/create/priority").route(web::get().to(crate::declare::priority)))
        .service(web::resource("/incident/{id:\\d+}").route(web::get().to(detail)))
        .service(web::resource("/incident/{id:\\d+}/update").route(web::post().to(update)))
        .service(web::resource("/incident/{id:\\d+}/update_key_events").route(web::post().to(key_events)))
        .service(web::resource("/incident/{id:\\d+}/roles").route(web::post().to(roles)))
        .service(web::resource("/incident/{id:\\d+}/costs").route(web::post().to(add_cost)))
        .service(
            web::resource("/incident/{id:\\d+}/actions/{integration}/{name}")
                .route(web::post().to(crate::side_effects::action)),
        )
        .service(
            web::resource("/incident/{id:\\d+}/jobs/{job:\\d+}/retry")
                .route(web::post().to(crate::side_effects::retry)),
        );
}

pub(crate) fn date(at: NaiveDateTime, tz: chrono_tz::Tz) -> String {
    tz.from_utc_datetime(&at).format("%Y-%m-%d %H:%M %Z").to_string()
}

fn status_class(status: IncidentStatus) -> String {
    status.label().to_lowercase().replace(' ', "-")
}

pub(crate) fn row(incident: &IncidentView, tz: chrono_tz::Tz) -> IncidentRow {
    IncidentRow {
        id: incident.id.0,
        title: incident.title.clone(),
        status: incident.status.label().to_owned(),
        status_class: status_class(incident.status),
        priority: format!("{} {}", incident.priority.emoji, incident.priority.name),
        category: format!("{} / {}", incident.category.group.name, incident.category.name),
        environment: incident.environment.value.clone(),
        created_at: date(incident.created_at, tz),
        private: incident.private,
    }
}

pub(crate) fn grouped(categories: &[CategoryView], selected: &[String]) -> Vec<(String, Vec<Choice>)> {
    let mut sorted: Vec<&CategoryView> = categories.iter().collect();
    sorted.sort_by(|a, b| {
        (a.group.order, &a.group.name, a.order, &a.name).cmp(&(
            b.group.order,
            &b.group.name,
            b.order,
            &b.name,
        ))
    });
    let mut groups: Vec<(String, Vec<Choice>)> = Vec::new();
    for category in sorted {
        let choice = Choice {
            value: category.id.clone(),
            label: category.name.clone(),
            selected: selected.contains(&category.id),
        };
        match groups.last_mut() {
            Some((name, choices)) if *name == category.group.name => choices.push(choice),
            _ => groups.push((category.group.name.clone(), vec![choice])),
        }
    }
    groups
}

/// Incidents shown per status on `/` (the newest; the rest are a link away, and counted).
const HOME_PER_STATUS: u32 = 10;

async fn home(request: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        visitor.require(Action::View, "see incidents")?;
        let database = state.context.database.clone();
        let visible_to = visitor.principal.visibility();
        // The open statuses' counts in one grouped query (exact however long the history), the newest
        // keys of each, then those incidents with their relations in one batch.
        let (counts, pages, incidents) = web::block(move || -> Result<_, incidents_core::RepositoryError> {
            let open: Vec<IncidentStatus> = IncidentStatus::ALL
                .iter()
                .copied()
                .filter(|status| *status != IncidentStatus::Closed)
                .collect();
            let counts: HashMap<IncidentStatus, i64> = database
                .status_counts(&IncidentFilter {
                    status: open.clone(),
                    visible_to,
                    ..IncidentFilter::default()
                })?
                .into_iter()
                .collect();
            let pages = open
                .iter()
                .filter(|status| counts.get(status).is_some_and(|count| *count > 0))
                .map(|status| {
                    let filter =
                        IncidentFilter { status: vec![*status], visible_to, ..IncidentFilter::default() };
                    let keys = database.incident_keys(
                        &filter,
                        OrderBy::default(),
                        PageRequest::new(HOME_PER_STATUS, 0),
                    )?;
                    Ok((*status, keys))
                })
                .collect::<Result<Vec<_>, incidents_core::RepositoryError>>()?;
            let ids: Vec<IncidentId> =
                pages.iter().flat_map(|(_, keys)| keys.items.iter().map(|key| key.id)).collect();
            let incidents: HashMap<IncidentId, IncidentView> =
                database.incidents_by_id(&ids)?.into_iter().map(|incident| (incident.id, incident)).collect();
            Ok((counts, pages, incidents))
        })
        .await??;
        let tz = state.context.config.time_zone;
        let open = counts.values().map(|count| u64::try_from(*count).unwrap_or_default()).sum();
        let groups: Vec<StatusGroup> = pages
            .into_iter()
            .filter(|(_, keys)| !keys.items.is_empty())
            .map(|(status, keys)| StatusGroup {
                label: status.label().to_owned(),
                total: counts.get(&status).and_then(|count| u64::try_from(*count).ok()).unwrap_or_default(),
                more: keys.has_more,
                link: format!("/incident/?status={}", status.value()),
                incidents: keys
                    .items
                    .iter()
                    .filter_map(|key| incidents.get(&key.id))
                    .map(|i| row(i, tz))
                    .collect(),
            })
            .collect();
        html(&HomePage { layout: visitor.layout(&state, "Dashboard", "home"), open, groups })
    }
    .await;
    respond(&request, result)
}

/// The query string without `offset` (for links to other pages and to exports).
pub(crate) fn query_without_offset(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(key, value)| key != "offset" && !value.is_empty())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

pub(crate) fn encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn values_of(pairs: &[(String, String)], key: &str) -> Vec<String> {
    pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
}

async fn list(request: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        visitor.require(Action::View, "see incidents")?;
        let tz = state.context.config.time_zone;
        let pairs = query_without_offset(request.query_string());
        let parsed = http_api::incidents::parse_list_query(request.query_string(), tz);
        let has_limit = pairs.iter().any(|(key, _)| key == "limit");
        let database = state.context.database.clone();
        let (page, error) = match parsed {
            Ok(mut query) => {
                query.filter.visible_to = visitor.principal.visibility();
                if !has_limit {
                    query.page.limit = PAGE_SIZE;
                }
                let page = query.page;
                let found =
                    web::block(move || database.incidents(&query.filter, query.order, query.page)).await??;
                (Some((page, found)), None)
            }
            Err(error) => (None, Some(error.to_string())),
        };
        let base = encode(&pairs);
        let link = |offset: u64| {
            let mut pairs = pairs.clone();
            if offset > 0 {
                pairs.push(("offset".to_owned(), offset.to_string()));
            }
            encode(&pairs)
        };
        let results = match page {
            Some((page, found)) => {
                let limit = u64::from(page.limit);
                Results {
                    first: page.offset + 1,
                    last: page.offset + found.items.len() as u64,
                    rows: found.items.iter().map(|i| row(i, tz)).collect(),
                    error,
                    query: base,
                    previous: (page.offset > 0).then(|| link(page.offset.saturating_sub(limit))),
                    next: found.has_more.then(|| link(page.offset + limit)),
                }
            }
            None => Results { error, query: base, ..Results::default() },
        };
        if is_htmx(&request)
            && request.headers().get("hx-target").and_then(|v| v.to_str().ok()) == Some("results")
        {
            return html(&results);
        }
        let filters = filters(&state, &pairs).await?;
        html(&ListPage { layout: visitor.layout(&state, "Incidents", "incidents"), filters, results })
    }
    .await;
    respond(&request, result)
}

/// The filter form of the list and the statistics, as the query string `pairs` set it.
pub(crate) async fn filters(state: &State, pairs: &[(String, String)]) -> Result<Filters, PageError> {
    let database = state.context.database.clone();
    let (priorities, environments, categories) =
        web::block(move || -> Result<_, incidents_core::RepositoryError> {
            Ok((database.priorities()?, database.environments()?, database.categories(None)?))
        })
        .await??;
    let statuses = values_of(pairs, "status");
    let chosen_priorities = values_of(pairs, "priority");
    let chosen_environments = values_of(pairs, "environment");
    let chosen_categories = values_of(pairs, "incident_category");
    Ok(Filters {
        search: values_of(pairs, "search").into_iter().next().unwrap_or_default(),
        created_at: values_of(pairs, "created_at").into_iter().next().unwrap_or_default(),
        statuses: IncidentStatus::ALL
            .iter()
            .map(|s| Choice {
                value: s.label().to_owned(),
                label: s.label().to_owned(),
                selected: statuses.iter().any(|v| v == s.label() || *v == s.value().to_string()),
            })
            .collect(),
        priorities: priorities
            .iter()
            .map(|p| Choice {
                value: p.id.clone(),
                label: format!("{} {}", p.emoji, p.name),
                selected: chosen_priorities.contains(&p.id),
            })
            .collect(),
        environments: environments
            .iter()
            .map(|e| Choice {
                value: e.id.clone(),
                label: e.value.clone(),
                selected: chosen_environments.contains(&e.id),
            })
            .collect(),
        categories: categories
            .iter()
            .map(|c| Choice {
                value: c.id.clone(),
                label: format!("{} / {}", c.group.name, c.name),
                selected: chosen_categories.contains(&c.id),
            })
            .collect(),
    })
}

async fn export(request: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        visitor.require(Action::View, "see incidents")?;
        let bad = |error: http_api::errors::ApiError| PageError::BadRequest(error.to_string());
        let format = http_api::export::requested(&request, None)
            .map_err(bad)?
            .unwrap_or(http_api::export::Tabular::Csv);
        let mut query =
            http_api::incidents::parse_list_query(request.query_string(), state.context.config.time_zone)
                .map_err(bad)?;
        query.filter.visible_to = visitor.principal.visibility();
        let exported = http_api::incidents::Exported {
            backend: state.context.database.clone(),
            facets: state.context.facets.clone(),
            base_url: state.context.config.base_url.as_str().trim_end_matches('/').to_owned(),
            time_zone: state.context.config.time_zone,
        };
        let extension = match format {
            http_api::export::Tabular::Csv => "csv",
            http_api::export::Tabular::Tsv => "tsv",
        };
        let mut response = exported.response(&request, format, query.filter, query.order);
        if let Ok(value) =
            header::HeaderValue::from_str(&format!("attachment; filename=\"incidents.{extension}\""))
        {
            response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
        }
        Ok(response)
    }
    .await;
    respond(&request, result)
}

/// Everything an incident page shows, read at once.
struct Loaded {
    incident: IncidentView,
    timeline: Vec<incidents_core::query::TimelineView>,
    key_event_types: Vec<incidents_core::query::KeyEventTypeView>,
    key_events: HashMap<String, NaiveDateTime>,
    transitions: Vec<IncidentStatus>,
    blockers: Vec<String>,
    priorities: Vec<incidents_core::query::PriorityView>,
    categories: Vec<CategoryView>,
    environments: Vec<incidents_core::query::EnvironmentView>,
    role_types: Vec<incidents_core::query::RoleTypeView>,
    cost_types: Vec<incidents_core::query::CostTypeView>,
    facets: Vec<incidents_core::facets::Facet>,
    impacts: Vec<incidents_core::query::IncidentImpactView>,
    /// For staff only.
    failures: Option<Vec<jobs::JobRecord>>,
}

/// Reads an incident page's data; a private incident the visitor may not see is not found.
async fn load(state: &State, visitor: &Visitor, id: IncidentId) -> Result<Loaded, PageError> {
    let (database, lifecycle, facets) =
        (state.context.database.clone(), state.context.lifecycle.clone(), state.context.facets.clone());
    let principal = visitor.principal.clone();
    web::block(move || -> Result<Loaded, PageError> {
        let incident = database.incident(id)?.ok_or(PageError::NotFound)?;
        if !principal.may_see(&incident, || database.is_member(id, principal.user.id))? {
            return Err(PageError::NotFound);
        }
        let timeline = database.timeline(id, PageRequest::new(1000, 0))?.items;
        let key_events =
            lifecycle.store().read(&mut |tx| Ok(tx.key_events(id)?)).map_err(|e| PageError::internal(&e))?;
        let (_, transitions) = lifecycle.transitions(id).map_err(|e| PageError::internal(&e))?;
        let blockers = if incident.status == IncidentStatus::Closed {
            Vec::new()
        } else {
            lifecycle
                .close_blockers(id)
                .map_err(|e| PageError::internal(&e))?
                .into_iter()
                .map(|b| b.message)
                .collect()
        };
        let mut facets = facets.of(&[id])?;
        let staff = principal.user.is_staff || principal.user.is_superuser;
        let failures = if staff {
            Some(jobs::JobAdmin::failed_for_incident(&database, id.0, crate::side_effects::SHOWN)?)
        } else {
            None
        };
        Ok(Loaded {
            impacts: database.incident_impacts(id)?,
            failures,
            timeline,
            key_event_types: database.key_event_types()?,
            key_events,
            transitions: transitions.into_iter().map(|(status, _)| status).collect(),
            blockers,
            priorities: database.priorities()?,
            categories: database.categories(None)?,
            environments: database.environments()?,
            role_types: database.role_types()?,
            cost_types: database.cost_types()?,
            facets: facets.remove(&id).unwrap_or_default(),
            incident,
        })
    })
    .await?
}

fn local_input(at: NaiveDateTime, tz: chrono_tz::Tz) -> String {
    tz.from_utc_datetime(&at).format("%Y-%m-%dT%H:%M").to_string()
}

fn update_panel(loaded: &Loaded, csrf: &str, mut form: UpdateForm) -> UpdatePanel {
    let incident = &loaded.incident;
    let mut statuses = vec![incident.status];
    statuses.extend(loaded.transitions.iter().copied());
    let chosen_status = form.statuses.iter().find(|c| c.selected).map(|c| c.value.clone());
    form.statuses = statuses
        .iter()
        .map(|status| Choice {
            value: status.value().to_string(),
            label: status.label().to_owned(),
            selected: chosen_status
                .as_deref()
                .map_or(*status == incident.status, |v| v == status.value().to_string()),
        })
        .collect();
    let chosen_priority = form
        .priorities
        .iter()
        .find(|c| c.selected)
        .map_or_else(|| incident.priority.id.clone(), |c| c.value.clone());
    form.priorities = loaded
        .priorities
        .iter()
        .filter(|p| p.enabled_update || p.id == incident.priority.id)
        .map(|p| Choice {
            value: p.id.clone(),
            label: format!("{} {} - {}", p.emoji, p.name, p.description),
            selected: p.id == chosen_priority,
        })
        .collect();
    let chosen_category = form
        .categories
        .first()
        .and_then(|(_, c)| c.first())
        .map_or_else(|| incident.category.id.clone(), |c| c.value.clone());
    form.categories = grouped(&loaded.categories, &[chosen_category]);
    let chosen_reason = form.closure_reasons.iter().find(|c| c.selected).map(|c| c.value.clone());
    form.closure_reasons = ClosureReason::ALL
        .iter()
        .filter(|reason| **reason != ClosureReason::Resolved)
        .map(|reason| Choice {
            value: reason.as_str().to_owned(),
            label: reason.label().to_owned(),
            selected: chosen_reason.as_deref() == Some(reason.as_str()),
        })
        .collect();
    UpdatePanel { id: incident.id.0, csrf: csrf.to_owned(), form, close_blockers: loaded.blockers.clone() }
}

fn key_events_panel(
    loaded: &Loaded,
    visitor: &Visitor,
    tz: chrono_tz::Tz,
    errors: Vec<FieldError>,
    notice: Option<String>,
) -> KeyEventsPanel {
    KeyEventsPanel {
        id: loaded.incident.id.0,
        csrf: visitor.csrf.clone(),
        can_update: visitor.can(Action::Change),
        fields: loaded
            .key_event_types
            .iter()
            .filter(|kind| kind.user_editable && kind.asked_for)
            .map(|kind| KeyEventField {
                event_type: kind.event_type.clone(),
                name: kind.name.clone(),
                summary: kind.summary.clone(),
                required: kind.required,
                value: loaded
                    .key_events
                    .get(&kind.event_type)
                    .map(|at| local_input(*at, tz))
                    .unwrap_or_default(),
            })
            .collect(),
        errors,
        notice,
    }
}

fn incident_page(
    state: &State,
    visitor: &Visitor,
    loaded: &Loaded,
    update: UpdatePanel,
    key_events: KeyEventsPanel,
) -> IncidentPage {
    let tz = state.context.config.time_zone;
    let incident = &loaded.incident;
    let fact = |label: &str, value: String| Fact { label: label.to_owned(), value, url: None };
    let mut facts = vec![
        fact(
            "Priority",
            format!(
                "{} {} - {}",
                incident.priority.emoji, incident.priority.name, incident.priority.description
            ),
        ),
        fact("Category", format!("{} / {}", incident.category.group.name, incident.category.name)),
        fact("Environment", incident.environment.value.clone()),
        Fact {
            label: "Declared by".to_owned(),
            value: incident.created_by.name.clone(),
            url: Some(format!("/user/{}/", incident.created_by.id)),
        },
        fact("Declared", date(incident.created_at, tz)),
        fact("Visibility", if incident.private { "Private".to_owned() } else { "Public".to_owned() }),
    ];
    if let Some(at) = incident.closed_at {
        facts.push(fact("Closed", date(at, tz)));
    }
    if let Some(reason) = incident.closure_reason {
        let reference = if incident.closure_reference.is_empty() {
            String::new()
        } else {
            format!(" ({})", incident.closure_reference)
        };
        facts.push(fact("Closure reason", format!("{}{reference}", reason.label())));
    }
    let timeline = loaded
        .timeline
        .iter()
        .rev()
        .map(|entry| {
            let mut changes = Vec::new();
            if let Some(status) = entry.status {
                changes.push(format!("Status: {}", status.label()));
            }
            // The timeline names reference rows by id: shown by name.
            if let Some(id) = &entry.priority {
                let name =
                    loaded.priorities.iter().find(|p| p.id == *id).map_or(id.as_str(), |p| p.name.as_str());
                changes.push(format!("Priority: {name}"));
            }
            if let Some(id) = &entry.category {
                let name = loaded
                    .categories
                    .iter()
                    .find(|c| c.id == *id)
                    .map_or_else(|| id.clone(), |c| format!("{} / {}", c.group.name, c.name));
                changes.push(format!("Category: {name}"));
            }
            if let Some(id) = &entry.environment {
                let name = loaded
                    .environments
                    .iter()
                    .find(|e| e.id == *id)
                    .map_or(id.as_str(), |e| e.value.as_str());
                changes.push(format!("Environment: {name}"));
            }
            if let Some(title) = &entry.title {
                changes.push(format!("Title: {title}"));
            }
            TimelineRow {
                at: date(entry.event_ts, tz),
                author: entry.author.as_ref().map_or_else(|| "System".to_owned(), |a| a.name.clone()),
                message: entry.message.clone().unwrap_or_default(),
                changes,
                event_type: entry.event_type.clone().unwrap_or_default(),
            }
        })
        .collect();
    IncidentPage {
        layout: visitor.layout(state, &format!("#{} {}", incident.id.0, incident.title), "incidents"),
        id: incident.id.0,
        title: incident.title.clone(),
        description: incident.description.clone(),
        status: incident.status.label().to_owned(),
        status_class: status_class(incident.status),
        facts,
        roles: incident
            .roles
            .iter()
            .map(|r| Fact {
                label: r.name.clone(),
                value: r.user.name.clone(),
                url: Some(format!("/user/{}/", r.user.id)),
            })
            .collect(),
        metrics: incident
            .metrics
            .iter()
            .map(|m| Fact { label: m.name.clone(), value: duration(m.duration_micros), url: None })
            .collect(),
        costs: incident
            .costs
            .iter()
            .map(|c| Fact {
                label: c.cost_type.clone(),
                value: format!("{} {}", c.amount.map(|a| a.to_string()).unwrap_or_default(), c.currency)
                    .trim()
                    .to_owned(),
                url: None,
            })
            .collect(),
        resources: loaded
            .facets
            .iter()
            .map(|f| Fact { label: f.kind.replace('_', " "), value: f.label.clone(), url: f.url.clone() })
            .collect(),
        impacts: loaded
            .impacts
            .iter()
            .map(|i| Fact {
                label: i.impact_type.clone(),
                value: format!("{} {}", i.emoji, i.level_name).trim().to_owned(),
                url: None,
            })
            .collect(),
        failures: loaded.failures.as_ref().map(|jobs| crate::side_effects::rows(jobs, tz)),
        timeline,
        can_update: visitor.can(Action::Change),
        update,
        key_events,
        role_fields: loaded
            .role_types
            .iter()
            .map(|kind| RoleField {
                slug: kind.slug.clone(),
                name: kind.name.clone(),
                required: kind.required,
                email: incident
                    .roles
                    .iter()
                    .find(|r| r.slug == kind.slug)
                    .map(|r| r.user.email.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        role_errors: Vec::new(),
        cost_types: loaded
            .cost_types
            .iter()
            .map(|kind| Choice {
                value: kind.id.to_string(),
                label: kind.name.clone(),
                selected: kind.default,
            })
            .collect(),
        cost_errors: Vec::new(),
        // Staff see the integrations' operations (the same who see failed side effects).
        actions: loaded.failures.as_ref().map(|_| {
            state
                .context
                .actions
                .all()
                .iter()
                .map(|action| dashboard_templates::ActionForm {
                    integration: action.integration.to_owned(),
                    name: action.name.to_owned(),
                    title: action.title.clone(),
                    help: action.help.clone(),
                    submit: action.submit.clone(),
                    fields: action
                        .fields
                        .iter()
                        .map(|field| dashboard_templates::ActionInput {
                            name: field.name.to_owned(),
                            label: field.label.clone(),
                            placeholder: field.placeholder.clone(),
                            secret: field.secret,
                        })
                        .collect(),
                })
                .collect()
        }),
    }
}

pub(crate) fn duration(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    let (days, hours, minutes) = (seconds / 86_400, (seconds % 86_400) / 3600, (seconds % 3600) / 60);
    match (days, hours) {
        (0, 0) => format!("{minutes} min"),
        (0, _) => format!("{hours} h {minutes} min"),
        _ => format!("{days} d {hours} h {minutes} min"),
    }
}

async fn detail(request: HttpRequest, state: web::Data<State>, id: web::Path<i64>) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        visitor.require(Action::View, "see incidents")?;
        let loaded = load(&state, &visitor, IncidentId(id.into_inner())).await?;
        let update = update_panel(&loaded, &visitor.csrf, UpdateForm::default());
        let key_events =
            key_events_panel(&loaded, &visitor, state.context.config.time_zone, Vec::new(), None);
        html(&incident_page(&state, &visitor, &loaded, update, key_events))
    }
    .await;
    respond(&request, result)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UpdateFields {
    csrf_token: String,
    status: String,
    priority_id: String,
    incident_category_id: String,
    closure_reason: String,
    closure_reference: String,
    message: String,
}

/// A lifecycle refusal on the field it concerns.
fn refusal(error: &LifecycleError) -> FieldError {
    let field = match error {
        LifecycleError::Invalid { field, .. } => match *field {
            "category_id" => "incident_category_id",
            other => other,
        },
        LifecycleError::Transition(
            TransitionError::JustificationRequired { .. } | TransitionError::ClosureMessageRequired,
        ) => "message",
        LifecycleError::Transition(TransitionError::ClosureReasonRequired { .. }) => "closure_reason",
        LifecycleError::Transition(_) | LifecycleError::CannotClose { .. } => "status",
        _ => "",
    };
    let message = match error {
        LifecycleError::CannotClose { blockers } => format!(
            "Cannot close this incident: {} ({})",
            blockers.iter().map(|b| b.message.as_str()).collect::<Vec<_>>().join(" "),
            error.code()
        ),
        LifecycleError::NothingToUpdate => "Nothing changed: change a field or write a message.".to_owned(),
        other => format!("{other} ({})", other.code()),
    };
    field_error(field, message)
}

/// After a change: HTMX swaps the whole page's main part in (the status, timeline and panels all
/// change); a plain form gets `303 See Other` to the page.
fn changed(request: &HttpRequest, id: i64) -> HttpResponse {
    let path = format!("/incident/{id}/");
    if is_htmx(request) {
        let location =
            serde_json::json!({"path": path, "target": "#main", "select": "#main", "swap": "outerHTML"});
        HttpResponse::Ok().insert_header(("HX-Location", location.to_string())).finish()
    } else {
        HttpResponse::SeeOther().insert_header((header::LOCATION, path)).finish()
    }
}

/// A refused form: its panel alone for HTMX (200, so it is swapped in), else the page (422).
/// What every form posted about an incident starts with: the visitor (CSRF checked with `token`),
/// allowed to do `action` to `resource`, and the incident's page data (not found when they may not
/// see it).
async fn incident_form(
    request: &HttpRequest,
    state: &web::Data<State>,
    id: IncidentId,
    token: Option<&str>,
    (action, resource, what): (Action, incidents_core::access::Resource, &str),
) -> Result<(Visitor, Loaded), PageError> {
    let visitor = visitor(request, state, token).await?;
    visitor.require_on(action, resource, what)?;
    let loaded = load(state, &visitor, id).await?;
    Ok((visitor, loaded))
}

/// Changing an incident.
const CHANGE: (Action, incidents_core::access::Resource, &str) =
    (Action::Change, incidents_core::access::Resource::Incident, "update incidents");

/// A form's fields as pairs, and its CSRF token.
fn pairs_of(body: &[u8]) -> Result<Vec<(String, String)>, PageError> {
    crate::render::form(body)
}

fn token_of(pairs: &[(String, String)]) -> Option<&str> {
    pairs.iter().find(|(key, _)| key == "csrf_token").map(|(_, value)| value.as_str())
}

fn refused(
    request: &HttpRequest,
    state: &State,
    visitor: &Visitor,
    loaded: &Loaded,
    update: UpdatePanel,
    key_events: KeyEventsPanel,
    panel: &dyn Fn(&UpdatePanel, &KeyEventsPanel) -> Result<HttpResponse, PageError>,
) -> Result<HttpResponse, PageError> {
    if is_htmx(request) {
        return panel(&update, &key_events);
    }
    unprocessable(&incident_page(state, visitor, loaded, update, key_events))
}

/// A page re-rendered with a form's errors.
fn unprocessable(page: &IncidentPage) -> Result<HttpResponse, PageError> {
    let mut response = html(page)?;
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(response)
}

async fn update(
    request: HttpRequest,
    state: web::Data<State>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let id = IncidentId(id.into_inner());
        let fields: UpdateFields = crate::render::form(&body)?;
        let (visitor, loaded) = incident_form(&request, &state, id, Some(&fields.csrf_token), CHANGE).await?;
        let incident = &loaded.incident;
        let mut errors = Vec::new();
        let status = match fields.status.parse::<i32>().ok().map(IncidentStatus::from_value) {
            Some(Ok(status)) => Some(status).filter(|s| *s != incident.status),
            None if fields.status.is_empty() => None,
            _ => {
                errors.push(field_error("status", "Select a valid status."));
                None
            }
        };
        let closure_reason = match fields.closure_reason.as_str() {
            "" => None,
            reason => match ClosureReason::parse(reason) {
                Ok(reason) => Some(reason),
                Err(_) => {
                    errors.push(field_error("closure_reason", "Select a valid closure reason."));
                    None
                }
            },
        };
        if errors.is_empty() {
            let command = UpdateIncident {
                message: Some(fields.message.clone()).filter(|m| !m.trim().is_empty()),
                status,
                priority_id: Some(fields.priority_id.clone())
                    .filter(|p| !p.is_empty() && *p != incident.priority.id),
                category_id: Some(fields.incident_category_id.clone())
                    .filter(|c| !c.is_empty() && *c != incident.category.id),
                closure_reason: closure_reason.filter(|_| status == Some(IncidentStatus::Closed)),
                closure_reference: Some(fields.closure_reference.clone()).filter(|r| !r.trim().is_empty()),
                ..UpdateIncident::default()
            };
            let lifecycle = state.context.lifecycle.clone();
            let actor = Actor { user: visitor.principal.user.id, entry_point: EntryPoint::Web };
            match web::block(move || lifecycle.update(actor, id, &command)).await? {
                Ok(_) => return Ok(changed(&request, id.0)),
                Err(LifecycleError::Storage(error)) => return Err(PageError::internal(&error)),
                Err(error) => errors.push(refusal(&error)),
            }
        }
        let choice =
            |value: &str| vec![Choice { value: value.to_owned(), label: String::new(), selected: true }];
        let form = UpdateForm {
            statuses: choice(&fields.status),
            priorities: choice(&fields.priority_id),
            categories: vec![(String::new(), choice(&fields.incident_category_id))],
            closure_reasons: choice(&fields.closure_reason),
            message: fields.message.clone(),
            closure_reference: fields.closure_reference.clone(),
            errors,
            notice: None,
        };
        let panel = update_panel(&loaded, &visitor.csrf, form);
        let key_events =
            key_events_panel(&loaded, &visitor, state.context.config.time_zone, Vec::new(), None);
        refused(&request, &state, &visitor, &loaded, panel, key_events, &|update, _| html(update))
    }
    .await;
    respond(&request, result)
}

async fn key_events(
    request: HttpRequest,
    state: web::Data<State>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let id = IncidentId(id.into_inner());
        let pairs = pairs_of(&body)?;
        let (visitor, loaded) = incident_form(&request, &state, id, token_of(&pairs), CHANGE).await?;
        let tz = state.context.config.time_zone;
        let mut errors = Vec::new();
        let mut changes: Vec<(String, Option<NaiveDateTime>)> = Vec::new();
        for kind in loaded.key_event_types.iter().filter(|kind| kind.user_editable && kind.asked_for) {
            let Some((_, raw)) = pairs.iter().find(|(k, _)| *k == kind.event_type) else { continue };
            let current = loaded.key_events.get(&kind.event_type).copied();
            let chosen = if raw.trim().is_empty() {
                None
            } else {
                match NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M")
                    .ok()
                    .and_then(|local| tz.from_local_datetime(&local).earliest())
                {
                    Some(at) => Some(at.naive_utc()),
                    None => {
                        errors.push(field_error(&kind.event_type, "Enter a valid date and time."));
                        continue;
                    }
                }
            };
            // The form shows minutes: a value equal to the minute is no change.
            let same = match (current, chosen) {
                (Some(current), Some(chosen)) => local_input(current, tz) == local_input(chosen, tz),
                (None, None) => true,
                _ => false,
            };
            if !same {
                changes.push((kind.event_type.clone(), chosen));
            }
        }
        if errors.is_empty() && !changes.is_empty() {
            let lifecycle = state.context.lifecycle.clone();
            let actor = Actor { user: visitor.principal.user.id, entry_point: EntryPoint::Web };
            match web::block(move || lifecycle.set_key_events(actor, id, &changes)).await? {
                Ok(()) | Err(LifecycleError::NothingToUpdate) => return Ok(changed(&request, id.0)),
                Err(LifecycleError::Storage(error)) => return Err(PageError::internal(&error)),
                Err(LifecycleError::Invalid { field, message, code }) => {
                    // `field` names the key event when it can: the error shows beside it.
                    errors.push(field_error(field, format!("{message} ({code})")));
                }
                Err(error) => errors.push(refusal(&error)),
            }
        } else if errors.is_empty() {
            return Ok(changed(&request, id.0));
        }
        let panel = key_events_panel(&loaded, &visitor, tz, errors, None);
        let update = update_panel(&loaded, &visitor.csrf, UpdateForm::default());
        refused(&request, &state, &visitor, &loaded, update, panel, &|_, key_events| html(key_events))
    }
    .await;
    respond(&request, result)
}

/// A refused roles or cost form: the page with the errors (422).
fn refused_page(
    state: &State,
    visitor: &Visitor,
    loaded: &Loaded,
    edit: impl FnOnce(&mut IncidentPage),
) -> Result<HttpResponse, PageError> {
    let tz = state.context.config.time_zone;
    let update = update_panel(loaded, &visitor.csrf, UpdateForm::default());
    let key_events = key_events_panel(loaded, visitor, tz, Vec::new(), None);
    let mut page = incident_page(state, visitor, loaded, update, key_events);
    edit(&mut page);
    unprocessable(&page)
}

async fn roles(
    request: HttpRequest,
    state: web::Data<State>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let id = IncidentId(id.into_inner());
        let pairs = pairs_of(&body)?;
        let (visitor, loaded) = incident_form(&request, &state, id, token_of(&pairs), CHANGE).await?;
        let mut errors = Vec::new();
        let mut wanted: Vec<(String, Option<incidents_core::Email>)> = Vec::new();
        for kind in &loaded.role_types {
            let Some((_, raw)) = pairs.iter().find(|(k, _)| *k == kind.slug) else { continue };
            let raw = raw.trim();
            let current =
                loaded.incident.roles.iter().find(|r| r.slug == kind.slug).map(|r| r.user.email.clone());
            if current.as_deref().unwrap_or_default().eq_ignore_ascii_case(raw) {
                continue;
            }
            if raw.is_empty() {
                wanted.push((kind.slug.clone(), None));
                continue;
            }
            match incidents_core::Email::parse(raw) {
                Ok(email) => wanted.push((kind.slug.clone(), Some(email))),
                Err(_) => errors.push(field_error(&kind.slug, "Enter a valid e-mail address.")),
            }
        }
        if errors.is_empty() && !wanted.is_empty() {
            let (database, lifecycle) = (state.context.database.clone(), state.context.lifecycle.clone());
            let actor = Actor { user: visitor.principal.user.id, entry_point: EntryPoint::Web };
            let outcome = web::block(move || -> Result<Result<(), Vec<FieldError>>, PageError> {
                use incidents_core::UserRepository as _;
                let mut changes = Vec::new();
                let mut unknown = Vec::new();
                for (slug, email) in wanted {
                    match email {
                        None => changes.push((slug, None)),
                        Some(email) => match database.find_user_by_email(&email)? {
                            Some(user) => changes.push((slug, Some(user.id))),
                            None => unknown.push(field_error(
                                &slug,
                                format!("No user has the address {}.", email.as_str()),
                            )),
                        },
                    }
                }
                if !unknown.is_empty() {
                    return Ok(Err(unknown));
                }
                match lifecycle.set_roles(actor, id, &changes) {
                    Ok(()) | Err(LifecycleError::NothingToUpdate) => Ok(Ok(())),
                    Err(LifecycleError::Storage(error)) => Err(PageError::internal(&error)),
                    Err(LifecycleError::Invalid { field, message, code }) => {
                        let field = changes
                            .iter()
                            .find(|(slug, _)| field.contains(slug.as_str()))
                            .map_or("", |(slug, _)| slug.as_str());
                        Ok(Err(vec![field_error(field, format!("{message} ({code})"))]))
                    }
                    Err(error) => Ok(Err(vec![refusal(&error)])),
                }
            })
            .await??;
            match outcome {
                Ok(()) => return Ok(changed(&request, id.0)),
                Err(refusals) => errors.extend(refusals),
            }
        } else if errors.is_empty() {
            return Ok(changed(&request, id.0));
        }
        refused_page(&state, &visitor, &loaded, |page| {
            for field in &mut page.role_fields {
                if let Some((_, typed)) = pairs.iter().find(|(k, _)| *k == field.slug) {
                    field.email.clone_from(typed);
                }
            }
            page.role_errors = errors;
        })
    }
    .await;
    respond(&request, result)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CostFields {
    csrf_token: String,
    cost_type_id: String,
    amount: String,
    currency: String,
    details: String,
}

async fn add_cost(
    request: HttpRequest,
    state: web::Data<State>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let id = IncidentId(id.into_inner());
        let fields: CostFields = crate::render::form(&body)?;
        let allowed = (Action::Add, incidents_core::access::Resource::IncidentCost, "add costs");
        let (visitor, loaded) =
            incident_form(&request, &state, id, Some(&fields.csrf_token), allowed).await?;
        let mut errors = Vec::new();
        let amount = match fields.amount.trim() {
            "" => None,
            raw => match raw.replace(',', ".").parse::<incidents_core::Amount>() {
                Ok(amount) => Some(amount),
                Err(_) => {
                    errors.push(field_error("amount", "Enter an amount such as 1250.00."));
                    None
                }
            },
        };
        let cost_type_id = fields.cost_type_id.parse::<i64>().unwrap_or_default();
        if errors.is_empty() {
            let input = incidents_core::incident::CostInput {
                cost_type_id,
                amount,
                currency: Some(fields.currency.trim().to_uppercase()).filter(|c| !c.is_empty()),
                details: Some(fields.details.trim().to_owned()).filter(|d| !d.is_empty()),
            };
            let lifecycle = state.context.lifecycle.clone();
            let actor = Actor { user: visitor.principal.user.id, entry_point: EntryPoint::Web };
            match web::block(move || lifecycle.add_cost(actor, id, input)).await? {
                Ok(_) => return Ok(changed(&request, id.0)),
                Err(LifecycleError::Storage(error)) => return Err(PageError::internal(&error)),
                Err(LifecycleError::Invalid { field, message, code }) => {
                    let field = if field == "amount" { "amount" } else { "" };
                    errors.push(field_error(field, format!("{message} ({code})")));
                }
                Err(error) => errors.push(refusal(&error)),
            }
        }
        refused_page(&state, &visitor, &loaded, |page| page.cost_errors = errors)
    }
    .await;
    respond(&request, result)
}

pub(crate) fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.to_owned(), message: message.into() }
}
