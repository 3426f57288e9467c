//! The ticket router inside FireFighter as ACME runs it (`AppBuilder::standard()` plus the router),
//! on both backends: an incident declared through FireFighter's API is routed by a job, and its
//! queue shows through the router's route and as a facet of the incident.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use acme_ticket_router::TicketRouter;
use diesel::prelude::*;
use firefighter_app::{AppBuilder, Application};
use firefighter_incidents_core::access::AccessRepository;
use firefighter_incidents_core::{Email, NewUser, UserRepository};
use firefighter_storage::testing::TestDatabase;
use serde_json::{Value, json};

fn vars(test: &TestDatabase, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let url = match &test.url {
        firefighter_storage::DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
        firefighter_storage::DatabaseUrl::Postgres { url } => url.clone(),
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
fn bad_rules_are_reported_with_firefighters_own_problems() {
    let test = TestDatabase::sqlite();
    let error = AppBuilder::standard()
        .integration(TicketRouter::default())
        .configure(&vars(&test, &[("ACME_ROUTER_RULES", "payment"), ("HTTP_PORT", "eighty")]))
        .expect_err("two problems");
    let variables: Vec<&str> = error.problems.iter().map(|problem| problem.variable).collect();
    assert_eq!(variables, ["HTTP_PORT", "ACME_ROUTER_RULES"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_incident_is_routed_and_shows_its_queue() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let user = test
            .database
            .create_user(&NewUser {
                email: Email::parse("admin@acme.example").expect("email"),
                name: "Admin".into(),
                is_admin: true,
                password_hash: None,
            })
            .expect("user");
        let token = firefighter_http_api::new_token();
        test.database
            .create_api_token(user.id, "test", &firefighter_http_api::hash_token(&token), None)
            .expect("token");
        let (environment, category, category_name, priority): (String, String, String, String) = {
            use firefighter_storage::schema::{environments, incident_categories, priorities};
            let mut conn = test.database.connection().expect("connection");
            let (category, name): (String, String) = incident_categories::table
                .select((incident_categories::id, incident_categories::name))
                .first(&mut conn)
                .expect("category");
            (
                environments::table.select(environments::id).first(&mut conn).expect("environment"),
                category,
                name,
                priorities::table
                    .filter(priorities::value.eq(4))
                    .select(priorities::id)
                    .first(&mut conn)
                    .expect("p4"),
            )
        };
        // Route this category to a queue of its own.
        let rule = format!("{}=platform-oncall", category_name.to_lowercase());
        let app = AppBuilder::standard()
            .integration(TicketRouter::default())
            .configure(&vars(&test, &[("ACME_ROUTER_RULES", rule.as_str())]))
            .expect("configuration");
        let application = Application::build(&app, test.database.clone()).expect("application");
        let base = format!("http://{}", application.address());
        let handle = application.handle();
        tokio::spawn(application.run_until(std::future::pending()));
        let client = reqwest::Client::new();
        let created: Value = client
            .post(format!("{base}/api/v2/firefighter/incidents"))
            .bearer_auth(&token)
            .json(&json!({"title": "Checkout is slow", "description": "d", "environment_id": environment,
                "incident_category_id": category, "priority_id": priority, "created_by_email": "admin@acme.example"}))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        let id = created["id"].as_i64().expect("an id");

        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let response = client.get(format!("{base}/acme/routes/{id}")).send().await.expect("request");
            if response.status() == 200 {
                assert_eq!(
                    response.json::<Value>().await.expect("json"),
                    json!({"incident_id": id, "queue": "platform-oncall"})
                );
                break;
            }
            assert!(Instant::now() < deadline, "not routed ({:?})", test.backend());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let shown: Value = client
                .get(format!("{base}/api/v2/firefighter/incidents/{id}"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("request")
                .json()
                .await
                .expect("json");
            let facets = shown["facets"].as_array().cloned().unwrap_or_default();
            if facets
                .iter()
                .any(|facet| facet["kind"] == "support_queue" && facet["label"] == "platform-oncall")
            {
                break;
            }
            assert!(Instant::now() < deadline, "no facet: {shown}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        handle.stop(true).await;
    }
}
