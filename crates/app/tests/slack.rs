//! Slack, end to end in the embedded mode: the product as shipped (`AppBuilder::standard()`), a fake
//! Slack on loopback, incidents driven through the REST API, on every backend.
#![expect(clippy::expect_used, reason = "test")]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use firefighter_app::{AppBuilder, Application};
use incidents_core::access::AccessRepository;
use incidents_core::{Email, NewUser, UserRepository};
use serde_json::{Value, json};
use storage::testing::TestDatabase;
use test_support::slack::{BOT_USER, Failure, FakeSlack};

const TOKEN: &str = "xoxb-test-token";
const SIGNING_SECRET: &str = "a-signing-secret-for-tests";

fn vars(test: &TestDatabase, slack: Option<&FakeSlack>) -> HashMap<String, String> {
    let url = match &test.url {
        storage::DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
        storage::DatabaseUrl::Postgres { url } => url.clone(),
    };
    let mut vars: HashMap<String, String> = [
        ("HTTP_PORT", "0"),
        ("DATABASE_URL", url.as_str()),
        ("SECRET_KEY", "a-test-secret-key-of-32-characters!!"),
        ("BASE_URL", "https://ff.example.com"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    vars.insert("FF_DATA_DIR".into(), std::env::temp_dir().display().to_string());
    if let Some(slack) = slack {
        vars.insert("SLACK_BOT_TOKEN".into(), TOKEN.into());
        vars.insert("SLACK_SIGNING_SECRET".into(), SIGNING_SECRET.into());
        vars.insert("SLACK_API_URL".into(), slack.api_url.clone());
    }
    vars
}

struct Running {
    base: String,
    token: String,
    handle: actix_web::dev::ServerHandle,
    client: reqwest::Client,
    /// Priority value -> id; the PRD environment; a category.
    priorities: HashMap<i32, String>,
    environment: String,
    category: (String, String),
    /// Another category.
    other_category: (String, String),
}

async fn start(test: &TestDatabase, slack: Option<&FakeSlack>) -> Running {
    start_with(test, &vars(test, slack)).await
}

async fn start_with(test: &TestDatabase, vars: &HashMap<String, String>) -> Running {
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
    let mut conn = test.database.connection().expect("connection");
    use storage::schema::{environments, incident_categories, priorities};
    let environment = environments::table
        .filter(environments::value.eq("PRD"))
        .select(environments::id)
        .first(&mut conn)
        .expect("env");
    let categories: Vec<(String, String)> = incident_categories::table
        .order(incident_categories::name)
        .select((incident_categories::id, incident_categories::name))
        .limit(2)
        .load(&mut conn)
        .expect("categories");
    let (category, other_category) = (categories[0].clone(), categories[1].clone());
    let priorities: Vec<(i32, String)> =
        priorities::table.select((priorities::value, priorities::id)).load(&mut conn).expect("priorities");
    Running {
        base,
        token,
        handle,
        client: reqwest::Client::new(),
        priorities: priorities.into_iter().collect(),
        environment,
        category,
        other_category,
    }
}

impl Running {
    async fn declare(&self, priority: i32, title: &str) -> i64 {
        let created: Value = self
            .client
            .post(format!("{}/api/v2/firefighter/incidents", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"title": title, "description": "Orders fail at payment.", "environment_id": self.environment,
                "incident_category_id": self.category.0, "priority_id": self.priorities[&priority],
                "created_by_email": "ada@example.com"}))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        created["id"].as_i64().unwrap_or_else(|| panic!("declared: {created}"))
    }

    async fn update(&self, id: i64, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}/api/v2/firefighter/incidents/{id}/updates", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "update {body}");
        response.json().await.expect("json")
    }

    async fn incident(&self, id: i64) -> Value {
        self.client
            .get(format!("{}/api/v2/firefighter/incidents/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    fn slack_endpoint(&self) -> String {
        format!("{}/api/v2/firefighter/slack/incident/", self.base)
    }
}

/// Waits for `check` to hold (the jobs run in the background).
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn expected_name(id: i64, category: &str) -> String {
    let date = chrono::Utc::now().format("%Y%m%d");
    let category: String = category
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    format!("{date}-{id}-prd-{category}")
}

fn tag(test: &TestDatabase, channel: &str, name: &str, tag: &str) {
    slack_adapter::store::SlackStore::new(test.database.clone())
        .upsert_tagged(channel, name, "public", tag, incidents_core::clock::now())
        .expect("tag");
}

fn kinds(slack: &FakeSlack, channel: &str) -> Vec<String> {
    slack
        .messages_in(channel)
        .iter()
        .map(|message| {
            message.metadata.as_ref().and_then(|m| m["event_type"].as_str()).unwrap_or("none").to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p1_declared_through_the_api_lives_in_its_own_channel_until_closed() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let slack = FakeSlack::start(TOKEN);
        slack.add_user("UADA0001", "ada", "ada@example.com");
        let tech_incidents = slack.add_channel("tech-incidents");
        let running = start(&test, Some(&slack)).await;
        tag(&test, &tech_incidents, "tech-incidents", "tech_incidents");

        let id = running.declare(1, "Checkout is down").await;
        let name = expected_name(id, &running.category.1);
        eventually("the channel is set up", || {
            slack.channel_named(&name).is_some_and(|c| !c.bookmarks.is_empty() && !c.pins.is_empty())
                && kinds(&slack, &slack.channel_named(&name).map(|c| c.id).unwrap_or_default())
                    .contains(&"ff_incident_key_events_form".to_owned())
        })
        .await;
        let channel = slack.channel_named(&name).expect("channel");
        assert_eq!(slack.channels().len(), 2, "one channel made ({:?})", test.backend());
        assert!(channel.topic.starts_with("Incident - "), "{}", channel.topic);
        assert!(
            channel.topic.contains(&format!("https://ff.example.com/incident/{id}/")),
            "{}",
            channel.topic
        );
        assert!(
            channel.members.contains(&"UADA0001".to_owned()),
            "the reporter is invited: {:?}",
            channel.members
        );
        assert_eq!(channel.bookmarks.len(), 1);
        assert_eq!(channel.bookmarks[0].0, "Incident Page");
        assert_eq!(
            kinds(&slack, &channel.id),
            [
                "ff_incident_declared",
                "ff_incident_roles_updated",
                "ff_incident_com_process",
                "ff_incident_key_events_form"
            ],
        );
        let declared = &slack.messages_in(&channel.id)[0];
        assert_eq!(channel.pins, vec![declared.ts.clone()], "the announcement is pinned");
        assert_eq!(declared.metadata.as_ref().expect("metadata")["event_payload"]["incident_id"], json!(id));
        assert_eq!(kinds(&slack, &tech_incidents), ["ff_general_incident_declared"]);

        // The channel is the incident's facet: the API's `slack_channel_name`.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let shown = running.incident(id).await;
            if shown["slack_channel_name"] == json!(name) {
                break;
            }
            assert!(Instant::now() < deadline, "slack_channel_name not shown: {shown}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // Through the workflow: each update posts in the channel; Mitigated is announced.
        running
            .update(id, json!({"status": "Investigating", "message": "Looking at the payment provider"}))
            .await;
        running.update(id, json!({"status": "Mitigating", "message": "Rolling back"})).await;
        running.update(id, json!({"status": "Mitigated", "message": "Rolled back"})).await;
        eventually("the updates are posted", || {
            kinds(&slack, &channel.id).iter().filter(|k| *k == "ff_incident_status_updated").count() == 3
                && kinds(&slack, &tech_incidents).len() == 2
        })
        .await;
        let last = slack.messages_in(&tech_incidents).pop().expect("announcement");
        assert!(last.text.contains("has been Mitigated"), "{}", last.text);
        // Mitigated without its required key events: the channel is told which are missing.
        eventually("the key events are asked for", || {
            kinds(&slack, &channel.id).contains(&"ff_incident_key_events_form".to_owned())
        })
        .await;
        // The commander (the reporter) was told about the role, once.
        assert_eq!(slack.direct_messages("UADA0001").len(), 1);
        assert!(
            slack.direct_messages("UADA0001")[0].text.contains("Commander"),
            "{:?}",
            slack.direct_messages("UADA0001")
        );

        // A new priority renames nothing (the name has no priority) but sets the topic.
        running.update(id, json!({"priority_id": running.priorities[&2]})).await;
        eventually("the topic follows the priority", || {
            slack.channel_named(&name).is_some_and(|c| c.topic.contains(" P2 "))
        })
        .await;
        // A new category renames the channel.
        running.update(id, json!({"incident_category_id": running.other_category.0})).await;
        let renamed = expected_name(id, &running.other_category.1);
        eventually("the channel is renamed", || {
            slack
                .channel_named(&renamed)
                .is_some_and(|c| c.id == channel.id && c.topic.contains(&running.other_category.1))
        })
        .await;
        let shown = running.incident(id).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut shown = shown;
        while shown["slack_channel_name"] != json!(renamed) {
            assert!(Instant::now() < deadline, "the new name is not shown: {shown}");
            tokio::time::sleep(Duration::from_millis(100)).await;
            shown = running.incident(id).await;
        }

        // Closing archives; reopening brings the channel back.
        let other = running.declare(3, "False alarm on search").await;
        let other_name = expected_name(other, &running.category.1);
        running
            .update(
                other,
                json!({"status": "Closed", "closure_reason": "false_positive", "message": "Not an incident"}),
            )
            .await;
        eventually("the channel is archived", || {
            slack.channel_named(&other_name).is_some_and(|c| c.is_archived)
        })
        .await;
        running
            .update(other, json!({"status": "Investigating", "message": "It came back after the deploy"}))
            .await;
        eventually("the channel is unarchived", || {
            slack.channel_named(&other_name).is_some_and(|c| !c.is_archived)
        })
        .await;

        assert_eq!(slack.calls_of("conversations.create").len(), 2, "one channel per incident");
        running.handle.stop(true).await;
        slack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_asking_to_wait_delays_the_channel_and_does_not_duplicate_it() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.fail("conversations.create", &Failure::RateLimited(1), 2);
    slack.fail("chat.postMessage", &Failure::Status(503), 1);
    let running = start(&test, Some(&slack)).await;
    let id = running.declare(1, "Checkout is down").await;
    let name = expected_name(id, &running.category.1);
    eventually("the channel is set up", || {
        slack.channel_named(&name).is_some_and(|c| kinds(&slack, &c.id).len() == 4)
    })
    .await;
    assert_eq!(slack.calls_of("conversations.create").len(), 3, "two 429s, then made");
    assert_eq!(slack.channels().len(), 1);
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_step_shows_on_the_incident_and_the_rest_is_done() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.fail("bookmarks.add", &Failure::Error("restricted_action".into()), 1);
    let running = start(&test, Some(&slack)).await;
    let id = running.declare(1, "Checkout is down").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let facet = loop {
        let shown = running.incident(id).await;
        let failure = shown["facets"]
            .as_array()
            .and_then(|facets| facets.iter().find(|f| f["kind"] == "slack_failure"))
            .cloned();
        if let Some(failure) = failure {
            break failure;
        }
        assert!(Instant::now() < deadline, "no failure shown: {shown}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(facet["value"], "bookmark the incident page");
    assert!(facet["label"].as_str().expect("label").contains("restricted_action"), "{facet}");
    let name = expected_name(id, &running.category.1);
    let channel = slack.channel_named(&name).expect("the channel was made all the same");
    assert_eq!(kinds(&slack, &channel.id).len(), 4, "the other steps ran");
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_signed_requests_reach_the_slack_endpoint() {
    use slack_adapter::verify::sign;
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    let running = start(&test, Some(&slack)).await;
    let endpoint = running.slack_endpoint();
    let now = chrono::Utc::now().timestamp();
    let challenge = br#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let post =
        |timestamp: i64, signature: Option<String>, body: &'static [u8], content_type: &'static str| {
            let mut request = running
                .client
                .post(&endpoint)
                .header("content-type", content_type)
                .header("x-slack-request-timestamp", timestamp.to_string())
                .body(body);
            if let Some(signature) = signature {
                request = request.header("x-slack-signature", signature);
            }
            request.send()
        };
    let signed = |timestamp: i64, body: &[u8]| Some(sign(SIGNING_SECRET, &timestamp.to_string(), body));
    let json = "application/json";
    assert_eq!(post(now, None, challenge, json).await.expect("r").status(), 401, "unsigned");
    assert_eq!(
        post(now, Some(sign("wrong", &now.to_string(), challenge)), challenge, json)
            .await
            .expect("r")
            .status(),
        401
    );
    assert_eq!(
        post(now - 301, signed(now - 301, challenge), challenge, json).await.expect("r").status(),
        401,
        "stale"
    );
    assert_eq!(
        post(now + 301, signed(now + 301, challenge), challenge, json).await.expect("r").status(),
        401,
        "future"
    );
    let answer = post(now, signed(now, challenge), challenge, json).await.expect("r");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.json::<Value>().await.expect("json"),
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );

    let form = "application/x-www-form-urlencoded";
    let ssl = b"ssl_check=1&token=x";
    assert_eq!(post(now, signed(now, ssl), ssl, form).await.expect("r").status(), 200);
    let command = b"command=%2Fincident&text=oncall&user_id=UADA0001&channel_id=C1&response_url=https%3A%2F%2Fhooks.slack.com%2Fx";
    let reply: Value =
        post(now, signed(now, command), command, form).await.expect("r").json().await.expect("json");
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(reply["text"].as_str().expect("text").contains("not available yet"), "{reply}");

    // An event is queued once, however often Slack retries it; its job keeps our records in step.
    let store = slack_adapter::store::SlackStore::new(test.database.clone());
    store
        .upsert_tagged("C0TECH01", "tech-incidents", "public", "tech_incidents", incidents_core::clock::now())
        .expect("tag");
    let event = br#"{"type":"event_callback","event_id":"Ev0RENAME1","team_id":"T0FAKE01","event":{"type":"channel_rename","channel":{"id":"C0TECH01","name":"incidents-all","created":1}}}"#;
    for _ in 0..3 {
        assert_eq!(post(now, signed(now, event), event, json).await.expect("r").status(), 200);
    }
    eventually("the rename is recorded", || {
        store.conversation("C0TECH01").ok().flatten().is_some_and(|c| c.name == "incidents-all")
    })
    .await;
    let queued: i64 = {
        use diesel::dsl::count_star;
        let mut conn = test.database.connection().expect("connection");
        storage::schema::jobs::table
            .filter(storage::schema::jobs::name.eq("slack.event"))
            .select(count_star())
            .first(&mut conn)
            .expect("count")
    };
    assert_eq!(queued, 1, "Slack's retries are recognised by event_id");
    assert_eq!(slack.calls_of("auth.test").len(), 1, "auth.test ran at start-up, once");
    let _ = BOT_USER;
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_bot_token_there_is_no_slack_endpoint() {
    let test = TestDatabase::sqlite().seeded();
    let running = start(&test, None).await;
    let response = running.client.post(running.slack_endpoint()).body("x").send().await.expect("r");
    assert_eq!(response.status(), 404);
    let directory = format!("{}/api/v2/firefighter/slack/conversations", running.base);
    let response = running.client.get(directory).bearer_auth(&running.token).send().await.expect("r");
    assert_eq!(response.status(), 404);
    running.handle.stop(true).await;
}

#[test]
fn a_refused_bot_token_stops_the_start_up_with_one_line() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let test = TestDatabase::sqlite().seeded();
    let slack = runtime.block_on(async { FakeSlack::start("xoxb-another-token") });
    let app = AppBuilder::standard().configure(&vars(&test, Some(&slack))).expect("configuration");
    let error = Application::build(&app, test.database.clone()).expect_err("refused");
    assert_eq!(format!("{error:#}"), "integration slack: SLACK_BOT_TOKEN is refused by Slack (invalid_auth)");
    runtime.block_on(slack.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_the_slack_directory_through_the_api() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let slack = FakeSlack::start(TOKEN);
        let running = start(&test, Some(&slack)).await;
        let api = format!("{}/api/v2/firefighter/slack", running.base);
        let client = &running.client;
        let put = |path: String, body: Value| {
            client.put(format!("{api}{path}")).bearer_auth(&running.token).json(&body).send()
        };

        let created = put(
            "/conversations/C0TECH01".into(),
            json!({"name": "#tech-incidents", "tag": "tech_incidents",
            "incident_category_ids": [running.category.0]}),
        )
        .await
        .expect("r");
        assert_eq!(created.status(), 200);
        let created: Value = created.json().await.expect("json");
        assert_eq!(created["name"], "tech-incidents");
        assert_eq!(created["incident_category_ids"], json!([running.category.0]));

        let refused = |response: reqwest::Response| async move {
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("json");
            (status, body["errors"][0]["attr"].as_str().unwrap_or_default().to_owned())
        };
        let taken = put("/conversations/C0OTHER1".into(), json!({"name": "other", "tag": "tech_incidents"}))
            .await
            .expect("r");
        assert_eq!(refused(taken).await, (400, "tag".to_owned()), "a tag is unique");
        let bad_tag =
            put("/conversations/C0OTHER1".into(), json!({"name": "other", "tag": "Tech Incidents"}))
                .await
                .expect("r");
        assert_eq!(refused(bad_tag).await, (400, "tag".to_owned()));
        let unknown = put(
            "/conversations/C0OTHER1".into(),
            json!({"name": "other", "incident_category_ids": ["nope"]}),
        )
        .await
        .expect("r");
        assert_eq!(refused(unknown).await, (400, "incident_category_ids".to_owned()));
        let nameless = put("/conversations/C0OTHER1".into(), json!({"tag": ""})).await.expect("r");
        assert_eq!(refused(nameless).await, (400, "name".to_owned()));

        let group = put(
            "/user-groups/S0PLAT01".into(),
            json!({"handle": "@oncall", "tag": "invited_for_all_public_p1"}),
        )
        .await
        .expect("r");
        assert_eq!(group.status(), 200);
        let groups: Value = client
            .get(format!("{api}/user-groups"))
            .bearer_auth(&running.token)
            .send()
            .await
            .expect("r")
            .json()
            .await
            .expect("json");
        assert_eq!(groups[0]["handle"], "oncall");
        assert_eq!(groups[0]["tag"], "invited_for_all_public_p1");
        let listed: Value = client
            .get(format!("{api}/conversations"))
            .bearer_auth(&running.token)
            .send()
            .await
            .expect("r")
            .json()
            .await
            .expect("json");
        assert_eq!(listed.as_array().map(Vec::len), Some(1));

        // Admins only.
        let user = test
            .database
            .create_user(&NewUser {
                email: Email::parse("bob@example.com").expect("email"),
                name: "Bob".into(),
                is_admin: false,
                password_hash: None,
            })
            .expect("user");
        let token = http_api::new_token();
        test.database.create_api_token(user.id, "bob", &http_api::hash_token(&token), None).expect("token");
        let forbidden =
            client.get(format!("{api}/conversations")).bearer_auth(&token).send().await.expect("r");
        assert_eq!(forbidden.status(), 403);
        assert_eq!(client.get(format!("{api}/conversations")).send().await.expect("r").status(), 401);

        let delete = |path: &str| client.delete(format!("{api}{path}")).bearer_auth(&running.token).send();
        assert_eq!(delete("/conversations/C0TECH01").await.expect("r").status(), 204);
        assert_eq!(delete("/conversations/C0TECH01").await.expect("r").status(), 404);
        assert_eq!(delete("/user-groups/S0PLAT01").await.expect("r").status(), 204);
        running.handle.stop(true).await;
        slack.stop().await;
    }
}

/// Sends an Events API envelope, signed.
async fn send_event(running: &Running, event_id: &str, event: Value) {
    use slack_adapter::verify::sign;
    let body = json!({"type": "event_callback", "event_id": event_id, "team_id": "T0FAKE01", "event": event})
        .to_string();
    let now = chrono::Utc::now().timestamp().to_string();
    let response = running
        .client
        .post(running.slack_endpoint())
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", &now)
        .header("x-slack-signature", sign(SIGNING_SECRET, &now, body.as_bytes()))
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
}

fn members(test: &TestDatabase, incident: i64) -> Vec<String> {
    use storage::schema::{incident_memberships, users};
    let mut conn = test.database.connection().expect("connection");
    incident_memberships::table
        .inner_join(users::table.on(users::id.eq(incident_memberships::user_id)))
        .filter(incident_memberships::incident_id.eq(incident))
        .select(users::email)
        .order(users::email)
        .load(&mut conn)
        .expect("members")
}

fn timeline(test: &TestDatabase, incident: i64) -> Vec<(Option<String>, Option<String>)> {
    use storage::schema::{incident_updates, users};
    let mut conn = test.database.connection().expect("connection");
    incident_updates::table
        .left_join(users::table.on(users::id.nullable().eq(incident_updates::created_by_id)))
        .filter(incident_updates::incident_id.eq(incident))
        .filter(incident_updates::message.is_not_null())
        .select((incident_updates::message, users::email.nullable()))
        .load(&mut conn)
        .expect("timeline")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_joining_the_channel_and_megaphoned_messages_reach_the_incident() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let slack = FakeSlack::start(TOKEN);
        slack.add_user("UADA0001", "ada", "ada@example.com");
        slack.add_user("UEVE0001", "eve", "eve@example.com");
        let running = start(&test, Some(&slack)).await;
        let id = running.declare(1, "Checkout is down").await;
        let name = expected_name(id, &running.category.1);
        eventually("the channel exists", || slack.channel_named(&name).is_some()).await;
        let channel = slack.channel_named(&name).expect("channel").id;

        // Eve, unknown to the product, joins: she becomes a user and a member.
        send_event(
            &running,
            "Ev0JOIN001",
            json!({"type": "member_joined_channel", "user": "UEVE0001",
            "channel": channel, "channel_type": "C"}),
        )
        .await;
        eventually("Eve is a member", || members(&test, id).contains(&"eve@example.com".to_owned())).await;

        // Ada reacts :mega: to Eve's message: a timeline entry credited to Eve, once.
        let ts = slack.post_as("UEVE0001", &channel, "Payments provider confirms an outage on their side");
        let reaction = json!({"type": "reaction_added", "user": "UADA0001", "reaction": "mega", "item_user": "UEVE0001",
            "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": "1700000100.000100"});
        send_event(&running, "Ev0MEGA001", reaction.clone()).await;
        let entry = (
            Some("Payments provider confirms an outage on their side".to_owned()),
            Some("eve@example.com".to_owned()),
        );
        eventually("the message is on the timeline", || timeline(&test, id).contains(&entry)).await;
        send_event(&running, "Ev0MEGA002", reaction).await;
        eventually("the second reaction is answered", || !slack.calls_of("chat.postEphemeral").is_empty())
            .await;
        assert!(slack.calls_of("chat.postEphemeral")[0].argument("text").contains("already been created"));
        assert_eq!(timeline(&test, id).iter().filter(|e| **e == entry).count(), 1, "one entry per message");

        // Eve leaves: no longer a member. Ada, the commander, stays one whatever happens.
        send_event(
            &running,
            "Ev0LEFT001",
            json!({"type": "member_left_channel", "user": "UEVE0001", "channel": channel}),
        )
        .await;
        send_event(
            &running,
            "Ev0LEFT002",
            json!({"type": "member_left_channel", "user": "UADA0001", "channel": channel}),
        )
        .await;
        eventually("Eve is no longer a member", || members(&test, id) == ["ada@example.com"]).await;
        running.handle.stop(true).await;
        slack.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Commands, shortcuts, buttons and modals, driven as Slack drives them: signed form posts with the
// payloads Slack sends, the views the product opens read back from the fake Slack.

/// Posts a signed form to the Slack endpoint; the status and the JSON body (`Null` when empty).
async fn post_form(running: &Running, pairs: &[(&str, &str)]) -> (u16, Value) {
    use slack_adapter::verify::sign;
    let body = serde_urlencoded::to_string(pairs).expect("form");
    let now = chrono::Utc::now().timestamp().to_string();
    let response = running
        .client
        .post(running.slack_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &now)
        .header("x-slack-signature", sign(SIGNING_SECRET, &now, body.as_bytes()))
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("json body") })
}

/// `/incident <text>` typed by `user` in `channel`.
async fn command(running: &Running, user: &str, channel: &str, text: &str) -> Value {
    let (status, body) = post_form(
        running,
        &[
            ("command", "/incident"),
            ("text", text),
            ("user_id", user),
            ("channel_id", channel),
            ("channel_name", "whatever"),
            ("team_id", "T0FAKE01"),
            ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
            ("response_url", "https://hooks.slack.com/commands/T0FAKE01/1/x"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{text}: {body}");
    body
}

/// An interactivity payload; the status must be 200.
async fn interact(running: &Running, payload: &Value) -> Value {
    let text = payload.to_string();
    let (status, body) = post_form(running, &[("payload", &text)]).await;
    assert_eq!(status, 200, "{payload}: {body}");
    body
}

/// The views `method` was called with so far.
fn views(slack: &FakeSlack, method: &str) -> Vec<Value> {
    slack
        .calls_of(method)
        .iter()
        .map(|call| serde_json::from_str(call.argument("view")).expect("a view"))
        .collect()
}

/// Waits for the `n`th view of `method` (1-based) and returns it with the id the fake Slack gave.
async fn nth_view(slack: &FakeSlack, method: &str, n: usize) -> Value {
    eventually(&format!("{method} #{n}"), || views(slack, method).len() >= n).await;
    let mut view = views(slack, method)[n - 1].clone();
    let updated = slack.calls_of(method)[n - 1].argument("view_id").to_owned();
    view["id"] = json!(if updated.is_empty() { format!("V{method}{n}") } else { updated });
    view["hash"] = json!("1700000000.hash");
    view
}

fn block_action(user: &str, view: Option<&Value>, channel: Option<&str>, action: Value) -> Value {
    let mut payload = json!({"type": "block_actions", "user": {"id": user, "username": user},
        "team": {"id": "T0FAKE01"}, "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "api_app_id": "A0FAKE01"});
    payload["actions"] = Value::Array(vec![action]);
    if let Some(view) = view {
        payload["view"] = view.clone();
        payload["container"] = json!({"type": "view", "view_id": view["id"]});
    }
    if let Some(channel) = channel {
        payload["channel"] = json!({"id": channel, "name": "incident"});
        payload["container"] =
            json!({"type": "message", "channel_id": channel, "message_ts": "1700000000.000100"});
    }
    payload
}

/// A `view_submission` of `view` with these state values (`block id -> element state`).
fn submission(user: &str, view: &Value, values: Value) -> Value {
    let mut view = view.clone();
    let mut state = serde_json::Map::new();
    state.insert("values".to_owned(), values);
    view["state"] = Value::Object(state);
    view["root_view_id"] = view.get("root_view_id").cloned().unwrap_or_else(|| view["id"].clone());
    json!({"type": "view_submission", "user": {"id": user}, "team": {"id": "T0FAKE01"},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0", "view": view})
}

fn plain(value: &str) -> Value {
    json!({"type": "plain_text_input", "value": value})
}

fn select(value: &str) -> Value {
    json!({"type": "static_select", "selected_option": {"value": value}})
}

fn multi(values: &[&str]) -> Value {
    json!({"type": "multi_static_select",
        "selected_options": values.iter().map(|v| json!({"value": v})).collect::<Vec<_>>()})
}

/// The state Slack would send for `view` untouched: each input's initial value.
fn initial_state(view: &Value) -> Value {
    let mut values = serde_json::Map::new();
    for block in view["blocks"].as_array().expect("blocks") {
        if block["type"] != "input" {
            continue;
        }
        let element = &block["element"];
        let state = match element["type"].as_str().unwrap_or_default() {
            "plain_text_input" => json!({"type": "plain_text_input", "value": element["initial_value"]}),
            "static_select" => json!({"type": "static_select", "selected_option": element["initial_option"]}),
            "multi_static_select" => json!({"type": "multi_static_select",
                "selected_options": element.get("initial_options").cloned().unwrap_or(json!([]))}),
            "users_select" => json!({"type": "users_select", "selected_user": element["initial_user"]}),
            other => json!({"type": other}),
        };
        let action_id = element["action_id"].as_str().expect("action id").to_owned();
        values.insert(block["block_id"].as_str().expect("block id").to_owned(), json!({action_id: state}));
    }
    Value::Object(values)
}

fn block_ids(view: &Value) -> Vec<String> {
    view["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter_map(|b| b["block_id"].as_str().map(str::to_owned))
        .collect()
}

fn view_text(view: &Value) -> String {
    view["blocks"].to_string()
}

/// The id of a status among a select's options (by label).
fn option_value(view: &Value, block: &str, label: &str) -> String {
    let block =
        view["blocks"].as_array().expect("blocks").iter().find(|b| b["block_id"] == block).expect("block");
    let element = &block["element"];
    let options: Vec<Value> = element["options"].as_array().cloned().unwrap_or_else(|| {
        element["option_groups"]
            .as_array()
            .expect("groups")
            .iter()
            .flat_map(|g| g["options"].as_array().cloned().unwrap_or_default())
            .collect()
    });
    options
        .iter()
        .find(|o| o["text"]["text"].as_str().is_some_and(|t| t.contains(label)))
        .and_then(|o| o["value"].as_str())
        .unwrap_or_else(|| panic!("no option {label} in {block}"))
        .to_owned()
}

fn status_of(test: &TestDatabase, id: i64) -> (i32, Option<String>) {
    use storage::schema::incidents;
    let mut conn = test.database.connection().expect("connection");
    incidents::table
        .find(id)
        .select((incidents::status, incidents::closure_reason.nullable()))
        .first(&mut conn)
        .expect("incident")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_declares_runs_and_closes_an_incident_without_leaving_slack() {
    use incidents_core::query::IncidentQueries;
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let slack = FakeSlack::start(TOKEN);
        // Bob is not a user yet: his first command makes him one, with the responder permissions.
        slack.add_user("UBOB0001", "bob", "bob@example.com");
        let general = slack.add_channel("general");
        let running = start(&test, Some(&slack)).await;
        let backend = test.backend();

        // Help, and unknown text answered with help.
        let help = command(&running, "UBOB0001", &general, "help").await;
        assert_eq!(help["response_type"], "ephemeral");
        assert!(
            help.to_string().contains("Commands Help") && !help.to_string().contains("Unknown"),
            "{help}"
        );
        let unknown = command(&running, "UBOB0001", &general, "dance").await;
        assert!(unknown.to_string().contains(":x: Unknown command `dance`!"), "{unknown}");
        assert!(unknown.to_string().contains("Commands Help"), "{unknown}");
        let later = command(&running, "UBOB0001", &general, "oncall").await;
        assert!(later["text"].as_str().expect("text").contains("not available yet"), "{later}");

        // `/incident open`: the root of the flow, which cannot be submitted yet.
        assert_eq!(command(&running, "UBOB0001", &general, "open").await, Value::Null);
        let root = nth_view(&slack, "views.open", 1).await;
        assert_eq!(root["callback_id"], "incident_open");
        assert!(root.get("submit").is_none(), "nothing to submit yet");

        // Step 1: impacts; choosing one updates the priority at once.
        interact(
            &running,
            &block_action("UBOB0001", Some(&root), None, json!({"action_id": "push_incident_select_impact", "type": "button", "value": "impacts", "block_id": "step_impacts"})),
        )
        .await;
        let impacts = nth_view(&slack, "views.push", 1).await;
        assert_eq!(impacts["callback_id"], "incident_select_impact");
        let business = test
            .database
            .impact_types()
            .expect("impact types")
            .into_iter()
            .find(|t| t.value == "business_impact")
            .expect("business");
        let high = business.levels.iter().find(|l| l.value == "HI").expect("high").id.clone();
        let action_id = impacts["blocks"]
            .as_array()
            .expect("blocks")
            .iter()
            .find(|b| b["block_id"] == "set_impact_type_business_impact")
            .expect("select")["accessory"]["action_id"]
            .as_str()
            .expect("id")
            .to_owned();
        interact(
            &running,
            &block_action("UBOB0001", Some(&impacts), None, json!({"action_id": action_id, "type": "static_select", "block_id": "set_impact_type_business_impact", "selected_option": {"value": high}})),
        )
        .await;
        let live = nth_view(&slack, "views.update", 1).await;
        assert!(view_text(&live).contains("Selected priority: *P2"), "{}", view_text(&live));
        let saved = interact(
            &running,
            &submission("UBOB0001", &impacts, json!({"set_impact_type_business_impact": {action_id.clone(): {"type": "static_select", "selected_option": {"value": high}}}})),
        )
        .await;
        assert_eq!(saved, Value::Null, "the step closes");
        let root = nth_view(&slack, "views.update", 2).await;
        assert_eq!(root["id"], json!("Vviews.open1"), "the root is updated");
        assert!(view_text(&root).contains("Edit impacts") && view_text(&root).contains("Set details"));

        // Step 2: details, validated field by field.
        interact(
            &running,
            &block_action(
                "UBOB0001",
                Some(&root),
                None,
                json!({"action_id": "push_incident_unified", "type": "button", "value": "details"}),
            ),
        )
        .await;
        let details = nth_view(&slack, "views.push", 2).await;
        assert_eq!(details["callback_id"], "open_incident_unified");
        assert!(block_ids(&details).starts_with(&[
            "incident_category".into(),
            "environment".into(),
            "platform".into(),
            "title".into(),
            "description".into()
        ]));
        let values = |title: &str| {
            json!({
                "incident_category": {"incident_category": select(&running.category.0)},
                "environment": {"environment": multi(&[&running.environment])},
                "platform": {"platform": multi(&["platform-FR", "platform-DE"])},
                "title": {"title": plain(title)},
                "description": {"description": plain("Orders fail at the payment step for every customer.")},
            })
        };
        let refused = interact(&running, &submission("UBOB0001", &details, values("Down"))).await;
        assert_eq!(refused["response_action"], "errors");
        assert!(refused["errors"]["title"].as_str().expect("title").contains("at least 10"), "{refused}");
        assert_eq!(
            interact(&running, &submission("UBOB0001", &details, values("Checkout is down for everyone")))
                .await,
            Value::Null
        );
        let root = nth_view(&slack, "views.update", 3).await;
        assert_eq!(root["submit"]["text"], "Create the incident");
        assert!(
            view_text(&root).contains("A dedicated Slack channel will be created"),
            "{}",
            view_text(&root)
        );

        // Submit: the incident exists, with its channel.
        let mut final_root = root.clone();
        final_root["id"] = json!(slack.calls_of("views.update")[2].argument("view_id"));
        assert_eq!(interact(&running, &submission("UBOB0001", &final_root, json!({}))).await, Value::Null);
        let page = test
            .database
            .incidents(
                &Default::default(),
                Default::default(),
                incidents_core::query::PageRequest::new(10, 0),
            )
            .expect("incidents");
        let incident = page.items.first().expect("declared").clone();
        let id = incident.id.0;
        assert_eq!(incident.title, "Checkout is down for everyone", "{backend:?}");
        assert_eq!(incident.priority.value, 2);
        assert_eq!(incident.created_by.email, "bob@example.com");
        assert_eq!(incident.custom_fields["platforms"], json!(["FR", "DE"]));
        let store = slack_adapter::store::SlackStore::new(test.database.clone());
        eventually("the channel is made", || store.channel_of(id).ok().flatten().is_some()).await;
        let channel = store.channel_of(id).expect("store").expect("channel").channel_id;
        eventually("Bob is told", || {
            slack
                .calls_of("chat.postEphemeral")
                .iter()
                .any(|c| c.argument("text").contains(&format!("Incident #{id} is declared")))
        })
        .await;
        eventually("the key events form is posted", || {
            kinds(&slack, &channel).contains(&"ff_incident_key_events_form".to_owned())
        })
        .await;

        // `/incident update` in the channel: the menu, then the status modal with the workflow's choices.
        command(&running, "UBOB0001", &channel, "update").await;
        let menu = nth_view(&slack, "views.open", 2).await;
        assert_eq!(menu["callback_id"], "incident_update");
        let mut step = 2;
        let mut move_to = |label: &'static str, message: &'static str| {
            step += 1;
            let n = step;
            let running = &running;
            let slack = &slack;
            let menu = menu.clone();
            async move {
                interact(
                    running,
                    &block_action("UBOB0001", Some(&menu), None, json!({"action_id": "push_modal_incident_update_status", "type": "button", "value": id.to_string()})),
                )
                .await;
                let modal = nth_view(slack, "views.push", n).await;
                assert_eq!(modal["callback_id"], "incident_update_status");
                let status = option_value(&modal, "status", label);
                let status_action = modal["blocks"]
                    .as_array()
                    .expect("blocks")
                    .iter()
                    .find(|b| b["block_id"] == "status")
                    .expect("status")["element"]["action_id"]
                    .as_str()
                    .expect("id")
                    .to_owned();
                // Slack sends every element's state, untouched selects with their initial option.
                let mut values = initial_state(&modal);
                values["message"] = json!({"message": plain(message)});
                values["status"] = json!({status_action: select(&status)});
                interact(running, &submission("UBOB0001", &modal, values)).await
            }
        };
        assert_eq!(move_to("Investigating", "Looking at the payment provider").await, Value::Null);
        // Checked in the request, applied right after by a job.
        eventually("the update is applied", || status_of(&test, id).0 == 20).await;
        // Closing from Investigating asks for a reason first (pushed in the acknowledgement).
        let early = move_to("Closed", "").await;
        assert_eq!(early["response_action"], "push", "{early}");
        assert_eq!(early["view"]["callback_id"], "incident_closure_reason");
        assert_eq!(move_to("Mitigating", "Rolling back the release").await, Value::Null);
        eventually("the update is applied", || status_of(&test, id).0 == 30).await;
        assert_eq!(move_to("Mitigated", "Rolled back, orders go through").await, Value::Null);
        eventually("the update is applied", || status_of(&test, id).0 == 40).await;

        // `/incident close`: refused with its reasons while key events are missing.
        command(&running, "UBOB0001", &channel, "close").await;
        let blocked = nth_view(&slack, "views.open", 3).await;
        assert_eq!(blocked["callback_id"], "incident_close");
        assert!(blocked.get("submit").is_none());
        assert!(
            view_text(&blocked).contains("can't be closed yet")
                && view_text(&blocked).contains("Missing required key events")
        );

        // The key events, from the channel's message.
        for (event_type, minutes_ago) in [("started", 60), ("detected", 50), ("recovered", 10)] {
            let at = chrono::Utc::now().timestamp() - minutes_ago * 60;
            interact(
                &running,
                &block_action("UBOB0001", None, Some(&channel), json!({"action_id": format!("key_event_{event_type}"), "type": "datetimepicker", "block_id": format!("key_event_{event_type}"), "selected_date_time": at})),
            )
            .await;
        }
        eventually("the form shows every key event is in", || {
            slack
                .messages_in(&channel)
                .iter()
                .any(|m| m.blocks.to_string().contains("All required key events have been submitted"))
        })
        .await;

        // Now the close form, and the channel is archived.
        command(&running, "UBOB0001", &channel, "close").await;
        let close = nth_view(&slack, "views.open", 4).await;
        assert_eq!(close["submit"]["text"], "Close incident", "{}", view_text(&close));
        let closed = interact(
            &running,
            &submission("UBOB0001", &close, json!({
                "title": {"title": plain("Checkout is down for everyone")},
                "description": {"description": plain("Orders failed at the payment step for every customer.")},
                "message": {"message": plain("Fixed by the rollback")},
                "incident_category": {"incident_category": select(&running.category.0)},
            })),
        )
        .await;
        assert_eq!(closed, Value::Null, "{closed}");
        assert_eq!(status_of(&test, id).0, 60, "{backend:?}");
        eventually("the channel is archived", || {
            slack.channels().iter().any(|c| c.id == channel && c.is_archived)
        })
        .await;
        running.handle.stop(true).await;
        slack.stop().await;
    }
}

/// Opens the modal `action_id` (a button carrying the incident id) and returns it.
async fn open_modal(running: &Running, slack: &FakeSlack, user: &str, action_id: &str, id: i64) -> Value {
    let before = views(slack, "views.open").len();
    interact(
        running,
        &block_action(
            user,
            None,
            None,
            json!({"action_id": action_id, "type": "button", "value": id.to_string()}),
        ),
    )
    .await;
    nth_view(slack, "views.open", before + 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_the_forms_and_of_the_workflow_show_on_the_field_they_concern() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UADA0001", "ada", "ada@example.com");
    slack.add_user("UBOB0001", "bob", "bob@example.com");
    let general = slack.add_channel("general");
    let running = start(&test, Some(&slack)).await;
    let id = running.declare(1, "Checkout is down").await;
    let store = slack_adapter::store::SlackStore::new(test.database.clone());
    eventually("the channel is made", || store.channel_of(id).ok().flatten().is_some()).await;
    let channel = store.channel_of(id).expect("store").expect("channel").channel_id;

    // Outside an incident channel: choose the incident first, then the modal replaces the choice.
    command(&running, "UBOB0001", &general, "update").await;
    let choose = nth_view(&slack, "views.open", 1).await;
    assert_eq!(choose["callback_id"], "incident_update");
    assert!(block_ids(&choose).contains(&"incident_update_select_incident".to_owned()));
    interact(
        &running,
        &block_action("UBOB0001", Some(&choose), None, json!({"action_id": "incident_update_select_incident", "type": "static_select", "selected_option": {"value": id.to_string()}})),
    )
    .await;
    let menu = nth_view(&slack, "views.update", 1).await;
    assert!(view_text(&menu).contains("push_modal_incident_update_status"), "{}", view_text(&menu));
    // `edit` has the fallback too (the original's had none).
    command(&running, "UBOB0001", &general, "edit").await;
    assert_eq!(nth_view(&slack, "views.open", 2).await["callback_id"], "incident_edit_incident");

    // Update status: an empty submission, a choice that was never offered, then a reopening without
    // a justification (the workflow's refusal, with its code, on the message).
    let modal = open_modal(&running, &slack, "UBOB0001", "open_modal_incident_update_status", id).await;
    let bare = interact(&running, &json!({"type": "view_submission", "user": {"id": "UBOB0001"}, "view": {"id": "V1", "callback_id": "incident_update_status", "private_metadata": id.to_string()}})).await;
    assert_eq!(bare["response_action"], "errors", "{bare}");
    let mut values = initial_state(&modal);
    let status_action = values["status"].as_object().expect("status").keys().next().expect("action").clone();
    values["status"] = json!({status_action.clone(): select("40")});
    let not_offered = interact(&running, &submission("UBOB0001", &modal, values.clone())).await;
    assert!(
        not_offered["errors"]["status"].as_str().expect("status").contains("TRANSITION_NOT_ALLOWED"),
        "{not_offered}"
    );
    for (status, message) in [("20", "Looking"), ("30", "Rolling back"), ("40", "Rolled back")] {
        running.update(id, json!({"status": match status { "20" => "Investigating", "30" => "Mitigating", _ => "Mitigated" }, "message": message})).await;
    }
    let modal = open_modal(&running, &slack, "UBOB0001", "open_modal_incident_update_status", id).await;
    let mut values = initial_state(&modal);
    let status_action = values["status"].as_object().expect("status").keys().next().expect("action").clone();
    values["status"] = json!({status_action.clone(): select("20")});
    values["message"] = json!({"message": plain("again")});
    let reopen = interact(&running, &submission("UBOB0001", &modal, values.clone())).await;
    assert!(reopen["errors"]["message"].as_str().is_some_and(|m| m.contains("at least 10")), "{reopen}");
    values["message"] = json!({"message": json!({"type": "plain_text_input", "value": null})});
    let reopen = interact(&running, &submission("UBOB0001", &modal, values.clone())).await;
    assert!(
        reopen["errors"]["message"].as_str().is_some_and(|m| m.contains("REOPEN_JUSTIFICATION_REQUIRED")),
        "{reopen}"
    );
    // Closing a P1 without its key events: the close guard's reasons on the status.
    values["status"] = json!({status_action: select("60")});
    let guarded = interact(&running, &submission("UBOB0001", &modal, values)).await;
    assert!(
        guarded["errors"]["status"].as_str().is_some_and(|m| m.contains("• Missing key events")),
        "{guarded}"
    );
    assert_eq!(status_of(&test, id).0, 40, "nothing changed");

    // Edit: validated, then saved.
    let edit = open_modal(&running, &slack, "UBOB0001", "open_modal_incident_edit", id).await;
    let mut values = initial_state(&edit);
    values["title"] = json!({"title": plain("Short")});
    assert!(
        interact(&running, &submission("UBOB0001", &edit, values.clone())).await["errors"]["title"]
            .is_string()
    );
    values["title"] = json!({"title": plain("Checkout is down in France")});
    assert_eq!(interact(&running, &submission("UBOB0001", &edit, values)).await, Value::Null);
    assert_eq!(running.incident(id).await["title"], "Checkout is down in France");

    // Roles: Bob becomes communication lead; the commander cannot be emptied.
    let roles = open_modal(&running, &slack, "UBOB0001", "open_modal_incident_update_roles", id).await;
    assert!(block_ids(&roles).contains(&"role_commander".to_owned()), "{:?}", block_ids(&roles));
    let mut values = initial_state(&roles);
    let lead =
        values["role_communication_lead"].as_object().expect("lead").keys().next().expect("action").clone();
    values["role_communication_lead"] = json!({lead: {"type": "users_select", "selected_user": "UBOB0001"}});
    assert_eq!(interact(&running, &submission("UBOB0001", &roles, values.clone())).await, Value::Null);
    let shown = running.incident(id).await;
    assert!(shown.to_string().contains("bob@example.com"), "{shown}");
    let commander =
        values["role_commander"].as_object().expect("commander").keys().next().expect("action").clone();
    values["role_commander"] = json!({commander: {"type": "users_select", "selected_user": null}});
    let emptied = interact(&running, &submission("UBOB0001", &roles, values)).await;
    assert!(emptied["errors"]["role_commander"].is_string(), "{emptied}");

    // Status recap, from a message shortcut in the channel.
    let opened = views(&slack, "views.open").len();
    interact(
        &running,
        &json!({"type": "message_action", "callback_id": "incident_status", "user": {"id": "UBOB0001"},
        "channel": {"id": channel}, "trigger_id": "t", "message": {"ts": "1"}}),
    )
    .await;
    let recap = nth_view(&slack, "views.open", opened + 1).await;
    assert_eq!(recap["callback_id"], "incident_status");
    assert!(
        view_text(&recap).contains("Key participants") && view_text(&recap).contains("Rolled back"),
        "{}",
        view_text(&recap)
    );

    // The other shortcuts: global ones ask which incident, message ones use the channel's.
    for (kind, callback, expected, select) in [
        ("shortcut", "open_incident", "incident_open", false),
        ("shortcut", "close_incident", "incident_close", true),
        ("message_action", "update_incident_status", "incident_update_status", false),
        ("message_action", "modal_edit", "incident_edit_incident", false),
    ] {
        let opened = views(&slack, "views.open").len();
        let mut payload =
            json!({"type": kind, "callback_id": callback, "user": {"id": "UBOB0001"}, "trigger_id": "t"});
        if kind == "message_action" {
            payload["channel"] = json!({"id": channel});
            payload["message"] = json!({"ts": "1700000000.000100", "text": "hello"});
        }
        interact(&running, &payload).await;
        let view = nth_view(&slack, "views.open", opened + 1).await;
        assert_eq!(view["callback_id"], expected, "{callback}");
        assert_eq!(
            block_ids(&view).contains(&"incident_update_select_incident".to_owned()),
            select,
            "{callback}"
        );
    }

    // Closure reason: required, then the incident closes with it; the person is told.
    let reason = open_modal(&running, &slack, "UBOB0001", "closure_reason_incident", id).await;
    assert_eq!(reason["callback_id"], "incident_closure_reason");
    let missing = interact(
        &running,
        &submission(
            "UBOB0001",
            &reason,
            json!({"closure_message": {"closure_message": plain("A duplicate")}}),
        ),
    )
    .await;
    assert!(
        missing["errors"]["closure_reason"].as_str().is_some_and(|m| m.contains("required")),
        "{missing}"
    );
    let values = json!({
        "closure_reason": {"closure_reason": select("duplicate")},
        "closure_reference": {"closure_reference": plain("#1234")},
        "closure_message": {"closure_message": plain("Same as the payment incident")},
    });
    // Mitigated already: the close guard still applies (its reasons on the message), as the original.
    let guarded = interact(&running, &submission("UBOB0001", &reason, values.clone())).await;
    assert!(
        guarded["errors"]["closure_message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Cannot close this incident:\n• Missing key events")),
        "{guarded}"
    );
    // Closing early, from Investigating, a reason is all it takes.
    let id = running.declare(1, "Checkout is down again").await;
    running.update(id, json!({"status": "Investigating", "message": "Looking"})).await;
    let reason = open_modal(&running, &slack, "UBOB0001", "closure_reason_incident", id).await;
    let closed = interact(&running, &submission("UBOB0001", &reason, values)).await;
    assert_eq!(closed, json!({"response_action": "clear"}));
    assert_eq!(status_of(&test, id), (60, Some("duplicate".to_owned())));
    eventually("Bob is told", || {
        slack
            .direct_messages("UBOB0001")
            .iter()
            .any(|m| m.text.contains(&format!("Incident #{id} has been closed")))
    })
    .await;

    // An update checked in the request but refused when applied (the incident changed meanwhile):
    // the person is told.
    let bob = slack_adapter::store::SlackStore::new(test.database.clone())
        .user_of("UBOB0001")
        .expect("store")
        .expect("Bob is a user")
        .0;
    let late = slack_adapter::interact::apply::ApplyUpdateJob {
        submission: "VLATE:1".into(),
        incident_id: id,
        user_id: bob,
        slack_user: "UBOB0001".into(),
        message: Some("Moving on".into()),
        status: Some(20),
        priority_id: None,
        category_id: None,
    };
    {
        use jobs::JobStore;
        let now = incidents_core::clock::now();
        test.database.enqueue(&jobs::Enqueue::new(&late).expect("job"), now, now).expect("enqueue");
    }
    eventually("Bob hears his update was not applied", || {
        slack
            .direct_messages("UBOB0001")
            .iter()
            .any(|m| m.text.contains("was not applied") && m.text.contains("REOPEN_JUSTIFICATION_REQUIRED"))
    })
    .await;

    // A submission about an incident that does not exist still gets an answer; so does closing a modal.
    let ghost = interact(
        &running,
        &submission(
            "UBOB0001",
            &json!({"id": "V9", "callback_id": "incident_update_status", "private_metadata": "999999"}),
            json!({
                "status": {"status": select("20")},
                "priority": {"priority": select(&running.priorities[&1])},
                "incident_category": {"incident_category": select(&running.category.0)},
            }),
        ),
    )
    .await;
    assert!(ghost["errors"]["status"].as_str().is_some_and(|m| m.contains("no longer exists")), "{ghost}");
    assert_eq!(interact(&running, &json!({"type": "view_closed", "user": {"id": "UBOB0001"}, "view": {"id": "V1", "callback_id": "incident_open"}})).await, Value::Null);
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_follows_the_permission_model_and_the_configured_policy() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UADA0001", "ada", "ada@example.com");
    slack.add_user("UBOB0001", "bob", "bob@example.com");
    slack.add_user("UEVE0001", "eve", "eve@example.com");
    // Eve is a user without the permission to change incidents.
    let eve = test
        .database
        .create_user(&NewUser {
            email: Email::parse("eve@example.com").expect("email"),
            name: "Eve".into(),
            is_admin: false,
            password_hash: None,
        })
        .expect("eve");
    test.database
        .grant_permissions(
            eve.id,
            &[incidents_core::access::Permission::parse("incidents.view_incident").expect("permission")],
        )
        .expect("grant");
    let mut vars = vars(&test, Some(&slack));
    vars.insert("FF_SLACK_CLOSE_ALLOWED".into(), "roles".into());
    let running = start_with(&test, &vars).await;
    let id = running.declare(1, "Checkout is down").await;
    for (status, message) in
        [("Investigating", "Looking"), ("Mitigating", "Rolling back"), ("Mitigated", "Rolled back")]
    {
        running.update(id, json!({"status": status, "message": message})).await;
    }

    // Bob (any workspace member) may update, but closing is for role holders here.
    let modal = open_modal(&running, &slack, "UBOB0001", "open_modal_incident_update_status", id).await;
    let mut values = initial_state(&modal);
    let status_action = values["status"].as_object().expect("status").keys().next().expect("action").clone();
    values["status"] = json!({status_action: select("60")});
    let refused = interact(&running, &submission("UBOB0001", &modal, values)).await;
    assert!(
        refused["errors"]["status"].as_str().is_some_and(|m| m.contains("Only the incident's role holders")),
        "{refused}"
    );
    // Eve may not change incidents at all: told before any modal opens.
    let opened = views(&slack, "views.open").len();
    // She is known once linked (her first command links her).
    command(&running, "UEVE0001", "CNOWHERE", "help").await;
    eventually("Eve is linked", || {
        slack_adapter::store::SlackStore::new(test.database.clone())
            .user_of("UEVE0001")
            .ok()
            .flatten()
            .is_some()
    })
    .await;
    interact(&running, &block_action("UEVE0001", None, None, json!({"action_id": "open_modal_incident_update_status", "type": "button", "value": id.to_string()}))).await;
    eventually("Eve is told why", || {
        slack
            .calls_of("chat.postEphemeral")
            .iter()
            .chain(slack.calls_of("chat.postMessage").iter())
            .any(|c| c.argument("text").contains("incidents.change_incident"))
    })
    .await;
    assert_eq!(views(&slack, "views.open").len(), opened, "no modal for Eve");
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_tab_lists_the_critical_incidents_and_follows_them() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UADA0001", "ada", "ada@example.com");
    slack.add_user("UBOB0001", "bob", "bob@example.com");
    let running = start(&test, Some(&slack)).await;
    let published = |n: usize| {
        let calls = slack.calls_of("views.publish");
        (calls.len() >= n).then(|| {
            let call = &calls[n - 1];
            (call.argument("user_id").to_owned(), call.argument("view").to_owned())
        })
    };
    send_event(
        &running,
        "Ev0HOME001",
        json!({"type": "app_home_opened", "user": "UBOB0001", "channel": "D0BOB001", "tab": "home"}),
    )
    .await;
    eventually("Bob's home is published", || published(1).is_some()).await;
    let (user, view) = published(1).expect("published");
    assert_eq!(user, "UBOB0001");
    assert!(view.contains("0 critical incidents active") && view.contains("No active incidents"), "{view}");

    // A P1 appears on the home; a P4 changes nothing there (no call); a P2 appears.
    let p1 = running.declare(1, "Checkout is down").await;
    eventually("the home follows the P1", || published(2).is_some()).await;
    let (_, view) = published(2).expect("published");
    assert!(view.contains("1 critical incident active") && view.contains("Checkout is down"), "{view}");
    running.declare(4, "A typo on the help page").await;
    running.declare(2, "Search is slow").await;
    eventually("the home follows the P2", || {
        published(3).is_some_and(|(_, view)| view.contains("2 critical incidents active"))
    })
    .await;
    assert!(!published(3).expect("published").1.contains("A typo"), "P4s are not critical");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(slack.calls_of("views.publish").len(), 3, "the P4 published nothing");

    // The incident's overflow menu opens its status update.
    interact(
        &running,
        &json!({"type": "block_actions", "user": {"id": "UBOB0001"}, "trigger_id": "t",
            "view": {"id": "VHOME01", "type": "home", "private_metadata": ""},
            "container": {"type": "view", "view_id": "VHOME01"},
            "actions": [{"action_id": "app_home_incident_action", "type": "overflow",
                "block_id": format!("app_home_incident_element_{p1}"), "selected_option": {"value": "update_status"}}]}),
    )
    .await;
    let modal = nth_view(&slack, "views.open", 1).await;
    assert_eq!(modal["callback_id"], "incident_update_status");
    assert_eq!(modal["private_metadata"], json!(p1.to_string()));
    running.handle.stop(true).await;
    slack.stop().await;
}

/// A stand-in for Slack's Socket Mode endpoint: accepts the product's connections, sends envelopes,
/// reads acknowledgements.
mod socket {
    use futures_util::{SinkExt, StreamExt};
    use serde_json::Value;
    use tokio::net::TcpListener;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;

    pub struct Connection(pub WebSocketStream<tokio::net::TcpStream>);

    pub async fn listen() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("ws://{}/link", listener.local_addr().expect("address"));
        (listener, url)
    }

    pub async fn accept(listener: &TcpListener) -> Connection {
        let accepted = tokio::time::timeout(std::time::Duration::from_secs(20), listener.accept()).await;
        let (stream, _) = accepted.expect("the product connects within 20 s").expect("accept");
        let mut socket = tokio_tungstenite::accept_async(stream).await.expect("websocket handshake");
        socket.send(Message::text(r#"{"type":"hello","num_connections":1}"#)).await.expect("hello");
        Connection(socket)
    }

    impl Connection {
        pub async fn send(&mut self, envelope: &Value) {
            self.0.send(Message::text(envelope.to_string())).await.expect("send");
        }

        /// The acknowledgement of `envelope_id`.
        pub async fn ack(&mut self, envelope_id: &str) -> Value {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let message =
                    tokio::time::timeout(left, self.0.next()).await.expect("an acknowledgement in time");
                if let Some(Ok(Message::Text(text))) = message {
                    let ack: Value = serde_json::from_str(text.as_str()).expect("JSON");
                    if ack["envelope_id"] == envelope_id {
                        return ack;
                    }
                } else if message.is_none() {
                    panic!("the connection closed before the acknowledgement");
                }
            }
        }

        /// Sends an envelope and returns its acknowledgement.
        pub async fn exchange(&mut self, id: &str, kind: &str, payload: Value) -> Value {
            self.send(&serde_json::json!({"envelope_id": id, "type": kind, "payload": payload,
                "accepts_response_payload": kind != "events_api"}))
                .await;
            self.ack(id).await
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_serves_slack_without_a_public_url() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UBOB0001", "bob", "bob@example.com");
    let (listener, url) = socket::listen().await;
    {
        let mut state = slack.state();
        state.app_token = "xapp-1-test".into();
        state.socket_url = url;
    }
    let mut vars = vars(&test, Some(&slack));
    // No signing secret, no public URL: Socket Mode only.
    vars.remove("SLACK_SIGNING_SECRET");
    vars.insert("SLACK_APP_TOKEN".into(), "xapp-1-test".into());
    let running = start_with(&test, &vars).await;
    let (status, _) = post_form(&running, &[("command", "/incident")]).await;
    assert_eq!(status, 404, "no HTTP endpoint without a signing secret");
    let mut connection = socket::accept(&listener).await;
    let command = |text: &str| {
        json!({"command": "/incident", "text": text, "user_id": "UBOB0001", "channel_id": "C0GENERAL",
            "team_id": "T0FAKE01", "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            "response_url": "https://hooks.slack.com/commands/1/2/3"})
    };

    // A command's answer travels in its acknowledgement.
    let ack = connection.exchange("env-help", "slash_commands", command("help")).await;
    assert!(ack["payload"].to_string().contains("Commands Help"), "{ack}");

    // The whole open flow, over the socket alone.
    let ack = connection.exchange("env-open", "slash_commands", command("open")).await;
    assert!(ack.get("payload").is_none() || ack["payload"].is_null(), "{ack}");
    let root = nth_view(&slack, "views.open", 1).await;
    connection
        .exchange(
            "env-push1",
            "interactive",
            block_action(
                "UBOB0001",
                Some(&root),
                None,
                json!({"action_id": "push_incident_select_impact", "type": "button", "value": "impacts"}),
            ),
        )
        .await;
    let impacts = nth_view(&slack, "views.push", 1).await;
    let business = {
        use incidents_core::query::IncidentQueries;
        test.database
            .impact_types()
            .expect("types")
            .into_iter()
            .find(|t| t.value == "business_impact")
            .expect("business")
    };
    let high = business.levels.iter().find(|l| l.value == "HI").expect("high").id.clone();
    let ack = connection
        .exchange("env-impacts", "interactive", submission("UBOB0001", &impacts, json!({"set_impact_type_business_impact": {"set_impact_type_business_impact": {"type": "static_select", "selected_option": {"value": high}}}})))
        .await;
    assert!(ack.get("payload").is_none() || ack["payload"].is_null(), "{ack}");
    let root = nth_view(&slack, "views.update", 1).await;
    connection
        .exchange(
            "env-push2",
            "interactive",
            block_action(
                "UBOB0001",
                Some(&root),
                None,
                json!({"action_id": "push_incident_unified", "type": "button", "value": "details"}),
            ),
        )
        .await;
    let details = nth_view(&slack, "views.push", 2).await;
    let values = |title: &str| {
        json!({
            "incident_category": {"incident_category": select(&running.category.0)},
            "environment": {"environment": multi(&[&running.environment])},
            "platform": {"platform": multi(&["platform-FR"])},
            "title": {"title": plain(title)},
            "description": {"description": plain("Orders fail at the payment step for every customer.")},
        })
    };
    // A validation error travels in the acknowledgement's payload.
    let refused = connection
        .exchange("env-details1", "interactive", submission("UBOB0001", &details, values("Down")))
        .await;
    assert_eq!(refused["payload"]["response_action"], "errors", "{refused}");
    connection
        .exchange(
            "env-details2",
            "interactive",
            submission("UBOB0001", &details, values("Checkout is down over the socket")),
        )
        .await;
    let root = nth_view(&slack, "views.update", 2).await;
    assert_eq!(root["submit"]["text"], "Create the incident");
    connection.exchange("env-create", "interactive", submission("UBOB0001", &root, json!({}))).await;
    eventually("the incident is declared", || {
        use incidents_core::query::IncidentQueries;
        test.database
            .incidents(&Default::default(), Default::default(), incidents_core::query::PageRequest::new(5, 0))
            .is_ok_and(|page| page.items.iter().any(|i| i.title == "Checkout is down over the socket"))
    })
    .await;

    // An event is stored as a job and acknowledged; the same envelope sent again is acknowledged once
    // more without being handled twice.
    let store = slack_adapter::store::SlackStore::new(test.database.clone());
    store
        .upsert_tagged("C0TECH01", "tech-incidents", "public", "tech_incidents", incidents_core::clock::now())
        .expect("tag");
    let event = json!({"type": "event_callback", "event_id": "Ev0SOCKET1", "team_id": "T0FAKE01",
        "event": {"type": "channel_rename", "channel": {"id": "C0TECH01", "name": "incidents-socket", "created": 1}}});
    connection.exchange("env-event", "events_api", event).await;
    eventually("the rename is recorded", || {
        store.conversation("C0TECH01").ok().flatten().is_some_and(|c| c.name == "incidents-socket")
    })
    .await;
    let again = connection.exchange("env-help", "slash_commands", command("help")).await;
    assert!(again.get("payload").is_none(), "an envelope is handled once: {again}");

    // `disconnect`: a new connection, with a new URL.
    connection.send(&json!({"type": "disconnect", "reason": "refresh_requested"})).await;
    let mut connection = socket::accept(&listener).await;
    let ack = connection.exchange("env-help2", "slash_commands", command("help")).await;
    assert!(ack["payload"].to_string().contains("Commands Help"), "{ack}");
    // A dropped connection: replaced.
    drop(connection);
    let mut connection = socket::accept(&listener).await;
    let ack = connection.exchange("env-help3", "slash_commands", command("help")).await;
    assert!(ack["payload"].to_string().contains("Commands Help"), "{ack}");
    assert_eq!(slack.calls_of("apps.connections.open").len(), 3, "each connection asked for its own URL");
    running.handle.stop(true).await;
    slack.stop().await;
}
