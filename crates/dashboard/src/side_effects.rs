//! An incident's failed side effects, for staff: the jobs of its events that failed and are not done
//! (a Slack message, a webhook, a ticket …), with their last error, and a retry for the dead ones.
//! The retry is the API's `POST /jobs/{id}/retry`, scoped to the incident and audited. Also the
//! integrations' operations on an incident (`platform::actions`), for staff.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use dashboard_templates::FailedJob;
use incidents_core::EntryPoint;
use jobs::{JobAdmin as _, JobRecord};
use serde::Deserialize;

use crate::State;
use crate::render::{PageError, respond, visitor};

/// How many failures an incident page lists.
pub(crate) const SHOWN: i64 = 50;

/// The longest error shown; the API has the whole of it.
const ERROR_CHARS: usize = 300;

pub(crate) fn rows(jobs: &[JobRecord], tz: chrono_tz::Tz) -> Vec<FailedJob> {
    jobs.iter()
        .map(|job| {
            let error = job.last_error.clone().unwrap_or_default();
            let error = if error.chars().count() > ERROR_CHARS {
                format!("{}…", error.chars().take(ERROR_CHARS).collect::<String>())
            } else {
                error
            };
            let dead = job.state == "dead";
            FailedJob {
                id: job.id,
                name: job.name.clone(),
                state: job.state.clone(),
                attempts: job.attempts,
                error,
                next_attempt: if dead { String::new() } else { crate::pages::date(job.run_at, tz) },
                dead,
            }
        })
        .collect()
}

/// Gives a dead job a new series of attempts, audited as `job.retry` (from an incident's page, or
/// the back-office's jobs); one that is not dead is refused with its state.
pub(crate) fn retry_dead(
    database: &storage::Database,
    job: &JobRecord,
    actor: incidents_core::UserId,
    incident: Option<i64>,
) -> Result<(), PageError> {
    if !database.retry_dead(job.id, incidents_core::clock::now())? {
        return Err(PageError::BadRequest(format!(
            "Job {} is {}, not dead: it runs again on its own.",
            job.id, job.state
        )));
    }
    database.record_audit(
        Some(actor),
        EntryPoint::Web,
        ("job.retry", "job", &job.id.to_string()),
        &serde_json::json!({"incident_id": incident, "name": job.name}),
    )?;
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RetryForm {
    csrf_token: String,
}

/// `POST /incident/<id>/jobs/<job>/retry/`: staff give a dead job of this incident a new series of
/// attempts, then see the incident page again.
pub(crate) async fn retry(
    request: HttpRequest,
    state: web::Data<State>,
    path: web::Path<(i64, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (incident, job) = path.into_inner();
        let form: RetryForm = crate::render::form(&body)?;
        let visitor = visitor(&request, &state, Some(&form.csrf_token)).await?;
        let user = &visitor.principal.user;
        if !(user.is_staff || user.is_superuser) {
            return Err(PageError::Forbidden("Only staff retry failed side effects.".to_owned()));
        }
        let (database, actor) = (state.context.database.clone(), user.id);
        web::block(move || -> Result<(), PageError> {
            // Only a job of this incident's events: the URL names both.
            let failures = database.failed_for_incident(incident, SHOWN)?;
            let Some(found) = failures.iter().find(|candidate| candidate.id == job) else {
                return Err(PageError::NotFound);
            };
            retry_dead(&database, found, actor, Some(incident))
        })
        .await??;
        tracing::info!(job, incident, user = %visitor.principal.user.email, "dead job retried from the dashboard");
        Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, format!("/incident/{incident}/"))).finish())
    }
    .await;
    respond(&request, result)
}

/// `POST /incident/<id>/actions/<integration>/<name>/`: staff run an integration's operation on the
/// incident (link a Jira issue …), then see the incident page again. Audited.
pub(crate) async fn action(
    request: HttpRequest,
    state: web::Data<State>,
    path: web::Path<(i64, String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (incident, integration, name) = path.into_inner();
        let mut fields: std::collections::BTreeMap<String, String> = crate::render::form(&body)?;
        let csrf = fields.remove("csrf_token").unwrap_or_default();
        let visitor = visitor(&request, &state, Some(&csrf)).await?;
        let user = &visitor.principal.user;
        if !(user.is_staff || user.is_superuser) {
            return Err(PageError::Forbidden("Only staff run the integrations' operations.".to_owned()));
        }
        let Some(action) = state.context.actions.find(&integration, &name).cloned() else {
            return Err(PageError::NotFound);
        };
        let (database, user_id) = (state.context.database.clone(), user.id);
        let id = incidents_core::IncidentId(incident);
        let said = web::block(move || -> Result<String, PageError> {
            use incidents_core::query::IncidentQueries as _;
            database.incident(id)?.ok_or(PageError::NotFound)?;
            let actor = incidents_core::Actor { user: user_id, entry_point: EntryPoint::Web };
            let said = (action.run)(id, &fields, actor).map_err(|error| match error {
                platform::actions::ActionError::Invalid(message) => PageError::BadRequest(message),
                platform::actions::ActionError::Failed(message) => PageError::internal(&message),
            })?;
            database.record_audit(
                Some(user_id),
                EntryPoint::Web,
                ("incident.action", "incident", &incident.to_string()),
                &serde_json::json!({"integration": action.integration, "action": action.name, "fields": fields}),
            )?;
            Ok(said)
        })
        .await??;
        tracing::info!(incident, %integration, %name, user = %visitor.principal.user.email, %said, "incident action from the dashboard");
        Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, format!("/incident/{incident}/"))).finish())
    }
    .await;
    respond(&request, result)
}
