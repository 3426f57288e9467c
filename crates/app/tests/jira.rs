//! Jira (RAID), end to end in the embedded mode: the product as shipped against a fake Jira on
//! loopback that sends signed webhooks back, incidents driven through the REST API, on every backend.
#![expect(clippy::expect_used, reason = "test")]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use firefighter_app::{AppBuilder, Application};
use hmac::{Hmac, Mac as _};
use incidents_core::access::AccessRepository as _;
use incidents_core::{Email, NewUser, UserRepository as _};
use serde_json::{Value, json};
use storage::testing::TestDatabase;
use test_support::jira::{FakeJira, JiraFailure, SERVICE_ACCOUNT};

const USER: &str = "firefighter@example.com";
const PASSWORD: &str = "jira-api-token";
const SECRET: &str = "a-jira-webhook-secret";
/// A person in Jira.
const PERSON: &str = "712020:person-in-jira";

struct Running {
    base: String,
    token: String,
    client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    priorities: HashMap<i32, String>,
    environment: String,
    category: String,
}

fn vars(test: &TestDatabase, jira: &FakeJira, secret: &str) -> HashMap<String, String> {
    let url = match &test.url {
        storage::DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
        storage::DatabaseUrl::Postgres { url } => url.clone(),
    };
    [
        ("HTTP_PORT", "0"),
        ("DATABASE_URL", url.as_str()),
        ("SECRET_KEY", "a-test-secret-key-of-32-characters!!"),
        ("BASE_URL", "https://ff.example.com"),
        ("ENABLE_JIRA", "true"),
        ("ENABLE_RAID", "true"),
        ("RAID_JIRA_API_URL", jira.url.as_str()),
        ("RAID_JIRA_API_USER", USER),
        ("RAID_JIRA_API_PASSWORD", PASSWORD),
        ("RAID_DEFAULT_JIRA_QRAFT_USER_ID", SERVICE_ACCOUNT),
        ("RAID_JIRA_PROJECT_KEY", "INCIDENT"),
        ("RAID_JIRA_WEBHOOK_SECRET", secret),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .chain([("FF_DATA_DIR".to_owned(), std::env::temp_dir().display().to_string())])
    .collect()
}

async fn start(test: &TestDatabase, vars: &HashMap<String, String>) -> Running {
    let user = test
        .database
        .create_user(&NewUser {
            email: Email::parse("ada@example.com").expect("email"),
            name: "Ada Lovelace".into(),
            is_admin: true,
            password_hash: None,
        })
        .expect("user");
    let token = http_api::new_token();
    test.database.create_api_token(user.id, "test", &http_api::hash_token(&token), None).expect("token");
    let app = AppBuilder::standard().configure(vars).expect("configuration");
    let application = Application::build(&app, test.database.clone()).expect("application");
    let base = format!("http://{}", application.address());
    let handle = application.handle();
    tokio::spawn(application.run_until(std::future::pending()));
    use storage::schema::{environments, incident_categories, priorities};
    let mut conn = test.database.connection().expect("connection");
    let environment = environments::table
        .filter(environments::value.eq("PRD"))
        .select(environments::id)
        .first(&mut conn)
        .expect("env");
    let category =
        incident_categories::table.select(incident_categories::id).first(&mut conn).expect("category");
    let priorities: Vec<(i32, String)> =
        priorities::table.select((priorities::value, priorities::id)).load(&mut conn).expect("priorities");
    Running {
        base,
        token,
        client: reqwest::Client::new(),
        handle,
        priorities: priorities.into_iter().collect(),
        environment,
        category,
    }
}

impl Running {
    async fn declare(&self, priority: i32, title: &str) -> i64 {
        let created: Value = self
            .client
            .post(format!("{}/api/v2/firefighter/incidents", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"title": title, "description": "Orders fail at payment.", "environment_id": self.environment,
                "incident_category_id": self.category, "priority_id": self.priorities[&priority],
                "created_by_email": "ada@example.com"}))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        created["id"].as_i64().unwrap_or_else(|| panic!("declared: {created}"))
    }

    async fn update(&self, id: i64, body: Value) -> u16 {
        self.client
            .post(format!("{}/api/v2/firefighter/incidents/{id}/updates", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }

    async fn incident(&self, id: i64) -> Value {
        let url = format!("{}/api/v2/firefighter/incidents/{id}", self.base);
        self.client
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    async fn webhook(&self, body: &Value, signature: Option<String>, identifier: &str) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/api/v2/firefighter/raid/jira_update", self.base))
            .header("content-type", "application/json")
            .header("x-atlassian-webhook-identifier", identifier)
            .body(body.to_string());
        if let Some(signature) = signature {
            request = request.header("x-hub-signature", signature);
        }
        request.send().await.expect("request")
    }
}

fn sign(secret: &str, body: &Value) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body.to_string().as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The jobs that failed, for a failure's message.
fn failing_jobs(test: &TestDatabase) -> Vec<(String, String, String)> {
    use storage::schema::jobs;
    let mut conn = test.database.connection().expect("connection");
    jobs::table
        .filter(jobs::last_error.is_not_null())
        .select((jobs::name, jobs::state, jobs::last_error.assume_not_null()))
        .load(&mut conn)
        .expect("jobs")
}

async fn eventually_in(test: &TestDatabase, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}; failed jobs: {:?}",
            failing_jobs(test)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (status value, priority value) of an incident.
fn incident_state(test: &TestDatabase, id: i64) -> (i32, i32) {
    use storage::schema::{incidents, priorities};
    let mut conn = test.database.connection().expect("connection");
    incidents::table
        .inner_join(priorities::table)
        .filter(incidents::id.eq(id))
        .select((incidents::status, priorities::value))
        .first(&mut conn)
        .expect("incident")
}

/// Jobs of `name` not done yet.
fn pending_jobs(test: &TestDatabase, name: &str) -> i64 {
    use storage::schema::jobs;
    let mut conn = test.database.connection().expect("connection");
    jobs::table
        .filter(jobs::name.eq(name))
        .filter(jobs::state.ne("done"))
        .count()
        .get_result(&mut conn)
        .expect("jobs")
}

fn issue_status(jira: &FakeJira, key: &str) -> String {
    jira.state().issue(key).map(|issue| issue.status().to_owned()).unwrap_or_default()
}

/// The writes the product made to one issue (creations, field updates, transitions), in order.
fn writes_to(jira: &FakeJira, issue_id: &str) -> Vec<String> {
    jira.state()
        .writes()
        .iter()
        .filter(|call| call.path.contains(&format!("/issue/{issue_id}")))
        .map(|call| format!("{} {}", call.method, call.path))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_per_incident_and_status_and_priority_in_step_both_ways() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let jira = FakeJira::start(USER, PASSWORD, raid_jira::workflow::incident_workflow_layout());
        let running = start(&test, &vars(&test, &jira, SECRET)).await;
        jira.send_webhooks_to(&format!("{}/api/v2/firefighter/raid/jira_update", running.base), SECRET);
        jira.state().users.push((PERSON.into(), "Grace Hopper".into(), "grace@example.com".into()));

        // Declared through the API: one ticket, with the mapped fields.
        let id = running.declare(2, "Checkout is down for everyone").await;
        eventually("the ticket exists", || jira.state().issues.len() == 1).await;
        eventually("the ticket is recorded", || pending_jobs(&test, "raid.create_ticket") == 0).await;
        let (issue_id, key) = {
            let state = jira.state();
            let issue = &state.issues[0];
            assert_eq!(issue.fields["summary"], "Checkout is down for everyone");
            assert_eq!(issue.fields["project"]["key"], "INCIDENT");
            assert_eq!(issue.fields["reporter"]["id"], SERVICE_ACCOUNT);
            assert_eq!(issue.option("customfield_11064"), Some("2"));
            assert_eq!(issue.fields["customfield_11049"], json!([{"value": "PRD"}]));
            assert!(
                issue.fields["labels"]
                    .as_array()
                    .expect("labels")
                    .contains(&json!(format!("firefighter-incident-{id}")))
            );
            assert!(issue.fields["description"].as_str().expect("text").contains("critical incident"));
            assert!(
                issue
                    .remote_links
                    .iter()
                    .any(|(_, url, _)| url == &format!("https://ff.example.com/incident/{id}/"))
            );
            (issue.id.clone(), issue.key.clone())
        };
        let shown = running.incident(id).await;
        assert_eq!(shown["jira_ticket_key"], key.as_str(), "{shown}");
        assert_eq!(shown["jira_ticket_url"], format!("{}/browse/{key}", jira.url));

        // Incident → Jira: Investigating is "in progress", two hops, one change.
        assert_eq!(running.update(id, json!({"status": 20, "message": "Looking"})).await, 200);
        eventually_in(&test, "Jira is in progress", || issue_status(&jira, &key) == "in progress").await;
        eventually("the push is done", || pending_jobs(&test, "raid.push") == 0).await;
        // Our own transitions come back as webhooks by the service account: nothing bounces (the
        // "Pending resolution" hop does not reopen the incident).
        eventually("our webhooks arrive", || jira.state().webhooks_sent.len() >= 2).await;
        eventually("and are applied", || pending_jobs(&test, "raid.webhook") == 0).await;
        assert_eq!(incident_state(&test, id), (20, 2));
        // Mitigating maps to "in progress" too: no write.
        let before = writes_to(&jira, &issue_id).len();
        assert_eq!(running.update(id, json!({"status": 30})).await, 200);
        assert_eq!(running.update(id, json!({"priority_id": running.priorities[&1]})).await, 200);
        eventually("the priority reaches Jira", || {
            jira.state().issue(&key).and_then(|i| i.option("customfield_11064").map(str::to_owned))
                == Some("1".into())
        })
        .await;
        eventually("the pushes are done", || pending_jobs(&test, "raid.push") == 0).await;
        let after = writes_to(&jira, &issue_id);
        assert_eq!(after.len(), before + 1, "one write: the priority, not the status: {after:?}");

        // Jira → incident: a person's change is applied, with entry point Jira.
        jira.person_sets_status(&key, "Reporter validation", PERSON);
        eventually("the incident is mitigated", || incident_state(&test, id).0 == 40).await;
        jira.person_sets_option(&key, "customfield_11064", "3", PERSON);
        eventually("the incident is a P3", || incident_state(&test, id).1 == 3).await;
        eventually("the webhooks are applied", || pending_jobs(&test, "raid.webhook") == 0).await;
        // ... and not pushed back.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(pending_jobs(&test, "raid.push"), 0);
        assert_eq!(writes_to(&jira, &issue_id).len(), before + 1, "nothing echoed to Jira");
        let timeline: Vec<String> = {
            use storage::schema::incident_updates;
            let mut conn = test.database.connection().expect("connection");
            incident_updates::table
                .filter(incident_updates::incident_id.eq(id))
                .select(incident_updates::event_type.assume_not_null())
                .filter(incident_updates::event_type.is_not_null())
                .load(&mut conn)
                .expect("timeline")
        };
        assert!(
            timeline.contains(&"jira_status_sync".to_owned())
                && timeline.contains(&"jira_priority_sync".to_owned()),
            "{timeline:?}"
        );

        // Jira closes it, but a P3 needs its key events: refused, commented, the incident stays.
        jira.person_sets_status(&key, "Closed", PERSON);
        eventually("the refusal is commented", || {
            jira.state().issue(&key).is_some_and(|i| !i.comments.is_empty())
        })
        .await;
        assert_eq!(incident_state(&test, id).0, 40);
        assert!(jira.state().issue(&key).expect("issue").comments[0].contains("did not move"));

        running.handle.stop(true).await;
        jira.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_deduplicated_and_refused_without_a_secret() {
    let test = TestDatabase::sqlite().seeded();
    let jira = FakeJira::start(USER, PASSWORD, raid_jira::workflow::incident_workflow_layout());
    let running = start(&test, &vars(&test, &jira, SECRET)).await;
    let body = json!({"webhookEvent": "jira:issue_updated", "user": {"accountId": PERSON},
        "issue": {"id": "1", "key": "INCIDENT-404"}, "changelog": {"items": []}});
    // Unsigned, wrongly signed: 401 with the realm.
    let unsigned = running.webhook(&body, None, "a").await;
    assert_eq!(unsigned.status(), 401);
    assert_eq!(unsigned.headers()["www-authenticate"], "Signature realm=\"jira-webhook\"");
    assert_eq!(running.webhook(&body, Some(sign("another", &body)), "a").await.status(), 401);
    assert_eq!(running.webhook(&body, Some("sha1=00".into()), "a").await.status(), 401);
    // Signed: 200; the same delivery again: 200, one job.
    for _ in 0..3 {
        assert_eq!(running.webhook(&body, Some(sign(SECRET, &body)), "delivery-1").await.status(), 200);
    }
    let stored = {
        use storage::schema::jobs;
        let mut conn = test.database.connection().expect("connection");
        jobs::table.filter(jobs::name.eq("raid.webhook")).count().get_result::<i64>(&mut conn).expect("jobs")
    };
    assert_eq!(stored, 1, "a replay changes nothing");
    // Missing fields are named.
    let partial = json!({"webhookEvent": "jira:issue_updated"});
    let refused = running.webhook(&partial, Some(sign(SECRET, &partial)), "b").await;
    assert_eq!(refused.status(), 400);
    running.handle.stop(true).await;

    // With the secret empty, every webhook is refused, signed or not.
    let open = start(&TestDatabase::sqlite().seeded(), &vars(&test, &jira, "")).await;
    assert_eq!(open.webhook(&body, Some(sign("", &body)), "c").await.status(), 401);
    open.handle.stop(true).await;
    jira.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_while_jira_is_down_reach_it_in_order_once_it_is_back() {
    let test = TestDatabase::sqlite().seeded();
    let jira = FakeJira::start(USER, PASSWORD, raid_jira::workflow::incident_workflow_layout());
    let running = start(&test, &vars(&test, &jira, SECRET)).await;
    let id = running.declare(3, "Search is slow for everyone").await;
    eventually("the ticket exists", || jira.state().issues.len() == 1).await;
    eventually("the ticket is recorded", || pending_jobs(&test, "raid.create_ticket") == 0).await;
    let key = jira.state().issues[0].key.clone();
    // Jira answers 429 once: waited out within the call.
    jira.state().fail("/transitions", JiraFailure::RateLimited(1), 1);
    jira.state().down = true;
    assert_eq!(running.update(id, json!({"status": 20})).await, 200);
    assert_eq!(running.update(id, json!({"priority_id": running.priorities[&2]})).await, 200);
    assert_eq!(running.update(id, json!({"status": 30})).await, 200);
    assert_eq!(running.update(id, json!({"status": 40, "message": "Fixed by a rollback"})).await, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(issue_status(&jira, &key), "Incoming", "nothing reached a Jira that is down");
    jira.state().down = false;
    eventually_in(&test, "the last status reaches Jira", || {
        issue_status(&jira, &key) == "Reporter validation"
    })
    .await;
    eventually("and the priority", || {
        jira.state().issue(&key).and_then(|i| i.option("customfield_11064").map(str::to_owned))
            == Some("2".into())
    })
    .await;
    eventually("every push is done", || pending_jobs(&test, "raid.push") == 0).await;
    // Straight to the last status: never an older one after it.
    let history = jira.state().issue(&key).expect("issue").history.clone();
    assert_eq!(history.last().map(String::as_str), Some("Reporter validation"), "{history:?}");
    assert!(!history.contains(&"Incoming".to_owned()), "{history:?}");
    running.handle.stop(true).await;
    jira.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_whose_creation_answer_is_lost_is_found_not_made_twice() {
    let test = TestDatabase::sqlite().seeded();
    let jira = FakeJira::start(USER, PASSWORD, raid_jira::workflow::incident_workflow_layout());
    // Jira creates the issue but the answer is lost, and its search lags behind.
    jira.state().search_lag_ms = 1500;
    jira.state().fail("/rest/api/2/issue", JiraFailure::AfterWrite(502), 1);
    let running = start(&test, &vars(&test, &jira, SECRET)).await;
    let id = running.declare(4, "Invoices are late by a day").await;
    let store = raid_jira::store::RaidStore { database: test.database.clone() };
    eventually_in(&test, "the ticket is recorded", || {
        store.ticket(id).ok().flatten().is_some_and(|ticket| ticket.state == "created")
    })
    .await;
    // Left alone a little longer: still one issue, the one Jira made first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let issues = jira.state().issues.clone();
    assert_eq!(issues.len(), 1, "one ticket");
    assert_eq!(
        store.ticket(id).expect("query").expect("ticket").issue_key.as_deref(),
        Some(issues[0].key.as_str())
    );
    assert_eq!(running.incident(id).await["jira_ticket_key"], issues[0].key.as_str());
    running.handle.stop(true).await;
    jira.stop().await;
}

/// Whether the product and the fake Jira are at rest: no webhook in flight, no Jira job waiting.
fn at_rest(test: &TestDatabase, jira: &FakeJira) -> bool {
    jira.state().webhooks_pending == 0
        && ["raid.push", "raid.webhook", "raid.create_ticket"]
            .iter()
            .all(|name| pending_jobs(test, name) == 0)
}

async fn settle(test: &TestDatabase, jira: &FakeJira) {
    // At rest twice in a row, a beat apart: a webhook may be about to start a job.
    for _ in 0..2 {
        eventually_in(test, "the sides are at rest", || at_rest(test, jira)).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    eventually_in(test, "the sides are at rest", || at_rest(test, jira)).await;
}

/// The product's writes to an issue's fields so far: field updates, assignments, and status moves
/// (transitions), counted apart.
fn field_writes(jira: &FakeJira, issue_id: &str) -> (usize, usize, usize) {
    let state = jira.state();
    let (mut updates, mut assignments, mut transitions) = (0, 0, 0);
    for call in state.writes() {
        if call.path == format!("/rest/api/2/issue/{issue_id}") && call.method == "PUT" {
            updates += 1;
        } else if call.path == format!("/rest/api/2/issue/{issue_id}/assignee") {
            assignments += 1;
        } else if call.path == format!("/rest/api/2/issue/{issue_id}/transitions") {
            transitions += 1;
        }
    }
    (updates, assignments, transitions)
}

/// Both sides of the five mirrored fields: (status, priority, title, description, commander's
/// e-mail) of the incident, and (status, priority, summary, description, assignee's e-mail) of
/// its issue.
type Mirror = (String, String, String, String, String);

fn incident_side(test: &TestDatabase, id: i64) -> Mirror {
    use raid_jira::mapping::FieldMap as _;
    use storage::schema::{incident_role_types, incident_roles, incidents, priorities, users};
    let mut conn = test.database.connection().expect("connection");
    let (status, priority, title, description): (i32, i32, String, String) = incidents::table
        .inner_join(priorities::table)
        .filter(incidents::id.eq(id))
        .select((incidents::status, priorities::value, incidents::title, incidents::description))
        .first(&mut conn)
        .expect("incident");
    let commander: Option<String> = incident_roles::table
        .inner_join(incident_role_types::table)
        .inner_join(users::table)
        .filter(incident_roles::incident_id.eq(id))
        .filter(incident_role_types::slug.eq("commander"))
        .select(users::email)
        .first(&mut conn)
        .optional()
        .expect("commander");
    let status = incidents_core::IncidentStatus::from_value(status).expect("status");
    let mapped = raid_jira::mapping::StatusMap.to_external(&status).expect("mapped");
    (mapped, priority.to_string(), title, description, commander.unwrap_or_default())
}

fn jira_side(jira: &FakeJira, key: &str) -> Mirror {
    let state = jira.state();
    let issue = state.issue(key).expect("issue");
    let assignee = issue.fields.get("assignee").and_then(|a| a.get("accountId")).and_then(Value::as_str);
    let email = assignee
        .and_then(|a| state.users.iter().find(|(id, _, _)| id == a))
        .map(|(_, _, email)| email.clone())
        .unwrap_or_default();
    let description = issue.fields.get("description").and_then(Value::as_str).unwrap_or_default();
    (
        issue.status().to_owned(),
        issue.option("customfield_11064").unwrap_or_default().to_owned(),
        issue.fields.get("summary").and_then(Value::as_str).unwrap_or_default().to_owned(),
        raid_jira::wiki::split_footer(description).0.to_owned(),
        email,
    )
}

/// People on both sides: (e-mail, Jira account id).
const PEOPLE: [(&str, &str); 3] =
    [("ada@example.com", "acc-ada"), ("grace@example.com", PERSON), ("linus@example.com", "acc-linus")];

fn add_people(test: &TestDatabase, jira: &FakeJira) {
    for (email, account) in PEOPLE {
        let name = email.split('@').next().expect("name").to_owned();
        jira.state().users.push((account.into(), name.clone(), email.into()));
        if email != "ada@example.com" {
            test.database
                .create_user(&NewUser {
                    email: Email::parse(email).expect("email"),
                    name,
                    is_admin: false,
                    password_hash: None,
                })
                .expect("user");
        }
    }
}

async fn set_commander(running: &Running, id: i64, email: &str) -> u16 {
    running
        .client
        .put(format!("{}/api/v2/firefighter/incidents/{id}/roles", running.base))
        .bearer_auth(&running.token)
        .json(&json!({"commander": email}))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one random walk, its steps and its checks")]
async fn a_hundred_random_changes_of_five_fields_on_both_sides_agree_and_nothing_bounces() {
    use raid_jira::mapping::{FieldMap as _, StatusMap};
    let test = TestDatabase::sqlite().seeded();
    let jira = FakeJira::start(USER, PASSWORD, raid_jira::workflow::incident_workflow_layout());
    let running = start(&test, &vars(&test, &jira, SECRET)).await;
    jira.send_webhooks_to(&format!("{}/api/v2/firefighter/raid/jira_update", running.base), SECRET);
    add_people(&test, &jira);
    let id = running.declare(4, "Random walk of an incident").await;
    eventually("the ticket exists", || jira.state().issues.len() == 1).await;
    settle(&test, &jira).await;
    let (issue_id, key) = {
        let state = jira.state();
        (state.issues[0].id.clone(), state.issues[0].key.clone())
    };
    let descriptions = [
        "Orders **fail** at _payment_ since `deploy-42`.\n- EU\n- US",
        "Checkout returns 500 for 3% of carts; see [the runbook](https://runbook.example.com/pay).",
        "# Impact\nSellers cannot upload *catalogues* (CSV > 10 MB).",
        "Plain text with foo_bar and 2*3 and {braces} [brackets] C:\\temp",
    ];
    let wikis = [
        "h2. Timeline\n* *14:02* alert\n* _14:05_ rollback {{v1.2}}",
        "Search is slow: p95 at 4 s. [dashboard|https://grafana.example.com/d/search]",
        "bq. Customers see timeouts\n# restart\n# scale up",
    ];
    // A fixed seed: a failure replays.
    let mut seed: u64 = 0x5eed_f12e;
    let mut next = |below: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(seed >> 33).expect("small") % below
    };
    // A field whose last Jira change the incident refused is out of step until it moves again.
    let mut out_of_step = [false; 5];
    let (mut accepted, mut refused, mut jira_changes) = (0, 0, 0);
    // What each side was last set to, for the descriptions: never grown by a round trip.
    let mut description_set: Option<(bool, String)> = None;
    for step in 0..100 {
        let writes_before = field_writes(&jira, &issue_id);
        let comments_before = jira.state().issue(&key).map_or(0, |i| i.comments.len());
        let incident_before = incident_side(&test, id);
        let what;
        let mut field = next(5);
        if next(2) == 0 {
            let (status, body) = match field {
                0 => {
                    let target = [10, 20, 30, 40, 50][next(5)];
                    (
                        running
                            .update(id, json!({"status": target, "message": format!("step {step}")}))
                            .await,
                        json!(target),
                    )
                }
                1 => {
                    let value = i32::try_from(next(5)).expect("small") + 1;
                    (
                        running.update(id, json!({"priority_id": running.priorities[&value]})).await,
                        json!(value),
                    )
                }
                2 => {
                    let title = format!("Random walk, step {step}");
                    (running.update(id, json!({"title": title})).await, json!(title))
                }
                3 => {
                    let text = descriptions[next(descriptions.len())];
                    let status = running.update(id, json!({"description": text})).await;
                    if status == 200 {
                        description_set = Some((true, text.trim().to_owned()));
                    }
                    (status, json!(text))
                }
                _ => {
                    let email = PEOPLE[next(PEOPLE.len())].0;
                    (set_commander(&running, id, email).await, json!(email))
                }
            };
            what = format!("incident field {field} = {body} (answered {status})");
            if status == 200 {
                accepted += 1;
                if incident_side(&test, id) != incident_before {
                    // The incident moved this field: pushed, so in step again.
                    out_of_step[field] = false;
                }
            }
        } else {
            jira_changes += 1;
            match field {
                0 => {
                    let name =
                        ["Incoming", "Pending resolution", "in progress", "Reporter validation"][next(4)];
                    jira.person_sets_status(&key, name, PERSON);
                    what = format!("jira status {name}");
                }
                1 => {
                    let value = (next(5) + 1).to_string();
                    jira.person_sets_option(&key, "customfield_11064", &value, PERSON);
                    what = format!("jira priority {value}");
                }
                2 => {
                    let summary = format!("Summary set in Jira at step {step}");
                    jira.person_sets_text(&key, "summary", &summary, PERSON);
                    what = format!("jira summary {summary}");
                }
                3 => {
                    let wiki = wikis[next(wikis.len())];
                    jira.person_sets_text(&key, "description", wiki, PERSON);
                    description_set = Some((false, wiki.to_owned()));
                    what = format!("jira description {wiki:?}");
                }
                _ => {
                    let account = PEOPLE[next(PEOPLE.len())].1;
                    jira.person_assigns(&key, Some(account), PERSON);
                    what = format!("jira assignee {account}");
                    field = 4;
                }
            }
        }
        settle(&test, &jira).await;
        if jira.state().issue(&key).map_or(0, |i| i.comments.len()) > comments_before {
            refused += 1;
            out_of_step[field] = true;
        }
        let (ours, theirs) = (incident_side(&test, id), jira_side(&jira, &key));
        let writes = field_writes(&jira, &issue_id);
        if what.starts_with("jira") {
            // Nothing bounces: a change made in Jira makes no write back to Jira.
            assert_eq!(writes, writes_before, "step {step} ({what}): a Jira change was written back");
        } else {
            // One write at most for the one field changed.
            let made = (writes.0 - writes_before.0)
                + (writes.1 - writes_before.1)
                + usize::from(writes.2 > writes_before.2);
            assert!(made <= 1, "step {step} ({what}): {made} writes");
        }
        let context = || {
            format!(
                "step {step} ({what}): incident {ours:?}, Jira {theirs:?}, failed jobs {:?}",
                failing_jobs(&test)
            )
        };
        // Both sides agree on every field, but one whose Jira change the incident refused.
        if !out_of_step[0] {
            let read_back = StatusMap.to_local(&theirs.0).and_then(|s| StatusMap.to_external(&s));
            assert!(ours.0 == theirs.0 || read_back.as_ref() == Some(&ours.0), "status: {}", context());
        }
        assert_eq!(ours.1, theirs.1, "priority: {}", context());
        if !out_of_step[2] {
            assert_eq!(ours.2, theirs.2, "title: {}", context());
        }
        if !out_of_step[3] {
            // Exactly what was set on either side, converted once: no round trip grew it.
            use raid_jira::wiki::{from_wiki, to_wiki};
            match &description_set {
                Some((true, text)) => {
                    assert_eq!(&ours.3, text, "description: {}", context());
                    assert_eq!(theirs.3, to_wiki(text), "description: {}", context());
                }
                Some((false, wiki)) => {
                    assert_eq!(&theirs.3, wiki, "description: {}", context());
                    assert_eq!(ours.3, from_wiki(wiki), "description: {}", context());
                }
                None => assert_eq!(theirs.3, to_wiki(&ours.3), "description: {}", context()),
            }
        }
        if !out_of_step[4] {
            assert_eq!(ours.4, theirs.4, "commander: {}", context());
        }
    }
    eprintln!(
        "100 steps: {accepted} incident changes accepted, {jira_changes} Jira changes, {refused} of them refused by the workflow"
    );
    running.handle.stop(true).await;
    jira.stop().await;
}

/// The `jira` subcommand, as an operator runs it (off the async threads, as a command line is),
/// against the same database and Jira.
async fn jira_command(vars: &HashMap<String, String>, args: &[&str]) -> std::process::ExitCode {
    let mut line = vec!["firefighter-server".to_owned(), "jira".to_owned()];
    line.extend(args.iter().map(|a| (*a).to_owned()));
    let vars = vars.clone();
    tokio::task::spawn_blocking(move || {
        AppBuilder::standard().run_server(line.into_iter().map(Into::into), &vars)
    })
    .await
    .expect("the command ran")
}

fn timeline_entries(test: &TestDatabase, id: i64) -> Vec<(String, String)> {
    use storage::schema::incident_updates;
    let mut conn = test.database.connection().expect("connection");
    incident_updates::table
        .filter(incident_updates::incident_id.eq(id))
        .filter(incident_updates::event_type.is_not_null())
        .order(incident_updates::created_at)
        .select((incident_updates::event_type.assume_not_null(), incident_updates::message))
        .load::<(String, Option<String>)>(&mut conn)
        .expect("timeline")
        .into_iter()
        .map(|(kind, message)| (kind, message.unwrap_or_default()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_changes_within_one_sync_window_follow_each_fields_policy() {
    let test = TestDatabase::sqlite().seeded();
    let jira = FakeJira::start(USER, PASSWORD, raid_jira::workflow::incident_workflow_layout());
    let mut vars = vars(&test, &jira, SECRET);
    vars.insert("RAID_SYNC_CONFLICT_POLICY".into(), "title=jira".into());
    let running = start(&test, &vars).await;
    let webhooks = format!("{}/api/v2/firefighter/raid/jira_update", running.base);
    jira.send_webhooks_to(&webhooks, SECRET);
    add_people(&test, &jira);
    let id = running.declare(4, "Payments are failing").await;
    eventually("the ticket exists", || jira.state().issues.len() == 1).await;
    settle(&test, &jira).await;
    let key = jira.state().issues[0].key.clone();
    // Within one sync window: a person changes the summary and the description in Jira, and before
    // their webhooks are applied (here: lost), the incident changes both too.
    jira.state().webhook_url = None;
    jira.person_sets_text(&key, "summary", "Card payments fail in Jira's words", PERSON);
    jira.person_sets_text(&key, "description", "Described in *Jira*", PERSON);
    let body = json!({"title": "Card payments fail in FireFighter's words", "description": "Described in **FireFighter**"});
    assert_eq!(running.update(id, body).await, 200);
    settle(&test, &jira).await;
    let (ours, theirs) = (incident_side(&test, id), jira_side(&jira, &key));
    // title=jira: Jira's summary wins, on both sides.
    assert_eq!(
        (ours.2.as_str(), theirs.2.as_str()),
        ("Card payments fail in Jira's words", "Card payments fail in Jira's words")
    );
    // description: the default policy, FireFighter's text wins, on both sides.
    assert_eq!(
        (ours.3.as_str(), theirs.3.as_str()),
        ("Described in **FireFighter**", "Described in *FireFighter*")
    );
    let comments = jira.state().issue(&key).expect("issue").comments.clone();
    assert!(
        comments.iter().any(|c| c.contains("both changed the description") && c.contains("`firefighter`")),
        "{comments:?}"
    );
    let timeline = timeline_entries(&test, id);
    assert!(
        timeline
            .iter()
            .any(|(kind, message)| kind == "jira_title_sync" && message.contains("conflict policy")),
        "{timeline:?}"
    );
    // The person's webhooks, delivered late, change nothing.
    jira.send_webhooks_to(&webhooks, SECRET);
    jira.person_sets_text(&key, "summary", "Card payments fail in Jira's words", PERSON);
    settle(&test, &jira).await;
    assert_eq!(incident_side(&test, id), ours);
    // The commander is required: unassigning the ticket in Jira does not clear it, and says why.
    assert_eq!(set_commander(&running, id, "grace@example.com").await, 200);
    settle(&test, &jira).await;
    assert_eq!(jira_side(&jira, &key).4, "grace@example.com");
    jira.person_assigns(&key, None, PERSON);
    settle(&test, &jira).await;
    assert_eq!(incident_side(&test, id).4, "grace@example.com", "the commander stays");
    let comments = jira.state().issue(&key).expect("issue").comments.clone();
    assert!(comments.iter().any(|c| c.contains("REQUIRED_ROLE")), "{comments:?}");
    // Assigning someone else is followed.
    jira.person_assigns(&key, Some("acc-linus"), PERSON);
    settle(&test, &jira).await;
    assert_eq!(incident_side(&test, id).4, "linus@example.com");
    running.handle.stop(true).await;
    jira.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_after_jira_was_down_brings_every_open_incident_and_its_ticket_in_step() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let jira = FakeJira::start(USER, PASSWORD, raid_jira::workflow::incident_workflow_layout());
        let vars = vars(&test, &jira, SECRET);
        let running = start(&test, &vars).await;
        let webhooks = format!("{}/api/v2/firefighter/raid/jira_update", running.base);
        jira.send_webhooks_to(&webhooks, SECRET);
        add_people(&test, &jira);
        let mut ids = Vec::new();
        for title in ["Search is slow", "Invoices are late", "Uploads fail"] {
            ids.push(running.declare(4, title).await);
        }
        eventually("the tickets exist", || jira.state().issues.len() == 3).await;
        settle(&test, &jira).await;
        let key_of = |id: i64| {
            raid_jira::store::RaidStore { database: test.database.clone() }
                .ticket(id)
                .expect("ticket")
                .and_then(|t| t.issue_key)
                .expect("key")
        };
        let keys: Vec<String> = ids.iter().map(|id| key_of(*id)).collect();
        // Jira is down for ten minutes: our calls fail, and its webhooks never reach us.
        jira.state().down = true;
        jira.state().webhook_url = None;
        assert_eq!(
            running.update(ids[0], json!({"status": 20, "title": "Search is slow for everyone"})).await,
            200
        );
        jira.person_sets_text(&keys[1], "summary", "Invoices are late by two days", PERSON);
        jira.person_sets_option(&keys[1], "customfield_11064", "2", PERSON);
        assert_eq!(running.update(ids[2], json!({"description": "Uploads over **10 MB** fail."})).await, 200);
        jira.person_assigns(&keys[2], Some(PERSON), PERSON);
        ids.push(running.declare(4, "Declared while Jira was down").await);
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Ten minutes later their jobs have been given up (dead), and Jira is back.
        {
            use storage::schema::jobs;
            let mut conn = test.database.connection().expect("connection");
            diesel::update(jobs::table.filter(jobs::name.like("raid.%")).filter(jobs::state.ne("done")))
                .set(jobs::state.eq("dead"))
                .execute(&mut conn)
                .expect("give up");
        }
        jira.state().down = false;
        assert_eq!(jira_command(&vars, &["resync"]).await, std::process::ExitCode::SUCCESS);
        assert_eq!(jira.state().issues.len(), 4, "the missing ticket was made");
        for id in &ids {
            let key = key_of(*id);
            let (ours, theirs) = (incident_side(&test, *id), jira_side(&jira, &key));
            assert_eq!(ours.0, theirs.0, "incident {id}: status");
            assert_eq!((&ours.1, &ours.2, &ours.4), (&theirs.1, &theirs.2, &theirs.4), "incident {id}");
            assert_eq!(raid_jira::wiki::to_wiki(&ours.3), theirs.3, "incident {id}: description");
        }
        // Each side's change arrived on the other.
        assert_eq!(jira_side(&jira, &keys[0]).2, "Search is slow for everyone");
        assert_eq!(incident_side(&test, ids[1]).2, "Invoices are late by two days");
        assert_eq!(incident_state(&test, ids[1]).1, 2);
        assert_eq!(incident_side(&test, ids[2]).4, "grace@example.com");
        // Run again: nothing left to do.
        let writes = jira.state().writes().len();
        assert_eq!(jira_command(&vars, &["resync"]).await, std::process::ExitCode::SUCCESS);
        assert_eq!(jira.state().writes().len(), writes, "a second resync writes nothing");
        running.handle.stop(true).await;
        jira.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_link_and_unlink_issues_and_comments_go_both_ways() {
    let test = TestDatabase::sqlite().seeded();
    let jira = FakeJira::start(USER, PASSWORD, raid_jira::workflow::incident_workflow_layout());
    let vars = vars(&test, &jira, SECRET);
    let running = start(&test, &vars).await;
    let webhooks = format!("{}/api/v2/firefighter/raid/jira_update", running.base);
    jira.send_webhooks_to(&webhooks, SECRET);
    add_people(&test, &jira);
    let id = running.declare(4, "Exports are empty").await;
    eventually("the ticket exists", || jira.state().issues.len() == 1).await;
    settle(&test, &jira).await;
    let first = jira.state().issues[0].key.clone();

    // A comment made in Jira is a timeline entry credited to its author.
    jira.person_comments(&first, "I see it on *every* export.", PERSON);
    settle(&test, &jira).await;
    let comment: (String, String) = {
        use storage::schema::{incident_updates, users};
        let mut conn = test.database.connection().expect("connection");
        incident_updates::table
            .inner_join(users::table.on(users::id.nullable().eq(incident_updates::created_by_id)))
            .filter(incident_updates::incident_id.eq(id))
            .filter(incident_updates::event_type.eq("jira_comment"))
            .select((users::email, incident_updates::message.assume_not_null()))
            .first(&mut conn)
            .expect("comment")
    };
    assert_eq!(comment.0, "grace@example.com");
    assert!(comment.1.contains("I see it on **every** export."), "{comment:?}");
    // A timeline message marked for Jira becomes a comment, once.
    let posted = running
        .client
        .post(format!("{}/api/v2/firefighter/raid/incidents/{id}/comments", running.base))
        .bearer_auth(&running.token)
        .json(&json!({"message": "Fixed by re-running the export job."}))
        .send()
        .await
        .expect("request");
    assert_eq!(posted.status(), 202);
    eventually("the comment is on the issue", || {
        jira.state()
            .issue(&first)
            .is_some_and(|i| i.comments.iter().any(|c| c.contains("Fixed by re-running")))
    })
    .await;
    settle(&test, &jira).await;
    let comments = jira.state().issue(&first).expect("issue").comments.clone();
    assert_eq!(comments.iter().filter(|c| c.contains("Fixed by re-running")).count(), 1, "{comments:?}");
    assert_eq!(
        timeline_entries(&test, id).iter().filter(|(kind, _)| kind == "jira_comment").count(),
        1,
        "our comment is not echoed"
    );

    // A ticket the mirror knows nothing of (made before a field was mirrored): the side that
    // changes is followed, never reverted.
    {
        use raid_jira::schema::raid_sync_state;
        let mut conn = test.database.connection().expect("connection");
        diesel::delete(raid_sync_state::table.filter(raid_sync_state::incident_id.eq(id)))
            .execute(&mut conn)
            .expect("forget");
    }
    jira.person_sets_text(&first, "summary", "Exports are empty for sellers", PERSON);
    settle(&test, &jira).await;
    assert_eq!(incident_side(&test, id).2, "Exports are empty for sellers");
    assert_eq!(running.update(id, json!({"description": "Every export is **empty**."})).await, 200);
    settle(&test, &jira).await;
    assert_eq!(jira_side(&jira, &first).3, "Every export is *empty*.");
    assert_eq!(jira_side(&jira, &first).2, "Exports are empty for sellers");

    // An operator links another, existing issue: it becomes the ticket, in step with the incident.
    {
        let mut state = jira.state();
        let mut issue = state.issues[0].clone();
        issue.id = "77777".into();
        issue.key = "INCIDENT-77".into();
        issue.fields.insert("summary".into(), json!("An older report of the same problem"));
        issue.fields.insert("labels".into(), json!([]));
        issue.comments.clear();
        state.issues.push(issue);
    }
    let refused = running
        .client
        .put(format!("{}/api/v2/firefighter/raid/incidents/{id}/ticket", running.base))
        .bearer_auth(&running.token)
        .json(&json!({"issue_key": "not a key"}))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 400);
    let linked = running
        .client
        .put(format!("{}/api/v2/firefighter/raid/incidents/{id}/ticket", running.base))
        .bearer_auth(&running.token)
        .json(&json!({"issue_key": "INCIDENT-77"}))
        .send()
        .await
        .expect("request");
    assert_eq!(linked.status(), 202);
    eventually("the incident's ticket is INCIDENT-77", || {
        raid_jira::store::RaidStore { database: test.database.clone() }
            .ticket(id)
            .ok()
            .flatten()
            .and_then(|t| t.issue_key)
            .as_deref()
            == Some("INCIDENT-77")
    })
    .await;
    settle(&test, &jira).await;
    // Nothing agreed yet: the default policy keeps the incident's values.
    assert_eq!(jira_side(&jira, "INCIDENT-77").2, "Exports are empty for sellers");
    assert_eq!(running.incident(id).await["jira_ticket_key"], "INCIDENT-77");
    // The issue is deleted in Jira: the incident has no ticket any more, and its timeline says so.
    let deleted = json!({"webhookEvent": "jira:issue_deleted", "user": {"accountId": PERSON, "displayName": "grace"},
        "issue": {"id": "77777", "key": "INCIDENT-77"}});
    assert_eq!(running.webhook(&deleted, Some(sign(SECRET, &deleted)), "deleted-77").await.status(), 200);
    eventually("the incident is unlinked, and its timeline says so", || {
        raid_jira::store::RaidStore { database: test.database.clone() }.ticket(id).ok().flatten().is_none()
            && timeline_entries(&test, id)
                .iter()
                .any(|(kind, message)| kind == "jira_unlinked" && message.contains("INCIDENT-77"))
    })
    .await;
    assert!(running.incident(id).await["jira_ticket_key"].is_null());
    // Linked again from the command line, then unlinked there.
    assert_eq!(
        jira_command(&vars, &["link", &id.to_string(), &first]).await,
        std::process::ExitCode::SUCCESS
    );
    assert_eq!(running.incident(id).await["jira_ticket_key"], first.as_str());
    assert_eq!(jira_command(&vars, &["unlink", &id.to_string()]).await, std::process::ExitCode::SUCCESS);
    assert_ne!(
        jira_command(&vars, &["unlink", &id.to_string()]).await,
        std::process::ExitCode::SUCCESS,
        "nothing to unlink"
    );
    running.handle.stop(true).await;
    jira.stop().await;
}

/// Files on loopback, for Landbot's attachments: `/<name>` answers the name's bytes.
async fn file_server() -> (String, actix_web::dev::ServerHandle) {
    let server = actix_web::HttpServer::new(|| {
        actix_web::App::new().default_service(actix_web::web::to(
            |request: actix_web::HttpRequest| async move {
                actix_web::HttpResponse::Ok().body(format!("the bytes of {}", request.path()))
            },
        ))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind");
    let address = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://{address}"), handle)
}

fn landbot_request(attachments: &str) -> Value {
    json!({"summary": "Seller cannot upload a catalogue", "description": "The upload page answers **500**.",
        "reporter_email": "ops@partner.example.org", "platform": "FR", "seller_contract_id": "12345", "zoho": null,
        "incident_category": null, "suggested_team_routing": "SBI", "priority": 3, "business_impact": "Medium",
        "labels": ["catalogue"], "environments": ["PRD"], "attachments": attachments})
}

async fn post_landbot(running: &Running, body: &Value, token: Option<&str>) -> reqwest::Response {
    let mut request =
        running.client.post(format!("{}/api/v2/firefighter/raid/jira_bot", running.base)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn landbot_requests_refuse_private_attachments_and_upload_public_ones() {
    let jira = FakeJira::start(USER, PASSWORD, raid_jira::workflow::incident_workflow_layout());
    jira.state().projects.insert("SBI".into(), "10001".into());
    let (files, files_handle) = file_server().await;

    // As shipped: attachments on private, loopback or link-local addresses are refused, on
    // `attachments`, before Jira is called.
    let strict_db = TestDatabase::sqlite().seeded();
    let strict = start(&strict_db, &vars(&strict_db, &jira, SECRET)).await;
    assert_eq!(post_landbot(&strict, &landbot_request(""), None).await.status(), 401);
    for private in [
        format!("{files}/shot.png"),
        "http://localhost/a.png".into(),
        "http://169.254.169.254/latest/meta-data".into(),
        format!("['https://93.184.215.14/ok.png', '{files}/shot.png']"),
    ] {
        let refused = post_landbot(&strict, &landbot_request(&private), Some(&strict.token)).await;
        assert_eq!(refused.status(), 400, "{private}");
        let body: Value = refused.json().await.expect("json");
        assert_eq!(body["errors"][0]["attr"], "attachments", "{private}: {body}");
    }
    let invalid = post_landbot(&strict, &json!({"summary": "x"}), Some(&strict.token)).await;
    assert_eq!(invalid.status(), 400);
    assert!(jira.state().issues.is_empty(), "nothing reached Jira");
    strict.handle.stop(true).await;

    // Allowed to fetch from loopback (a test set-up): 201 with the key, and the files on the issue.
    let test = TestDatabase::sqlite().seeded();
    let mut allowing = vars(&test, &jira, SECRET);
    allowing.insert("RAID_ATTACHMENTS_ALLOW_PRIVATE".into(), "true".into());
    let running = start(&test, &allowing).await;
    let attachments = format!("['{files}/screenshot.png', '{files}/logs/upload.txt?token=1']");
    let created = post_landbot(&running, &landbot_request(&attachments), Some(&running.token)).await;
    assert_eq!(created.status(), 201);
    let key: Value = created.json().await.expect("json");
    assert_eq!(key, json!("SBI-1"), "the key, as a JSON string");
    eventually_in(&test, "the attachments are on the issue", || {
        jira.state().issue("SBI-1").is_some_and(|issue| issue.attachments.len() == 2)
    })
    .await;
    let issue = jira.state().issue("SBI-1").expect("issue").clone();
    assert_eq!(issue.attachments, vec!["image0.png", "image1.txt"]);
    assert_eq!(issue.fields["summary"], "Seller cannot upload a catalogue");
    assert_eq!(issue.option("customfield_11064"), Some("3"));
    assert_eq!(issue.fields["customfield_10908"], "12345");
    let description = issue.fields["description"].as_str().expect("description");
    assert!(description.starts_with("The upload page answers *500*."), "{description}");
    assert!(
        description.contains("Incident Verification Bot") && description.contains("ops@partner.example.org"),
        "{description}"
    );
    eventually("the upload job is done", || pending_jobs(&test, "raid.bot_attachments") == 0).await;
    // Never an incident: no incident was declared for it.
    let incidents: i64 = {
        use storage::schema::incidents;
        let mut conn = test.database.connection().expect("connection");
        incidents::table.count().get_result(&mut conn).expect("count")
    };
    assert_eq!(incidents, 0);
    running.handle.stop(true).await;
    files_handle.stop(false).await;
    jira.stop().await;
}
