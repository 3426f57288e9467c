//! The mirror's work: one sync of some fields of one incident and its ticket, whatever caused it
//! (an incident change, a Jira webhook, the ticket's creation, an operator's link or resync).
//!
//! A sync takes the fields' leases (one sync per incident and field at a time), reads the issue and
//! the incident as they are now, and lets `sync_engine::reconcile` decide each field from what both
//! sides last agreed on: push, pull, record, or nothing; a conflict (both sides changed) goes the
//! way the field's policy says (`RAID_SYNC_CONFLICT_POLICY`). A pull goes through the lifecycle with
//! entry point Jira, so it is never pushed back; a pull the lifecycle refuses leaves the incident as
//! it is, says why on the issue, and is not retried until either side moves again.

use chrono::TimeDelta;
use incidents_core::incident::UpdateIncident;
use incidents_core::query::{IncidentQueries as _, IncidentView};
use incidents_core::{Actor, Email, EntryPoint, IncidentId, IncidentStatus, LifecycleError, UserId};
use jobs::JobError;
use serde_json::{Value, json};
use sync_engine::{Action, Decision, FieldMap, FieldState, Policy, reconcile};

use crate::client::Issue;
use crate::config::MIRRORED;
use crate::mapping::{CommanderMap, DescriptionMap, PriorityMap, StatusMap, TitleMap};
use crate::raid::{Raid, jira, storage};
use crate::store::Ticket;
use crate::wiki;

/// The start of the error of a sync that found a field held by another.
const BUSY: &str = "another sync holds";

/// How long a sync holds its fields.
const LEASE: TimeDelta = TimeDelta::minutes(2);

/// Why a sync runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// An incident change (the `raid.push` job).
    Incident,
    /// A change made in Jira by this person (display name).
    Jira(String),
    /// The ticket was just created (or found): what it holds is the baseline of a field the mirror
    /// knows nothing of.
    Creation,
    /// An operator's resync or link.
    Operator,
}

impl Trigger {
    fn who(&self) -> &str {
        match self {
            Self::Jira(who) => who,
            Self::Operator => "a resync",
            Self::Incident | Self::Creation => "someone",
        }
    }
}

/// What a sync did to one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldOutcome {
    pub field: &'static str,
    /// `in_step`, `recorded`, `pushed`, `pulled`, `refused` (a pull the incident's workflow refused).
    pub outcome: &'static str,
    pub conflict: bool,
}

/// The values of one field on both sides, in Jira's terms.
struct Sides {
    local: Option<String>,
    remote: String,
}

fn decide(field: &str, state: &FieldState, sides: &Sides, policy: Policy) -> Decision {
    let (local, remote) = (sides.local.as_deref(), sides.remote.as_str());
    match field {
        "status" => reconcile(&StatusMap, state, local, remote, policy),
        "priority" => reconcile(&PriorityMap, state, local, remote, policy),
        "title" => reconcile(&TitleMap, state, local, remote, policy),
        "description" => reconcile(&DescriptionMap, state, local, remote, policy),
        _ => reconcile(&CommanderMap, state, local, remote, policy),
    }
}

/// The incident-side value a pulled external value becomes, in Jira's terms again (`Pending
/// resolution` is Open, which is `Incoming`).
fn mapped_back(field: &str, remote: &str) -> Option<String> {
    match field {
        "status" => StatusMap.to_local(remote).and_then(|s| StatusMap.to_external(&s)),
        "priority" => PriorityMap.to_local(remote).and_then(|p| PriorityMap.to_external(&p)),
        "title" => TitleMap.to_local(remote),
        "description" => DescriptionMap.to_local(remote).and_then(|d| DescriptionMap.to_external(&d)),
        _ => Some(remote.trim().to_owned()),
    }
}

/// How a pull ended.
enum Pulled {
    Applied,
    /// Nothing to apply (a value the mirror does not map, or one the incident already has).
    Ignored,
    Refused(String),
}

impl Raid {
    /// The issue fields a sync reads.
    fn issue_fields(&self) -> String {
        format!("status,summary,description,assignee,{}", self.config.fields.priority)
    }

    /// Syncs `fields` (of [`MIRRORED`]) of incident `id` with its ticket.
    ///
    /// # Errors
    /// The ticket is not created yet, another sync holds a field, Jira or the database failed
    /// (retried); a permanent Jira refusal (dead).
    pub fn sync(&self, id: i64, fields: &[&str], trigger: &Trigger) -> Result<Vec<FieldOutcome>, JobError> {
        let ticket = self.store.ticket(id).map_err(storage)?;
        let Some((issue_id, key)) = ticket.as_ref().and_then(Ticket::issue) else {
            if ticket.is_none() && !self.store.creation_pending(id).map_err(storage)? {
                // Declared before RAID was on, or unlinked: no ticket to keep in step.
                tracing::debug!(incident = id, "no Jira ticket: nothing to sync");
                return Ok(Vec::new());
            }
            return Err(JobError::Retryable("the incident's ticket is not created yet".into()));
        };
        let fields: Vec<&'static str> = MIRRORED.into_iter().filter(|f| fields.contains(f)).collect();
        let now = Self::now();
        let mut states = Vec::new();
        for field in &fields {
            match self.store.lease(id, field, now, now + LEASE).map_err(storage)? {
                Some(state) => states.push(state),
                None => {
                    for taken in &fields[..states.len()] {
                        let _ = self.store.release(id, taken);
                    }
                    return Err(JobError::Retryable(format!("{BUSY} incident {id}'s {field}")));
                }
            }
        }
        let result = self.sync_leased(id, (issue_id, key), &fields, &mut states, trigger);
        // Every field is saved (and let go), whatever happened to the others.
        for (field, state) in fields.iter().zip(&states) {
            if let Err(error) = self.store.save(id, field, state, Self::now()) {
                tracing::warn!(%error, incident = id, field, "the mirror's state could not be saved");
                let _ = self.store.release(id, field);
            }
        }
        result
    }

    fn sync_leased(
        &self,
        id: i64,
        (issue_id, key): (&str, &str),
        fields: &[&'static str],
        states: &mut [FieldState],
        trigger: &Trigger,
    ) -> Result<Vec<FieldOutcome>, JobError> {
        let issue = self.client.issue(issue_id, &self.issue_fields()).map_err(jira)?;
        let incident = self.incident(id)?;
        let mut outcomes = Vec::new();
        for (field, state) in fields.iter().zip(states.iter_mut()) {
            let sides = self.sides(field, &incident, &issue)?;
            if *state == FieldState::default() {
                // Nothing agreed yet (a ticket made before this field was mirrored, or just made):
                // the side that did not trigger the sync is taken as unchanged since. A link or a
                // resync knows neither, and lets the conflict policy decide.
                match (trigger, &sides.local) {
                    (Trigger::Creation | Trigger::Incident, _) => {
                        *state = FieldState::agreed(&sides.remote, incident.version);
                    }
                    (Trigger::Jira(_), Some(local)) => *state = FieldState::agreed(local, incident.version),
                    (Trigger::Jira(_), None) | (Trigger::Operator, _) => {}
                }
            }
            let policy = self.config.policies.of(field);
            let decision = decide(field, state, &sides, policy);
            let outcome = match &decision.action {
                Action::InStep => "in_step",
                Action::Record(_) => {
                    *state = FieldState::seen(&sides.remote, sides.local.as_deref(), incident.version);
                    "recorded"
                }
                Action::Push(value) => {
                    self.write(field, (issue_id, key), &issue, value)?;
                    tracing::info!(incident = id, field, %value, conflict = decision.conflict, "pushed to Jira");
                    if decision.conflict {
                        let comment = format!(
                            "FireFighter and Jira both changed the {field} of incident #{id}; the conflict policy for {field} is `{policy}`, so the incident's value was kept."
                        );
                        if let Err(error) = self.client.comment(issue_id, &comment) {
                            tracing::warn!(%error, incident = id, "the conflict could not be commented");
                        }
                    }
                    *state = FieldState::agreed(value, incident.version);
                    "pushed"
                }
                Action::Pull(remote) => {
                    let pulled = self.pull(
                        field,
                        &incident,
                        (issue_id, key),
                        state,
                        remote,
                        trigger,
                        decision.conflict,
                    )?;
                    let (local, outcome) = match pulled {
                        Pulled::Applied => (mapped_back(field, remote), "pulled"),
                        Pulled::Ignored => (sides.local.clone(), "recorded"),
                        Pulled::Refused(reason) => {
                            tracing::info!(incident = id, field, %remote, %reason, "a Jira change was refused by the incident's workflow");
                            (sides.local.clone(), "refused")
                        }
                    };
                    *state = FieldState::seen(remote, local.as_deref(), incident.version);
                    outcome
                }
            };
            outcomes.push(FieldOutcome { field, outcome, conflict: decision.conflict });
        }
        Ok(outcomes)
    }

    fn sides(&self, field: &str, incident: &IncidentView, issue: &Issue) -> Result<Sides, JobError> {
        let text = |name: &str| issue.fields.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok(match field {
            "status" => Sides {
                local: StatusMap.to_external(&incident.status),
                remote: issue.status().unwrap_or_default().to_owned(),
            },
            "priority" => Sides {
                local: PriorityMap.to_external(&incident.priority.value),
                remote: issue.option(&self.config.fields.priority).unwrap_or_default().to_owned(),
            },
            "title" => Sides { local: TitleMap.to_external(&incident.title), remote: text("summary") },
            "description" => Sides {
                local: DescriptionMap.to_external(&incident.description),
                remote: wiki::split_footer(&text("description")).0.to_owned(),
            },
            _ => {
                let commander = incident.roles.iter().find(|role| role.slug == "commander");
                let local = match commander {
                    Some(role) => self.account_for(&role.user.id, &role.user.email)?,
                    None => Some(String::new()),
                };
                let remote = issue
                    .fields
                    .pointer("/assignee/accountId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                Sides { local, remote }
            }
        })
    }

    /// Writes one field's value on the issue.
    fn write(
        &self,
        field: &str,
        (issue_id, _key): (&str, &str),
        issue: &Issue,
        value: &str,
    ) -> Result<(), JobError> {
        let written = match field {
            "status" => self.client.transition_to(issue_id, value).map(drop),
            "priority" => self
                .client
                .update_fields(issue_id, &json!({(self.config.fields.priority.clone()): {"value": value}})),
            "title" => self.client.update_fields(issue_id, &json!({"summary": value})),
            "description" => {
                let current = issue.fields.get("description").and_then(Value::as_str).unwrap_or_default();
                let footer = wiki::split_footer(current).1;
                self.client.update_fields(issue_id, &json!({"description": wiki::description(value, footer)}))
            }
            _ => self.client.assign(issue_id, value),
        };
        written.map_err(jira)
    }

    /// Applies a Jira value to the incident through the lifecycle.
    #[expect(clippy::too_many_arguments, reason = "one field of one sync, and where it applies")]
    fn pull(
        &self,
        field: &str,
        incident: &IncidentView,
        (issue_id, key): (&str, &str),
        state: &FieldState,
        remote: &str,
        trigger: &Trigger,
        conflict: bool,
    ) -> Result<Pulled, JobError> {
        let id = incident.id.0;
        let who = trigger.who();
        let note = if conflict {
            " (both sides changed it at once: Jira's value kept by the conflict policy)"
        } else {
            ""
        };
        let mut command = UpdateIncident::default();
        match field {
            "status" => {
                let Some(status) = StatusMap.to_local(remote) else { return Ok(Pulled::Ignored) };
                if incident.status == status {
                    return Ok(Pulled::Ignored);
                }
                // The original's guard: a close from a status the mirror does not know (Code
                // Review …) is not a decision about the incident.
                let from = state.external.as_deref().unwrap_or_default();
                if status == IncidentStatus::Closed && StatusMap.to_local(from).is_none() && !from.is_empty()
                {
                    tracing::warn!(incident = id, %from, "Jira closed the ticket from an unmapped status: the incident is left open");
                    return Ok(Pulled::Ignored);
                }
                command.status = Some(status);
                command.message =
                    Some(format!("Status synced from Jira ({remote}), changed by {who} on {key}{note}"));
                command.event_type = Some("jira_status_sync".into());
            }
            "priority" => {
                let Some(value) = PriorityMap.to_local(remote) else { return Ok(Pulled::Ignored) };
                if incident.priority.value == value {
                    return Ok(Pulled::Ignored);
                }
                let priorities = self.context.database.priorities().map_err(storage)?;
                let Some(priority) = priorities.iter().find(|p| p.value == value) else {
                    tracing::warn!(incident = id, value, "Jira set a priority no priority of ours has");
                    return Ok(Pulled::Ignored);
                };
                command.priority_id = Some(priority.id.clone());
                command.message =
                    Some(format!("Priority synced from Jira ({remote}), changed by {who} on {key}{note}"));
                command.event_type = Some("jira_priority_sync".into());
            }
            "title" => {
                command.title = Some(remote.trim().to_owned());
                command.message = Some(format!("Title synced from Jira, changed by {who} on {key}{note}"));
                command.event_type = Some("jira_title_sync".into());
            }
            "description" => {
                command.description = Some(wiki::from_wiki(remote));
                command.message =
                    Some(format!("Description synced from Jira, changed by {who} on {key}{note}"));
                command.event_type = Some("jira_description_sync".into());
            }
            _ => return self.pull_commander(incident, (issue_id, key), remote),
        }
        let actor = self.jira_actor()?;
        match self.context.lifecycle.update(actor, IncidentId(id), &command) {
            Ok(_) | Err(LifecycleError::NothingToUpdate) => Ok(Pulled::Applied),
            Err(LifecycleError::Storage(error)) => Err(storage(error)),
            Err(refusal) => {
                self.refused(id, issue_id, key, field, remote, &refusal);
                Ok(Pulled::Refused(refusal.code().to_owned()))
            }
        }
    }

    fn pull_commander(
        &self,
        incident: &IncidentView,
        (issue_id, key): (&str, &str),
        account: &str,
    ) -> Result<Pulled, JobError> {
        let id = incident.id.0;
        let user = if account.trim().is_empty() {
            None
        } else {
            let Some(user) = self.user_for(account)? else {
                let reason = "Jira does not share this person's e-mail address with FireFighter, so they cannot be made the incident's commander.";
                let comment = format!("FireFighter did not change the commander of incident #{id}: {reason}");
                if let Err(error) = self.client.comment(issue_id, &comment) {
                    tracing::warn!(%error, incident = id, "the refusal could not be commented on the ticket");
                }
                return Ok(Pulled::Refused("UNKNOWN_USER".into()));
            };
            Some(user)
        };
        let actor = self.jira_actor()?;
        match self.context.lifecycle.set_roles(actor, IncidentId(id), &[("commander".to_owned(), user)]) {
            Ok(()) | Err(LifecycleError::NothingToUpdate) => Ok(Pulled::Applied),
            Err(LifecycleError::Storage(error)) => Err(storage(error)),
            Err(refusal) => {
                self.refused(id, issue_id, key, "commander", account, &refusal);
                Ok(Pulled::Refused(refusal.code().to_owned()))
            }
        }
    }

    /// The Jira account of a user: recorded, else found by e-mail address (the whole address, else
    /// a single user whose address has the same local part, as the original), then recorded.
    /// `None` when Jira knows nobody by that address.
    ///
    /// # Errors
    /// Jira or the database failed (retried).
    pub fn account_for(&self, user: &UserId, email: &str) -> Result<Option<String>, JobError> {
        let user_id = user.to_string();
        if let Some(account) = self.store.account_of(&user_id).map_err(storage)? {
            return Ok(Some(account));
        }
        let found = self.client.search_users(email).map_err(jira)?;
        let local_part = |address: &str| address.split('@').next().unwrap_or_default().to_lowercase();
        let exact =
            found.iter().find(|u| u.email_address.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)));
        let account = exact.or_else(|| {
            let same_local: Vec<_> = found
                .iter()
                .filter(|u| u.email_address.as_deref().is_some_and(|e| local_part(e) == local_part(email)))
                .collect();
            (same_local.len() == 1).then(|| same_local[0])
        });
        let Some(account) = account else { return Ok(None) };
        self.store.map_account(&account.account_id, &user_id, Self::now()).map_err(storage)?;
        Ok(Some(account.account_id.clone()))
    }

    /// The user of a Jira account: recorded, else the user with the account's e-mail address (made
    /// if there is none, audited as met through Jira), then recorded. `None` when Jira does not
    /// share the address (privacy settings) or knows no such account.
    ///
    /// # Errors
    /// Jira or the database failed (retried).
    pub fn user_for(&self, account: &str) -> Result<Option<UserId>, JobError> {
        let parse = |raw: &str| {
            uuid::Uuid::parse_str(raw)
                .map(UserId)
                .map_err(|e| JobError::Permanent(format!("user id {raw}: {e}")))
        };
        if let Some(user) = self.store.user_of(account).map_err(storage)? {
            return parse(&user).map(Some);
        }
        let person = match self.client.user(account) {
            Ok(person) => person,
            Err(error) if error.status() == Some(404) => return Ok(None),
            Err(error) => return Err(jira(error)),
        };
        let Some(address) = person.email_address.as_deref().filter(|a| !a.trim().is_empty()) else {
            return Ok(None);
        };
        let Ok(email) = Email::parse(address) else { return Ok(None) };
        let name = if person.display_name.trim().is_empty() {
            address.split('@').next().unwrap_or(address).to_owned()
        } else {
            person.display_name.clone()
        };
        let user = self
            .context
            .lifecycle
            .provision_user(&email, &name, EntryPoint::Jira, "Jira account")
            .map_err(|e| JobError::Retryable(e.to_string()))?;
        // A user keeps the account first recorded for them; this one still finds them next time
        // through the e-mail address.
        self.store.map_account(account, &user.to_string(), Self::now()).map_err(storage)?;
        Ok(Some(user))
    }

    /// The actor Jira's changes are made as.
    pub(crate) fn jira_actor(&self) -> Result<Actor, JobError> {
        let email =
            Email::parse(crate::raid::JIRA_USER_EMAIL).map_err(|e| JobError::Permanent(e.to_string()))?;
        let user = self
            .context
            .lifecycle
            .provision_user(&email, "Jira", EntryPoint::Jira, "Jira webhooks")
            .map_err(|e| JobError::Retryable(e.to_string()))?;
        Ok(Actor { user, entry_point: EntryPoint::Jira })
    }
}

/// How long a resync waits for an incident whose fields another sync holds (a little more than a
/// lease, so a dead job's fields come free).
const RESYNC_PATIENCE: std::time::Duration = std::time::Duration::from_secs(150);

/// What a resync did.
#[derive(Debug, Default)]
pub struct ResyncReport {
    pub in_step: usize,
    pub changed: usize,
    pub failed: Vec<(i64, String)>,
}

/// Brings each incident and its ticket in step (a ticket whose creation never finished is made),
/// drawing a progress bar on `progress`.
pub fn resync(raid: &Raid, ids: &[i64], progress: &mut dyn std::io::Write) -> ResyncReport {
    let mut report = ResyncReport::default();
    let width = 30;
    for (done, id) in ids.iter().enumerate() {
        // A job may hold a field for a moment (or until its lease runs out, if it died): wait for
        // it rather than give up.
        let mut result = raid.resync_one(*id);
        let deadline = std::time::Instant::now() + RESYNC_PATIENCE;
        while matches!(&result, Err(JobError::Retryable(m)) if m.starts_with(BUSY))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(500));
            result = raid.resync_one(*id);
        }
        match result {
            Ok(outcomes) if outcomes.iter().all(|o| o.outcome == "in_step") => report.in_step += 1,
            Ok(_) => report.changed += 1,
            Err(error) => report.failed.push((*id, error.to_string())),
        }
        let filled = (done + 1) * width / ids.len().max(1);
        let _ = write!(
            progress,
            "\r[{}{}] {}/{} incident {id}",
            "#".repeat(filled),
            ".".repeat(width - filled),
            done + 1,
            ids.len()
        );
        let _ = progress.flush();
    }
    let _ = writeln!(progress);
    report
}

impl Raid {
    /// One incident of a resync: every field synced, or the ticket made if its creation never
    /// finished.
    ///
    /// # Errors
    /// See [`Raid::sync`].
    pub fn resync_one(&self, id: i64) -> Result<Vec<FieldOutcome>, JobError> {
        let ticket = self.store.ticket(id).map_err(storage)?;
        if ticket.as_ref().and_then(Ticket::issue).is_none() {
            self.create_ticket(&crate::raid::CreateTicket { incident_id: id, entry_point: None })?;
            return Ok(vec![FieldOutcome { field: "status", outcome: "created", conflict: false }]);
        }
        self.sync(id, &MIRRORED, &Trigger::Operator)
    }

    /// Makes an existing issue the incident's ticket (an operator's decision), links it to the
    /// incident page, notes it on the timeline, and brings both in step.
    ///
    /// # Errors
    /// No such issue, the issue is another incident's ticket, Jira or the database failed.
    pub fn link(&self, id: i64, issue_key: &str) -> Result<Vec<FieldOutcome>, JobError> {
        self.incident(id)?;
        let issue = self.client.issue(issue_key, "summary").map_err(jira)?;
        match self.store.link(id, (&issue.id, &issue.key), Self::now()) {
            Ok(()) => {}
            Err(incidents_core::RepositoryError::Conflict { constraint }) => {
                return Err(JobError::Permanent(constraint));
            }
            Err(error) => return Err(storage(error)),
        }
        let base = self.context.config.base_url.as_str().trim_end_matches('/');
        if let Err(error) = self.client.remote_link(
            &issue.id,
            &format!("firefighter-incident-{id}"),
            &format!("{base}/incident/{id}/"),
            &format!("FireFighter incident #{id}"),
        ) {
            tracing::warn!(%error, incident = id, "the link to the incident page could not be added to the issue");
        }
        self.note(id, &format!("Linked to Jira issue {}", issue.key), "jira_linked")?;
        self.sync(id, &MIRRORED, &Trigger::Operator)
    }

    /// Forgets the incident's ticket, with a timeline entry. `false` when it had none.
    ///
    /// # Errors
    /// The database failed.
    pub fn unlink(&self, id: i64, by: &str) -> Result<bool, JobError> {
        let key = self.store.ticket(id).map_err(storage)?.and_then(|t| t.issue_key);
        if !self.store.unlink(id).map_err(storage)? {
            return Ok(false);
        }
        let key = key.unwrap_or_default();
        self.note(id, &format!("Unlinked from Jira issue {key} by {by}"), "jira_unlinked")?;
        Ok(true)
    }
}
