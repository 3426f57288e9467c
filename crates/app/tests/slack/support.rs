//! What the Slack tests share: the product started on a test database against a fake Slack, and
//! the payloads Slack sends.

pub(crate) use std::collections::HashMap;
pub(crate) use std::time::{Duration, Instant};

pub(crate) use diesel::prelude::*;
pub(crate) use firefighter_app::{AppBuilder, Application};
pub(crate) use incidents_core::access::AccessRepository;
pub(crate) use incidents_core::{Email, NewUser, UserRepository};
pub(crate) use serde_json::{Value, json};
pub(crate) use storage::testing::TestDatabase;
pub(crate) use test_support::slack::{BOT_USER, Failure, FakeSlack};

pub(crate) const TOKEN: &str = "xoxb-test-token";
pub(crate) const SIGNING_SECRET: &str = "a-signing-secret-for-tests";

pub(crate) fn vars(test: &TestDatabase, slack: Option<&FakeSlack>) -> HashMap<String, String> {
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

pub(crate) struct Running {
    pub(crate) base: String,
    pub(crate) token: String,
    pub(crate) handle: actix_web::dev::ServerHandle,
    pub(crate) client: reqwest::Client,
    /// Priority value -> id; the PRD environment; a category.
    pub(crate) priorities: HashMap<i32, String>,
    pub(crate) environment: String,
    pub(crate) category: (String, String),
    /// Another category.
    pub(crate) other_category: (String, String),
}

pub(crate) async fn start(test: &TestDatabase, slack: Option<&FakeSlack>) -> Running {
    start_with(test, &vars(test, slack)).await
}

pub(crate) async fn start_with(test: &TestDatabase, vars: &HashMap<String, String>) -> Running {
    start_built(test, AppBuilder::standard(), vars).await
}

/// The product as `builder` assembles it (the standard one plus a test integration, say).
pub(crate) async fn start_built(
    test: &TestDatabase,
    builder: AppBuilder,
    vars: &HashMap<String, String>,
) -> Running {
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
    let app = builder.configure(vars).expect("configuration");
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
    pub(crate) async fn declare(&self, priority: i32, title: &str) -> i64 {
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

    pub(crate) async fn update(&self, id: i64, body: Value) -> Value {
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

    pub(crate) async fn incident(&self, id: i64) -> Value {
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

    pub(crate) fn slack_endpoint(&self) -> String {
        format!("{}/api/v2/firefighter/slack/incident/", self.base)
    }
}

/// Waits for `check` to hold (the jobs run in the background).
pub(crate) async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn expected_name(id: i64, category: &str) -> String {
    let date = chrono::Utc::now().format("%Y%m%d");
    let category: String = category
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    format!("{date}-{id}-prd-{category}")
}

pub(crate) fn tag(test: &TestDatabase, channel: &str, name: &str, tag: &str) {
    slack_adapter::store::SlackStore::new(test.database.clone())
        .upsert_tagged(channel, name, "public", tag, incidents_core::clock::now())
        .expect("tag");
}

pub(crate) fn kinds(slack: &FakeSlack, channel: &str) -> Vec<String> {
    slack
        .messages_in(channel)
        .iter()
        .map(|message| {
            message.metadata.as_ref().and_then(|m| m["event_type"].as_str()).unwrap_or("none").to_owned()
        })
        .collect()
}

pub(crate) async fn send_event(running: &Running, event_id: &str, event: Value) {
    let body = json!({"type": "event_callback", "event_id": event_id, "team_id": "T0FAKE01", "event": event})
        .to_string();
    assert_eq!(signed_post(running, "application/json", body).await.status(), 200);
}

/// Posts `body` to the Slack endpoint, signed as Slack signs it.
pub(crate) async fn signed_post(running: &Running, content_type: &str, body: String) -> reqwest::Response {
    let now = chrono::Utc::now().timestamp().to_string();
    let signature = slack_adapter::verify::sign(SIGNING_SECRET, &now, body.as_bytes());
    running
        .client
        .post(running.slack_endpoint())
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", &now)
        .header("x-slack-signature", signature)
        .body(body)
        .send()
        .await
        .expect("request")
}

pub(crate) fn members(test: &TestDatabase, incident: i64) -> Vec<String> {
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

pub(crate) fn timeline(test: &TestDatabase, incident: i64) -> Vec<(Option<String>, Option<String>)> {
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

// ---------------------------------------------------------------------------------------------
// Commands, shortcuts, buttons and modals, driven as Slack drives them: signed form posts with the
// payloads Slack sends, the views the product opens read back from the fake Slack.

/// Posts a signed form to the Slack endpoint; the status and the JSON body (`Null` when empty).
pub(crate) async fn post_form(running: &Running, pairs: &[(&str, &str)]) -> (u16, Value) {
    let body = serde_urlencoded::to_string(pairs).expect("form");
    let response = signed_post(running, "application/x-www-form-urlencoded", body).await;
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("json body") })
}

/// `/incident <text>` typed by `user` in `channel`.
pub(crate) async fn command(running: &Running, user: &str, channel: &str, text: &str) -> Value {
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
pub(crate) async fn interact(running: &Running, payload: &Value) -> Value {
    let text = payload.to_string();
    let (status, body) = post_form(running, &[("payload", &text)]).await;
    assert_eq!(status, 200, "{payload}: {body}");
    body
}

/// The views `method` was called with so far.
pub(crate) fn views(slack: &FakeSlack, method: &str) -> Vec<Value> {
    slack
        .calls_of(method)
        .iter()
        .map(|call| serde_json::from_str(call.argument("view")).expect("a view"))
        .collect()
}

/// Waits for the `n`th view of `method` (1-based) and returns it with the id the fake Slack gave.
pub(crate) async fn nth_view(slack: &FakeSlack, method: &str, n: usize) -> Value {
    eventually(&format!("{method} #{n}"), || views(slack, method).len() >= n).await;
    let mut view = views(slack, method)[n - 1].clone();
    let updated = slack.calls_of(method)[n - 1].argument("view_id").to_owned();
    view["id"] = json!(if updated.is_empty() { format!("V{method}{n}") } else { updated });
    view["hash"] = json!("1700000000.hash");
    view
}

pub(crate) fn block_action(user: &str, view: Option<&Value>, channel: Option<&str>, action: Value) -> Value {
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
pub(crate) fn submission(user: &str, view: &Value, values: Value) -> Value {
    let mut view = view.clone();
    let mut state = serde_json::Map::new();
    state.insert("values".to_owned(), values);
    view["state"] = Value::Object(state);
    view["root_view_id"] = view.get("root_view_id").cloned().unwrap_or_else(|| view["id"].clone());
    json!({"type": "view_submission", "user": {"id": user}, "team": {"id": "T0FAKE01"},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0", "view": view})
}

pub(crate) fn plain(value: &str) -> Value {
    json!({"type": "plain_text_input", "value": value})
}

pub(crate) fn select(value: &str) -> Value {
    json!({"type": "static_select", "selected_option": {"value": value}})
}

pub(crate) fn multi(values: &[&str]) -> Value {
    json!({"type": "multi_static_select",
        "selected_options": values.iter().map(|v| json!({"value": v})).collect::<Vec<_>>()})
}

/// The state Slack would send for `view` untouched: each input's initial value.
pub(crate) fn initial_state(view: &Value) -> Value {
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

pub(crate) fn block_ids(view: &Value) -> Vec<String> {
    view["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter_map(|b| b["block_id"].as_str().map(str::to_owned))
        .collect()
}

pub(crate) fn view_text(view: &Value) -> String {
    view["blocks"].to_string()
}

/// The id of a status among a select's options (by label).
pub(crate) fn option_value(view: &Value, block: &str, label: &str) -> String {
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

pub(crate) fn status_of(test: &TestDatabase, id: i64) -> (i32, Option<String>) {
    use storage::schema::incidents;
    let mut conn = test.database.connection().expect("connection");
    incidents::table
        .find(id)
        .select((incidents::status, incidents::closure_reason.nullable()))
        .first(&mut conn)
        .expect("incident")
}

pub(crate) async fn open_modal(
    running: &Running,
    slack: &FakeSlack,
    user: &str,
    action_id: &str,
    id: i64,
) -> Value {
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

/// A stand-in for Slack's Socket Mode endpoint: accepts the product's connections, sends envelopes,
/// reads acknowledgements.
pub(crate) mod socket {
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
