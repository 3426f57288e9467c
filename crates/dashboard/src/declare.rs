//! `/incident/create/`: declaring an incident. Its business impacts give its priority (the rule every
//! entry point shares: the most severe level wins), shown live as they are chosen
//! (`/incident/create/priority/`, an HTMX fragment); or, the original's short form, a priority chosen
//! directly. Without JavaScript the form posts as it is and the server derives the same priority.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use dashboard_templates::{Choice, CreatePage, FieldError, ImpactField, PriorityPreview};
use incidents_core::access::Action;
use incidents_core::incident::{DeclareIncident, PriorityChoice};
use incidents_core::query::{ImpactTypeView, IncidentQueries as _, PriorityView};
use incidents_core::{Actor, EntryPoint, ImpactLevelCode, LifecycleError, priority_value_from_impacts};
use serde::Deserialize;

use crate::State;
use crate::pages::{field_error, grouped};
use crate::render::{PageError, Visitor, html, respond, visitor};

/// The prefix of an impact field: `impact_<impact type id>` = the chosen level's id.
const IMPACT_FIELD: &str = "impact_";

/// The declaration form's fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateForm {
    csrf_token: String,
    title: String,
    description: String,
    /// Empty: from the impacts.
    priority_id: String,
    incident_category_id: String,
    environment_id: String,
    private: Option<String>,
    /// `impact_<type id>` = level id, and anything else the form sent.
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

impl CreateForm {
    /// The chosen impact levels, by impact type id.
    fn impacts(&self) -> HashMap<i64, String> {
        self.rest
            .iter()
            .filter_map(|(key, level)| {
                let kind = key.strip_prefix(IMPACT_FIELD)?.parse().ok()?;
                (!level.is_empty()).then(|| (kind, level.clone()))
            })
            .collect()
    }
}

/// What the chosen impacts give: the priority, or why there is none.
fn derive(
    types: &[ImpactTypeView],
    priorities: &[PriorityView],
    chosen: &HashMap<i64, String>,
) -> Result<PriorityView, String> {
    let mut codes = Vec::new();
    for kind in types {
        let Some(level) = chosen.get(&kind.id) else { continue };
        let level = kind
            .levels
            .iter()
            .find(|l| l.id == *level)
            .ok_or_else(|| format!("Choose one of the levels offered for {}.", kind.name))?;
        codes.push(ImpactLevelCode::parse(&level.value).map_err(|error| error.to_string())?);
    }
    let value = priority_value_from_impacts(codes)
        .map_err(|_| "Choose at least one impact above \"no impact\", or a priority.".to_owned())?;
    priorities
        .iter()
        .find(|p| p.value == value)
        .cloned()
        .ok_or_else(|| format!("No priority with value {value} is configured."))
}

fn preview(derived: &Result<PriorityView, String>) -> PriorityPreview {
    match derived {
        Ok(p) => PriorityPreview {
            priority: format!("{} {} - {}", p.emoji, p.name, p.description).trim().to_owned(),
            problem: String::new(),
        },
        Err(problem) => PriorityPreview { priority: String::new(), problem: problem.clone() },
    }
}

struct Data {
    priorities: Vec<PriorityView>,
    environments: Vec<incidents_core::query::EnvironmentView>,
    categories: Vec<incidents_core::query::CategoryView>,
    impact_types: Vec<ImpactTypeView>,
}

async fn data(state: &State) -> Result<Data, PageError> {
    let database = state.context.database.clone();
    Ok(web::block(move || -> Result<_, incidents_core::RepositoryError> {
        Ok(Data {
            priorities: database.priorities()?,
            environments: database.environments()?,
            categories: database.categories(None)?,
            impact_types: database.impact_types()?,
        })
    })
    .await??)
}

fn create_page(
    state: &State,
    visitor: &Visitor,
    data: &Data,
    form: &CreateForm,
    errors: Vec<FieldError>,
) -> CreatePage {
    let fresh = form.title.is_empty() && form.csrf_token.is_empty();
    let chosen = form.impacts();
    CreatePage {
        layout: visitor.layout(state, "Declare an incident", "create"),
        title: form.title.clone(),
        description: form.description.clone(),
        from_impacts: form.priority_id.is_empty(),
        priorities: data
            .priorities
            .iter()
            .filter(|p| p.enabled_create)
            .map(|p| Choice {
                value: p.id.clone(),
                label: format!("{} {} - {}", p.emoji, p.name, p.description),
                selected: p.id == form.priority_id,
            })
            .collect(),
        impacts: data
            .impact_types
            .iter()
            .map(|kind| {
                let selected = chosen.get(&kind.id);
                ImpactField {
                    field: format!("{IMPACT_FIELD}{}", kind.id),
                    name: kind.name.clone(),
                    help: kind.help_text.clone(),
                    choices: kind
                        .levels
                        .iter()
                        .map(|level| Choice {
                            value: level.id.clone(),
                            label: level_label(level),
                            selected: selected
                                .map_or(level.value == ImpactLevelCode::NoImpact.code(), |id| {
                                    *id == level.id
                                }),
                        })
                        .collect(),
                }
            })
            .collect(),
        preview: if fresh || chosen.is_empty() {
            PriorityPreview::default()
        } else {
            preview(&derive(&data.impact_types, &data.priorities, &chosen))
        },
        environments: data
            .environments
            .iter()
            .map(|e| Choice {
                value: e.id.clone(),
                label: format!("{} - {}", e.value, e.description),
                selected: if fresh { e.default } else { e.id == form.environment_id },
            })
            .collect(),
        categories: grouped(&data.categories, std::slice::from_ref(&form.incident_category_id)),
        private: form.private.is_some(),
        errors,
    }
}

fn level_label(level: &incidents_core::query::ImpactLevelView) -> String {
    let generic =
        ImpactLevelCode::parse(&level.value).map_or_else(|_| level.value.clone(), |c| c.label().to_owned());
    match level.name.as_deref().map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) if name != generic => format!("{} {generic}: {name}", level.emoji),
        _ => format!("{} {generic}", level.emoji),
    }
    .trim()
    .to_owned()
}

/// `GET /incident/create/`.
pub(crate) async fn create_form(request: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        visitor.require(Action::Add, "declare incidents")?;
        let data = data(&state).await?;
        html(&create_page(&state, &visitor, &data, &CreateForm::default(), Vec::new()))
    }
    .await;
    respond(&request, result)
}

/// `GET /incident/create/priority/?impact_<type>=<level>…`: the priority the impacts give, as the
/// fragment the form shows under them.
pub(crate) async fn priority(request: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        visitor.require(Action::Add, "declare incidents")?;
        let form: CreateForm = serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
        let data = data(&state).await?;
        html(&preview(&derive(&data.impact_types, &data.priorities, &form.impacts())))
    }
    .await;
    respond(&request, result)
}

/// `POST /incident/create/`: declares, then shows the incident (303); the form again with its errors
/// on their fields (422) otherwise.
pub(crate) async fn create(request: HttpRequest, state: web::Data<State>, body: web::Bytes) -> HttpResponse {
    let result = async {
        let form: CreateForm = crate::render::form(&body)?;
        let visitor = visitor(&request, &state, Some(&form.csrf_token)).await?;
        visitor.require(Action::Add, "declare incidents")?;
        let data = data(&state).await?;
        let mut errors = Vec::new();
        for (field, value, label) in [
            ("incident_category_id", &form.incident_category_id, "Choose a category."),
            ("environment_id", &form.environment_id, "Choose an environment."),
        ] {
            if value.trim().is_empty() {
                errors.push(field_error(field, label));
            }
        }
        if form.title.trim().chars().count() < 10 {
            errors.push(field_error("title", "At least 10 characters."));
        }
        if form.description.trim().chars().count() < 10 {
            errors.push(field_error("description", "At least 10 characters."));
        }
        let priority = if form.priority_id.is_empty() {
            // Checked here too, to show the reason on the impacts before anything else is sent.
            let chosen = form.impacts();
            match derive(&data.impact_types, &data.priorities, &chosen) {
                Ok(_) => {
                    let mut levels: Vec<String> = chosen.into_values().collect();
                    levels.sort();
                    Some(PriorityChoice::FromImpacts(levels))
                }
                Err(problem) => {
                    errors.push(field_error("impacts", problem));
                    None
                }
            }
        } else {
            Some(PriorityChoice::Given(form.priority_id.clone()))
        };
        if let (true, Some(priority)) = (errors.is_empty(), priority) {
            let command = DeclareIncident {
                title: form.title.trim().to_owned(),
                description: form.description.trim().to_owned(),
                priority,
                category_id: form.incident_category_id.clone(),
                environment_id: form.environment_id.clone(),
                private: form.private.as_ref().map(|_| true),
                dedup_key: None,
                ignored: false,
                custom_fields: serde_json::Map::new(),
                created_by: None,
            };
            let lifecycle = state.context.lifecycle.clone();
            let actor = Actor { user: visitor.principal.user.id, entry_point: EntryPoint::Web };
            match web::block(move || lifecycle.declare(actor, &command)).await? {
                Ok(declared) => {
                    let location = format!("/incident/{}/", declared.id().0);
                    return Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish());
                }
                Err(LifecycleError::Invalid { field, message, code }) => {
                    let field = if field == "category_id" { "incident_category_id" } else { field };
                    errors.push(field_error(field, format!("{message} ({code})")));
                }
                Err(LifecycleError::Storage(error)) => return Err(PageError::internal(&error)),
                Err(error) => errors.push(field_error("", format!("{error} ({})", error.code()))),
            }
        }
        let mut response = html(&create_page(&state, &visitor, &data, &form, errors))?;
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        Ok(response)
    }
    .await;
    respond(&request, result)
}
