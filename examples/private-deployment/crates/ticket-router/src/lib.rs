//! ACME's ticket router: every declared incident is routed to the support queue that owns it, by
//! its category. Written as any FireFighter integration is, from outside FireFighter's workspace:
//! a configuration section, a table of its own, a job reacting to `incident_created`, a route, a
//! command and an incident facet, all through `firefighter_platform::Integration`.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use firefighter_incidents_core::facets::{Facet, FacetMap, FacetSource};
use firefighter_incidents_core::query::IncidentQueries;
use firefighter_incidents_core::{DomainEvent, IncidentId, RepositoryError};
use firefighter_jobs::{Job, JobError, OutboxEvent, Registry};
use firefighter_platform::clap as clap_command;
use firefighter_platform::{ConfigReader, Context, Integration};
use firefighter_storage::{Database, MigrationSet, repository_error};
use serde::{Deserialize, Serialize};

static SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
static POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

diesel::table! {
    acme_ticket_routes (incident_id) {
        incident_id -> BigInt,
        queue -> Text,
        routed_at -> Timestamp,
    }
}

/// Routing rules: the first keyword found in the category's name (lower case) gives the queue.
#[derive(Debug, Clone, Default)]
pub struct TicketRouter {
    /// `ACME_ROUTER_DEFAULT_QUEUE` (default `support`).
    default_queue: String,
    /// `ACME_ROUTER_RULES`: `keyword=queue,keyword=queue`.
    rules: Vec<(String, String)>,
}

impl TicketRouter {
    /// The queue of an incident of this category.
    #[must_use]
    pub fn queue_for(&self, category: &str) -> &str {
        let category = category.to_lowercase();
        self.rules
            .iter()
            .find(|(keyword, _)| category.contains(keyword.as_str()))
            .map_or(self.default_queue.as_str(), |(_, queue)| queue.as_str())
    }
}

fn parse_queue(raw: &str) -> Result<String, String> {
    let valid = !raw.is_empty() && raw.len() <= 64 && raw.chars().all(|c| c.is_ascii_lowercase() || c == '-');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!("'{raw}' is not a queue name (lower-case letters and -)"))
    }
}

fn parse_rules(raw: &str) -> Result<Vec<(String, String)>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|rule| !rule.is_empty())
        .map(|rule| {
            let (keyword, queue) =
                rule.split_once('=').ok_or_else(|| format!("'{rule}' is not keyword=queue"))?;
            Ok((keyword.trim().to_lowercase(), parse_queue(queue.trim())?))
        })
        .collect()
}

/// Routes one incident (idempotent: routing again writes the same row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteIncident {
    pub incident_id: i64,
}

impl Job for RouteIncident {
    const NAME: &'static str = "ticket_router.route";
    const QUEUE: &'static str = "ticket_router";
    fn idempotency_key(&self) -> String {
        format!("route:{}", self.incident_id)
    }
}

/// Records (or replaces) an incident's queue.
///
/// # Errors
/// A storage failure.
pub fn record_route(database: &Database, incident: i64, queue: &str) -> Result<(), RepositoryError> {
    let mut conn = database.connection()?;
    let now = firefighter_incidents_core::clock::now();
    conn.transaction(|conn| {
        diesel::delete(acme_ticket_routes::table.find(incident)).execute(conn)?;
        diesel::insert_into(acme_ticket_routes::table)
            .values((
                acme_ticket_routes::incident_id.eq(incident),
                acme_ticket_routes::queue.eq(queue),
                acme_ticket_routes::routed_at.eq(now),
            ))
            .execute(conn)
            .map(drop)
    })
    .map_err(repository_error)
}

/// The queues of these incidents.
///
/// # Errors
/// A storage failure.
pub fn queues_of(database: &Database, incidents: &[i64]) -> Result<Vec<(i64, String)>, RepositoryError> {
    let mut conn = database.connection()?;
    acme_ticket_routes::table
        .filter(acme_ticket_routes::incident_id.eq_any(incidents))
        .select((acme_ticket_routes::incident_id, acme_ticket_routes::queue))
        .load(&mut *conn)
        .map_err(repository_error)
}

struct RouteFacets {
    database: Database,
}

impl FacetSource for RouteFacets {
    fn facets(&self, incidents: &[IncidentId]) -> Result<FacetMap, RepositoryError> {
        let ids: Vec<i64> = incidents.iter().map(|id| id.0).collect();
        Ok(queues_of(&self.database, &ids)?
            .into_iter()
            .map(|(id, queue)| {
                let facet = Facet {
                    integration: "ticket_router".into(),
                    kind: "support_queue".into(),
                    label: queue.clone(),
                    url: Some(format!("https://support.acme.example/queues/{queue}")),
                    value: Some(queue),
                };
                (IncidentId(id), vec![facet])
            })
            .collect())
    }
}

impl Integration for TicketRouter {
    fn name(&self) -> &'static str {
        "ticket_router"
    }

    fn read_config(&mut self, env: &mut ConfigReader<'_>) {
        self.default_queue = env.parse("ACME_ROUTER_DEFAULT_QUEUE", "support".to_owned(), parse_queue);
        self.rules = env.parse("ACME_ROUTER_RULES", Vec::new(), parse_rules);
    }

    fn migrations(&self) -> Option<MigrationSet> {
        Some(MigrationSet { name: "ticketrouter", sqlite: &SQLITE, postgres: &POSTGRES })
    }

    fn register_jobs(&self, context: &Context, registry: &mut Registry) -> anyhow::Result<()> {
        let (database, router) = (context.database.clone(), self.clone());
        registry.register(move |job: RouteIncident, _attempt| {
            let retry = |error: RepositoryError| JobError::Retryable(error.to_string());
            let Some(incident) = database.incident(IncidentId(job.incident_id)).map_err(retry)? else {
                return Ok(());
            };
            let queue = router.queue_for(&incident.category.name);
            record_route(&database, job.incident_id, queue).map_err(retry)?;
            tracing::info!(incident = job.incident_id, queue, "incident routed");
            Ok(())
        })?;
        registry.on_event(|event: &OutboxEvent| match (event.decode(), event.incident_id) {
            (Ok(DomainEvent::IncidentCreated(_)), Some(incident_id)) => vec![RouteIncident { incident_id }],
            _ => Vec::new(),
        });
        Ok(())
    }

    fn http_scope(&self) -> Option<&'static str> {
        Some("/acme")
    }

    fn routes(&self, context: &Context, routes: &mut web::ServiceConfig) {
        let database = context.database.clone();
        routes.route(
            "/routes/{id}",
            web::get().to(move |id: web::Path<i64>| {
                let database = database.clone();
                async move {
                    let id = id.into_inner();
                    match web::block(move || queues_of(&database, &[id])).await {
                        Ok(Ok(found)) => match found.first() {
                            Some((_, queue)) => HttpResponse::Ok()
                                .json(serde_json::json!({"incident_id": id, "queue": queue})),
                            None => HttpResponse::NotFound().json(serde_json::json!({"error": "not routed"})),
                        },
                        _ => HttpResponse::ServiceUnavailable().finish(),
                    }
                }
            }),
        );
    }

    fn commands(&self) -> Vec<clap_command::Command> {
        vec![
            clap_command::Command::new("reroute")
                .about("Send an incident to another support queue")
                .arg(clap_command::arg!(--incident <ID> "The incident").required(true))
                .arg(clap_command::arg!(--queue <QUEUE> "The queue").required(true)),
        ]
    }

    fn run_command(
        &self,
        context: &Context,
        _name: &str,
        matches: &clap_command::ArgMatches,
    ) -> anyhow::Result<()> {
        let incident: i64 = matches.get_one::<String>("incident").map_or("", String::as_str).parse()?;
        let queue = parse_queue(matches.get_one::<String>("queue").map_or("", String::as_str))
            .map_err(|message| anyhow::anyhow!("--queue: {message}"))?;
        record_route(&context.database, incident, &queue)?;
        Ok(())
    }

    fn facets(&self, context: &Context) -> Option<Arc<dyn FacetSource>> {
        Some(Arc::new(RouteFacets { database: context.database.clone() }))
    }
}
