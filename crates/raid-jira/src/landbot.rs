//! Landbot requests (`POST /raid/jira_bot`, firefighter-integrations.md §5.1): a ticket that is not
//! an incident, made in Jira inside the request (its contract answers the issue key), then its
//! attachments fetched and uploaded, and the ticket announced, by jobs.

use std::time::Duration;

use incidents_core::chat::ChatMessage;
use incidents_core::{Email, UserRepository as _};
use jobs::{Job, JobError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::raid::{Raid, jira, storage};
use sync_engine::FieldMap as _;

/// The longest attachments string, the most attachments, and the longest address.
const ATTACHMENTS_MAX_CHARS: usize = 20_480;
const ATTACHMENTS_MAX: usize = 10;
const ATTACHMENT_URL_MAX_CHARS: usize = 2_048;
/// The largest attachment fetched.
const ATTACHMENT_MAX_BYTES: u64 = 20 * 1024 * 1024;

const PLATFORMS: [&str; 7] = ["ES", "IT", "FR", "UK", "DE", "All", "Internal"];
const ENVIRONMENTS: [&str; 5] = ["INT", "STG", "PRD", "SUPPORT", "-"];
const ISSUE_TYPES: [&str; 4] =
    ["Incident", "Service Request", "Documentation/Process Request", "Feature Request"];
const IMPACTS: [&str; 3] = ["High", "Medium", "Low"];

/// A Landbot request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRequest {
    pub summary: String,
    pub description: String,
    pub reporter_email: String,
    pub platform: String,
    pub seller_contract_id: Option<String>,
    pub zoho: Option<String>,
    pub zendesk: Option<String>,
    pub incident_category: Option<String>,
    pub suggested_team_routing: String,
    pub priority: Option<i64>,
    pub business_impact: Option<String>,
    pub labels: Vec<String>,
    pub environments: Vec<String>,
    pub issue_type: String,
    /// `None`: routed by the team (an explicit `null`).
    pub project: Option<String>,
    pub attachments: Vec<String>,
}

/// A refused field: its name, code and message (the API's `attr`, `code`, `detail`).
pub type Refusal = (&'static str, &'static str, String);

fn required<'a>(body: &'a Value, field: &'static str) -> Result<&'a Value, Refusal> {
    body.get(field).ok_or((field, "required", "This field is required.".to_owned()))
}

fn text(value: &Value, field: &'static str, max: usize, nullable: bool) -> Result<Option<String>, Refusal> {
    match value {
        Value::Null if nullable => Ok(None),
        Value::Null => Err((field, "null", "This field may not be null.".to_owned())),
        Value::String(text) if text.chars().count() > max => {
            Err((field, "max_length", format!("Ensure this field has no more than {max} characters.")))
        }
        Value::String(text) => Ok(Some(text.trim().to_owned())),
        _ => Err((field, "invalid", "Not a valid string.".to_owned())),
    }
}

fn choice(value: Option<String>, field: &'static str, choices: &[&str]) -> Result<Option<String>, Refusal> {
    match value {
        Some(v) if !choices.contains(&v.as_str()) => {
            Err((field, "invalid_choice", format!("\"{v}\" is not a valid choice.")))
        }
        other => Ok(other),
    }
}

/// The attachments string as the original reads it: a single address, a comma-separated list, or
/// a Python-printed list (`"['u1', 'u2']"`).
#[must_use]
pub fn attachment_urls(raw: &str) -> Vec<String> {
    raw.replace(['[', ']', '\'', '"'], "")
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks every attachment address: at most ten, http(s), resolving, and to public addresses only
/// (unless `allow_private`).
///
/// # Errors
/// The refusal, on `attachments`.
pub fn check_attachments(urls: &[String], allow_private: bool) -> Result<(), Refusal> {
    if urls.len() > ATTACHMENTS_MAX {
        return Err(("attachments", "invalid", format!("At most {ATTACHMENTS_MAX} attachments.")));
    }
    for url in urls {
        if url.chars().count() > ATTACHMENT_URL_MAX_CHARS {
            return Err((
                "attachments",
                "invalid",
                format!("An address of at most {ATTACHMENT_URL_MAX_CHARS} characters."),
            ));
        }
        platform::net::check_target(url, allow_private)
            .map_err(|error| ("attachments", "invalid", format!("{url}: {error}")))?;
    }
    Ok(())
}

impl BotRequest {
    /// Reads and checks a request body (JSON), field by field as the original's serializer; the
    /// attachments' addresses are resolved.
    ///
    /// # Errors
    /// The first refused field.
    pub fn parse(body: &Value, allow_private: bool) -> Result<Self, Refusal> {
        if !body.is_object() {
            return Err(("non_field_errors", "invalid", "A JSON object.".to_owned()));
        }
        let summary = text(required(body, "summary")?, "summary", 128, false)?.unwrap_or_default();
        if summary.is_empty() {
            return Err(("summary", "blank", "This field may not be blank.".to_owned()));
        }
        let description =
            text(required(body, "description")?, "description", 32_000, false)?.unwrap_or_default();
        if description.is_empty() {
            return Err(("description", "blank", "This field may not be blank.".to_owned()));
        }
        let reporter_email =
            text(required(body, "reporter_email")?, "reporter_email", 254, false)?.unwrap_or_default();
        if Email::parse(&reporter_email).is_err() {
            return Err(("reporter_email", "invalid", "Enter a valid email address.".to_owned()));
        }
        let platform =
            choice(text(required(body, "platform")?, "platform", 16, false)?, "platform", &PLATFORMS)?
                .unwrap_or_default();
        let seller_contract_id =
            text(required(body, "seller_contract_id")?, "seller_contract_id", 128, true)?
                .filter(|s| !s.is_empty());
        let zoho = text(required(body, "zoho")?, "zoho", 256, true)?.filter(|s| !s.is_empty());
        let zendesk = match body.get("zendesk") {
            Some(value) => text(value, "zendesk", 256, true)?.filter(|s| !s.is_empty()),
            None => None,
        };
        let incident_category = text(required(body, "incident_category")?, "incident_category", 128, true)?
            .filter(|s| !s.is_empty());
        let suggested_team_routing =
            text(required(body, "suggested_team_routing")?, "suggested_team_routing", 10, false)?
                .unwrap_or_default();
        let priority = match required(body, "priority")? {
            Value::Null => None,
            value => match value.as_i64() {
                Some(p @ 1..=5) => Some(p),
                _ => return Err(("priority", "invalid", "A priority from 1 to 5.".to_owned())),
            },
        };
        let business_impact = choice(
            text(required(body, "business_impact")?, "business_impact", 16, true)?,
            "business_impact",
            &IMPACTS,
        )?;
        let labels = match body.get("labels") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut labels = Vec::new();
                for item in items {
                    let label = item.as_str().map(str::trim).unwrap_or_default();
                    if label.is_empty() || label.chars().count() > 128 || label.contains(char::is_whitespace)
                    {
                        return Err((
                            "labels",
                            "invalid",
                            "Labels of 1 to 128 characters, without spaces.".to_owned(),
                        ));
                    }
                    labels.push(label.to_owned());
                }
                labels
            }
            Some(_) => return Err(("labels", "not_a_list", "A list of labels.".to_owned())),
        };
        let environments = match body.get("environments") {
            None | Some(Value::Null) => vec!["-".to_owned()],
            Some(Value::Array(items)) if items.is_empty() => vec!["-".to_owned()],
            Some(Value::Array(items)) => {
                let mut environments = Vec::new();
                for item in items {
                    let environment = item.as_str().unwrap_or_default();
                    if !ENVIRONMENTS.contains(&environment) {
                        return Err((
                            "environments",
                            "invalid_choice",
                            format!("\"{environment}\" is not a valid choice."),
                        ));
                    }
                    environments.push(environment.to_owned());
                }
                environments
            }
            Some(_) => return Err(("environments", "not_a_list", "A list of environments.".to_owned())),
        };
        let issue_type = match body.get("issue_type") {
            None | Some(Value::Null) => "Incident".to_owned(),
            Some(value) => {
                choice(text(value, "issue_type", 64, false)?, "issue_type", &ISSUE_TYPES)?.unwrap_or_default()
            }
        };
        let project = match body.get("project") {
            None => Some("SBI".to_owned()),
            Some(value) => text(value, "project", 128, true)?.filter(|p| !p.is_empty()),
        };
        let attachments = match body.get("attachments") {
            None | Some(Value::Null) => Vec::new(),
            Some(value) => {
                let raw = text(value, "attachments", ATTACHMENTS_MAX_CHARS, false)?.unwrap_or_default();
                attachment_urls(&raw)
            }
        };
        check_attachments(&attachments, allow_private)?;
        Ok(Self {
            summary,
            description,
            reporter_email,
            platform,
            seller_contract_id,
            zoho,
            zendesk,
            incident_category,
            suggested_team_routing,
            priority,
            business_impact,
            labels,
            environments,
            issue_type,
            project,
            attachments,
        })
    }
}

/// Upload a Landbot ticket's attachments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadAttachments {
    pub issue_key: String,
}

impl Job for UploadAttachments {
    const NAME: &'static str = "raid.bot_attachments";
    const QUEUE: &'static str = "jira";
    fn idempotency_key(&self) -> String {
        format!("raid-bot-attachments:{}", self.issue_key)
    }
}

/// Announce a Landbot ticket (the original's `raid_created_issue`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnounceTicket {
    pub issue_key: String,
}

impl Job for AnnounceTicket {
    const NAME: &'static str = "raid.bot_announce";
    const QUEUE: &'static str = "jira";
    fn idempotency_key(&self) -> String {
        format!("raid-bot-announce:{}", self.issue_key)
    }
}

/// The file name an attachment gets: `image<n><extension>`, the extension the address's (as the
/// original), kept short and plain.
#[must_use]
pub fn attachment_name(index: usize, url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    let extension = last
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| !ext.is_empty() && ext.len() <= 8 && ext.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(|ext| format!(".{ext}"))
        .unwrap_or_default();
    format!("image{index}{extension}")
}

impl Raid {
    /// Makes the Jira issue of a Landbot request (inside the request: its contract answers the key),
    /// records it, and queues its attachments and its announcement. Answers the issue key.
    ///
    /// # Errors
    /// Jira refused or failed (the caller answers 502), or the database failed.
    pub fn create_bot_ticket(
        &self,
        request: &BotRequest,
        requested_by: Option<&str>,
    ) -> Result<String, JobError> {
        let config = &self.config;
        let project = match &request.project {
            Some(project) => project.clone(),
            None => self
                .store
                .team_project(&request.suggested_team_routing)
                .map_err(storage)?
                .unwrap_or_else(|| config.project.clone()),
        };
        // The reporter: their Jira account when FireFighter knows them and Jira does, else the
        // service account (and the e-mail address in the description).
        let email = Email::parse(&request.reporter_email).map_err(|e| JobError::Permanent(e.to_string()))?;
        let user = self.context.database.find_user_by_email(&email).map_err(storage)?;
        let reporter = match &user {
            Some(user) => self.account_for(&user.id, &request.reporter_email)?,
            None => None,
        };
        let mut description = format!(
            "{}\n\n🤖 This ticket was created through the Incident Verification Bot.",
            crate::mapping::DescriptionMap.to_external(&request.description).unwrap_or_default()
        );
        if reporter.is_none() {
            description.push_str(&format!("\nReporter email {}", request.reporter_email));
        }
        let fields_config = &config.fields;
        let mut fields = serde_json::Map::new();
        fields.insert("project".into(), json!({"key": project}));
        fields.insert("summary".into(), json!(request.summary));
        fields.insert("description".into(), json!(description));
        fields.insert("issuetype".into(), json!({"name": request.issue_type}));
        fields
            .insert("reporter".into(), json!({"id": reporter.as_deref().unwrap_or(&config.service_account)}));
        fields.insert("labels".into(), json!(request.labels));
        if let Some(priority) = request.priority {
            fields.insert(fields_config.priority.clone(), json!({"value": priority.to_string()}));
        }
        if let Some(impact) = &request.business_impact {
            fields.insert(fields_config.business_impact.clone(), json!({"value": impact}));
        }
        let environments: Vec<Value> = request.environments.iter().map(|e| json!({"value": e})).collect();
        fields.insert(fields_config.environments.clone(), Value::Array(environments));
        fields.insert(fields_config.platform.clone(), json!({"value": request.platform}));
        if let (Some(field), Some(category)) = (&fields_config.category, &request.incident_category) {
            fields.insert(field.clone(), json!({"value": category}));
        }
        for (value, field) in [
            (&request.zendesk, &fields_config.zendesk),
            (&request.zoho, &fields_config.zoho),
            (&request.seller_contract_id, &fields_config.seller_contract),
        ] {
            if let Some(value) = value {
                fields.insert(field.clone(), json!(value));
            }
        }
        let created = self.client.create_issue(&Value::Object(fields)).map_err(jira)?;
        let now = Self::now();
        self.store
            .record_bot_ticket(
                (&created.id, &created.key),
                &request.reporter_email,
                requested_by,
                &request.attachments,
                now,
            )
            .map_err(storage)?;
        let mut jobs = vec![jobs::Enqueue::new(&AnnounceTicket { issue_key: created.key.clone() })];
        if !request.attachments.is_empty() {
            jobs.push(jobs::Enqueue::new(&UploadAttachments { issue_key: created.key.clone() }));
        }
        for job in jobs {
            use jobs::JobStore as _;
            let job = job.map_err(|e| JobError::Permanent(e.to_string()))?;
            self.context.database.enqueue(&job, now, now).map_err(|e| JobError::Retryable(e.to_string()))?;
        }
        tracing::info!(key = %created.key, attachments = request.attachments.len(), "Landbot ticket created");
        Ok(created.key)
    }

    /// `raid.bot_attachments`: each attachment fetched (its address checked again, the connection
    /// pinned to the addresses checked, no redirects) and uploaded as `image<n>.<ext>`, unless the
    /// issue already has a file of that name (a retried job).
    ///
    /// # Errors
    /// A fetch or an upload failed (retried), or an address is refused now (dead).
    pub fn upload_attachments(&self, job: &UploadAttachments) -> Result<(), JobError> {
        let Some((issue_id, urls)) = self.store.bot_ticket(&job.issue_key).map_err(storage)? else {
            return Err(JobError::Permanent(format!("no Landbot ticket {}", job.issue_key)));
        };
        let present: Vec<String> = self
            .client
            .issue(&issue_id, "attachment")
            .map_err(jira)?
            .fields
            .get("attachment")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("filename").and_then(Value::as_str).map(str::to_owned))
            .collect();
        for (index, url) in urls.iter().enumerate() {
            let name = attachment_name(index, url);
            if present.contains(&name) {
                continue;
            }
            let bytes = fetch(url, self.config.attachments_allow_private)?;
            self.client.attach(&issue_id, &name, &bytes).map_err(jira)?;
            tracing::info!(key = %job.issue_key, %name, bytes = bytes.len(), "attachment uploaded");
        }
        Ok(())
    }

    /// `raid.bot_announce`: the original's `raid_created_issue`, to the reporter (a direct message,
    /// when the chat platform knows them) and in the alert conversations by tag (§4.5).
    ///
    /// # Errors
    /// The chat platform failed in a way worth retrying.
    pub fn announce_bot_ticket(&self, job: &AnnounceTicket) -> Result<(), JobError> {
        if self.context.chat.platform() == "none" {
            return Ok(());
        }
        let issue = self
            .client
            .issue(
                &job.issue_key,
                &format!("summary,description,issuetype,{}", self.config.fields.business_impact),
            )
            .map_err(jira)?;
        let summary = issue.fields.get("summary").and_then(Value::as_str).unwrap_or_default();
        let description: String = issue
            .fields
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(1997)
            .collect();
        let issue_type = issue
            .fields
            .pointer("/issuetype/name")
            .and_then(Value::as_str)
            .unwrap_or(&self.config.issue_type);
        let impact = issue.option(&self.config.fields.business_impact).unwrap_or_default().to_owned();
        let reporter = self.store.bot_reporter(&job.issue_key).map_err(storage)?.unwrap_or_default();
        let project = job.issue_key.split('-').next().unwrap_or_default();
        let url = self.client.browse_url(&job.issue_key);
        let text = format!("New {issue_type}: {} '{summary}' was created.", job.issue_key);
        let message = ChatMessage {
            text: text.clone(),
            rich: Some(json!([
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "divider"},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": format!("*Title:*\n{summary}")},
                    {"type": "mrkdwn", "text": format!("*Description:*\n{description}")},
                    {"type": "mrkdwn", "text": format!("*Reporter:*\n{reporter}")},
                    {"type": "mrkdwn", "text": format!("*Jira:*\n<{url}|{}>", job.issue_key)},
                    {"type": "mrkdwn", "text": format!("*Business impact:* {}", if impact.is_empty() { "N/A" } else { &impact })},
                ]},
            ])),
            metadata: Some(("raid_created_issue".into(), json!({"issue_key": job.issue_key}))),
        };
        // The reporter, by direct message, when the chat platform knows them.
        if !reporter.is_empty()
            && let Some(user) = self.context.chat.user_by_email(&reporter).map_err(crate::raid::chat)?
            && let Err(error) = self.context.chat.direct_message(&user, &message)
        {
            tracing::warn!(%error, key = %job.issue_key, "the reporter could not be told of their ticket");
        }
        let kind = if project == "SBI" { "sbi" } else { "incidents" };
        let level = if impact == "High" { "high" } else { "normal" };
        self.context
            .chat
            .post_to_tagged(&format!("raid_alert__{kind}_{level}"), &message)
            .map_err(crate::raid::chat)?;
        Ok(())
    }
}

/// Fetches one attachment: the address checked again now, the connection pinned to the checked
/// addresses, no redirect followed, at most [`ATTACHMENT_MAX_BYTES`].
fn fetch(url: &str, allow_private: bool) -> Result<Vec<u8>, JobError> {
    use std::io::Read as _;
    let (host, addresses) = platform::net::check_target(url, allow_private)
        .map_err(|e| JobError::Permanent(format!("{url}: {e}")))?;
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &addresses)
        .build()
        .map_err(|e| JobError::Retryable(e.to_string()))?;
    let response = client.get(url).send().map_err(|e| JobError::Retryable(format!("{url}: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        let error = format!("{url} answered {status}");
        return Err(if status.is_server_error() || status.as_u16() == 429 {
            JobError::Retryable(error)
        } else {
            JobError::Permanent(error)
        });
    }
    let mut bytes = Vec::new();
    response
        .take(ATTACHMENT_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| JobError::Retryable(format!("{url}: {e}")))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > ATTACHMENT_MAX_BYTES {
        return Err(JobError::Permanent(format!("{url} is larger than {ATTACHMENT_MAX_BYTES} bytes")));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Value {
        json!({"summary": "Seller cannot log in", "description": "Since this morning.", "reporter_email": "ops@example.com",
            "platform": "FR", "seller_contract_id": null, "zoho": null, "incident_category": null,
            "suggested_team_routing": "SBI", "priority": 3, "business_impact": "High"})
    }

    #[test]
    fn the_original_defaults_and_checks() {
        let request = BotRequest::parse(&valid(), false).expect("valid");
        assert_eq!(request.environments, vec!["-"]);
        assert_eq!(request.issue_type, "Incident");
        assert_eq!(request.project.as_deref(), Some("SBI"));
        let mut body = valid();
        body["project"] = Value::Null;
        assert_eq!(BotRequest::parse(&body, false).expect("valid").project, None, "routed by team");
        for (field, value) in [
            ("platform", json!("BE")),
            ("priority", json!(7)),
            ("business_impact", json!("Huge")),
            ("labels", json!(["has space"])),
            ("environments", json!(["PROD"])),
            ("summary", json!("x".repeat(129))),
        ] {
            let mut body = valid();
            body[field] = value;
            assert_eq!(BotRequest::parse(&body, false).expect_err("refused").0, field);
        }
        let mut body = valid();
        body.as_object_mut().expect("object").remove("zoho");
        assert_eq!(BotRequest::parse(&body, false).expect_err("required").0, "zoho");
    }

    #[test]
    fn attachments_are_read_as_the_original_and_must_be_public() {
        assert_eq!(
            attachment_urls("['https://a.example.com/1.png', 'https://b.example.com/2.jpg']"),
            vec!["https://a.example.com/1.png", "https://b.example.com/2.jpg"]
        );
        assert_eq!(attachment_urls(" https://a.example.com/x , ,"), vec!["https://a.example.com/x"]);
        for private in [
            "http://127.0.0.1/a.png",
            "http://10.1.2.3/a.png",
            "http://169.254.169.254/latest",
            "http://[::1]/a",
            "http://localhost/a.png",
        ] {
            let mut body = valid();
            body["attachments"] = json!(private);
            let refused = BotRequest::parse(&body, false).expect_err("private");
            assert_eq!(refused.0, "attachments", "{private}");
        }
        let mut body = valid();
        body["attachments"] =
            json!((0..11).map(|i| format!("http://93.184.215.14/{i}.png")).collect::<Vec<_>>().join(","));
        assert_eq!(BotRequest::parse(&body, false).expect_err("too many").0, "attachments");
        body["attachments"] = json!("ftp://93.184.215.14/a.png");
        assert_eq!(BotRequest::parse(&body, false).expect_err("scheme").0, "attachments");
        assert_eq!(attachment_name(0, "https://x.example.com/shot.PNG?size=2"), "image0.PNG");
        assert_eq!(attachment_name(3, "https://x.example.com/download"), "image3");
    }
}
