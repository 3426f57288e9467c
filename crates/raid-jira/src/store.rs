//! The integration's tables, on the application's database.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use incidents_core::RepositoryError;
use storage::{Database, repository_error, write_transaction};
use sync_engine::FieldState;

use crate::schema::{
    raid_bot_tickets, raid_feature_teams, raid_jira_users, raid_sync_state, raid_tickets,
    raid_watcher_messages,
};

/// An incident's ticket.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = raid_tickets)]
pub struct Ticket {
    pub incident_id: i64,
    /// `creating` or `created`.
    pub state: String,
    pub issue_id: Option<String>,
    pub issue_key: Option<String>,
    pub project_key: String,
    pub business_impact: String,
    pub attempt_started_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Ticket {
    /// The issue's id and key, once created.
    #[must_use]
    pub fn issue(&self) -> Option<(&str, &str)> {
        Some((self.issue_id.as_deref()?, self.issue_key.as_deref()?))
    }
}

/// A feature team and its Jira project.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = raid_feature_teams)]
pub struct FeatureTeam {
    pub id: i64,
    pub name: String,
    pub jira_project_key: String,
}

/// The store.
#[derive(Debug, Clone)]
pub struct RaidStore {
    pub database: Database,
}

fn is_conflict(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

impl RaidStore {
    /// An incident's ticket, if any attempt was made.
    ///
    /// # Errors
    /// A storage failure.
    pub fn ticket(&self, incident: i64) -> Result<Option<Ticket>, RepositoryError> {
        let mut conn = self.database.connection()?;
        raid_tickets::table
            .find(incident)
            .select(Ticket::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)
    }

    /// The ticket with this issue key.
    ///
    /// # Errors
    /// A storage failure.
    pub fn ticket_by_key(&self, key: &str) -> Result<Option<Ticket>, RepositoryError> {
        let mut conn = self.database.connection()?;
        raid_tickets::table
            .filter(raid_tickets::issue_key.eq(key))
            .select(Ticket::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)
    }

    /// The created tickets of these incidents.
    ///
    /// # Errors
    /// A storage failure.
    pub fn tickets_of(&self, incidents: &[i64]) -> Result<Vec<Ticket>, RepositoryError> {
        let mut conn = self.database.connection()?;
        raid_tickets::table
            .filter(raid_tickets::incident_id.eq_any(incidents))
            .filter(raid_tickets::state.eq("created"))
            .select(Ticket::as_select())
            .load(&mut *conn)
            .map_err(repository_error)
    }

    /// Records that an attempt to create the ticket starts now (committed before Jira is called).
    ///
    /// # Errors
    /// A storage failure.
    pub fn begin_attempt(&self, incident: i64, now: NaiveDateTime) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        let inserted = diesel::insert_into(raid_tickets::table)
            .values((
                raid_tickets::incident_id.eq(incident),
                raid_tickets::state.eq("creating"),
                raid_tickets::attempt_started_at.eq(now),
                raid_tickets::created_at.eq(now),
                raid_tickets::updated_at.eq(now),
            ))
            .execute(&mut *conn);
        match inserted {
            Ok(_) => Ok(()),
            Err(error) if is_conflict(&error) => {
                diesel::update(raid_tickets::table.find(incident).filter(raid_tickets::state.eq("creating")))
                    .set((raid_tickets::attempt_started_at.eq(now), raid_tickets::updated_at.eq(now)))
                    .execute(&mut *conn)
                    .map(drop)
                    .map_err(repository_error)
            }
            Err(error) => Err(repository_error(error)),
        }
    }

    /// Records the created issue.
    ///
    /// # Errors
    /// A storage failure.
    pub fn record_created(
        &self,
        incident: i64,
        (issue_id, issue_key): (&str, &str),
        project: &str,
        business_impact: &str,
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        write_transaction(&mut conn, |conn| {
            let values = (
                raid_tickets::state.eq("created"),
                raid_tickets::issue_id.eq(issue_id),
                raid_tickets::issue_key.eq(issue_key),
                raid_tickets::project_key.eq(project),
                raid_tickets::business_impact.eq(business_impact),
                raid_tickets::updated_at.eq(now),
            );
            let changed = diesel::update(raid_tickets::table.find(incident)).set(values).execute(conn)?;
            if changed == 0 {
                diesel::insert_into(raid_tickets::table)
                    .values((
                        raid_tickets::incident_id.eq(incident),
                        raid_tickets::created_at.eq(now),
                        values,
                    ))
                    .execute(conn)?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .map_err(repository_error)
    }

    /// Whether the incident's ticket is still to be made: its creation job exists and is not done
    /// (an incident declared before RAID was on has none, and never gets a ticket by itself).
    ///
    /// # Errors
    /// A storage failure.
    pub fn creation_pending(&self, incident: i64) -> Result<bool, RepositoryError> {
        use storage::schema::jobs;
        let mut conn = self.database.connection()?;
        let key = format!("raid-ticket:{incident}");
        diesel::select(diesel::dsl::exists(
            jobs::table.filter(jobs::idempotency_key.eq(key)).filter(jobs::state.ne("done")),
        ))
        .get_result(&mut *conn)
        .map_err(repository_error)
    }

    /// What the mirror knows of a field, without taking it.
    ///
    /// # Errors
    /// A storage failure.
    pub fn state(&self, incident: i64, field: &str) -> Result<FieldState, RepositoryError> {
        let mut conn = self.database.connection()?;
        let row: Option<(Option<String>, Option<String>, i64)> = raid_sync_state::table
            .find((incident, field))
            .select((
                raid_sync_state::external_value,
                raid_sync_state::local_value,
                raid_sync_state::pushed_version,
            ))
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?;
        Ok(row.map_or_else(FieldState::default, |(external, local, pushed_version)| FieldState {
            external,
            local,
            pushed_version,
        }))
    }

    /// Takes the field of an incident for one push (until `until`) and answers what the mirror
    /// knows; `None` while another push holds it.
    ///
    /// # Errors
    /// A storage failure.
    pub fn lease(
        &self,
        incident: i64,
        field: &str,
        now: NaiveDateTime,
        until: NaiveDateTime,
    ) -> Result<Option<FieldState>, RepositoryError> {
        let mut conn = self.database.connection()?;
        let inserted = diesel::insert_into(raid_sync_state::table)
            .values((
                raid_sync_state::incident_id.eq(incident),
                raid_sync_state::field.eq(field),
                raid_sync_state::lease_until.eq(until),
                raid_sync_state::updated_at.eq(now),
            ))
            .execute(&mut *conn);
        match inserted {
            Ok(_) => {}
            Err(error) if is_conflict(&error) => {
                let taken =
                    diesel::update(raid_sync_state::table.find((incident, field)).filter(
                        raid_sync_state::lease_until.is_null().or(raid_sync_state::lease_until.lt(now)),
                    ))
                    .set(raid_sync_state::lease_until.eq(until))
                    .execute(&mut *conn)
                    .map_err(repository_error)?;
                if taken == 0 {
                    return Ok(None);
                }
            }
            Err(error) => return Err(repository_error(error)),
        }
        drop(conn);
        self.state(incident, field).map(Some)
    }

    /// Saves what the mirror knows of a field and lets go of it.
    ///
    /// # Errors
    /// A storage failure.
    pub fn save(
        &self,
        incident: i64,
        field: &str,
        state: &FieldState,
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        let values = (
            raid_sync_state::external_value.eq(state.external.as_deref()),
            raid_sync_state::local_value.eq(state.local.as_deref()),
            raid_sync_state::pushed_version.eq(state.pushed_version),
            raid_sync_state::lease_until.eq(None::<NaiveDateTime>),
            raid_sync_state::updated_at.eq(now),
        );
        let changed = diesel::update(raid_sync_state::table.find((incident, field)))
            .set(values)
            .execute(&mut *conn)
            .map_err(repository_error)?;
        if changed == 0 {
            let inserted = diesel::insert_into(raid_sync_state::table)
                .values((raid_sync_state::incident_id.eq(incident), raid_sync_state::field.eq(field), values))
                .execute(&mut *conn);
            match inserted {
                Ok(_) => {}
                // Written meanwhile by another: write ours over it.
                Err(error) if is_conflict(&error) => {
                    diesel::update(raid_sync_state::table.find((incident, field)))
                        .set(values)
                        .execute(&mut *conn)
                        .map_err(repository_error)?;
                }
                Err(error) => return Err(repository_error(error)),
            }
        }
        Ok(())
    }

    /// Lets go of a field without changing what the mirror knows.
    ///
    /// # Errors
    /// A storage failure.
    pub fn release(&self, incident: i64, field: &str) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        diesel::update(raid_sync_state::table.find((incident, field)))
            .set(raid_sync_state::lease_until.eq(None::<NaiveDateTime>))
            .execute(&mut *conn)
            .map(drop)
            .map_err(repository_error)
    }

    /// The Jira account of a user, if known.
    ///
    /// # Errors
    /// A storage failure.
    pub fn account_of(&self, user: &str) -> Result<Option<String>, RepositoryError> {
        let mut conn = self.database.connection()?;
        raid_jira_users::table
            .filter(raid_jira_users::user_id.eq(user))
            .select(raid_jira_users::account_id)
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)
    }

    /// A user's display name (their name, else their username).
    ///
    /// # Errors
    /// A storage failure.
    pub fn user_name(&self, user: &str) -> Result<Option<String>, RepositoryError> {
        use storage::schema::users;
        let mut conn = self.database.connection()?;
        let row: Option<(String, String)> = users::table
            .find(user)
            .select((users::name, users::username))
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?;
        Ok(row.map(|(name, username)| if name.trim().is_empty() { username } else { name }))
    }

    /// The user of a Jira account, if known.
    ///
    /// # Errors
    /// A storage failure.
    pub fn user_of(&self, account: &str) -> Result<Option<String>, RepositoryError> {
        let mut conn = self.database.connection()?;
        raid_jira_users::table
            .find(account)
            .select(raid_jira_users::user_id)
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)
    }

    /// Records that `account` is `user` (a user keeps the account first recorded for them). `false`
    /// when the user already had another account.
    ///
    /// # Errors
    /// A storage failure.
    pub fn map_account(
        &self,
        account: &str,
        user: &str,
        now: NaiveDateTime,
    ) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        let inserted = diesel::insert_into(raid_jira_users::table)
            .values((
                raid_jira_users::account_id.eq(account),
                raid_jira_users::user_id.eq(user),
                raid_jira_users::updated_at.eq(now),
            ))
            .execute(&mut *conn);
        match inserted {
            Ok(_) => Ok(true),
            Err(error) if is_conflict(&error) => Ok(false),
            Err(error) => Err(repository_error(error)),
        }
    }

    /// Links an existing issue to an incident (an operator's decision): replaces the incident's
    /// ticket and forgets what the mirror knew. `Err(Conflict)` when the issue is another
    /// incident's ticket.
    ///
    /// # Errors
    /// The issue is linked elsewhere, or a storage failure.
    pub fn link(
        &self,
        incident: i64,
        (issue_id, issue_key): (&str, &str),
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        write_transaction(&mut conn, |conn| {
            let other: Option<i64> = raid_tickets::table
                .filter(raid_tickets::issue_key.eq(issue_key))
                .filter(raid_tickets::incident_id.ne(incident))
                .select(raid_tickets::incident_id)
                .first(conn)
                .optional()?;
            if let Some(other) = other {
                return Ok(Err(RepositoryError::Conflict {
                    constraint: format!("{issue_key} is the ticket of incident {other}"),
                }));
            }
            diesel::delete(raid_tickets::table.find(incident)).execute(conn)?;
            diesel::delete(raid_sync_state::table.filter(raid_sync_state::incident_id.eq(incident)))
                .execute(conn)?;
            let project = issue_key.split('-').next().unwrap_or_default();
            diesel::insert_into(raid_tickets::table)
                .values((
                    raid_tickets::incident_id.eq(incident),
                    raid_tickets::state.eq("created"),
                    raid_tickets::issue_id.eq(issue_id),
                    raid_tickets::issue_key.eq(issue_key),
                    raid_tickets::project_key.eq(project),
                    raid_tickets::created_at.eq(now),
                    raid_tickets::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok::<_, diesel::result::Error>(Ok(()))
        })
        .map_err(repository_error)?
    }

    /// Unlinks an incident's ticket (the issue was deleted, or an operator said so). `false` when it
    /// had none.
    ///
    /// # Errors
    /// A storage failure.
    pub fn unlink(&self, incident: i64) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        write_transaction(&mut conn, |conn| {
            diesel::delete(raid_sync_state::table.filter(raid_sync_state::incident_id.eq(incident)))
                .execute(conn)?;
            let deleted = diesel::delete(raid_tickets::table.find(incident)).execute(conn)?;
            Ok::<_, diesel::result::Error>(deleted > 0)
        })
        .map_err(repository_error)
    }

    /// The incidents not closed that have a ticket, by id.
    ///
    /// # Errors
    /// A storage failure.
    pub fn open_with_tickets(&self) -> Result<Vec<i64>, RepositoryError> {
        use storage::schema::incidents;
        let mut conn = self.database.connection()?;
        let tickets: Vec<i64> = raid_tickets::table
            .filter(raid_tickets::state.eq("created"))
            .order(raid_tickets::incident_id)
            .select(raid_tickets::incident_id)
            .load(&mut *conn)
            .map_err(repository_error)?;
        let mut open = Vec::new();
        for chunk in tickets.chunks(500) {
            let found: Vec<i64> = incidents::table
                .filter(incidents::id.eq_any(chunk))
                .filter(incidents::status.lt(incidents_core::IncidentStatus::Closed.value()))
                .order(incidents::id)
                .select(incidents::id)
                .load(&mut *conn)
                .map_err(repository_error)?;
            open.extend(found);
        }
        Ok(open)
    }

    /// The incidents a resync covers: those not closed that have a ticket, or whose ticket's
    /// creation never finished (its job pending, failing or dead), by id.
    ///
    /// # Errors
    /// A storage failure.
    pub fn to_resync(&self) -> Result<Vec<i64>, RepositoryError> {
        use storage::schema::{incidents, jobs};
        let mut ids = self.open_with_tickets()?;
        let mut conn = self.database.connection()?;
        let unfinished: Vec<String> = jobs::table
            .filter(jobs::name.eq("raid.create_ticket"))
            .filter(jobs::state.ne("done"))
            .select(jobs::idempotency_key)
            .load(&mut *conn)
            .map_err(repository_error)?;
        let waiting: Vec<i64> =
            unfinished.iter().filter_map(|key| key.strip_prefix("raid-ticket:")?.parse().ok()).collect();
        for chunk in waiting.chunks(500) {
            let open: Vec<i64> = incidents::table
                .filter(incidents::id.eq_any(chunk))
                .filter(incidents::status.lt(incidents_core::IncidentStatus::Closed.value()))
                .select(incidents::id)
                .load(&mut *conn)
                .map_err(repository_error)?;
            ids.extend(open);
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// A Landbot ticket's issue id and attachment addresses.
    ///
    /// # Errors
    /// A storage failure.
    pub fn bot_ticket(&self, key: &str) -> Result<Option<(String, Vec<String>)>, RepositoryError> {
        let mut conn = self.database.connection()?;
        let row: Option<(String, String)> = raid_bot_tickets::table
            .find(key)
            .select((raid_bot_tickets::issue_id, raid_bot_tickets::attachments))
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?;
        Ok(row.map(|(id, attachments)| (id, serde_json::from_str(&attachments).unwrap_or_default())))
    }

    /// Who reported a Landbot ticket (their e-mail address).
    ///
    /// # Errors
    /// A storage failure.
    pub fn bot_reporter(&self, key: &str) -> Result<Option<String>, RepositoryError> {
        let mut conn = self.database.connection()?;
        raid_bot_tickets::table
            .find(key)
            .select(raid_bot_tickets::reporter_email)
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)
    }

    /// Whether a watcher message of this delivery was sent to this recipient.
    ///
    /// # Errors
    /// A storage failure.
    pub fn watcher_message_sent(&self, delivery: &str, recipient: &str) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        diesel::select(diesel::dsl::exists(raid_watcher_messages::table.find((delivery, recipient))))
            .get_result(&mut *conn)
            .map_err(repository_error)
    }

    /// Records a watcher message sent.
    ///
    /// # Errors
    /// A storage failure.
    pub fn record_watcher_message(
        &self,
        delivery: &str,
        recipient: &str,
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        match diesel::insert_into(raid_watcher_messages::table)
            .values((
                raid_watcher_messages::delivery.eq(delivery),
                raid_watcher_messages::recipient.eq(recipient),
                raid_watcher_messages::sent_at.eq(now),
            ))
            .execute(&mut *conn)
        {
            Ok(_) => Ok(()),
            Err(error) if is_conflict(&error) => Ok(()),
            Err(error) => Err(repository_error(error)),
        }
    }

    /// Records a ticket made for a Landbot request, with the attachments to upload.
    ///
    /// # Errors
    /// A storage failure.
    pub fn record_bot_ticket(
        &self,
        (issue_id, issue_key): (&str, &str),
        reporter_email: &str,
        requested_by: Option<&str>,
        attachments: &[String],
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        diesel::insert_into(raid_bot_tickets::table)
            .values((
                raid_bot_tickets::issue_key.eq(issue_key),
                raid_bot_tickets::issue_id.eq(issue_id),
                raid_bot_tickets::reporter_email.eq(reporter_email),
                raid_bot_tickets::requested_by.eq(requested_by),
                raid_bot_tickets::attachments
                    .eq(serde_json::to_string(attachments).unwrap_or_else(|_| "[]".into())),
                raid_bot_tickets::created_at.eq(now),
            ))
            .execute(&mut *conn)
            .map(drop)
            .map_err(repository_error)
    }

    /// Every feature team, by name.
    ///
    /// # Errors
    /// A storage failure.
    pub fn feature_teams(&self) -> Result<Vec<FeatureTeam>, RepositoryError> {
        let mut conn = self.database.connection()?;
        raid_feature_teams::table
            .order((raid_feature_teams::name, raid_feature_teams::jira_project_key))
            .select(FeatureTeam::as_select())
            .load(&mut *conn)
            .map_err(repository_error)
    }

    /// The Jira project of the team named `name`.
    ///
    /// # Errors
    /// A storage failure.
    pub fn team_project(&self, name: &str) -> Result<Option<String>, RepositoryError> {
        let mut conn = self.database.connection()?;
        raid_feature_teams::table
            .filter(raid_feature_teams::name.eq(name))
            .order(raid_feature_teams::id)
            .select(raid_feature_teams::jira_project_key)
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)
    }

    /// Adds a team, or renames the team of that project. `true` when added.
    ///
    /// # Errors
    /// A storage failure.
    pub fn put_feature_team(&self, name: &str, project: &str) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        write_transaction(&mut conn, |conn| {
            let changed = diesel::update(
                raid_feature_teams::table.filter(raid_feature_teams::jira_project_key.eq(project)),
            )
            .set(raid_feature_teams::name.eq(name))
            .execute(conn)?;
            if changed > 0 {
                return Ok(false);
            }
            diesel::insert_into(raid_feature_teams::table)
                .values((raid_feature_teams::name.eq(name), raid_feature_teams::jira_project_key.eq(project)))
                .execute(conn)?;
            Ok::<_, diesel::result::Error>(true)
        })
        .map_err(repository_error)
    }

    /// Removes the team of a project. `false` when there was none.
    ///
    /// # Errors
    /// A storage failure.
    pub fn delete_feature_team(&self, project: &str) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        diesel::delete(raid_feature_teams::table.filter(raid_feature_teams::jira_project_key.eq(project)))
            .execute(&mut *conn)
            .map(|deleted| deleted > 0)
            .map_err(repository_error)
    }
}
