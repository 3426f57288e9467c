//! A fake Jira Cloud on loopback, for tests: projects, issues with their fields, the original's
//! incident workflow (statuses, transitions, the workflow designer's layout), watchers, remote
//! links, comments, attachments, users, and a JQL search of the few forms the product sends. It
//! checks Basic auth, records every call, fails on demand (429 with `Retry-After`, 5xx, down), and
//! sends signed `jira:issue_updated` webhooks back for every change, FireFighter's own included
//! (with the account that made them as `user`), one after the other, as Jira Cloud does.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use serde_json::{Value, json};

/// One recorded call: method, path (with its query) and body.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraCall {
    pub method: String,
    pub path: String,
    pub body: Value,
}

/// An issue of the fake site.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeIssue {
    pub id: String,
    pub key: String,
    pub project: String,
    /// Every field as last set (`summary`, `labels`, custom fields …), `status` included.
    pub fields: serde_json::Map<String, Value>,
    pub watchers: Vec<String>,
    /// `(globalId, url, title)`.
    pub remote_links: Vec<(String, String, String)>,
    pub comments: Vec<String>,
    /// File names.
    pub attachments: Vec<String>,
    /// Every status it was moved to, in order.
    pub history: Vec<String>,
    /// When it was created (the fake's search can pretend not to see it yet).
    pub created: std::time::Instant,
}

impl FakeIssue {
    /// The name of its status.
    #[must_use]
    pub fn status(&self) -> &str {
        self.fields.get("status").and_then(|s| s.get("name")).and_then(Value::as_str).unwrap_or_default()
    }

    /// The value of an option field.
    #[must_use]
    pub fn option(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(|v| v.get("value")).and_then(Value::as_str)
    }
}

/// How calls fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JiraFailure {
    /// 429 with this `Retry-After` (seconds).
    RateLimited(u64),
    /// This status, with a Jira error body.
    Status(u16),
    /// The call does what it asks, then answers this status (the answer is lost: a crash or a
    /// timeout after Jira acted).
    AfterWrite(u16),
}

/// The fake site's state.
#[derive(Debug, Default)]
pub struct JiraState {
    /// The Basic-auth user and password the product must send.
    pub user: String,
    pub password: String,
    /// The account id the product's calls act as (its service account).
    pub account_id: String,
    /// Project key → id.
    pub projects: HashMap<String, String>,
    pub issues: Vec<FakeIssue>,
    /// `(accountId, displayName, email)`.
    pub users: Vec<(String, String, String)>,
    /// Every call, in order.
    pub calls: Vec<JiraCall>,
    /// The next calls whose path contains the text fail this way.
    failures: VecDeque<(String, JiraFailure)>,
    /// Every call answers 503 while set (Jira down).
    pub down: bool,
    /// How long every answer takes, in milliseconds (a slow Jira).
    pub delay_ms: u64,
    /// Search does not see issues younger than this (Jira's index lag), in milliseconds.
    pub search_lag_ms: u64,
    /// The workflow layout served.
    pub workflow: Value,
    /// Where webhooks go (the product's `/raid/jira_update`), and their secret.
    pub webhook_url: Option<String>,
    pub webhook_secret: String,
    /// Webhooks sent: `(identifier, body)`.
    pub webhooks_sent: Vec<(String, Value)>,
    /// Webhooks queued and not sent yet.
    pub webhooks_pending: usize,
    counter: u64,
}

impl JiraState {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn find(&mut self, id_or_key: &str) -> Option<&mut FakeIssue> {
        self.issues.iter_mut().find(|issue| issue.id == id_or_key || issue.key == id_or_key)
    }

    /// An issue by key or id.
    #[must_use]
    pub fn issue(&self, id_or_key: &str) -> Option<&FakeIssue> {
        self.issues.iter().find(|issue| issue.id == id_or_key || issue.key == id_or_key)
    }

    /// The next `count` calls whose path contains `path` fail with `failure`.
    pub fn fail(&mut self, path: &str, failure: JiraFailure, count: usize) {
        for _ in 0..count {
            self.failures.push_back((path.to_owned(), failure));
        }
    }

    /// The calls that changed something (POST, PUT, DELETE) on issues, in order.
    #[must_use]
    pub fn writes(&self) -> Vec<&JiraCall> {
        self.calls.iter().filter(|call| call.method != "GET").collect()
    }

    fn status_name(&self, id: i64) -> Option<String> {
        self.workflow["layout"]["statuses"]
            .as_array()?
            .iter()
            .find(|s| s["statusId"].as_i64() == Some(id))
            .and_then(|s| s["name"].as_str())
            .map(str::to_owned)
    }

    /// The transitions out of a status: `(id, name, target status id)`.
    fn transitions_from(&self, status: i64) -> Vec<(String, String, i64)> {
        let step =
            |text: &str| -> Option<i64> { text.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok() };
        self.workflow["layout"]["transitions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["initial"].as_bool() != Some(true))
            .filter(|t| {
                t["globalTransition"].as_bool() == Some(true)
                    || t["sourceId"].as_str().and_then(step) == Some(status)
            })
            .filter_map(|t| {
                Some((
                    step(t["id"].as_str()?)?.to_string(),
                    t["name"].as_str()?.to_owned(),
                    step(t["targetId"].as_str()?)?,
                ))
            })
            .collect()
    }
}

type Shared = Arc<Mutex<JiraState>>;

/// The running fake.
#[derive(Debug)]
pub struct FakeJira {
    /// The site URL to give the product (`RAID_JIRA_API_URL`).
    pub url: String,
    state: Shared,
    outbox: tokio::sync::mpsc::UnboundedSender<(String, Value)>,
    handle: actix_web::dev::ServerHandle,
}

/// The account id the product's calls act as, unless told otherwise.
pub const SERVICE_ACCOUNT: &str = "5b10ac8d82e05b22cc7d4ef5";

impl FakeJira {
    /// Starts a site with one project (`INCIDENT`), the original's incident workflow, and the
    /// service account; Basic auth `user` / `password`. Needs a running tokio runtime.
    ///
    /// # Panics
    /// When it cannot bind a loopback port.
    pub fn start(user: &str, password: &str, workflow: Value) -> Self {
        let state = Arc::new(Mutex::new(JiraState {
            user: user.to_owned(),
            password: password.to_owned(),
            account_id: SERVICE_ACCOUNT.to_owned(),
            projects: HashMap::from([("INCIDENT".to_owned(), "10000".to_owned())]),
            users: vec![(SERVICE_ACCOUNT.to_owned(), "FireFighter".to_owned(), user.to_owned())],
            workflow,
            ..JiraState::default()
        }));
        let (outbox, inbox) = tokio::sync::mpsc::unbounded_channel::<(String, Value)>();
        tokio::spawn(send_webhooks(Arc::clone(&state), inbox));
        let shared = Arc::clone(&state);
        let sender = outbox.clone();
        let server = actix_web::HttpServer::new(move || {
            let (state, sender) = (Arc::clone(&shared), sender.clone());
            actix_web::App::new().app_data(web::PayloadConfig::new(16 * 1024 * 1024)).default_service(
                web::to(move |request: HttpRequest, body: web::Bytes| {
                    let (state, sender) = (Arc::clone(&state), sender.clone());
                    async move {
                        let delay = state.lock().map(|state| state.delay_ms).unwrap_or_default();
                        if delay > 0 {
                            actix_web::rt::time::sleep(std::time::Duration::from_millis(delay)).await;
                        }
                        serve(&state, &sender, &request, &body)
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind a loopback port");
        let address = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url: format!("http://{address}"), state, outbox, handle }
    }

    /// The site's state, to arrange or inspect.
    ///
    /// # Panics
    /// When a previous holder panicked.
    pub fn state(&self) -> MutexGuard<'_, JiraState> {
        self.state.lock().expect("fake Jira state")
    }

    /// Sends webhooks for the site's changes to `url`, signed with `secret`.
    pub fn send_webhooks_to(&self, url: &str, secret: &str) {
        let mut state = self.state();
        state.webhook_url = Some(url.to_owned());
        secret.clone_into(&mut state.webhook_secret);
    }

    /// A person (`account_id`) moves an issue to the status named `status`, as if through Jira's UI
    /// (no workflow check), and Jira sends the webhook.
    pub fn person_sets_status(&self, key: &str, status: &str, account_id: &str) {
        let mut state = self.state();
        let Some(id) = state.workflow["layout"]["statuses"].as_array().and_then(|statuses| {
            statuses.iter().find(|s| s["name"] == status).and_then(|s| s["statusId"].as_i64())
        }) else {
            panic!("no status {status} in the workflow");
        };
        let issue = state.find(key).expect("issue");
        let from = issue.status().to_owned();
        issue.fields.insert("status".into(), json!({"id": id.to_string(), "name": status}));
        issue.history.push(status.to_owned());
        let item = json!({"field": "status", "fieldtype": "jira", "fieldId": "status", "fromString": from, "toString": status});
        let webhook = updated(&state, key, account_id, &[item]);
        state.webhooks_pending += 1;
        drop(state);
        self.outbox.send(webhook).expect("webhook queue");
    }

    /// A person sets an option field (the priority, say) as if through Jira's UI.
    pub fn person_sets_option(&self, key: &str, field: &str, value: &str, account_id: &str) {
        let mut state = self.state();
        let issue = state.find(key).expect("issue");
        let from = issue.option(field).unwrap_or_default().to_owned();
        issue.fields.insert(field.into(), json!({"value": value}));
        let item = json!({"field": field, "fieldtype": "custom", "fieldId": field, "fromString": from, "toString": value});
        let webhook = updated(&state, key, account_id, &[item]);
        state.webhooks_pending += 1;
        drop(state);
        self.outbox.send(webhook).expect("webhook queue");
    }

    /// A person sets a text field (`summary`, `description`) as if through Jira's UI.
    pub fn person_sets_text(&self, key: &str, field: &str, value: &str, account_id: &str) {
        let mut state = self.state();
        let issue = state.find(key).expect("issue");
        let from = issue.fields.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
        issue.fields.insert(field.into(), json!(value));
        let item = json!({"field": field, "fieldtype": "jira", "fieldId": field, "fromString": from, "toString": value});
        let webhook = updated(&state, key, account_id, &[item]);
        state.webhooks_pending += 1;
        drop(state);
        self.outbox.send(webhook).expect("webhook queue");
    }

    /// A person assigns the issue to `assignee` (`None`: unassigns) as if through Jira's UI.
    pub fn person_assigns(&self, key: &str, assignee: Option<&str>, account_id: &str) {
        let mut state = self.state();
        let item = assign(&mut state, key, assignee);
        let webhook = updated(&state, key, account_id, &[item]);
        state.webhooks_pending += 1;
        drop(state);
        self.outbox.send(webhook).expect("webhook queue");
    }

    /// A person comments on the issue as if through Jira's UI, and Jira sends `comment_created`.
    pub fn person_comments(&self, key: &str, body: &str, account_id: &str) {
        let mut state = self.state();
        let issue = state.find(key).expect("issue");
        issue.comments.push(body.to_owned());
        let (id, issue_key, count) = (issue.id.clone(), issue.key.clone(), issue.comments.len());
        let (name, email) = state
            .users
            .iter()
            .find(|(id, _, _)| id == account_id)
            .map_or(("Someone".to_owned(), String::new()), |(_, name, email)| (name.clone(), email.clone()));
        let body = json!({
            "timestamp": 1_700_000_000_000_u64,
            "webhookEvent": "comment_created",
            "comment": {"id": count.to_string(), "body": body,
                "author": {"accountId": account_id, "displayName": name, "emailAddress": email}},
            "issue": {"id": id, "key": issue_key},
        });
        state.webhooks_pending += 1;
        drop(state);
        self.outbox.send((issue_key, body)).expect("webhook queue");
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Sets an issue's assignee; the changelog item.
fn assign(state: &mut JiraState, key: &str, assignee: Option<&str>) -> Value {
    let name_of = |state: &JiraState, account: Option<&str>| {
        account.and_then(|a| state.users.iter().find(|(id, _, _)| id == a)).map(|(_, name, _)| name.clone())
    };
    let issue = state.issue(key).expect("issue");
    let from = issue
        .fields
        .get("assignee")
        .and_then(|a| a.get("accountId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (from_name, to_name) = (name_of(state, from.as_deref()), name_of(state, assignee));
    let issue = state.find(key).expect("issue");
    issue.fields.insert(
        "assignee".into(),
        assignee.map_or(Value::Null, |a| json!({"accountId": a, "displayName": to_name})),
    );
    json!({"field": "assignee", "fieldtype": "jira", "fieldId": "assignee", "from": from, "fromString": from_name,
        "to": assignee, "toString": to_name})
}

/// A `jira:issue_updated` webhook body for these changelog items.
fn updated(state: &JiraState, key: &str, account_id: &str, items: &[Value]) -> (String, Value) {
    let issue = state.issue(key).expect("issue");
    let name = state
        .users
        .iter()
        .find(|(id, _, _)| id == account_id)
        .map_or("Someone", |(_, name, _)| name.as_str());
    let body = json!({
        "timestamp": 1_700_000_000_000_u64,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": {"accountId": account_id, "displayName": name},
        "issue": {"id": issue.id, "key": issue.key, "fields": Value::Object(issue.fields.clone())},
        "changelog": {"id": format!("{}", state.counter), "items": items},
    });
    (issue.key.clone(), body)
}

/// Delivers webhooks one after the other, retrying a failed one a few times as Jira does.
async fn send_webhooks(state: Shared, mut inbox: tokio::sync::mpsc::UnboundedReceiver<(String, Value)>) {
    use hmac::{Hmac, Mac as _};
    let client = reqwest::Client::new();
    while let Some((_, body)) = inbox.recv().await {
        let (url, secret, identifier) = {
            let Ok(mut state) = state.lock() else { return };
            let identifier = format!("fake-jira-{}", state.next());
            (state.webhook_url.clone(), state.webhook_secret.clone(), identifier)
        };
        let Some(url) = url else {
            if let Ok(mut state) = state.lock() {
                state.webhooks_pending = state.webhooks_pending.saturating_sub(1);
            }
            continue;
        };
        // Comment events go to the comment webhook (Jira's second webhook, same secret).
        let url = if body["webhookEvent"].as_str().is_some_and(|e| e.starts_with("comment_")) {
            url.replace("jira_update", "jira_comment")
        } else {
            url
        };
        let raw = serde_json::to_vec(&body).unwrap_or_default();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(&raw);
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        for attempt in 0..5_u64 {
            let sent = client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature", &signature)
                .header("x-atlassian-webhook-identifier", &identifier)
                .header("x-atlassian-webhook-retry", attempt.to_string())
                .body(raw.clone())
                .send()
                .await;
            if sent.is_ok_and(|response| !response.status().is_server_error()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 * (attempt + 1))).await;
        }
        if let Ok(mut state) = state.lock() {
            state.webhooks_sent.push((identifier, body));
            state.webhooks_pending = state.webhooks_pending.saturating_sub(1);
        }
    }
}

fn error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
        .json(json!({"errorMessages": [message], "errors": {}}))
}

fn query(request: &HttpRequest) -> HashMap<String, String> {
    serde_urlencoded::from_str(request.query_string()).unwrap_or_default()
}

fn serve(
    state: &Shared,
    outbox: &tokio::sync::mpsc::UnboundedSender<(String, Value)>,
    request: &HttpRequest,
    body: &[u8],
) -> HttpResponse {
    let Ok(mut state) = state.lock() else { return error(500, "poisoned") };
    let method = request.method().as_str().to_owned();
    let path = request.path().to_owned();
    let full = match request.query_string() {
        "" => path.clone(),
        query => format!("{path}?{query}"),
    };
    let raw = body;
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    state.calls.push(JiraCall { method: method.clone(), path: full.clone(), body: body.clone() });
    // Basic auth.
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", state.user, state.password))
    );
    if request.headers().get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return error(401, "Client must be authenticated to access this resource.");
    }
    if state.down {
        return error(503, "Service unavailable");
    }
    let mut after_write = None;
    if let Some(index) = state.failures.iter().position(|(part, _)| full.contains(part.as_str())) {
        let (_, failure) = state.failures.remove(index).expect("found");
        match failure {
            JiraFailure::AfterWrite(status) => after_write = Some(status),
            JiraFailure::RateLimited(seconds) => {
                return HttpResponse::TooManyRequests()
                    .insert_header(("Retry-After", seconds.to_string()))
                    .json(json!({"errorMessages": ["Rate limit exceeded"]}));
            }
            JiraFailure::Status(status) => return error(status, "Injected failure"),
        }
    }
    let response = act(&mut state, outbox, request, (&method, &path), (&body, raw));
    match after_write {
        Some(status) => error(status, "Injected failure after the change was made"),
        None => response,
    }
}

#[expect(clippy::too_many_lines, reason = "one fake endpoint per arm")]
fn act(
    state: &mut JiraState,
    outbox: &tokio::sync::mpsc::UnboundedSender<(String, Value)>,
    request: &HttpRequest,
    (method, path): (&str, &str),
    (body, raw): (&Value, &[u8]),
) -> HttpResponse {
    let actor = state.account_id.clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["rest", "api", "2", "project", key]) => match state.projects.get(*key) {
            Some(id) => HttpResponse::Ok().json(json!({"id": id, "key": key})),
            None => error(404, "No project could be found with key"),
        },
        ("GET", ["rest", "workflowDesigner", "latest", "workflows"]) => HttpResponse::Ok().json(state.workflow.clone()),
        ("POST", ["rest", "api", "2", "issue"]) => {
            let fields = body.get("fields").and_then(Value::as_object).cloned().unwrap_or_default();
            let project = fields.get("project").and_then(|p| p.get("key").or_else(|| p.get("id"))).and_then(Value::as_str).unwrap_or_default().to_owned();
            let Some(project_key) = state
                .projects
                .iter()
                .find(|(key, id)| **key == project || **id == project)
                .map(|(key, _)| key.clone())
            else {
                return HttpResponse::BadRequest().json(json!({"errorMessages": [], "errors": {"project": "project is required"}}));
            };
            if fields.get("summary").and_then(Value::as_str).is_none_or(|s| s.is_empty() || s.chars().count() > 255) {
                return HttpResponse::BadRequest().json(json!({"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}}));
            }
            let number = state.next();
            let count = state.issues.iter().filter(|i| i.project == project_key).count() + 1;
            let (id, key) = ((10_000 + number).to_string(), format!("{project_key}-{count}"));
            let mut fields = fields;
            fields.insert("status".into(), json!({"id": "1", "name": "Incoming"}));
            state.issues.push(FakeIssue {
                id: id.clone(),
                key: key.clone(),
                project: project_key,
                fields,
                watchers: Vec::new(),
                remote_links: Vec::new(),
                comments: Vec::new(),
                attachments: Vec::new(),
                history: Vec::new(),
                created: std::time::Instant::now(),
            });
            HttpResponse::Created().json(json!({"id": id, "key": key, "self": format!("/rest/api/2/issue/{id}")}))
        }
        ("GET", ["rest", "api", "2", "issue", id]) => match state.issue(id) {
            Some(issue) => {
                let mut fields = issue.fields.clone();
                let files: Vec<Value> = issue.attachments.iter().map(|name| json!({"filename": name})).collect();
                fields.insert("attachment".into(), Value::Array(files));
                HttpResponse::Ok().json(json!({"id": issue.id, "key": issue.key, "fields": Value::Object(fields)}))
            }
            None => error(404, "Issue does not exist or you do not have permission to see it."),
        },
        ("PUT", ["rest", "api", "2", "issue", id]) => {
            let Some(issue) = state.find(id) else { return error(404, "Issue does not exist") };
            let mut items = Vec::new();
            for (field, value) in body.get("fields").and_then(Value::as_object).cloned().unwrap_or_default() {
                let text = |v: Option<&Value>| {
                    v.map(|v| v.as_str().or_else(|| v.get("value").and_then(Value::as_str)).map_or_else(|| v.to_string(), str::to_owned)).unwrap_or_default()
                };
                let from = text(issue.fields.get(&field));
                let to = text(Some(&value));
                if from != to {
                    items.push(json!({"field": field, "fieldtype": "custom", "fieldId": field, "fromString": from, "toString": to}));
                }
                issue.fields.insert(field, value);
            }
            let key = issue.key.clone();
            if !items.is_empty() {
                let webhook = updated(state, &key, &actor, &items);
                state.webhooks_pending += 1;
                outbox.send(webhook).ok();
            }
            HttpResponse::NoContent().finish()
        }
        ("GET", ["rest", "api", "2", "issue", id, "transitions"]) => {
            let Some(status) = state.issue(id).and_then(|i| i.fields["status"]["id"].as_str().and_then(|s| s.parse().ok())) else {
                return error(404, "Issue does not exist");
            };
            let transitions: Vec<Value> = state
                .transitions_from(status)
                .into_iter()
                .map(|(id, name, to)| json!({"id": id, "name": name, "to": {"id": to.to_string(), "name": state.status_name(to)}}))
                .collect();
            HttpResponse::Ok().json(json!({"transitions": transitions}))
        }
        ("POST", ["rest", "api", "2", "issue", id, "transitions"]) => {
            let Some(status) = state.issue(id).and_then(|i| i.fields["status"]["id"].as_str().and_then(|s| s.parse().ok())) else {
                return error(404, "Issue does not exist");
            };
            let wanted = body.pointer("/transition/id").and_then(Value::as_str).unwrap_or_default().to_owned();
            let Some((_, _, target)) = state.transitions_from(status).into_iter().find(|(tid, _, _)| *tid == wanted) else {
                return error(400, "It seems that you have tried to perform a workflow operation that is not valid for the current state of this issue.");
            };
            let name = state.status_name(target).unwrap_or_default();
            let issue = state.find(id).expect("issue");
            let from = issue.status().to_owned();
            issue.fields.insert("status".into(), json!({"id": target.to_string(), "name": name}));
            issue.history.push(name.clone());
            let key = issue.key.clone();
            let item = json!({"field": "status", "fieldtype": "jira", "fieldId": "status", "fromString": from, "toString": name});
            let webhook = updated(state, &key, &actor, &[item]);
            state.webhooks_pending += 1;
            outbox.send(webhook).ok();
            HttpResponse::NoContent().finish()
        }
        ("GET", ["rest", "api", "2", "search", "jql"]) => {
            let query = query(request);
            let jql = query.get("jql").cloned().unwrap_or_default();
            let lag = std::time::Duration::from_millis(state.search_lag_ms);
            let label = jql
                .split_once("labels")
                .map(|(_, rest)| rest.trim_start().trim_start_matches('=').trim().trim_matches('"').to_owned());
            let issues: Vec<Value> = state
                .issues
                .iter()
                .filter(|issue| issue.created.elapsed() >= lag)
                .filter(|issue| {
                    label.as_ref().is_none_or(|label| {
                        issue.fields.get("labels").and_then(Value::as_array).is_some_and(|labels| labels.iter().any(|l| l == label.as_str()))
                    })
                })
                .map(|issue| json!({"id": issue.id, "key": issue.key, "fields": Value::Object(issue.fields.clone())}))
                .collect();
            HttpResponse::Ok().json(json!({"issues": issues, "isLast": true}))
        }
        ("POST", ["rest", "api", "2", "issue", id, "comment"]) => {
            let text = body.get("body").and_then(Value::as_str).unwrap_or_default().to_owned();
            let Some(issue) = state.find(id) else { return error(404, "Issue does not exist") };
            issue.comments.push(text);
            HttpResponse::Created().json(json!({"id": issue.comments.len().to_string()}))
        }
        ("POST", ["rest", "api", "2", "issue", id, "remotelink"]) => {
            let global = body.get("globalId").and_then(Value::as_str).unwrap_or_default().to_owned();
            let url = body.pointer("/object/url").and_then(Value::as_str).unwrap_or_default().to_owned();
            let title = body.pointer("/object/title").and_then(Value::as_str).unwrap_or_default().to_owned();
            let Some(issue) = state.find(id) else { return error(404, "Issue does not exist") };
            issue.remote_links.retain(|(g, _, _)| global.is_empty() || *g != global);
            issue.remote_links.push((global, url, title));
            HttpResponse::Created().json(json!({"id": issue.remote_links.len()}))
        }
        ("GET", ["rest", "api", "2", "issue", id, "watchers"]) => match state.issue(id) {
            Some(issue) => HttpResponse::Ok().json(json!({"watchers": issue.watchers.iter().map(|w| {
                let person = state.users.iter().find(|(id, _, _)| id == w);
                json!({"accountId": w, "displayName": person.map(|p| p.1.clone()), "emailAddress": person.map(|p| p.2.clone())})
            }).collect::<Vec<_>>()})),
            None => error(404, "Issue does not exist"),
        },
        ("POST", ["rest", "api", "2", "issue", id, "watchers"]) => {
            let Some(account) = body.as_str().map(str::to_owned) else { return error(400, "an account id") };
            let Some(issue) = state.find(id) else { return error(404, "Issue does not exist") };
            if !issue.watchers.contains(&account) {
                issue.watchers.push(account);
            }
            HttpResponse::NoContent().finish()
        }
        ("POST", ["rest", "api", "2", "issue", id, "attachments"]) => {
            if request.headers().get("x-atlassian-token").and_then(|v| v.to_str().ok()) != Some("no-check") {
                return error(403, "XSRF check failed");
            }
            let Some(issue) = state.find(id) else { return error(404, "Issue does not exist") };
            // The multipart part's file name (`filename="…"`) and its size.
            let text = String::from_utf8_lossy(raw);
            let name = text
                .split_once("filename=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map_or_else(|| format!("attachment-{}", issue.attachments.len() + 1), |(name, _)| name.to_owned());
            issue.attachments.push(name.clone());
            HttpResponse::Ok().json(json!([{"filename": name, "size": raw.len()}]))
        }
        ("PUT", ["rest", "api", "2", "issue", id, "assignee"]) => {
            let account = body.get("accountId").and_then(Value::as_str).map(str::to_owned);
            let Some(key) = state.issue(id).map(|issue| issue.key.clone()) else { return error(404, "Issue does not exist") };
            let item = assign(state, &key, account.as_deref());
            let webhook = updated(state, &key, &actor, &[item]);
            state.webhooks_pending += 1;
            outbox.send(webhook).ok();
            HttpResponse::NoContent().finish()
        }
        ("GET", ["rest", "api", "2", "issue", id, "comment"]) => match state.issue(id) {
            Some(issue) => HttpResponse::Ok().json(json!({"comments": issue.comments.iter().enumerate()
                .map(|(n, body)| json!({"id": (n + 1).to_string(), "body": body})).collect::<Vec<_>>()})),
            None => error(404, "Issue does not exist"),
        },
        ("GET", ["rest", "api", "2", "user", "search"]) => {
            let wanted = query(request).get("query").cloned().unwrap_or_default().to_lowercase();
            let users: Vec<Value> = state
                .users
                .iter()
                .filter(|(_, name, email)| email.to_lowercase().starts_with(&wanted) || name.to_lowercase().contains(&wanted))
                .map(|(id, name, email)| json!({"accountId": id, "displayName": name, "emailAddress": email, "accountType": "atlassian"}))
                .collect();
            HttpResponse::Ok().json(users)
        }
        ("GET", ["rest", "api", "2", "user"]) => {
            let wanted = query(request).get("accountId").cloned().unwrap_or_default();
            match state.users.iter().find(|(id, _, _)| *id == wanted) {
                Some((id, name, email)) => HttpResponse::Ok().json(json!({"accountId": id, "displayName": name, "emailAddress": email})),
                None => error(404, "The user does not exist"),
            }
        }
        ("GET", ["rest", "api", "2", "serverInfo"]) => HttpResponse::Ok().json(json!({"deploymentType": "Cloud"})),
        _ => error(404, "No such endpoint in the fake Jira"),
    }
}
