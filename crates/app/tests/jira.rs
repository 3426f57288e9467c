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

/// The product's writes of mapped values to an issue so far: field updates, and status moves (a
/// run of transitions between two other writes is one move).
fn mapped_writes(jira: &FakeJira, issue_id: &str) -> (usize, usize) {
    let state = jira.state();
    let (mut updates, mut transitions) = (0, 0);
    for call in state.writes() {
        if call.path == format!("/rest/api/2/issue/{issue_id}") && call.method == "PUT" {
            updates += 1;
        } else if call.path == format!("/rest/api/2/issue/{issue_id}/transitions") {
            transitions += 1;
        }
    }
    (updates, transitions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_random_changes_on_both_sides_agree_and_write_once_per_mapped_change() {
    use raid_jira::mapping::{FieldMap as _, StatusMap};
    let test = TestDatabase::sqlite().seeded();
    let jira = FakeJira::start(USER, PASSWORD, raid_jira::workflow::incident_workflow_layout());
    let running = start(&test, &vars(&test, &jira, SECRET)).await;
    jira.send_webhooks_to(&format!("{}/api/v2/firefighter/raid/jira_update", running.base), SECRET);
    jira.state().users.push((PERSON.into(), "Grace Hopper".into(), "grace@example.com".into()));
    let id = running.declare(4, "Random walk of an incident").await;
    eventually("the ticket exists", || jira.state().issues.len() == 1).await;
    settle(&test, &jira).await;
    let (issue_id, key) = {
        let state = jira.state();
        (state.issues[0].id.clone(), state.issues[0].key.clone())
    };
    let jira_status = || jira.state().issue(&key).map(|i| i.status().to_owned()).unwrap_or_default();
    let jira_priority = || {
        jira.state()
            .issue(&key)
            .and_then(|i| i.option("customfield_11064").map(str::to_owned))
            .unwrap_or_default()
    };
    // A fixed seed: a failure replays.
    let mut seed: u64 = 0x5eed_f12e;
    let mut next = |below: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % below
    };
    let (mut expected_writes, mut total_writes, mut accepted, mut refused) = (0, 0, 0, 0);
    let mut status_out_of_step = false;
    for step in 0..100 {
        let (writes_before, comments_before) =
            (mapped_writes(&jira, &issue_id), jira.state().issue(&key).map_or(0, |i| i.comments.len()));
        let what;
        let mut expected = 0;
        if next(2) == 0 {
            // The incident side, through the API; the lifecycle may refuse.
            let (body, mapped_before, mapped_after) = if next(2) == 0 {
                let target = [10, 20, 30, 40, 50][usize::try_from(next(5)).expect("small")];
                let after = StatusMap
                    .to_external(&incidents_core::IncidentStatus::from_value(target).expect("status"))
                    .expect("mapped");
                (json!({"status": target, "message": format!("step {step}")}), jira_status(), after)
            } else {
                let value = i32::try_from(next(5)).expect("small") + 1;
                (json!({"priority_id": running.priorities[&value]}), jira_priority(), value.to_string())
            };
            let before = incident_state(&test, id);
            what = format!("incident {body} (was {before:?}, Jira {})", jira_status());
            if running.update(id, body).await == 200 {
                accepted += 1;
                // A change of the field (not a message alone) that moves the mapped value writes once.
                let after = incident_state(&test, id);
                let changed = if what.contains("status") { after.0 != before.0 } else { after.1 != before.1 };
                if changed && mapped_after != mapped_before {
                    expected = 1;
                }
                if changed && what.contains("status") {
                    status_out_of_step = false;
                }
            }
        } else if next(2) == 0 {
            let name = ["Incoming", "Pending resolution", "in progress", "Reporter validation"]
                [usize::try_from(next(4)).expect("small")];
            what = format!("jira status {name}");
            jira.person_sets_status(&key, name, PERSON);
        } else {
            let value = (next(5) + 1).to_string();
            what = format!("jira priority {value}");
            jira.person_sets_option(&key, "customfield_11064", &value, PERSON);
        }
        settle(&test, &jira).await;
        let (status_now, priority_now) = incident_state(&test, id);
        if jira.state().issue(&key).map_or(0, |i| i.comments.len()) > comments_before {
            refused += 1;
            status_out_of_step = true;
        }
        // One write per incident-side change that moved a mapped value, none otherwise.
        let (updates, transitions) = mapped_writes(&jira, &issue_id);
        let made = (updates - writes_before.0) + usize::from(transitions > writes_before.1);
        assert_eq!(made, expected, "step {step} ({what}): writes to Jira");
        expected_writes += expected;
        total_writes += made;
        // Both sides agree, on every change the lifecycle accepted.
        let status_label = incidents_core::IncidentStatus::from_value(status_now).expect("status");
        assert_eq!(jira_priority(), priority_now.to_string(), "step {step} ({what}): priority");
        if !status_out_of_step {
            let jira_now = jira_status();
            assert!(
                StatusMap.to_external(&status_label).as_deref() == Some(jira_now.as_str())
                    || StatusMap.to_local(&jira_now) == Some(status_label),
                "step {step} ({what}): incident {status_label:?}, Jira {jira_now}; Jira's history {:?}; failed jobs {:?}; writes {:?}",
                jira.state().issue(&key).map(|i| i.history.clone()),
                failing_jobs(&test),
                jira.state()
                    .writes()
                    .iter()
                    .rev()
                    .take(6)
                    .map(|c| format!("{} {} {}", c.method, c.path, c.body))
                    .collect::<Vec<_>>()
            );
        }
    }
    eprintln!(
        "100 steps: {accepted} incident changes accepted, {refused} Jira changes refused by the workflow, \
         {expected_writes} incident changes moved a mapped value, {total_writes} writes to Jira"
    );
    assert_eq!(total_writes, expected_writes);
    running.handle.stop(true).await;
    jira.stop().await;
}
