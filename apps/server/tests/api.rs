//! The REST API over real HTTP, on every backend: authentication (the original's 401 variants), 403,
//! incidents (create with dedup, list with filters and pages, retrieve) and reference data.
#![expect(clippy::expect_used, reason = "test helpers fail the test loudly")]

use std::collections::HashMap;

use app::{AppBuilder, Application};
use diesel::prelude::*;
use incidents_core::access::{AccessRepository, Action, Permission, Resource};
use incidents_core::{Email, NewUser, UserRepository};
use serde_json::{Value, json};
use storage::schema::{environments, incident_categories, priorities, users};
use storage::testing::TestDatabase;
use test_support::Receiver;

struct Api {
    base: String,
    client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    admin: String,
    viewer: String,
    nobody: String,
    refs: HashMap<String, String>,
    test: TestDatabase,
}

fn token_for(test: &TestDatabase, email: &str, admin: bool, permissions: &[Permission]) -> String {
    let user = test
        .database
        .create_user(&NewUser {
            email: Email::parse(email).expect("email"),
            name: String::new(),
            is_admin: admin,
            password_hash: None,
        })
        .expect("user");
    test.database.grant_permissions(user.id, permissions).expect("grant");
    let token = http_api::new_token();
    test.database.create_api_token(user.id, "test", &http_api::hash_token(&token), None).expect("token");
    token
}

impl Api {
    async fn spawn(test: TestDatabase) -> Self {
        Self::spawn_with(test, &[]).await
    }

    async fn spawn_with(test: TestDatabase, vars: &[(&str, &str)]) -> Self {
        let test = test.seeded();
        let admin = token_for(&test, "admin@example.com", true, &[]);
        let viewer = token_for(
            &test,
            "viewer@example.com",
            false,
            &Permission::all().into_iter().filter(|p| p.action == Action::View).collect::<Vec<_>>(),
        );
        let nobody = token_for(&test, "nobody@example.com", false, &[]);
        let mut conn = test.database.connection().expect("connection");
        let mut refs = HashMap::new();
        for (name, id) in priorities::table
            .select((priorities::name, priorities::id))
            .load::<(String, String)>(&mut conn)
            .expect("p")
        {
            refs.insert(name, id);
        }
        for (value, id) in environments::table
            .select((environments::value, environments::id))
            .load::<(String, String)>(&mut conn)
            .expect("e")
        {
            refs.insert(value, id);
        }
        for (name, id) in incident_categories::table
            .select((incident_categories::name, incident_categories::id))
            .load::<(String, String)>(&mut conn)
            .expect("c")
        {
            refs.insert(name, id);
        }
        drop(conn);
        let mut vars: HashMap<String, String> =
            vars.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
        vars.insert("HTTP_PORT".to_owned(), "0".to_owned());
        // A key of the test's own: nothing is written to a data directory.
        vars.entry("SECRET_KEY".to_owned())
            .or_insert_with(|| "a-test-secret-key-that-is-long-enough-0123".to_owned());
        vars.insert("BASE_URL".to_owned(), "https://ff.example.com".to_owned());
        let config = AppBuilder::standard().configure(&vars).expect("config");
        let application = Application::build(&config, test.database.clone()).expect("application");
        let base = format!("http://{}/api/v2/firefighter", application.address());
        let handle = application.handle();
        tokio::spawn(application.run_until(std::future::pending()));
        Self { base, client: reqwest::Client::new(), handle, admin, viewer, nobody, refs, test }
    }

    async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.expect("request")
    }

    async fn create(&self, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/incidents", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    fn incident(&self, title: &str, priority: &str, environment: &str) -> Value {
        json!({
            "title": title,
            "description": "Payments fail with a 502.",
            "environment_id": self.refs[environment],
            "incident_category_id": self.refs["Checkout"],
            "priority_id": self.refs[priority],
            "created_by_email": "oncall@example.com",
        })
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn error(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON error body"))
}

#[tokio::test]
async fn authentication_failures_use_the_original_messages() {
    let api = Api::spawn(TestDatabase::sqlite()).await;
    let url = format!("{}/incidents", api.base);
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "Authentication credentials were not provided."),
        (Some(format!("Token {}", api.admin)), "Authentication credentials were not provided."),
        (Some("Bearer".into()), "Invalid token header. No credentials provided."),
        (Some("Bearer abc def".into()), "Invalid token header. Token string should not contain spaces."),
        (Some("Bearer 0000000000000000000000000000000000000000".into()), "Invalid token."),
    ];
    for (header, detail) in cases {
        let mut request = api.client.get(&url);
        if let Some(header) = &header {
            request = request.header("authorization", header);
        }
        let response = request.send().await.expect("request");
        assert_eq!(
            response.headers().get("www-authenticate").map(reqwest::header::HeaderValue::as_bytes),
            Some(&b"Bearer"[..]),
            "{header:?}"
        );
        let (status, body) = error(response).await;
        assert_eq!(status, 401, "{header:?}");
        assert_eq!(body["type"], "client_error");
        assert_eq!(body["errors"][0]["detail"], detail, "{header:?}");
    }

    // Revocation takes effect at once.
    let user = api
        .test
        .database
        .find_user_by_email(&Email::parse("viewer@example.com").expect("email"))
        .expect("q")
        .expect("user");
    let token = http_api::new_token();
    let record = api
        .test
        .database
        .create_api_token(user.id, "short-lived", &http_api::hash_token(&token), None)
        .expect("token");
    assert_eq!(api.get(&token, "/incidents").await.status(), 200);
    api.test.database.revoke_api_token(record.id, incidents_core::clock::now()).expect("revoke");
    assert_eq!(error(api.get(&token, "/incidents").await).await.1["errors"][0]["detail"], "Invalid token.");

    // An inactive user's token stops working.
    diesel::update(users::table.filter(users::email.eq("viewer@example.com")))
        .set(users::is_active.eq(false))
        .execute(&mut api.test.database.connection().expect("connection"))
        .expect("deactivate");
    assert_eq!(
        error(api.get(&api.viewer, "/incidents").await).await.1["errors"][0]["detail"],
        "User inactive or deleted."
    );
}

#[tokio::test]
async fn permissions_are_checked_per_resource_and_action() {
    let api = Api::spawn(TestDatabase::sqlite()).await;
    let (status, body) = error(api.get(&api.nobody, "/incidents").await).await;
    assert_eq!(status, 403);
    assert_eq!(body["errors"][0]["detail"], "You do not have permission to perform this action.");
    assert_eq!(api.get(&api.viewer, "/incidents").await.status(), 200);
    assert_eq!(api.get(&api.viewer, "/environments").await.status(), 200);
    let (status, _) =
        error(api.create(&api.viewer, &api.incident("Viewer cannot create", "P3", "PRD")).await).await;
    assert_eq!(status, 403, "viewing does not allow adding");
    assert_eq!(api.create(&api.admin, &api.incident("Admin can", "P3", "PRD")).await.status(), 201);
}

#[tokio::test]
async fn create_is_idempotent_on_dedup_key_and_validates_input() {
    for test in TestDatabase::each_backend() {
        let api = Api::spawn(test).await;
        let mut body = api.incident("Checkout is down", "P1", "PRD");
        body["dedup_key"] = json!("alert-42");
        body["unknown_field"] = json!("ignored as in the original");
        let first = api.create(&api.admin, &body).await;
        assert_eq!(first.status(), 201);
        let first: Value = first.json().await.expect("json");
        assert_eq!(first["status"], "Open");
        assert_eq!(first["priority"]["name"], "P1");
        assert_eq!(first["priority"]["sla"], "02:00:00");
        assert_eq!(first["created_by"]["email"], "oncall@example.com");
        assert_eq!(first["roles"]["commander"]["email"], "oncall@example.com");
        assert_eq!(first["status_page_url"], format!("https://ff.example.com/incident/{}/", first["id"]));
        assert!(
            first["created_at"].as_str().is_some_and(|t| t.ends_with("+00:00")),
            "{}",
            first["created_at"]
        );
        // The token's user is audited as the actor; the incident is declared for its creator.
        let (actor, entry_point, details): (Option<String>, String, String) = {
            use storage::schema::audit_log;
            audit_log::table
                .filter(audit_log::action.eq("incident.declare"))
                .select((audit_log::actor_user_id, audit_log::entry_point, audit_log::details))
                .first(&mut api.test.database.connection().expect("connection"))
                .expect("audit row")
        };
        let admin = api
            .test
            .database
            .find_user_by_email(&Email::parse("admin@example.com").expect("email"))
            .expect("q")
            .expect("admin");
        assert_eq!((actor, entry_point.as_str()), (Some(admin.id.to_string()), "api"));
        assert!(details.contains(first["created_by"]["id"].as_str().expect("creator id")), "{details}");
        let again = api.create(&api.admin, &body).await;
        assert_eq!(again.status(), 200, "a second declaration with an open key returns the holder");
        let again: Value = again.json().await.expect("json");
        assert_eq!(again["id"], first["id"]);

        // Unknown creators become users, the second one too (the original failed with a 500 here).
        for email in ["new.one@example.com", "new.two@example.com"] {
            let mut body = api.incident("Created by a newcomer", "P4", "STG");
            body["created_by_email"] = json!(email);
            assert_eq!(api.create(&api.admin, &body).await.status(), 201, "{email}");
        }

        let mut missing = api.incident("x", "P4", "PRD");
        missing.as_object_mut().expect("object").remove("title");
        let (status, body) = error(api.create(&api.admin, &missing).await).await;
        assert_eq!(
            (
                status,
                body["type"].as_str(),
                body["errors"][0]["attr"].as_str(),
                body["errors"][0]["code"].as_str()
            ),
            (400, Some("validation_error"), Some("title"), Some("required"))
        );
        let mut wrong_type = api.incident("x", "P4", "PRD");
        wrong_type["ignore"] = json!("yes");
        assert_eq!(error(api.create(&api.admin, &wrong_type).await).await.1["errors"][0]["attr"], "ignore");
        let mut unknown_priority = api.incident("x", "P4", "PRD");
        unknown_priority["priority_id"] = json!("nope");
        assert_eq!(
            error(api.create(&api.admin, &unknown_priority).await).await.1["errors"][0]["attr"],
            "priority_id"
        );
        let mut bad_email = api.incident("x", "P4", "PRD");
        bad_email["created_by_email"] = json!("not-an-email");
        assert_eq!(
            error(api.create(&api.admin, &bad_email).await).await.1["errors"][0]["attr"],
            "created_by_email"
        );

        let malformed = api
            .client
            .post(format!("{}/incidents", api.base))
            .bearer_auth(&api.admin)
            .body("{\"title\": ")
            .send()
            .await
            .expect("request");
        assert_eq!(malformed.status(), 400);
        let huge = api
            .client
            .post(format!("{}/incidents", api.base))
            .bearer_auth(&api.admin)
            .body(vec![b' '; 2 * 1024 * 1024])
            .send()
            .await;
        assert!(huge.map(|r| r.status().as_u16() == 413).unwrap_or(true), "bodies over 1 MiB are refused");
    }
}

#[tokio::test]
async fn list_filters_pages_and_retrieve() {
    for test in TestDatabase::each_backend() {
        let api = Api::spawn(test).await;
        let mut ids = Vec::new();
        for (title, priority, environment) in
            [("One", "P1", "PRD"), ("Two", "P2", "STG"), ("Three", "P3", "PRD"), ("Four", "P4", "PRD")]
        {
            let created: Value = api
                .create(&api.admin, &api.incident(title, priority, environment))
                .await
                .json()
                .await
                .expect("json");
            ids.push(created["id"].as_i64().expect("id"));
        }
        let list = |body: Value| -> Vec<i64> {
            body.as_array().expect("array").iter().filter_map(|i| i["id"].as_i64()).collect()
        };

        let all: Value = api.get(&api.viewer, "/incidents").await.json().await.expect("json");
        assert_eq!(list(all), ids.iter().rev().copied().collect::<Vec<_>>(), "newest first");
        let prd: Value = api
            .get(&api.viewer, "/incidents?environment__value=PRD&order_by=id")
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(list(prd), vec![ids[0], ids[2], ids[3]]);
        let by_priority =
            format!("/incidents?priority={}&priority={}&order_by=-priority", api.refs["P1"], api.refs["P2"]);
        let by_priority: Value = api.get(&api.viewer, &by_priority).await.json().await.expect("json");
        assert_eq!(list(by_priority), vec![ids[1], ids[0]]);
        let open: Value = api
            .get(&api.viewer, "/incidents?status=10&_status__lt=60&unknown=1")
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(list(open).len(), 4, "unknown parameters are ignored");
        let ranged = format!("/incidents?id__gte={}&id__lte={}", ids[1], ids[2]);
        let ranged: Value = api.get(&api.viewer, &ranged).await.json().await.expect("json");
        assert_eq!(list(ranged).len(), 2);
        let searched: Value =
            api.get(&api.viewer, "/incidents?search=three").await.json().await.expect("json");
        assert_eq!(list(searched), vec![ids[2]]);

        let page = api.get(&api.viewer, "/incidents?limit=3&count=true").await;
        assert_eq!(
            page.headers().get("x-total-count").map(reqwest::header::HeaderValue::as_bytes),
            Some(&b"4"[..])
        );
        let link =
            page.headers().get("link").and_then(|v| v.to_str().ok()).expect("a Link header").to_owned();
        assert!(
            link.starts_with("<https://ff.example.com/api/v2/firefighter/incidents?")
                && link.ends_with(">; rel=\"next\""),
            "{link}"
        );
        assert!(link.contains("offset=3") && link.contains("limit=3"), "{link}");
        assert_eq!(list(page.json().await.expect("json")).len(), 3);
        let last = api.get(&api.viewer, "/incidents?limit=3&offset=3").await;
        assert!(last.headers().get("link").is_none(), "no next page after the last");
        assert_eq!(list(last.json().await.expect("json")), vec![ids[0]]);

        for (query, attr) in [
            ("status=99", "status"),
            ("limit=0", "limit"),
            ("order_by=severity", "order_by"),
            ("created_at=gibberish", "created_at"),
            ("id__gte=abc", "id__gte"),
        ] {
            let (status, body) = error(api.get(&api.viewer, &format!("/incidents?{query}")).await).await;
            assert_eq!((status, body["errors"][0]["attr"].as_str()), (400, Some(attr)), "{query}");
        }

        let one = api.get(&api.viewer, &format!("/incidents/{}", ids[0])).await;
        assert_eq!(one.status(), 200);
        let one: Value = one.json().await.expect("json");
        assert_eq!(one["title"], "One");
        assert_eq!(one["incident_category"]["group"]["name"], "Marketplace");
        assert_eq!(one["environment"]["value"], "PRD");
        assert_eq!(one["ignore"], false);
        assert_eq!(api.get(&api.viewer, "/incidents/999999").await.status(), 404);
        assert_eq!(api.get(&api.viewer, "/incidents/not-a-number").await.status(), 404);
    }
}

#[tokio::test]
async fn reference_data_under_original_and_legacy_names() {
    let api = Api::spawn(TestDatabase::sqlite()).await;
    let severities: Value = api.get(&api.viewer, "/severities").await.json().await.expect("json");
    let priorities: Value = api.get(&api.viewer, "/priorities").await.json().await.expect("json");
    assert_eq!(severities, priorities, "severities is the legacy name of priorities");
    let names: Vec<&str> =
        priorities.as_array().expect("array").iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, vec!["P1", "P2", "P3", "P4", "P5", "GAMEDAY"]);
    assert_eq!(priorities[3]["sla"], "5 00:00:00");
    assert_eq!(priorities[3]["default"], true);
    let categories: Value = api.get(&api.viewer, "/incident-categories").await.json().await.expect("json");
    let components: Value = api.get(&api.viewer, "/components").await.json().await.expect("json");
    assert_eq!(categories, components, "components is the legacy alias");
    let environments: Value = api.get(&api.viewer, "/environments").await.json().await.expect("json");
    let prd =
        environments.as_array().expect("array").iter().find(|e| e["value"] == "PRD").expect("PRD").clone();
    let one: Value = api
        .get(&api.viewer, &format!("/environments/{}", prd["id"].as_str().expect("id")))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one, prd);
    assert_eq!(api.get(&api.viewer, "/environments/unknown").await.status(), 404);
    let groups: Value = api.get(&api.viewer, "/groups").await.json().await.expect("json");
    assert_eq!(groups[0]["name"], "Marketplace");
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }
}

#[tokio::test]
async fn a_client_can_run_an_incident_through_its_whole_lifecycle() {
    use reqwest::Method;
    for test in TestDatabase::each_backend() {
        let api = Api::spawn(test).await;
        let created: Value = api
            .create(&api.admin, &api.incident("Checkout is down", "P2", "PRD"))
            .await
            .json()
            .await
            .expect("json");
        let id = created["id"].as_i64().expect("id");
        let updates = format!("/incidents/{id}/updates");

        // Workflow refusals carry the stable code: 409.
        let (status, body) =
            error(api.send(Method::POST, &api.admin, &updates, &json!({"status": "Mitigated"})).await).await;
        assert_eq!((status, body["errors"][0]["code"].as_str()), (409, Some("TRANSITION_NOT_ALLOWED")));
        let (status, body) = error(api.send(Method::POST, &api.admin, &updates, &json!({})).await).await;
        assert_eq!((status, body["errors"][0]["code"].as_str()), (422, Some("NO_CHANGE")));
        let (status, body) =
            error(api.send(Method::POST, &api.admin, &updates, &json!({"status": "Paused"})).await).await;
        assert_eq!((status, body["errors"][0]["attr"].as_str()), (400, Some("status")));
        let viewer = api.send(Method::POST, &api.viewer, &updates, &json!({"message": "hello"})).await;
        assert_eq!(viewer.status(), 403);

        for (status, message) in [
            ("Investigating", "Looking at the gateway"),
            ("Mitigating", "Rolling back"),
            ("Mitigated", "Rollback done"),
        ] {
            let response = api
                .send(Method::POST, &api.admin, &updates, &json!({"status": status, "message": message}))
                .await;
            assert_eq!(response.status(), 200, "{status}");
            let incident: Value = response.json().await.expect("json");
            assert_eq!(incident["status"], status);
        }
        // P2 needs its key events before closing.
        let (status, body) =
            error(api.send(Method::POST, &api.admin, &updates, &json!({"status": 60})).await).await;
        assert_eq!((status, body["errors"][0]["code"].as_str()), (409, Some("MISSING_REQUIRED_KEY_EVENTS")));
        let key_events = format!("/incidents/{id}/key-events");
        let (status, body) =
            error(api.send(Method::PUT, &api.admin, &key_events, &json!({"started": "yesterday"})).await)
                .await;
        assert_eq!((status, body["errors"][0]["attr"].as_str()), (400, Some("key_events.started")));
        let now = chrono::Utc::now();
        let response = api
            .send(
                Method::PUT,
                &api.admin,
                &key_events,
                &json!({"started": (now - chrono::Duration::minutes(40)).to_rfc3339(), "detected": (now - chrono::Duration::minutes(30)).to_rfc3339()}),
            )
            .await;
        assert_eq!(response.status(), 200);
        let incident: Value = response.json().await.expect("json");
        assert_eq!(incident["metrics"]["time_to_detect"]["duration"], "00:10:00");
        assert_eq!(incident["metrics"]["time_to_detect"]["duration_seconds"], 600.0);

        let roles = format!("/incidents/{id}/roles");
        let response = api
            .send(Method::PUT, &api.admin, &roles, &json!({"communication_lead": "viewer@example.com"}))
            .await;
        assert_eq!(response.status(), 200);
        let incident: Value = response.json().await.expect("json");
        assert_eq!(incident["roles"]["communication_lead"]["email"], "viewer@example.com");
        let (status, body) =
            error(api.send(Method::PUT, &api.admin, &roles, &json!({"commander": null})).await).await;
        assert_eq!((status, body["errors"][0]["code"].as_str()), (400, Some("required_role")));
        let (status, _) = error(
            api.send(Method::PUT, &api.admin, &roles, &json!({"commander": "ghost@example.com"})).await,
        )
        .await;
        assert_eq!(status, 400);

        let costs = format!("/incidents/{id}/costs");
        let revenue: i64 = {
            use storage::schema::incident_cost_types;
            incident_cost_types::table
                .filter(incident_cost_types::name.eq("Revenue loss"))
                .select(incident_cost_types::id)
                .first(&mut api.test.database.connection().expect("connection"))
                .expect("cost type")
        };
        let response = api
            .send(Method::POST, &api.admin, &costs, &json!({"cost_type_id": revenue, "amount": "1250.50"}))
            .await;
        assert_eq!(response.status(), 201);
        let cost: Value = response.json().await.expect("json");
        assert_eq!(cost["amount"], "1250.50");
        let cost_path = format!("{costs}/{}", cost["id"]);
        let (status, body) = error(
            api.send(Method::PUT, &api.admin, &cost_path, &json!({"cost_type_id": revenue, "amount": 1.005}))
                .await,
        )
        .await;
        assert_eq!((status, body["errors"][0]["attr"].as_str()), (400, Some("amount")), "no float rounding");
        assert_eq!(
            api.send(Method::PUT, &api.admin, &cost_path, &json!({"cost_type_id": revenue, "amount": 99.9}))
                .await
                .status(),
            200
        );
        let incident: Value =
            api.get(&api.viewer, &format!("/incidents/{id}")).await.json().await.expect("json");
        assert_eq!(incident["costs"]["Revenue loss"]["amount"], "99.90");
        assert_eq!(
            api.client
                .delete(format!("{}{cost_path}", api.base))
                .bearer_auth(&api.admin)
                .send()
                .await
                .expect("delete")
                .status(),
            204
        );

        let closed = api
            .send(
                Method::POST,
                &api.admin,
                &updates,
                &json!({"status": "Closed", "message": "Fixed for good"}),
            )
            .await;
        assert_eq!(closed.status(), 200);
        let reopen_without_reason =
            api.send(Method::POST, &api.admin, &updates, &json!({"status": "Investigating"})).await;
        let (status, body) = error(reopen_without_reason).await;
        assert_eq!(
            (status, body["errors"][0]["code"].as_str()),
            (409, Some("REOPEN_JUSTIFICATION_REQUIRED"))
        );

        let timeline = api.get(&api.viewer, &format!("{updates}?limit=100&count=true")).await;
        let total: usize = timeline
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("total");
        let entries: Value = timeline.json().await.expect("json");
        let entries = entries.as_array().expect("array");
        assert_eq!(entries.len(), total);
        let statuses: Vec<&str> = entries.iter().filter_map(|e| e["status"].as_str()).collect();
        assert_eq!(statuses, vec!["Open", "Investigating", "Mitigating", "Mitigated", "Closed"]);
        assert!(
            entries
                .iter()
                .any(|e| e["message"] == "Rolling back" && e["created_by"]["email"] == "admin@example.com")
        );
        assert_eq!(api.get(&api.viewer, "/incidents/424242/updates").await.status(), 404);
    }
}

#[tokio::test]
async fn single_resources_answer_conditional_requests() {
    let api = Api::spawn(TestDatabase::sqlite()).await;
    let created: Value =
        api.create(&api.admin, &api.incident("Cache me", "P3", "PRD")).await.json().await.expect("json");
    let path = format!("{}/incidents/{}", api.base, created["id"]);
    let first = api.client.get(&path).bearer_auth(&api.viewer).send().await.expect("request");
    let tag = first.headers().get("etag").and_then(|v| v.to_str().ok()).expect("an ETag").to_owned();
    let again = api
        .client
        .get(&path)
        .bearer_auth(&api.viewer)
        .header("if-none-match", &tag)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.expect("body").is_empty());
    // A change gives a new representation, hence a new tag.
    let updates = format!("{path}/updates");
    let changed = api
        .client
        .post(&updates)
        .bearer_auth(&api.admin)
        .json(&json!({"title": "Cache me, changed"}))
        .send()
        .await
        .expect("request");
    assert_eq!(changed.status(), 200);
    let after = api
        .client
        .get(&path)
        .bearer_auth(&api.viewer)
        .header("if-none-match", &tag)
        .send()
        .await
        .expect("request");
    assert_eq!(after.status(), 200);
    assert_ne!(after.headers().get("etag").and_then(|v| v.to_str().ok()), Some(tag.as_str()));
    // Authentication still comes first.
    assert_eq!(
        api.client.get(&path).header("if-none-match", &tag).send().await.expect("request").status(),
        401
    );
}

#[tokio::test]
async fn costs_users_and_vocabularies() {
    for test in TestDatabase::each_backend() {
        let api = Api::spawn(test).await;
        let cost_types: Value =
            api.get(&api.viewer, "/incident_cost_types").await.json().await.expect("json");
        let revenue = cost_types
            .as_array()
            .expect("array")
            .iter()
            .find(|c| c["name"] == "Revenue loss")
            .expect("revenue")
            .clone();
        let one: Value = api
            .get(&api.viewer, &format!("/incident_cost_types/{}", revenue["id"]))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(one, revenue);
        assert_eq!(error(api.get(&api.nobody, "/incident_cost_types").await).await.0, 403);

        let created: Value =
            api.create(&api.admin, &api.incident("Costly", "P2", "PRD")).await.json().await.expect("json");
        for amount in ["10.00", "20.50", "30.25"] {
            let response = api
                .client
                .post(format!("{}/incidents/{}/costs", api.base, created["id"]))
                .bearer_auth(&api.admin)
                .json(&json!({"cost_type_id": revenue["id"], "amount": amount}))
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 201);
        }
        let page = api.get(&api.viewer, "/incident_costs?limit=2&count=true").await;
        assert_eq!(
            page.headers().get("x-total-count").map(reqwest::header::HeaderValue::as_bytes),
            Some(&b"3"[..])
        );
        assert!(page.headers().get("link").is_some());
        let costs: Value = page.json().await.expect("json");
        assert_eq!(costs.as_array().map(Vec::len), Some(2));
        assert_eq!(costs[0]["amount"], "30.25", "newest first");
        assert_eq!(costs[0]["incident"], created["id"]);
        let one: Value = api
            .get(&api.viewer, &format!("/incident_costs/{}", costs[0]["id"]))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(one, costs[0]);
        assert_eq!(api.get(&api.viewer, "/incident_costs/999999").await.status(), 404);

        let users: Value = api.get(&api.viewer, "/users?limit=1000").await.json().await.expect("json");
        let emails: Vec<&str> =
            users.as_array().expect("array").iter().filter_map(|u| u["email"].as_str()).collect();
        assert!(
            emails.contains(&"admin@example.com") && emails.contains(&"oncall@example.com"),
            "{emails:?}"
        );
        let admin = users
            .as_array()
            .expect("array")
            .iter()
            .find(|u| u["email"] == "admin@example.com")
            .expect("admin")
            .clone();
        let one: Value = api
            .get(&api.viewer, &format!("/users/{}", admin["id"].as_str().expect("id")))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(one, admin);
        assert_eq!(api.get(&api.viewer, "/users/not-a-uuid").await.status(), 404);

        let roles: Value = api.get(&api.viewer, "/role-types").await.json().await.expect("json");
        assert_eq!(roles[0]["slug"], "commander");
        assert_eq!(roles[0]["required"], true);
        let key_events: Value = api.get(&api.viewer, "/key-event-types").await.json().await.expect("json");
        assert_eq!(key_events.as_array().map(Vec::len), Some(6));
        let metrics: Value = api.get(&api.viewer, "/metric-types").await.json().await.expect("json");
        let ttf = metrics
            .as_array()
            .expect("array")
            .iter()
            .find(|m| m["type"] == "time_to_fix")
            .expect("ttf")
            .clone();
        assert_eq!(
            (ttf["milestone_lhs"].as_str(), ttf["milestone_rhs"].as_str()),
            (Some("recovered"), Some("declared"))
        );
        let impacts: Value = api.get(&api.viewer, "/impact-types").await.json().await.expect("json");
        assert_eq!(impacts[0]["value"], "business_impact");
        let codes: Vec<&str> = impacts[0]["levels"]
            .as_array()
            .expect("levels")
            .iter()
            .filter_map(|l| l["value"].as_str())
            .collect();
        assert_eq!(codes, vec!["HT", "HI", "MD", "NO"]);
    }
}

#[tokio::test]
async fn a_token_over_its_rate_limit_gets_429_with_retry_after() {
    let test = TestDatabase::sqlite().seeded();
    let token = token_for(&test, "busy@example.com", true, &[]);
    let config = AppBuilder::standard()
        .configure(&HashMap::from([
            ("HTTP_PORT".to_owned(), "0".to_owned()),
            ("SECRET_KEY".to_owned(), "a-test-secret-key-that-is-long-enough-0123".to_owned()),
            ("API_RATE_LIMIT_PER_MINUTE".to_owned(), "5".to_owned()),
        ]))
        .expect("config");
    let application = Application::build(&config, test.database.clone()).expect("application");
    let url = format!("http://{}/api/v2/firefighter/environments", application.address());
    let handle = application.handle();
    tokio::spawn(application.run_until(std::future::pending()));
    let client = reqwest::Client::new();
    for _ in 0..5 {
        assert_eq!(client.get(&url).bearer_auth(&token).send().await.expect("request").status(), 200);
    }
    let refused = client.get(&url).bearer_auth(&token).send().await.expect("request");
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=12).contains(&retry), "{retry}");
    let (_, body) = error(refused).await;
    assert_eq!(body["errors"][0]["code"], "throttled");
    handle.stop(false).await;
}

#[tokio::test]
async fn csv_and_tsv_exports_follow_the_original_contract() {
    for test in TestDatabase::each_backend() {
        let api = Api::spawn(test).await;
        let mut ids = Vec::new();
        for n in 0..3 {
            let created: Value = api
                .create(&api.admin, &api.incident(&format!("Export, \"quoted\" {n}"), "P3", "PRD"))
                .await
                .json()
                .await
                .expect("json");
            ids.push(created["id"].as_i64().expect("id"));
        }
        let text = |response: reqwest::Response| async move {
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (response.status().as_u16(), content_type, response.text().await.expect("text"))
        };

        let (status, content_type, csv) = text(api.get(&api.viewer, "/incidents.csv").await).await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        let mut lines = csv.split("\r\n");
        assert_eq!(
            lines.next(),
            Some(
                "id,status,environment.value,priority.name,title,description,incident_category.name,\
                 incident_category.group.name,created_at,slack_channel_name,status_page_url,jira_ticket_key,\
                 jira_ticket_url,roles.commander.email"
            ),
            "the default columns, wildcards expanded to the keys present (no metric or cost yet)"
        );
        let first = lines.next().expect("a row");
        assert!(
            first.starts_with(&format!("{},Open,PRD,P3,\"Export, \"\"quoted\"\" 2\",", ids[2])),
            "{first}"
        );
        assert!(first.ends_with(",oncall@example.com"), "{first}");
        assert_eq!(csv.matches("\r\n").count(), 4, "header and three rows");

        let (_, _, picked) = text(
            api.get(&api.viewer, "/incidents?format=csv&fields=title,id&labels=__hidden__&order_by=id").await,
        )
        .await;
        assert_eq!(
            picked.lines().next(),
            Some("\"Export, \"\"quoted\"\" 0\",".to_owned() + &ids[0].to_string()).as_deref()
        );
        let (_, _, all) =
            text(api.get(&api.viewer, &format!("/incidents.csv?fields=__all__&id={}", ids[0])).await).await;
        let header: Vec<&str> = all.lines().next().expect("header").split(',').collect();
        let mut sorted = header.clone();
        sorted.sort_unstable();
        assert_eq!(header, sorted, "__all__ lists every key, sorted");
        assert!(header.contains(&"priority.sla") && header.contains(&"incident_category.group.id"));

        let tsv = api
            .client
            .get(format!("{}/incidents?fields=id,status", api.base))
            .bearer_auth(&api.viewer)
            .header("accept", "text/tab-separated-values")
            .send()
            .await
            .expect("request");
        let (_, content_type, tsv) = text(tsv).await;
        assert!(content_type.starts_with("text/tab-separated-values"), "{content_type}");
        assert_eq!(tsv.lines().next(), Some("id\tstatus"));

        let (status, _, _) = text(api.get(&api.viewer, "/incidents.xml").await).await;
        assert_eq!(status, 400);
        assert_eq!(
            api.client.get(format!("{}/incidents.csv", api.base)).send().await.expect("request").status(),
            401
        );
    }
}

#[tokio::test]
async fn an_export_streams_every_matching_incident() {
    let api = Api::spawn(TestDatabase::sqlite()).await;
    let service = incidents_core::IncidentLifecycle::new(
        api.test.database.clone(),
        incidents_core::NoPostMortemBackend,
    );
    let user = api
        .test
        .database
        .find_user_by_email(&Email::parse("admin@example.com").expect("email"))
        .expect("q")
        .expect("user");
    let actor = incidents_core::Actor { user: user.id, entry_point: incidents_core::EntryPoint::Cli };
    for n in 0..1_203 {
        service
            .declare(
                actor,
                &incidents_core::incident::DeclareIncident {
                    title: format!("Bulk {n}"),
                    description: "Many incidents.".into(),
                    priority: incidents_core::incident::PriorityChoice::Given(api.refs["P4"].clone()),
                    category_id: api.refs["Checkout"].clone(),
                    environment_id: api.refs["PRD"].clone(),
                    private: None,
                    dedup_key: None,
                    ignored: false,
                    custom_fields: serde_json::Map::new(),
                    created_by: None,
                },
            )
            .expect("declare");
    }
    let csv = api.get(&api.viewer, "/incidents.csv?fields=id").await.text().await.expect("text");
    let ids: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(ids.len(), 1_203, "more rows than one batch, none lost");
    let unique: std::collections::HashSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), 1_203, "none twice");
}

#[tokio::test]
async fn the_openapi_document_and_swagger_ui_are_served() {
    let api = Api::spawn(TestDatabase::sqlite()).await;
    let response = api.client.get(format!("{}/schema", api.base)).send().await.expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = http_api::openapi::ApiDocument::new(&AppBuilder::standard().openapi());
    assert_eq!(
        response.text().await.expect("body"),
        served.json(),
        "the served document includes the integrations' paths"
    );

    let response = api.client.get(format!("{}/schema?format=yaml", api.base)).send().await.expect("request");
    assert_eq!(response.headers()["content-type"], "application/yaml");
    assert!(response.text().await.expect("body").starts_with("openapi: 3.1.0"));

    for path in ["/schema/swagger-ui", "/schema/swagger-ui/"] {
        let response = api.client.get(format!("{}{path}", api.base)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
        let page = response.text().await.expect("page");
        assert!(
            page.contains("/api/v2/firefighter/schema/swagger-ui/swagger-ui.css"),
            "absolute links: {page}"
        );
    }
    let script = api
        .client
        .get(format!("{}/schema/swagger-ui/swagger-initializer.js", api.base))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("script");
    assert!(script.contains("/api/v2/firefighter/schema"), "the UI reads our document: {script}");
    let css =
        api.client.get(format!("{}/schema/swagger-ui/swagger-ui.css", api.base)).send().await.expect("css");
    assert_eq!(css.status(), 200);
    let missing =
        api.client.get(format!("{}/schema/swagger-ui/nope.js", api.base)).send().await.expect("404");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn admins_create_list_and_revoke_tokens_through_the_api() {
    for test in TestDatabase::each_backend() {
        let api = Api::spawn(test).await;
        let url = format!("{}/api-tokens", api.base);
        let body = json!({"email": "viewer@example.com", "name": "dashboard", "expires_in_days": 30});
        let (status, _) =
            error(api.client.post(&url).bearer_auth(&api.viewer).json(&body).send().await.expect("r")).await;
        assert_eq!(status, 403, "only admins manage tokens");
        let response = api.client.post(&url).bearer_auth(&api.admin).json(&body).send().await.expect("r");
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.expect("json");
        let token = created["token"].as_str().expect("the token, once").to_owned();
        assert_eq!(token.len(), 40);
        assert_eq!(created["name"], "dashboard");
        assert!(created["expires_at"].is_string());
        assert_eq!(api.get(&token, "/incidents").await.status(), 200, "the new token works");

        let listed: Value = api.get(&api.admin, "/api-tokens?count=true").await.json().await.expect("json");
        let listed = listed.as_array().expect("array");
        let entry = listed.iter().find(|t| t["id"] == created["id"]).expect("listed");
        assert!(entry.get("token").is_none(), "the secret is never shown again");
        assert_eq!(entry["revoked_at"], Value::Null);

        let revoke = format!("{url}/{}", created["id"]);
        let response = api.client.delete(&revoke).bearer_auth(&api.admin).send().await.expect("r");
        assert_eq!(response.status(), 204);
        let (status, body) = error(api.get(&token, "/incidents").await).await;
        assert_eq!((status, body["errors"][0]["detail"].as_str()), (401, Some("Invalid token.")));
        let response = api.client.delete(&revoke).bearer_auth(&api.admin).send().await.expect("r");
        assert_eq!(response.status(), 404, "already revoked");

        for (body, attr) in [
            (json!({"email": "ghost@example.com"}), "email"),
            (json!({"expires_in_days": 0}), "expires_in_days"),
            (json!({"expires_in_days": "soon"}), "expires_in_days"),
            (json!({"name": "x".repeat(129)}), "name"),
        ] {
            let (status, error) =
                error(api.client.post(&url).bearer_auth(&api.admin).json(&body).send().await.expect("r"))
                    .await;
            assert_eq!((status, error["errors"][0]["attr"].as_str()), (400, Some(attr)), "{body}");
        }
        // Without an e-mail the token is the caller's own.
        let response =
            api.client.post(&url).bearer_auth(&api.admin).json(&json!({})).send().await.expect("r");
        assert_eq!(response.status(), 201);
    }
}

#[tokio::test]
async fn staff_manage_permission_groups_and_members_hold_what_their_groups_hold() {
    for test in TestDatabase::each_backend() {
        let api = Api::spawn(test).await;
        // Staff with the group permissions, holding view_incident but not add_incident.
        let manage = [
            Permission::new(Action::View, Resource::PermissionGroup),
            Permission::new(Action::Change, Resource::PermissionGroup),
            Permission::new(Action::Delete, Resource::PermissionGroup),
            Permission::new(Action::View, Resource::Incident),
        ];
        let staff = token_for(&api.test, "staff@example.com", false, &manage);
        let user = api.test.database.find_user_by_email(&Email::parse("staff@example.com").expect("e"));
        api.test.database.make_staff(user.expect("query").expect("staff").id).expect("staff");
        let url = |path: &str| format!("{}/permission-groups{path}", api.base);
        let put = |token: &str, path: &str, body: Value| {
            api.client.put(url(path)).bearer_auth(token.to_owned()).json(&body).send()
        };

        // The viewer holds auth.view_group but is not staff.
        assert_eq!(api.get(&api.viewer, "/permission-groups").await.status(), 403);
        assert_eq!(api.get(&api.nobody, "/incidents").await.status(), 403);
        let body = json!({"permissions": ["incidents.view_incident"]});
        let response = put(&staff, "/readers", body.clone()).await.expect("r");
        assert_eq!(response.status(), 201);
        assert_eq!(put(&staff, "/readers", body).await.expect("r").status(), 200, "replaced");
        // Nobody grants what they do not hold; unknown codenames and bad names are named.
        for (path, body, attr) in [
            ("/writers", json!({"permissions": ["incidents.add_incident"]}), "permissions"),
            ("/writers", json!({"permissions": ["incidents.fly_incident"]}), "permissions"),
            ("/%20", json!({"permissions": []}), "name"),
        ] {
            let (status, error) = error(put(&staff, path, body.clone()).await.expect("r")).await;
            assert_eq!((status, error["errors"][0]["attr"].as_str()), (400, Some(attr)), "{path} {body}");
        }
        let writers = json!({"permissions": ["incidents.add_incident", "incidents.view_incident"]});
        assert_eq!(put(&api.admin, "/writers", writers).await.expect("r").status(), 201, "admins may");

        // A member holds the group's permissions at once.
        let member = api.client.put(url("/readers/members/nobody@example.com")).bearer_auth(&staff);
        assert_eq!(member.send().await.expect("r").status(), 204);
        assert_eq!(api.get(&api.nobody, "/incidents").await.status(), 200);
        // Staff cannot add people to a group holding more than they do.
        let member = api.client.put(url("/writers/members/nobody@example.com")).bearer_auth(&staff);
        assert_eq!(member.send().await.expect("r").status(), 403);
        let ghost = api.client.put(url("/readers/members/ghost@example.com")).bearer_auth(&staff);
        assert_eq!(error(ghost.send().await.expect("r")).await.0, 400);
        let listed: Value = api.get(&staff, "/permission-groups").await.json().await.expect("json");
        assert_eq!(listed[0]["name"], "readers");
        assert_eq!(listed[0]["members"], json!(["nobody@example.com"]));
        assert_eq!(listed[1]["permissions"], json!(["incidents.add_incident", "incidents.view_incident"]));

        // Removed from the group, or the group deleted: the permission is gone.
        let leave = api.client.delete(url("/readers/members/nobody@example.com")).bearer_auth(&staff);
        assert_eq!(leave.send().await.expect("r").status(), 204);
        assert_eq!(api.get(&api.nobody, "/incidents").await.status(), 403);
        let delete = || api.client.delete(url("/readers")).bearer_auth(&staff).send();
        assert_eq!(delete().await.expect("r").status(), 204);
        assert_eq!(delete().await.expect("r").status(), 404);
    }
}

#[tokio::test]
async fn bodies_are_json_or_form_encoded_and_errors_name_the_attribute() {
    for test in TestDatabase::each_backend() {
        let api = Api::spawn(test).await;
        let url = format!("{}/incidents", api.base);
        let post = |body: Vec<u8>, content_type: &'static str| {
            api.client
                .post(&url)
                .bearer_auth(&api.admin)
                .header("content-type", content_type)
                .body(body)
                .send()
        };

        // A form-encoded declaration works like a JSON one.
        let mut fields: Vec<(String, String)> = api
            .incident("Declared from a form", "P2", "PRD")
            .as_object()
            .expect("object")
            .iter()
            .map(|(key, value)| (key.clone(), value.as_str().expect("text").to_owned()))
            .collect();
        fields.push(("ignore".into(), "true".into()));
        let form = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
        let response = post(form.into_bytes(), "application/x-www-form-urlencoded").await.expect("r");
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.expect("json");
        assert_eq!(
            (created["title"].as_str(), created["ignore"].as_bool()),
            (Some("Declared from a form"), Some(true))
        );

        // Unknown fields are ignored, as in the original.
        let mut body = api.incident("With extras", "P3", "PRD");
        body["unknown_field"] = json!({"nested": [1, 2]});
        assert_eq!(api.create(&api.admin, &body).await.status(), 201);

        let mut wrong_type = api.incident("Wrong type", "P3", "PRD");
        wrong_type["title"] = json!(5);
        let cases: Vec<(Vec<u8>, &'static str, u16, Option<&str>)> = vec![
            (serde_json::to_vec(&wrong_type).expect("json"), "application/json", 400, Some("title")),
            (br#"{"title": "x", "ignore": "maybe"}"#.to_vec(), "application/json", 400, Some("ignore")),
            (b"{\"title\": \"\xff\xfe\"}".to_vec(), "application/json", 400, Some("non_field_errors")),
            (b"{not json".to_vec(), "application/json", 400, Some("non_field_errors")),
            (b"[1, 2]".to_vec(), "application/json", 400, Some("non_field_errors")),
            (b"".to_vec(), "application/json", 400, Some("non_field_errors")),
            (b"{}".to_vec(), "application/json", 400, Some("title")),
            (b"title=x&ignore=maybe".to_vec(), "application/x-www-form-urlencoded", 400, Some("ignore")),
            (b"title: x".to_vec(), "text/plain", 415, None),
            (vec![b'{'; 2 * 1024 * 1024], "application/json", 413, None),
        ];
        // Ids out of range are a JSON 404, not the framework's text.
        let response = api
            .client
            .delete(format!("{}/incidents/-9223372036854775808/costs/9223372036854775808", api.base))
            .bearer_auth(&api.admin)
            .send()
            .await
            .expect("r");
        assert_eq!(
            error(response).await,
            (
                404,
                json!({"type": "client_error", "errors": [
            {"code": "not_found", "detail": "Not found.", "attr": null}]})
            )
        );
        for (body, content_type, status, attr) in cases {
            let shown = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
            let response = post(body, content_type).await.expect("r");
            assert_eq!(response.status().as_u16(), status, "{content_type} {shown}");
            if let Some(attr) = attr {
                let error: Value = response.json().await.expect("error body");
                assert_eq!(error["type"], "validation_error", "{shown}");
                assert_eq!(error["errors"][0]["attr"].as_str(), Some(attr), "{shown}: {error}");
            }
        }
    }
}

#[tokio::test]
async fn cors_is_off_unless_origins_are_configured() {
    let origin = "https://status.example.com";
    let preflight = |api: &Api| {
        api.client
            .request(reqwest::Method::OPTIONS, format!("{}/incidents", api.base))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let api = Api::spawn(TestDatabase::sqlite()).await;
    let response = preflight(&api).await.expect("r");
    assert!(response.headers().get("access-control-allow-origin").is_none(), "off by default");
    let response = api
        .client
        .get(format!("{}/incidents", api.base))
        .bearer_auth(&api.viewer)
        .header("origin", origin)
        .send()
        .await
        .expect("r");
    assert!(response.headers().get("access-control-allow-origin").is_none());
    drop(api);

    let api = Api::spawn_with(TestDatabase::sqlite(), &[("CORS_ALLOWED_ORIGINS", origin)]).await;
    let response = preflight(&api).await.expect("r");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], origin);
    let response = api
        .client
        .get(format!("{}/incidents?limit=1", api.base))
        .bearer_auth(&api.viewer)
        .header("origin", origin)
        .send()
        .await
        .expect("r");
    assert_eq!(response.headers()["access-control-allow-origin"], origin);
    let exposed =
        response.headers()["access-control-expose-headers"].to_str().expect("text").to_ascii_lowercase();
    assert!(exposed.contains("link") && exposed.contains("x-total-count"), "{exposed}");
    let other = api
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/incidents", api.base))
        .header("origin", "https://evil.example.net")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .expect("r");
    assert!(other.headers().get("access-control-allow-origin").is_none(), "other origins are refused");
}

#[tokio::test]
async fn the_other_lists_export_as_csv_and_tsv_too() {
    for test in TestDatabase::each_backend() {
        let api = Api::spawn(test).await;
        let csv = api.get(&api.viewer, "/environments?format=csv").await;
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
        let text = csv.text().await.expect("text");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("default,description,id,name,order,value"), "every column, sorted");
        assert_eq!(text.lines().filter(|line| line.ends_with(",PRD")).count(), 1, "{text}");

        let tsv = api
            .client
            .get(format!("{}/priorities?fields=name,sla&labels=__hidden__", api.base))
            .bearer_auth(&api.viewer)
            .header("accept", "text/tab-separated-values")
            .send()
            .await
            .expect("r")
            .text()
            .await
            .expect("text");
        assert!(tsv.lines().any(|line| line == "P1\t02:00:00"), "{tsv}");
        assert!(!tsv.contains("name\t"), "no header with labels=__hidden__");

        let users = api.get(&api.viewer, "/users?format=csv&fields=email").await.text().await.expect("text");
        assert!(users.lines().any(|line| line == "viewer@example.com"), "{users}");
        let costs = api.get(&api.viewer, "/incident_costs?format=tsv").await;
        assert_eq!(costs.status(), 200);
        let empty = api.get(&api.viewer, "/groups?format=&fields=").await;
        assert_eq!(empty.headers()["content-type"], "application/json", "an empty format is JSON");
        let (status, body) = error(api.get(&api.viewer, "/groups?format=xml").await).await;
        assert_eq!((status, body["errors"][0]["attr"].as_str()), (400, Some("format")));
    }
}

#[tokio::test]
async fn a_change_shows_at_once_in_retrieve_and_list() {
    for test in TestDatabase::each_backend() {
        let api = Api::spawn(test).await;
        let created: Value =
            api.create(&api.admin, &api.incident("Before", "P3", "PRD")).await.json().await.expect("json");
        let id = created["id"].as_i64().expect("id");
        let one = format!("/incidents/{id}");
        let list = format!("/incidents?id={id}");
        // Rendered and kept.
        for _ in 0..2 {
            let body: Value = api.get(&api.viewer, &one).await.json().await.expect("json");
            assert_eq!(body["title"], "Before");
            let body: Value = api.get(&api.viewer, &list).await.json().await.expect("json");
            assert_eq!(body[0]["title"], "Before");
        }
        let response = api
            .client
            .post(format!("{}/incidents/{id}/updates", api.base))
            .bearer_auth(&api.admin)
            .json(&json!({"title": "After"}))
            .send()
            .await
            .expect("r");
        assert_eq!(response.status(), 200);
        let cost_types: Value = api.get(&api.admin, "/incident_cost_types").await.json().await.expect("json");
        let response = api
            .client
            .post(format!("{}/incidents/{id}/costs", api.base))
            .bearer_auth(&api.admin)
            .json(&json!({"cost_type_id": cost_types[0]["id"], "amount": "12.50"}))
            .send()
            .await
            .expect("r");
        assert_eq!(response.status(), 201);
        let cost_name = cost_types[0]["name"].as_str().expect("name");
        let body: Value = api.get(&api.viewer, &one).await.json().await.expect("json");
        assert_eq!(
            (body["title"].as_str(), body["costs"][cost_name]["amount"].as_str()),
            (Some("After"), Some("12.50"))
        );
        let body: Value = api.get(&api.viewer, &list).await.json().await.expect("json");
        assert_eq!(body[0]["title"], "After", "the list does not serve the old rendering");
    }
}

#[tokio::test]
async fn admins_list_failed_jobs_and_retry_them() {
    use jobs::JobStore;
    use storage::schema::jobs as job_table;
    for test in TestDatabase::each_backend() {
        // Without the server's own runner, which would take the retried job.
        let api = Api::spawn_with(test, &[("EMBEDDED_JOBS", "false")]).await;
        // One job that failed its last attempt. (Written directly: the server's own runner drains
        // the outbox, and no job type subscribes to events yet.)
        let now = incidents_core::clock::now();
        let database = &api.test.database;
        diesel::insert_into(job_table::table)
            .values((
                job_table::name.eq("test.notify"),
                job_table::queue.eq("test"),
                job_table::payload.eq("{}"),
                job_table::idempotency_key.eq("notify:1"),
                job_table::state.eq("dead"),
                job_table::attempts.eq(1),
                job_table::run_at.eq(now),
                job_table::last_error.eq(Some("receiver answered 503")),
                job_table::created_at.eq(now),
                job_table::updated_at.eq(now),
            ))
            .execute(&mut database.connection().expect("connection"))
            .expect("job");

        let (status, _) = error(api.get(&api.viewer, "/jobs").await).await;
        assert_eq!(status, 403, "jobs are for admins");
        let (status, body) = error(api.get(&api.admin, "/jobs?state=broken").await).await;
        assert_eq!((status, body["errors"][0]["attr"].as_str()), (400, Some("state")));

        let dead: Value = api.get(&api.admin, "/jobs?state=dead").await.json().await.expect("json");
        assert_eq!(dead.as_array().map(Vec::len), Some(1));
        assert_eq!(dead[0]["last_error"], "receiver answered 503");
        assert_eq!((dead[0]["state"].as_str(), dead[0]["attempts"].as_u64()), (Some("dead"), Some(1)));
        let id = dead[0]["id"].as_i64().expect("id");
        assert_eq!(
            api.get(&api.admin, "/jobs?state=pending").await.json::<Value>().await.expect("json"),
            json!([])
        );

        let retry = format!("{}/jobs/{id}/retry", api.base);
        let response = api.client.post(&retry).bearer_auth(&api.admin).send().await.expect("r");
        assert_eq!(response.status(), 200);
        let job: Value = response.json().await.expect("json");
        assert_eq!((job["state"].as_str(), job["attempts"].as_u64()), (Some("pending"), Some(0)));
        let (status, body) =
            error(api.client.post(&retry).bearer_auth(&api.admin).send().await.expect("r")).await;
        assert_eq!((status, body["errors"][0]["code"].as_str()), (409, Some("JOB_NOT_DEAD")));
        assert_eq!(api.get(&api.admin, &format!("/jobs/{id}")).await.status(), 200);
        assert_eq!(api.get(&api.admin, "/jobs/999999").await.status(), 404);
        assert_eq!(
            database
                .claim(10, incidents_core::clock::now(), std::time::Duration::from_secs(30), None)
                .expect("claim")
                .len(),
            1,
            "runs again"
        );
    }
}

#[tokio::test]
async fn the_server_drains_the_outbox_in_process() {
    use storage::schema::outbox_events;
    for test in TestDatabase::each_backend() {
        let api = Api::spawn(test).await;
        assert_eq!(api.create(&api.admin, &api.incident("Drained", "P3", "PRD")).await.status(), 201);
        let unpublished = || -> i64 {
            outbox_events::table
                .filter(outbox_events::published_at.is_null())
                .count()
                .get_result(&mut api.test.database.connection().expect("connection"))
                .expect("count")
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while unpublished() > 0 {
            assert!(std::time::Instant::now() < deadline, "the outbox was not drained");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn the_periodic_cleanup_deletes_delivered_events_after_the_retention() {
    use jobs::maintenance::Cleanup;
    use storage::schema::outbox_events;
    let api = Api::spawn(TestDatabase::sqlite()).await;
    assert_eq!(api.create(&api.admin, &api.incident("Cleaned", "P3", "PRD")).await.status(), 201);
    let count = |published: bool| -> i64 {
        let mut conn = api.test.database.connection().expect("connection");
        if published {
            outbox_events::table
                .filter(outbox_events::published_at.is_not_null())
                .count()
                .get_result(&mut conn)
        } else {
            outbox_events::table.count().get_result(&mut conn)
        }
        .expect("count")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count(true) == 0 {
        assert!(std::time::Instant::now() < deadline, "the outbox was not drained");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut registry = jobs::Registry::new();
    let mut scheduler = jobs::Scheduler::new(chrono_tz::Tz::UTC, incidents_core::clock::now());
    let retention = std::time::Duration::from_secs(7 * 86_400);
    jobs::maintenance::register(&mut registry, &mut scheduler, api.test.database.clone(), retention)
        .expect("registry");
    let run = |days: i64| {
        let tick = incidents_core::clock::now() + chrono::Duration::days(days);
        let payload = serde_json::to_string(&Cleanup { tick }).expect("payload");
        registry.run("maintenance.cleanup", &payload, 1)
    };
    assert_eq!(run(1), Ok(()));
    assert!(count(false) > 0, "kept within the retention");
    assert_eq!(run(8), Ok(()));
    assert_eq!(count(false), 0, "deleted after it");
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn webhooks_deliver_signed_events_and_keep_a_delivery_log() {
    for test in TestDatabase::each_backend() {
        let receiver = Receiver::start();
        let api = Api::spawn_with(test, &[("FF_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")]).await;
        let url = format!("{}/webhooks", api.base);
        let secret = "a-shared-secret-of-some-length";
        let body = json!({"url": receiver.url, "secret": secret, "events": ["incident_created"]});
        let (status, _) =
            error(api.client.post(&url).bearer_auth(&api.viewer).json(&body).send().await.expect("r")).await;
        assert_eq!(status, 403);
        for (bad, attr) in [
            (json!({"url": receiver.url, "secret": "short", "events": ["incident_created"]}), "secret"),
            (json!({"url": "ftp://x.example.com", "secret": secret, "events": ["incident_created"]}), "url"),
            (json!({"url": receiver.url, "secret": secret, "events": ["incident_exploded"]}), "events"),
            (json!({"url": receiver.url, "secret": secret, "events": []}), "events"),
        ] {
            let (status, error) =
                error(api.client.post(&url).bearer_auth(&api.admin).json(&bad).send().await.expect("r"))
                    .await;
            assert_eq!((status, error["errors"][0]["attr"].as_str()), (400, Some(attr)), "{bad}");
        }
        let response = api.client.post(&url).bearer_auth(&api.admin).json(&body).send().await.expect("r");
        assert_eq!(response.status(), 201);
        let endpoint: Value = response.json().await.expect("json");
        assert!(endpoint.get("secret").is_none(), "the secret is never shown");
        let stored = webhooks::WebhookStore::endpoints(&api.test.database).expect("endpoints");
        assert!(
            stored[0].secret.starts_with("enc1:") && !stored[0].secret.contains(secret),
            "the secret is stored encrypted"
        );
        let listed: Value = api.get(&api.admin, "/webhooks").await.json().await.expect("json");
        assert_eq!(listed.as_array().map(Vec::len), Some(1));

        let created: Value =
            api.create(&api.admin, &api.incident("Hooked", "P2", "PRD")).await.json().await.expect("json");
        wait_for("the delivery", async || !receiver.received().is_empty()).await;
        let (headers, raw) = receiver.received().remove(0);
        let timestamp: i64 = headers["x-firefighter-timestamp"].parse().expect("unix seconds");
        assert_eq!(headers["x-firefighter-signature"], webhooks::signature(secret, timestamp, &raw));
        assert_eq!(headers["x-firefighter-event"], "incident_created");
        assert!(!headers["x-firefighter-event-id"].is_empty());
        let delivered: Value = serde_json::from_slice(&raw).expect("JSON body");
        assert_eq!(delivered["event_id"].as_str(), Some(headers["x-firefighter-event-id"].as_str()));
        assert_eq!(delivered["incident"]["id"], created["id"]);
        assert_eq!(delivered["incident"]["title"], "Hooked");
        assert_eq!(delivered["changes"]["title"], "Hooked");
        // The body says who declared it, through which entry point, and the version it produced.
        let admin = api
            .test
            .database
            .find_user_by_email(&Email::parse("admin@example.com").expect("email"))
            .expect("query")
            .expect("the admin");
        assert_eq!(delivered["actor"], json!({"user_id": admin.id.to_string(), "entry_point": "api"}));
        assert_eq!(
            (delivered["incident_version"].as_i64(), delivered["schema_version"].as_i64()),
            (Some(0), Some(1))
        );

        let log_url = format!("/webhooks/{}/deliveries", endpoint["id"]);
        wait_for("the delivery log", async || {
            let log: Value = api.get(&api.admin, &log_url).await.json().await.expect("json");
            log[0]["state"] == "delivered"
        })
        .await;
        let log: Value = api.get(&api.admin, &log_url).await.json().await.expect("json");
        assert_eq!((log[0]["attempts"].as_u64(), log[0]["last_status"].as_u64()), (Some(1), Some(200)));
        // Another event type is not delivered to this endpoint.
        let id = created["id"].as_i64().expect("id");
        let _ = api
            .client
            .post(format!("{}/incidents/{id}/updates", api.base))
            .bearer_auth(&api.admin)
            .json(&json!({"title": "Renamed"}))
            .send()
            .await
            .expect("r");
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        assert_eq!(receiver.received().len(), 1, "incident_updated is not subscribed");
        // The outbox rows carry the same circumstances; the update produced version 1.
        // event type, actor, entry point, incident version, schema version
        type Row = (String, Option<String>, Option<String>, Option<i64>, i32);
        let rows: Vec<Row> = {
            use storage::schema::outbox_events as outbox;
            let mut conn = api.test.database.connection().expect("connection");
            outbox::table
                .filter(outbox::incident_id.eq(id))
                .order(outbox::id)
                .select((
                    outbox::event_type,
                    outbox::actor_user_id,
                    outbox::entry_point,
                    outbox::incident_version,
                    outbox::schema_version,
                ))
                .load(&mut conn)
                .expect("outbox rows")
        };
        let by = Some(admin.id.to_string());
        let api_entry = Some("api".to_owned());
        assert_eq!(
            rows,
            vec![
                ("incident_created".to_owned(), by.clone(), api_entry.clone(), Some(0), 1),
                ("incident_updated".to_owned(), by, api_entry, Some(1), 1),
            ]
        );

        let delete = format!("{url}/{}", endpoint["id"]);
        assert_eq!(api.client.delete(&delete).bearer_auth(&api.admin).send().await.expect("r").status(), 204);
        assert_eq!(api.client.delete(&delete).bearer_auth(&api.admin).send().await.expect("r").status(), 404);
        drop(receiver);
    }
}

#[tokio::test]
async fn webhooks_to_private_addresses_are_refused_by_default() {
    let receiver = Receiver::start();
    let api = Api::spawn(TestDatabase::sqlite()).await;
    let body = json!({"url": receiver.url, "secret": "a-shared-secret-of-some-length", "events": ["incident_created"]});
    let endpoint: Value = api
        .client
        .post(format!("{}/webhooks", api.base))
        .bearer_auth(&api.admin)
        .json(&body)
        .send()
        .await
        .expect("r")
        .json()
        .await
        .expect("json");
    assert_eq!(api.create(&api.admin, &api.incident("Not for loopback", "P3", "PRD")).await.status(), 201);
    let log_url = format!("/webhooks/{}/deliveries", endpoint["id"]);
    wait_for("the refusal", async || {
        let log: Value = api.get(&api.admin, &log_url).await.json().await.expect("json");
        log[0]["state"] == "dead"
    })
    .await;
    let log: Value = api.get(&api.admin, &log_url).await.json().await.expect("json");
    assert!(log[0]["last_error"].as_str().is_some_and(|e| e.starts_with("refused")), "{log}");
    assert!(receiver.received().is_empty(), "nothing reached the receiver");
    let dead: Value = api.get(&api.admin, "/jobs?state=dead").await.json().await.expect("json");
    assert_eq!(dead[0]["name"], "webhook.deliver");
    drop(receiver);
}

#[tokio::test]
async fn a_nul_character_is_a_400_naming_the_attribute_on_every_backend() {
    for test in TestDatabase::each_backend() {
        let api = Api::spawn(test).await;
        let mut body = api.incident("Fine", "P3", "PRD");
        body["title"] = json!("Check\u{0}out");
        let (status, refused) = error(api.create(&api.admin, &body).await).await;
        assert_eq!((status, refused["errors"][0]["attr"].as_str()), (400, Some("title")), "{refused}");
        assert_eq!(refused["errors"][0]["code"], "null_characters_not_allowed");

        let form = "title=Check%00out&description=d&environment_id=x&incident_category_id=y&priority_id=z\
                    &created_by_email=oncall%40example.com";
        let response = api
            .client
            .post(format!("{}/incidents", api.base))
            .bearer_auth(&api.admin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("request");
        let (status, refused) = error(response).await;
        assert_eq!((status, refused["errors"][0]["attr"].as_str()), (400, Some("title")), "{refused}");

        let (status, refused) = error(api.get(&api.admin, "/incidents?priority=%00").await).await;
        assert_eq!((status, refused["errors"][0]["attr"].as_str()), (400, Some("priority")), "{refused}");

        let created: Value =
            api.create(&api.admin, &api.incident("Fine", "P3", "PRD")).await.json().await.expect("json");
        let response = api
            .client
            .post(format!("{}/incidents/{}/updates", api.base, created["id"]))
            .bearer_auth(&api.admin)
            .json(&json!({"message": "nul\u{0}"}))
            .send()
            .await
            .expect("request");
        let (status, refused) = error(response).await;
        assert_eq!((status, refused["errors"][0]["attr"].as_str()), (400, Some("message")), "{refused}");
    }
}

#[tokio::test]
async fn a_failing_receiver_gets_the_same_event_again_until_it_accepts_it() {
    let receiver = Receiver::start();
    receiver.answer(503);
    let api = Api::spawn_with(TestDatabase::sqlite(), &[("FF_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")]).await;
    let body = json!({"url": receiver.url, "secret": "a-shared-secret-of-some-length", "events": ["incident_created"]});
    let endpoint: Value = api
        .client
        .post(format!("{}/webhooks", api.base))
        .bearer_auth(&api.admin)
        .json(&body)
        .send()
        .await
        .expect("r")
        .json()
        .await
        .expect("json");
    let _ = api.create(&api.admin, &api.incident("Flaky receiver", "P2", "PRD")).await;
    wait_for("the first, refused delivery", async || !receiver.received().is_empty()).await;
    let log_url = format!("/webhooks/{}/deliveries", endpoint["id"]);
    wait_for("the failure in the log", async || {
        let log: Value = api.get(&api.admin, &log_url).await.json().await.expect("json");
        log[0]["state"] == "failing" && log[0]["last_status"] == 503
    })
    .await;
    // The receiver recovers: the retry (after the policy's first delay, 5 to 10 s) delivers the same event.
    receiver.answer(200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let log: Value = api.get(&api.admin, &log_url).await.json().await.expect("json");
        if log[0]["state"] == "delivered" {
            assert_eq!((log[0]["attempts"].as_u64(), log[0]["last_status"].as_u64()), (Some(2), Some(200)));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not delivered after the receiver recovered: {log}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let ids = receiver.header_values("x-firefighter-event-id");
    assert_eq!(ids.len(), 2, "refused once, then accepted");
    assert_eq!(ids[0], ids[1], "the same event both times, so the receiver can deduplicate");
}

/// Reads a list page by page (`limit=1`, following `Link`) and checks the headers on the way.
async fn every_page(api: &Api, token: &str, path: &str) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut url = format!("{}{path}{separator}limit=1&count=true", api.base);
    let mut items = Vec::new();
    let mut total = None;
    loop {
        let page = api.client.get(&url).bearer_auth(token).send().await.expect("request");
        assert_eq!(page.status(), 200, "{url}");
        let counted: u64 = page
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{url}: no X-Total-Count"));
        assert_eq!(*total.get_or_insert(counted), counted, "{url}: the total moved");
        let next = page
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .map(|link| link.trim_start_matches('<').split('>').next().expect("<url>").to_owned());
        let body: Vec<Value> = page.json().await.expect("a JSON array");
        assert!(body.len() == 1, "{url}: {} rows for limit=1", body.len());
        items.extend(body);
        match next {
            // The link is absolute, on BASE_URL: the same server as seen from outside.
            Some(next) => {
                let public = "https://ff.example.com/api/v2/firefighter";
                assert!(next.starts_with(public), "{url}: Link {next}");
                url = next.replacen(public, &api.base, 1);
            }
            None => break,
        }
    }
    assert_eq!(Some(items.len() as u64), total, "{path}: the pages hold the total");
    items
}

#[tokio::test]
async fn every_list_pages_with_limit_offset_link_and_total() {
    for test in TestDatabase::each_backend() {
        let receiver = Receiver::start();
        let api = Api::spawn_with(test, &[("FF_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")]).await;
        let webhook = json!({"url": receiver.url, "secret": "a-shared-secret-of-some-length", "events": ["incident_created"]});
        let mut endpoint = Value::Null;
        for _ in 0..3 {
            let response = api.send(reqwest::Method::POST, &api.admin, "/webhooks", &webhook).await;
            assert_eq!(response.status(), 201);
            endpoint = response.json().await.expect("json");
        }
        for n in 0..3 {
            assert_eq!(
                api.create(&api.admin, &api.incident(&format!("Paged {n}"), "P3", "PRD")).await.status(),
                201
            );
            let group = json!({"permissions": ["incidents.view_incident"]});
            let path = format!("/permission-groups/readers-{n}");
            assert_eq!(api.send(reqwest::Method::PUT, &api.admin, &path, &group).await.status(), 201);
        }
        let deliveries = format!("/webhooks/{}/deliveries", endpoint["id"]);
        wait_for("three deliveries to the last endpoint", async || {
            let log: Value =
                api.get(&api.admin, &format!("{deliveries}?limit=10")).await.json().await.expect("json");
            log.as_array().is_some_and(|log| log.len() == 3)
        })
        .await;
        for (path, token) in [
            ("/environments", &api.viewer),
            ("/priorities", &api.viewer),
            ("/severities", &api.viewer),
            ("/incident-categories", &api.viewer),
            ("/components", &api.viewer),
            ("/groups", &api.viewer),
            ("/incident_cost_types", &api.viewer),
            ("/role-types", &api.viewer),
            ("/key-event-types", &api.viewer),
            ("/metric-types", &api.viewer),
            ("/impact-types", &api.viewer),
            ("/incidents", &api.viewer),
            ("/users", &api.admin),
            ("/api-tokens", &api.admin),
            ("/permission-groups", &api.admin),
            ("/webhooks", &api.admin),
            (deliveries.as_str(), &api.admin),
        ] {
            let whole: Value =
                api.get(token, &format!("{path}?limit=1000")).await.json().await.expect("json");
            let whole = whole.as_array().unwrap_or_else(|| panic!("{path}: a JSON array")).clone();
            assert!(whole.len() >= 2, "{path}: too few rows to page ({})", whole.len());
            assert_eq!(
                every_page(&api, token, path).await,
                whole,
                "{path}: the pages are the list, in order"
            );
            for bad in ["limit=0", "limit=1001", "offset=-1", "count=maybe"] {
                let (status, body) = error(api.get(token, &format!("{path}?{bad}")).await).await;
                let attr = bad.split('=').next().expect("name");
                assert_eq!((status, body["errors"][0]["attr"].as_str()), (400, Some(attr)), "{path}?{bad}");
            }
        }
    }
}
