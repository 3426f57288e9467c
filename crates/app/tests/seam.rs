//! The seam, proven from outside the workspace's crates: an integration defined here, in a test,
//! adds a configuration variable, its own table, a job reacting to `incident_created`, a route, a CLI
//! subcommand and an incident facet, through `AppBuilder::integration` alone, on every backend.
#![expect(clippy::expect_used, reason = "test")]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use firefighter_app::{AppBuilder, Application};
use incidents_core::access::AccessRepository;
use incidents_core::facets::{Facet, FacetMap, FacetSource};
use incidents_core::{DomainEvent, Email, IncidentId, NewUser, RepositoryError, UserRepository};
use jobs::{Job, JobError, Registry};
use platform::{ConfigReader, Context, Integration};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storage::testing::TestDatabase;
use storage::{Database, MigrationSet};

static SQLITE: EmbeddedMigrations = embed_migrations!("tests/echo_migrations/sqlite");
static POSTGRES: EmbeddedMigrations = embed_migrations!("tests/echo_migrations/postgres");

/// Remembers every declared incident in its own table; shows it back as a route and a facet.
#[derive(Debug, Default)]
struct Echo {
    greeting: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Remember {
    incident_id: i64,
    title: String,
    entry_point: String,
}

impl Job for Remember {
    const NAME: &'static str = "echo.remember";
    const QUEUE: &'static str = "echo";
    fn idempotency_key(&self) -> String {
        format!("echo:{}", self.incident_id)
    }
}

#[derive(QueryableByName)]
struct Seen {
    #[diesel(sql_type = BigInt)]
    incident_id: i64,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    entry_point: String,
}

fn seen(database: &Database, ids: &[i64]) -> Result<Vec<Seen>, RepositoryError> {
    let mut conn = database.connection()?;
    let list = ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    diesel::sql_query(format!(
        "SELECT incident_id, title, entry_point FROM echo_seen WHERE incident_id IN ({list})"
    ))
    .load(&mut conn)
    .map_err(storage::repository_error)
}

struct EchoFacets {
    database: Database,
    greeting: String,
}

impl FacetSource for EchoFacets {
    fn facets(&self, incidents: &[IncidentId]) -> Result<FacetMap, RepositoryError> {
        let ids: Vec<i64> = incidents.iter().map(|id| id.0).collect();
        Ok(seen(&self.database, &ids)?
            .into_iter()
            .map(|row| {
                let facet = Facet {
                    integration: "echo".into(),
                    kind: "echo".into(),
                    label: format!("{} {}", self.greeting, row.title),
                    url: Some(format!("https://echo.example.com/{}", row.incident_id)),
                    value: Some(row.entry_point),
                };
                (IncidentId(row.incident_id), vec![facet])
            })
            .collect())
    }
}

impl Integration for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn read_config(&mut self, env: &mut ConfigReader<'_>) {
        self.greeting = env.parse("ECHO_GREETING", "hello".to_owned(), |raw| {
            if raw.chars().all(char::is_alphabetic) {
                Ok(raw.to_owned())
            } else {
                Err(format!("'{raw}' is not a word"))
            }
        });
    }

    fn migrations(&self) -> Option<MigrationSet> {
        Some(MigrationSet { name: "echo", sqlite: &SQLITE, postgres: &POSTGRES })
    }

    fn register_jobs(&self, context: &Context, registry: &mut Registry) -> anyhow::Result<()> {
        let database = context.database.clone();
        registry.register(move |job: Remember, _attempt| {
            let mut conn = database.connection().map_err(|e| JobError::Retryable(e.to_string()))?;
            // Idempotent: a redelivered job finds its row.
            diesel::sql_query("DELETE FROM echo_seen WHERE incident_id = $1")
                .bind::<BigInt, _>(job.incident_id)
                .execute(&mut conn)
                .and_then(|_| {
                    diesel::sql_query(
                        "INSERT INTO echo_seen (incident_id, title, entry_point) VALUES ($1, $2, $3)",
                    )
                    .bind::<BigInt, _>(job.incident_id)
                    .bind::<Text, _>(&job.title)
                    .bind::<Text, _>(&job.entry_point)
                    .execute(&mut conn)
                })
                .map(drop)
                .map_err(|e| JobError::Retryable(e.to_string()))
        })?;
        registry.on_event(move |event: &jobs::OutboxEvent| {
            // Subscribers decode the typed event.
            let Ok(DomainEvent::IncidentCreated(created)) = event.decode() else { return Vec::new() };
            vec![Remember {
                incident_id: event.incident_id.unwrap_or_default(),
                title: created.title,
                entry_point: event.entry_point.clone().unwrap_or_default(),
            }]
        });
        Ok(())
    }

    fn http_scope(&self) -> Option<&'static str> {
        Some("/echo")
    }

    fn routes(&self, context: &Context, routes: &mut web::ServiceConfig) {
        let (database, greeting) = (context.database.clone(), self.greeting.clone());
        routes.service(web::resource("/{id}").route(web::get().to(move |id: web::Path<i64>| {
            let (database, greeting) = (database.clone(), greeting.clone());
            async move {
                let id = id.into_inner();
                match web::block(move || seen(&database, &[id])).await {
                    Ok(Ok(rows)) if !rows.is_empty() => {
                        HttpResponse::Ok().json(json!({"greeting": greeting, "title": rows[0].title}))
                    }
                    Ok(Ok(_)) => HttpResponse::NotFound().finish(),
                    _ => HttpResponse::InternalServerError().finish(),
                }
            }
        })));
    }

    fn commands(&self) -> Vec<clap::Command> {
        vec![
            clap::Command::new("echo-forget")
                .about("Forget an incident")
                .arg(clap::arg!(--incident <ID>).required(true)),
        ]
    }

    fn run_command(&self, context: &Context, _name: &str, matches: &clap::ArgMatches) -> anyhow::Result<()> {
        let id: i64 = matches.get_one::<String>("incident").expect("required").parse()?;
        let mut conn = context.database.connection()?;
        diesel::sql_query("DELETE FROM echo_seen WHERE incident_id = $1")
            .bind::<BigInt, _>(id)
            .execute(&mut conn)?;
        Ok(())
    }

    fn readiness(&self, context: &Context) -> Vec<platform::ReadinessCheck> {
        let database = context.database.clone();
        vec![platform::ReadinessCheck {
            name: "echo".into(),
            check: Arc::new(move || {
                let database = database.clone();
                Box::pin(async move {
                    match tokio::task::spawn_blocking(move || seen(&database, &[0])).await {
                        Ok(Ok(_)) => Ok(()),
                        _ => Err("echo_seen cannot be read".to_owned()),
                    }
                })
            }),
        }]
    }

    fn facets(&self, context: &Context) -> Option<Arc<dyn FacetSource>> {
        Some(Arc::new(EchoFacets { database: context.database.clone(), greeting: self.greeting.clone() }))
    }
}

fn builder() -> AppBuilder {
    AppBuilder::standard().integration(Echo::default())
}

fn vars(test: &TestDatabase, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let url = match &test.url {
        storage::DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
        storage::DatabaseUrl::Postgres { url } => url.clone(),
    };
    let mut vars: HashMap<String, String> = [
        ("HTTP_PORT", "0"),
        ("DATABASE_URL", url.as_str()),
        ("SECRET_KEY", "a-test-secret-key-of-32-characters!!"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    vars.insert("FF_DATA_DIR".into(), std::env::temp_dir().display().to_string());
    vars
}

#[test]
fn its_configuration_problems_are_reported_with_the_platforms() {
    let test = TestDatabase::sqlite();
    let error = builder()
        .configure(&vars(&test, &[("ECHO_GREETING", "not a word"), ("HTTP_PORT", "eighty")]))
        .expect_err("two problems");
    let lines: Vec<String> = error.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "HTTP_PORT: 'eighty' is not a port number (0-65535; 0 picks a free port)",
            "ECHO_GREETING: 'not a word' is not a word"
        ]
    );
    let twice = AppBuilder::new()
        .integration(Echo::default())
        .integration(Echo::default())
        .configure(&vars(&test, &[]));
    assert!(twice.expect_err("refused").to_string().contains("two integrations are named echo"));
}

#[tokio::test]
async fn an_outside_integration_adds_a_job_a_route_a_command_a_table_and_a_facet() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let user = test
            .database
            .create_user(&NewUser {
                email: Email::parse("echo@example.com").expect("email"),
                name: "Echo".into(),
                is_admin: true,
                password_hash: None,
            })
            .expect("user");
        let token = http_api::new_token();
        test.database.create_api_token(user.id, "test", &http_api::hash_token(&token), None).expect("token");
        let vars = vars(&test, &[("ECHO_GREETING", "hi")]);
        let app = builder().configure(&vars).expect("configuration");
        let application = Application::build(&app, test.database.clone()).expect("application");
        let base = format!("http://{}", application.address());
        let handle = application.handle();
        tokio::spawn(application.run_until(std::future::pending()));
        let client = reqwest::Client::new();

        let environment: String = {
            let mut conn = test.database.connection().expect("connection");
            use storage::schema::{environments, incident_categories, priorities};
            let environment = environments::table
                .filter(environments::value.eq("PRD"))
                .select(environments::id)
                .first::<String>(&mut conn)
                .expect("env");
            let category = incident_categories::table
                .select(incident_categories::id)
                .first::<String>(&mut conn)
                .expect("category");
            let priority = priorities::table
                .filter(priorities::value.eq(2))
                .select(priorities::id)
                .first::<String>(&mut conn)
                .expect("priority");
            json!([environment, category, priority]).to_string()
        };
        let [environment, category, priority]: [String; 3] = serde_json::from_str(&environment).expect("ids");
        let created: Value = client
            .post(format!("{base}/api/v2/firefighter/incidents"))
            .bearer_auth(&token)
            .json(&json!({"title": "Echoed", "description": "d", "environment_id": environment,
                "incident_category_id": category, "priority_id": priority, "created_by_email": "echo@example.com"}))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        let id = created["id"].as_i64().expect("id");

        // The job ran on the declared incident and wrote the integration's own table.
        let route = format!("{base}/echo/{id}");
        let deadline = Instant::now() + Duration::from_secs(15);
        let answer = loop {
            let response = client.get(&route).send().await.expect("request");
            if response.status() == 200 {
                break response.json::<Value>().await.expect("json");
            }
            assert!(Instant::now() < deadline, "the job did not run ({:?})", test.backend());
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(answer, json!({"greeting": "hi", "title": "Echoed"}));

        // The facet shows in the incident's representation (after the kept rendering expires).
        let incident = format!("{base}/api/v2/firefighter/incidents/{id}");
        let facet = json!({"integration": "echo", "kind": "echo", "label": "hi Echoed",
            "url": format!("https://echo.example.com/{id}"), "value": "api"});
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let shown: Value = client
                .get(&incident)
                .bearer_auth(&token)
                .send()
                .await
                .expect("r")
                .json()
                .await
                .expect("json");
            if shown["facets"] == json!([facet]) {
                break;
            }
            assert!(Instant::now() < deadline, "no facet: {shown}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // Its readiness check is reported beside the platform's.
        let readiness: Value = client
            .get(format!("{base}/api/v2/firefighter/monitoring/readiness"))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        assert_eq!(
            (readiness["status"].as_str(), readiness["checks"]["echo"].as_bool()),
            (Some("ok"), Some(true))
        );

        // Its subcommand runs through the same command line as the platform's.
        let code = builder().run_server(
            ["firefighter-server", "echo-forget", "--incident", &id.to_string()].map(Into::into),
            &vars,
        );
        assert_eq!(code, std::process::ExitCode::SUCCESS);
        assert_eq!(client.get(&route).send().await.expect("request").status(), 404);
        drop(handle.stop(false));
    }
}

#[test]
fn its_table_is_the_same_on_both_backends_and_its_versions_are_namespaced() {
    let sets = [MigrationSet { name: "echo", sqlite: &SQLITE, postgres: &POSTGRES }];
    let sqlite = TestDatabase::sqlite().with_migrations(&sets);
    let schema = storage::testing::parity::read_schema(&sqlite.database);
    assert!(schema.tables.contains("echo_seen"));
    if let Some(postgres) = TestDatabase::postgres() {
        let postgres = postgres.with_migrations(&sets);
        storage::testing::parity::assert_same_schema(
            &schema,
            &storage::testing::parity::read_schema(&postgres.database),
        );
    }
    let misnamed = MigrationSet { name: "other", sqlite: &SQLITE, postgres: &POSTGRES };
    let refused = sqlite.database.run_integration_migrations(&[misnamed]).expect_err("refused");
    assert!(refused.to_string().contains("must start with \"other.\""), "{refused}");
    // A name diesel could not read back (it cuts a version at the first `_`) is refused up front.
    let unreadable = MigrationSet { name: "ticket_router", sqlite: &SQLITE, postgres: &POSTGRES };
    let refused = sqlite.database.run_integration_migrations(&[unreadable]).expect_err("refused");
    assert!(refused.to_string().contains("lower-case letters and digits only"), "{refused}");
}
