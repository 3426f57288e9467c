//! A typed Jira REST v2 client (Jira Cloud), blocking, for job threads.
//!
//! Every call goes through [`JiraClient::call`]: HTTP Basic auth, JSON both ways, a 429 waited out
//! (`Retry-After`, a few times); for calls that may be repeated (not a POST) a 503 waited out too and
//! a timeout or another 5xx retried a few times; what is left returned as a [`JiraError`] carrying Jira's status and messages, which jobs turn into a
//! retry or a dead job. Search uses Jira Cloud's `/search/jql` with `nextPageToken` (the old
//! `/search` answers 410).

use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::JiraConfig;
use crate::workflow::Workflow;

/// Why a Jira call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JiraError {
    /// Jira answered with an error status: its `errorMessages` and `errors`, joined.
    #[error("Jira answered {status} to {what}: {message}")]
    Status { what: String, status: u16, message: String },
    /// No answer (refused, timed out).
    #[error("Jira is unreachable for {what}: {message}")]
    Transport { what: String, message: String },
    /// An answer this client cannot read.
    #[error("unexpected answer from Jira to {what}: {message}")]
    Decode { what: String, message: String },
}

impl JiraError {
    /// Whether trying again later may succeed: no answer, 429, 5xx.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Decode { .. } => false,
        }
    }

    /// The HTTP status Jira answered, if it answered.
    #[must_use]
    pub const fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An issue as created: its numeric id and key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Created {
    pub id: String,
    pub key: String,
}

/// The parts of an issue the product reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Issue {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub fields: Value,
}

impl Issue {
    /// The name of its status.
    #[must_use]
    pub fn status(&self) -> Option<&str> {
        self.fields.pointer("/status/name").and_then(Value::as_str)
    }

    /// The id of its status.
    #[must_use]
    pub fn status_id(&self) -> Option<&str> {
        self.fields.pointer("/status/id").and_then(Value::as_str)
    }

    /// The value of an option field (`{"value": …}`).
    #[must_use]
    pub fn option(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(|value| value.get("value")).and_then(Value::as_str)
    }
}

/// A transition available from an issue's current status.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Transition {
    pub id: String,
    pub name: String,
}

/// A Jira user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JiraUser {
    pub account_id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email_address: Option<String>,
}

/// How often a call is tried in all, and the longest `Retry-After` it waits by itself.
const ATTEMPTS: u32 = 3;
const LONGEST_WAIT: Duration = Duration::from_secs(10);

/// The client. Its blocking HTTP client is built on first use, on the thread that calls (building
/// or dropping one inside an async runtime would panic).
#[derive(Debug, Clone)]
pub struct JiraClient {
    http: std::sync::Arc<std::sync::OnceLock<Result<Client, String>>>,
    timeout: Duration,
    base: url::Url,
    user: String,
    password: String,
    workflow: String,
}

impl JiraClient {
    /// A client for `config` (nothing is connected yet).
    #[must_use]
    pub fn new(config: &JiraConfig) -> Self {
        Self {
            http: std::sync::Arc::default(),
            timeout: config.timeout,
            base: config.url.clone(),
            user: config.user.clone(),
            password: config.password.expose().to_owned(),
            workflow: config.workflow.clone(),
        }
    }

    /// The site, for browse links.
    #[must_use]
    pub fn browse_url(&self, key: &str) -> String {
        format!("{}/browse/{key}", self.base.as_str().trim_end_matches('/'))
    }

    fn http(&self) -> Result<&Client, JiraError> {
        self.http
            .get_or_init(|| {
                Client::builder()
                    .timeout(self.timeout)
                    .connect_timeout(self.timeout)
                    .user_agent(concat!("FireFighter/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|error| error.to_string())
            })
            .as_ref()
            .map_err(|message| JiraError::Transport {
                what: "the HTTP client".into(),
                message: message.clone(),
            })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    /// One call, with the waits and retries of the module's description. `None` for an empty answer.
    ///
    /// # Errors
    /// What is left after the retries.
    pub fn call(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, JiraError> {
        let http = self.http()?;
        let repeatable = *method != Method::POST;
        self.send(&format!("{method} {path}"), repeatable, || {
            let request = http.request(method.clone(), self.url(path));
            match body {
                Some(body) => request.json(body),
                None => request,
            }
        })
    }

    /// Sends what `build` makes, waiting out 429s (Jira did nothing) and, when `repeatable` (not a
    /// POST: the same request twice does no more than once), retrying transient failures. A POST
    /// that may have been done is left to the job, which looks before it writes again.
    fn send(
        &self,
        what: &str,
        repeatable: bool,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Option<Value>, JiraError> {
        let mut attempt = 1;
        loop {
            let result = build()
                .basic_auth(&self.user, Some(&self.password))
                .header("Accept", "application/json")
                .send();
            let error = match result {
                Err(error) => JiraError::Transport { what: what.to_owned(), message: error.to_string() },
                Ok(response) => {
                    let status = response.status();
                    let wait = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = response.text().unwrap_or_default();
                    if status.is_success() {
                        if text.trim().is_empty() {
                            return Ok(None);
                        }
                        return serde_json::from_str(&text).map(Some).map_err(|error| JiraError::Decode {
                            what: what.to_owned(),
                            message: error.to_string(),
                        });
                    }
                    let error = JiraError::Status {
                        what: what.to_owned(),
                        status: status.as_u16(),
                        message: messages(&text),
                    };
                    if (repeatable || status.as_u16() == 429)
                        && error.is_retryable()
                        && attempt < ATTEMPTS
                        && let Some(wait) = wait.filter(|wait| *wait <= LONGEST_WAIT)
                    {
                        std::thread::sleep(wait);
                        attempt += 1;
                        continue;
                    }
                    error
                }
            };
            if !repeatable || !error.is_retryable() || attempt >= ATTEMPTS {
                return Err(error);
            }
            std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
            attempt += 1;
        }
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, JiraError> {
        let value = self.call(&Method::GET, path, None)?.unwrap_or(Value::Null);
        serde_json::from_value(value)
            .map_err(|error| JiraError::Decode { what: format!("GET {path}"), message: error.to_string() })
    }

    /// `GET /rest/api/2/project/{key}`: the project's id.
    ///
    /// # Errors
    /// An unknown project (404), or a failed call.
    pub fn project_id(&self, key: &str) -> Result<String, JiraError> {
        let project: Value = self.get(&format!("/rest/api/2/project/{}", encode(key)))?;
        project
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| JiraError::Decode { what: format!("GET project {key}"), message: "no id".into() })
    }

    /// `POST /rest/api/2/issue` with these fields.
    ///
    /// # Errors
    /// Jira's refusal (400 naming the fields), or a failed call.
    pub fn create_issue(&self, fields: &Value) -> Result<Created, JiraError> {
        let value = self
            .call(&Method::POST, "/rest/api/2/issue", Some(&json!({"fields": fields})))?
            .unwrap_or(Value::Null);
        serde_json::from_value(value)
            .map_err(|error| JiraError::Decode { what: "POST issue".into(), message: error.to_string() })
    }

    /// `GET /rest/api/2/issue/{id}`, with these fields (comma-separated).
    ///
    /// # Errors
    /// A failed call (404 for an unknown issue).
    pub fn issue(&self, id: &str, fields: &str) -> Result<Issue, JiraError> {
        self.get(&format!("/rest/api/2/issue/{}?fields={}", encode(id), encode(fields)))
    }

    /// `PUT /rest/api/2/issue/{id}` `{"fields": …}`.
    ///
    /// # Errors
    /// A failed call.
    pub fn update_fields(&self, id: &str, fields: &Value) -> Result<(), JiraError> {
        self.call(
            &Method::PUT,
            &format!("/rest/api/2/issue/{}", encode(id)),
            Some(&json!({"fields": fields})),
        )
        .map(drop)
    }

    /// The transitions available from the issue's current status.
    ///
    /// # Errors
    /// A failed call.
    pub fn transitions(&self, id: &str) -> Result<Vec<Transition>, JiraError> {
        #[derive(Deserialize)]
        struct Transitions {
            transitions: Vec<Transition>,
        }
        Ok(self.get::<Transitions>(&format!("/rest/api/2/issue/{}/transitions", encode(id)))?.transitions)
    }

    /// Applies the transition named `name` (looked up among those available now).
    ///
    /// # Errors
    /// No such transition from the current status (a 409-like [`JiraError::Status`]), or a failed call.
    pub fn transition(&self, id: &str, name: &str) -> Result<(), JiraError> {
        let available = self.transitions(id)?;
        let Some(transition) = available.iter().find(|t| t.name == name) else {
            return Err(JiraError::Status {
                what: format!("transition {name:?} of {id}"),
                status: 409,
                message: format!(
                    "not available from the current status (available: {})",
                    available.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            });
        };
        self.call(
            &Method::POST,
            &format!("/rest/api/2/issue/{}/transitions", encode(id)),
            Some(&json!({"transition": {"id": transition.id}, "fields": {}})),
        )
        .map(drop)
    }

    /// The workflow's graph (Jira's workflow designer endpoint, as the original read it).
    ///
    /// # Errors
    /// A failed call, or a layout that cannot be read.
    pub fn workflow(&self) -> Result<Workflow, JiraError> {
        let path =
            format!("/rest/workflowDesigner/latest/workflows?name={}&draft=false", encode(&self.workflow));
        let value = self.call(&Method::GET, &path, None)?.unwrap_or(Value::Null);
        Workflow::from_layout(&value)
            .map_err(|message| JiraError::Decode { what: format!("GET {path}"), message })
    }

    /// Moves the issue to the status named `target` along the workflow's shortest path (one write
    /// however many hops); `Ok(0)` when it is there already. Answers the number of hops made.
    ///
    /// # Errors
    /// No path (a [`JiraError::Status`] 409), or a failed hop (the issue may be part-way).
    pub fn transition_to(&self, id: &str, target: &str) -> Result<usize, JiraError> {
        let workflow = self.workflow()?;
        let issue = self.issue(id, "status")?;
        let current = issue.status_id().and_then(|id| id.parse::<i64>().ok()).ok_or_else(|| {
            JiraError::Decode { what: format!("GET issue {id}"), message: "no status id".into() }
        })?;
        let path = workflow.path(current, target).ok_or_else(|| JiraError::Status {
            what: format!("move {id} to {target:?}"),
            status: 409,
            message: format!(
                "the workflow {:?} has no way there from {:?}",
                self.workflow,
                issue.status().unwrap_or("?")
            ),
        })?;
        for hop in &path {
            self.transition(id, hop)?;
        }
        Ok(path.len())
    }

    /// Issues matching `jql` (every page), with these fields.
    ///
    /// # Errors
    /// A failed call.
    pub fn search(&self, jql: &str, fields: &str) -> Result<Vec<Issue>, JiraError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            #[serde(default)]
            issues: Vec<Issue>,
            #[serde(default)]
            next_page_token: Option<String>,
            #[serde(default)]
            is_last: Option<bool>,
        }
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..100 {
            let mut path = format!(
                "/rest/api/2/search/jql?jql={}&fields={}&maxResults=100",
                encode(jql),
                encode(fields)
            );
            if let Some(token) = &token {
                path.push_str(&format!("&nextPageToken={}", encode(token)));
            }
            let page: Page = self.get(&path)?;
            found.extend(page.issues);
            match page.next_page_token {
                Some(next) if page.is_last != Some(true) => token = Some(next),
                _ => break,
            }
        }
        Ok(found)
    }

    /// `POST /rest/api/2/issue/{id}/comment`.
    ///
    /// # Errors
    /// A failed call.
    pub fn comment(&self, id: &str, body: &str) -> Result<(), JiraError> {
        self.call(
            &Method::POST,
            &format!("/rest/api/2/issue/{}/comment", encode(id)),
            Some(&json!({"body": body})),
        )
        .map(drop)
    }

    /// The bodies of the issue's comments (the first hundred).
    ///
    /// # Errors
    /// A failed call.
    pub fn comments(&self, id: &str) -> Result<Vec<String>, JiraError> {
        #[derive(Deserialize)]
        struct Comment {
            #[serde(default)]
            body: Value,
        }
        #[derive(Deserialize)]
        struct Comments {
            #[serde(default)]
            comments: Vec<Comment>,
        }
        let page: Comments = self.get(&format!("/rest/api/2/issue/{}/comment?maxResults=100", encode(id)))?;
        Ok(page
            .comments
            .into_iter()
            .map(|c| c.body.as_str().map_or_else(|| c.body.to_string(), str::to_owned))
            .collect())
    }

    /// `POST /rest/api/2/issue/{id}/remotelink`, idempotent on `global_id` (Jira replaces the link
    /// with the same global id instead of adding one).
    ///
    /// # Errors
    /// A failed call.
    pub fn remote_link(&self, id: &str, global_id: &str, url: &str, title: &str) -> Result<(), JiraError> {
        self.call(
            &Method::POST,
            &format!("/rest/api/2/issue/{}/remotelink", encode(id)),
            Some(&json!({"globalId": global_id, "object": {"url": url, "title": title}})),
        )
        .map(drop)
    }

    /// `POST /rest/api/2/issue/{id}/watchers` (the body is the account id as a JSON string).
    ///
    /// # Errors
    /// A failed call.
    pub fn add_watcher(&self, id: &str, account_id: &str) -> Result<(), JiraError> {
        self.call(
            &Method::POST,
            &format!("/rest/api/2/issue/{}/watchers", encode(id)),
            Some(&json!(account_id)),
        )
        .map(drop)
    }

    /// The issue's watchers; none for an unknown issue (404), as the original.
    ///
    /// # Errors
    /// Any other failure.
    pub fn watchers(&self, id: &str) -> Result<Vec<JiraUser>, JiraError> {
        #[derive(Deserialize)]
        struct Watchers {
            #[serde(default)]
            watchers: Vec<JiraUser>,
        }
        match self.get::<Watchers>(&format!("/rest/api/2/issue/{}/watchers", encode(id))) {
            Ok(watchers) => Ok(watchers.watchers),
            Err(error) if error.status() == Some(404) => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }

    /// `GET /rest/api/2/user/search?query=…`: users matching an e-mail address or name.
    ///
    /// # Errors
    /// A failed call.
    pub fn search_users(&self, query: &str) -> Result<Vec<JiraUser>, JiraError> {
        self.get(&format!(
            "/rest/api/2/user/search?query={}&maxResults=50&includeActive=true&includeInactive=false",
            encode(query)
        ))
    }

    /// `GET /rest/api/2/user?accountId=…`.
    ///
    /// # Errors
    /// A failed call (404 for an unknown account).
    pub fn user(&self, account_id: &str) -> Result<JiraUser, JiraError> {
        self.get(&format!("/rest/api/2/user?accountId={}", encode(account_id)))
    }

    /// `PUT /rest/api/2/issue/{id}/assignee`.
    ///
    /// # Errors
    /// A failed call.
    pub fn assign(&self, id: &str, account_id: &str) -> Result<(), JiraError> {
        // An empty account unassigns (`null`; `"-1"` would be the project's default assignee).
        let account = if account_id.trim().is_empty() { Value::Null } else { json!(account_id) };
        self.call(
            &Method::PUT,
            &format!("/rest/api/2/issue/{}/assignee", encode(id)),
            Some(&json!({"accountId": account})),
        )
        .map(drop)
    }

    /// `POST /rest/api/2/issue/{id}/attachments`: one file, multipart, with the XSRF opt-out header
    /// Jira requires.
    ///
    /// # Errors
    /// A failed call.
    pub fn attach(&self, id: &str, file_name: &str, bytes: &[u8]) -> Result<(), JiraError> {
        let path = format!("/rest/api/2/issue/{}/attachments", encode(id));
        let file_name = file_name.to_owned();
        let http = self.http()?;
        self.send(&format!("POST {path}"), false, || {
            let part = reqwest::blocking::multipart::Part::bytes(bytes.to_vec()).file_name(file_name.clone());
            http.post(self.url(&path))
                .header("X-Atlassian-Token", "no-check")
                .multipart(reqwest::blocking::multipart::Form::new().part("file", part))
        })
        .map(drop)
    }
}

/// Jira's `errorMessages` and `errors`, joined; the text itself (cut) when it is not JSON.
fn messages(text: &str) -> String {
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        return text.chars().take(300).collect();
    };
    let mut parts: Vec<String> = body
        .get("errorMessages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if let Some(errors) = body.get("errors").and_then(Value::as_object) {
        parts.extend(
            errors
                .iter()
                .map(|(field, message)| format!("{field}: {}", message.as_str().unwrap_or_default())),
        );
    }
    if parts.is_empty() { text.chars().take(300).collect() } else { parts.join("; ") }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_error_bodies_are_read_into_one_message() {
        assert_eq!(
            messages(r#"{"errorMessages":["Issue does not exist"],"errors":{"summary":"too long"}}"#),
            "Issue does not exist; summary: too long"
        );
        assert_eq!(messages("<html>bad gateway</html>"), "<html>bad gateway</html>");
        assert!(
            JiraError::Status { what: String::new(), status: 503, message: String::new() }.is_retryable()
        );
        assert!(
            !JiraError::Status { what: String::new(), status: 400, message: String::new() }.is_retryable()
        );
    }
}
