//! The Slack integration's tables: conversations (incident channels and tagged channels), the
//! messages the bot posted, Slack identities of users, each incident's last refused step, and named
//! leases (one job at a time for an incident's channel, or for telling a person about a role).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use incidents_core::RepositoryError;
use storage::{Database, repository_error};

use crate::schema::{
    slack_conversations, slack_home_views, slack_incident_work, slack_locks, slack_messages, slack_users,
    users,
};

/// A conversation the product knows.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = slack_conversations)]
pub struct ConversationRow {
    pub id: i64,
    pub channel_id: String,
    pub name: String,
    /// `public`, `private`, `im`, `mpim`, `unknown`.
    pub kind: String,
    /// `not_opened`, `opened`, `archived`.
    pub status: String,
    pub tag: String,
    pub incident_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The last Slack failure of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub step: String,
    pub reason: String,
    pub at: NaiveDateTime,
}

/// A transaction's error: the database's, or a repository's.
#[derive(Debug)]
pub(crate) enum TxError {
    Diesel(diesel::result::Error),
    Repository(RepositoryError),
}

impl From<diesel::result::Error> for TxError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Diesel(error)
    }
}

impl From<RepositoryError> for TxError {
    fn from(error: RepositoryError) -> Self {
        Self::Repository(error)
    }
}

impl From<TxError> for RepositoryError {
    fn from(error: TxError) -> Self {
        match error {
            TxError::Diesel(error) => repository_error(error),
            TxError::Repository(error) => error,
        }
    }
}

/// A failure row: incident, step, reason, when.
type FailureRow = (i64, Option<String>, Option<String>, Option<NaiveDateTime>);

/// The Slack tables, on the application's database.
#[derive(Debug, Clone)]
pub struct SlackStore {
    pub(crate) database: Database,
}

impl SlackStore {
    #[must_use]
    pub fn new(database: Database) -> Self {
        Self { database }
    }

    /// The incident's channel.
    ///
    /// # Errors
    /// A storage failure.
    pub fn channel_of(&self, incident: i64) -> Result<Option<ConversationRow>, RepositoryError> {
        let mut conn = self.database.connection()?;
        slack_conversations::table
            .filter(slack_conversations::incident_id.eq(incident))
            .select(ConversationRow::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)
    }

    /// The channels of several incidents at once.
    ///
    /// # Errors
    /// A storage failure.
    pub fn channels_of(&self, incidents: &[i64]) -> Result<Vec<ConversationRow>, RepositoryError> {
        let mut conn = self.database.connection()?;
        slack_conversations::table
            .filter(slack_conversations::incident_id.eq_any(incidents))
            .select(ConversationRow::as_select())
            .load(&mut *conn)
            .map_err(repository_error)
    }

    /// The open incident channels: (incident, channel id).
    ///
    /// # Errors
    /// A storage failure.
    pub fn open_incident_channels(&self) -> Result<Vec<(i64, String)>, RepositoryError> {
        let mut conn = self.database.connection()?;
        let rows: Vec<(Option<i64>, String)> = slack_conversations::table
            .filter(slack_conversations::incident_id.is_not_null())
            .filter(slack_conversations::status.eq("opened"))
            .select((slack_conversations::incident_id, slack_conversations::channel_id))
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows.into_iter().filter_map(|(incident, channel)| Some((incident?, channel))).collect())
    }

    /// A conversation by Slack id.
    ///
    /// # Errors
    /// A storage failure.
    pub fn conversation(&self, channel_id: &str) -> Result<Option<ConversationRow>, RepositoryError> {
        let mut conn = self.database.connection()?;
        slack_conversations::table
            .filter(slack_conversations::channel_id.eq(channel_id))
            .select(ConversationRow::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)
    }

    /// Records the incident's channel; when the incident already has one (a concurrent job made it),
    /// returns that one.
    ///
    /// # Errors
    /// A storage failure.
    pub fn record_incident_channel(
        &self,
        incident: i64,
        channel_id: &str,
        name: &str,
        kind: &str,
        now: NaiveDateTime,
    ) -> Result<ConversationRow, RepositoryError> {
        let inserted = {
            let mut conn = self.database.connection()?;
            diesel::insert_into(slack_conversations::table)
                .values((
                    slack_conversations::channel_id.eq(channel_id),
                    slack_conversations::name.eq(name),
                    slack_conversations::kind.eq(kind),
                    slack_conversations::status.eq("opened"),
                    slack_conversations::incident_id.eq(incident),
                    slack_conversations::created_at.eq(now),
                    slack_conversations::updated_at.eq(now),
                ))
                .execute(&mut *conn)
                .map_err(repository_error)
        };
        match inserted {
            Ok(_) | Err(RepositoryError::Conflict { .. }) => self.channel_of(incident)?.ok_or_else(|| {
                RepositoryError::Conflict { constraint: "slack_conversations.channel_id".into() }
            }),
            Err(error) => Err(error),
        }
    }

    /// Updates a conversation's name and status as Slack reports them.
    ///
    /// # Errors
    /// A storage failure.
    pub fn update_conversation(
        &self,
        channel_id: &str,
        name: Option<&str>,
        status: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        let target = slack_conversations::table.filter(slack_conversations::channel_id.eq(channel_id));
        let changed = match (name, status) {
            (Some(name), Some(status)) => diesel::update(target)
                .set((
                    slack_conversations::name.eq(name),
                    slack_conversations::status.eq(status),
                    slack_conversations::updated_at.eq(now),
                ))
                .execute(&mut *conn),
            (Some(name), None) => diesel::update(target)
                .set((slack_conversations::name.eq(name), slack_conversations::updated_at.eq(now)))
                .execute(&mut *conn),
            (None, Some(status)) => diesel::update(target)
                .set((slack_conversations::status.eq(status), slack_conversations::updated_at.eq(now)))
                .execute(&mut *conn),
            (None, None) => Ok(0),
        }
        .map_err(repository_error)?;
        Ok(changed > 0)
    }

    /// Replaces a conversation's Slack id (`channel_id_changed`).
    ///
    /// # Errors
    /// A storage failure.
    pub fn change_channel_id(
        &self,
        old: &str,
        new: &str,
        now: NaiveDateTime,
    ) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        let changed =
            diesel::update(slack_conversations::table.filter(slack_conversations::channel_id.eq(old)))
                .set((slack_conversations::channel_id.eq(new), slack_conversations::updated_at.eq(now)))
                .execute(&mut *conn)
                .map_err(repository_error)?;
        diesel::update(slack_messages::table.filter(slack_messages::channel_id.eq(old)))
            .set(slack_messages::channel_id.eq(new))
            .execute(&mut *conn)
            .map_err(repository_error)?;
        Ok(changed > 0)
    }

    /// The conversations tagged `tag`.
    ///
    /// # Errors
    /// A storage failure.
    pub fn tagged(&self, tag: &str) -> Result<Vec<ConversationRow>, RepositoryError> {
        let mut conn = self.database.connection()?;
        slack_conversations::table
            .filter(slack_conversations::tag.eq(tag))
            .select(ConversationRow::as_select())
            .load(&mut *conn)
            .map_err(repository_error)
    }

    /// Records (or updates) a conversation that is not an incident's with its tag (`""`: none).
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when another conversation has the tag; a storage failure.
    pub fn upsert_tagged(
        &self,
        channel_id: &str,
        name: &str,
        kind: &str,
        tag: &str,
        now: NaiveDateTime,
    ) -> Result<ConversationRow, RepositoryError> {
        self.put_conversation(channel_id, name, kind, tag, None, now)
    }

    /// Forgets a conversation that is not an incident's.
    ///
    /// # Errors
    /// A storage failure.
    pub fn delete_tagged(&self, channel_id: &str) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        let deleted = diesel::delete(
            slack_conversations::table
                .filter(slack_conversations::channel_id.eq(channel_id))
                .filter(slack_conversations::incident_id.is_null()),
        )
        .execute(&mut *conn)
        .map_err(repository_error)?;
        Ok(deleted > 0)
    }

    /// The newest stored message of kind `ff_type` for the incident in the channel.
    ///
    /// # Errors
    /// A storage failure.
    pub fn message(
        &self,
        incident: i64,
        channel_id: &str,
        ff_type: &str,
    ) -> Result<Option<String>, RepositoryError> {
        let mut conn = self.database.connection()?;
        slack_messages::table
            .filter(slack_messages::incident_id.eq(incident))
            .filter(slack_messages::channel_id.eq(channel_id))
            .filter(slack_messages::ff_type.eq(ff_type))
            .order(slack_messages::id.desc())
            .select(slack_messages::ts)
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)
    }

    /// The stored messages about the incident in the channel whose identity starts with `prefix`:
    /// `(identity, ts)`.
    ///
    /// # Errors
    /// A storage failure.
    pub fn messages_with_prefix(
        &self,
        incident: i64,
        channel_id: &str,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, RepositoryError> {
        let mut conn = self.database.connection()?;
        let rows: Vec<(String, String)> = slack_messages::table
            .filter(slack_messages::incident_id.eq(incident))
            .filter(slack_messages::channel_id.eq(channel_id))
            .select((slack_messages::ff_type, slack_messages::ts))
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows.into_iter().filter(|(key, _)| key.starts_with(prefix)).collect())
    }

    /// Records a posted message (once: the same channel and `ts` again is not an error).
    ///
    /// # Errors
    /// A storage failure.
    pub fn record_message(
        &self,
        incident: Option<i64>,
        channel_id: &str,
        ts: &str,
        ff_type: &str,
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        let inserted = diesel::insert_into(slack_messages::table)
            .values((
                slack_messages::channel_id.eq(channel_id),
                slack_messages::ts.eq(ts),
                slack_messages::ff_type.eq(ff_type),
                slack_messages::incident_id.eq(incident),
                slack_messages::created_at.eq(now),
            ))
            .execute(&mut *conn)
            .map_err(repository_error);
        match inserted {
            Ok(_) | Err(RepositoryError::Conflict { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Whether a message with identity `key` was recorded in `channel_id` (any incident).
    ///
    /// # Errors
    /// A storage failure.
    pub fn has_message_key(&self, channel_id: &str, key: &str) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        let found: Option<i64> = slack_messages::table
            .filter(slack_messages::channel_id.eq(channel_id))
            .filter(slack_messages::ff_type.eq(key))
            .select(slack_messages::id)
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?;
        Ok(found.is_some())
    }

    /// Whether a message whose identity starts with `prefix` was posted in `channel_id` since `since`.
    ///
    /// # Errors
    /// A storage failure.
    pub fn told_since(
        &self,
        channel_id: &str,
        prefix: &str,
        since: NaiveDateTime,
    ) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        let keys: Vec<String> = slack_messages::table
            .filter(slack_messages::channel_id.eq(channel_id))
            .filter(slack_messages::created_at.ge(since))
            .select(slack_messages::ff_type)
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(keys.iter().any(|key| key.starts_with(prefix)))
    }

    /// Whether a message (channel, `ts`) is recorded.
    ///
    /// # Errors
    /// A storage failure.
    pub fn has_message(&self, channel_id: &str, ts: &str) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        let found: Option<i64> = slack_messages::table
            .filter(slack_messages::channel_id.eq(channel_id))
            .filter(slack_messages::ts.eq(ts))
            .select(slack_messages::id)
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?;
        Ok(found.is_some())
    }

    /// Forgets a message (deleted in Slack).
    ///
    /// # Errors
    /// A storage failure.
    pub fn forget_message(&self, channel_id: &str, ts: &str) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        diesel::delete(
            slack_messages::table
                .filter(slack_messages::channel_id.eq(channel_id))
                .filter(slack_messages::ts.eq(ts)),
        )
        .execute(&mut *conn)
        .map(drop)
        .map_err(repository_error)
    }

    /// The Slack id of a local user.
    ///
    /// # Errors
    /// A storage failure.
    pub fn slack_id_of(&self, user_id: &str) -> Result<Option<String>, RepositoryError> {
        let mut conn = self.database.connection()?;
        slack_users::table
            .find(user_id)
            .select(slack_users::slack_id)
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)
    }

    /// The local user (id, e-mail) with this Slack id.
    ///
    /// # Errors
    /// A storage failure.
    pub fn user_of(&self, slack_id: &str) -> Result<Option<(String, String)>, RepositoryError> {
        let mut conn = self.database.connection()?;
        slack_users::table
            .inner_join(users::table.on(users::id.eq(slack_users::user_id)))
            .filter(slack_users::slack_id.eq(slack_id))
            .select((users::id, users::email))
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)
    }

    /// Links a local user to a Slack id (replacing an older link of either).
    ///
    /// # Errors
    /// A storage failure.
    pub fn link_user(
        &self,
        user_id: &str,
        slack_id: &str,
        username: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError> {
        self.database.transaction(|conn| -> Result<(), TxError> {
            diesel::delete(
                slack_users::table
                    .filter(slack_users::slack_id.eq(slack_id).or(slack_users::user_id.eq(user_id))),
            )
            .execute(conn)
            .map_err(repository_error)?;
            diesel::insert_into(slack_users::table)
                .values((
                    slack_users::user_id.eq(user_id),
                    slack_users::slack_id.eq(slack_id),
                    slack_users::username.eq(username),
                    slack_users::updated_at.eq(now),
                ))
                .execute(conn)
                .map(drop)
                .map_err(TxError::from)
        })?;
        Ok(())
    }

    /// Takes the incident's Slack lease for `token` until `until`, unless another holder's lease runs.
    ///
    /// # Errors
    /// A storage failure.
    pub fn lock_incident(
        &self,
        incident: i64,
        token: &str,
        until: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<bool, RepositoryError> {
        self.lock(&format!("incident:{incident}"), token, until, now)
    }

    /// Gives the lease back.
    ///
    /// # Errors
    /// A storage failure.
    pub fn unlock_incident(&self, incident: i64, token: &str) -> Result<(), RepositoryError> {
        self.unlock(&format!("incident:{incident}"), token)
    }

    /// Takes the named lease for `token` until `until`, unless another holder's lease runs.
    ///
    /// # Errors
    /// A storage failure.
    pub fn lock(
        &self,
        name: &str,
        token: &str,
        until: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        let created = diesel::insert_into(slack_locks::table)
            .values((
                slack_locks::name.eq(name),
                slack_locks::token.eq(token),
                slack_locks::locked_until.eq(until),
            ))
            .execute(&mut *conn)
            .map_err(repository_error);
        match created {
            Ok(_) => return Ok(true),
            Err(RepositoryError::Conflict { .. }) => {}
            Err(error) => return Err(error),
        }
        let taken = diesel::update(
            slack_locks::table
                .filter(slack_locks::name.eq(name))
                .filter(slack_locks::locked_until.lt(now).or(slack_locks::token.eq(token))),
        )
        .set((slack_locks::token.eq(token), slack_locks::locked_until.eq(until)))
        .execute(&mut *conn)
        .map_err(repository_error)?;
        Ok(taken > 0)
    }

    /// `slack_user` opened the app's home tab.
    ///
    /// # Errors
    /// A storage failure.
    pub fn home_opened(&self, slack_user: &str, now: NaiveDateTime) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        let updated = diesel::update(slack_home_views::table.find(slack_user))
            .set(slack_home_views::opened_at.eq(now))
            .execute(&mut *conn)
            .map_err(repository_error)?;
        if updated == 0 {
            let inserted = diesel::insert_into(slack_home_views::table)
                .values((slack_home_views::slack_user_id.eq(slack_user), slack_home_views::opened_at.eq(now)))
                .execute(&mut *conn);
            match inserted {
                // Opened twice at once: the other one recorded it.
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {}
                other => other.map(drop).map_err(repository_error)?,
            }
        }
        Ok(())
    }

    /// Who opened the home tab since `since` (most recent first, at most `limit`), with the digest of
    /// the home last published to them.
    ///
    /// # Errors
    /// A storage failure.
    pub fn home_viewers(
        &self,
        since: NaiveDateTime,
        limit: i64,
    ) -> Result<Vec<(String, String)>, RepositoryError> {
        let mut conn = self.database.connection()?;
        slack_home_views::table
            .filter(slack_home_views::opened_at.ge(since))
            .order(slack_home_views::opened_at.desc())
            .limit(limit)
            .select((slack_home_views::slack_user_id, slack_home_views::published_digest))
            .load(&mut *conn)
            .map_err(repository_error)
    }

    /// Records the digest of the home just published to `slack_user`.
    ///
    /// # Errors
    /// A storage failure.
    pub fn home_published(&self, slack_user: &str, digest: &str) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        diesel::update(slack_home_views::table.find(slack_user))
            .set(slack_home_views::published_digest.eq(digest))
            .execute(&mut *conn)
            .map(drop)
            .map_err(repository_error)
    }

    /// Gives the named lease back.
    ///
    /// # Errors
    /// A storage failure.
    pub fn unlock(&self, name: &str, token: &str) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        diesel::delete(
            slack_locks::table.filter(slack_locks::name.eq(name)).filter(slack_locks::token.eq(token)),
        )
        .execute(&mut *conn)
        .map(drop)
        .map_err(repository_error)
    }

    /// Records what Slack refused for good (`None`: clears it).
    ///
    /// # Errors
    /// A storage failure.
    pub fn record_failure(&self, incident: i64, failure: Option<&Failure>) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        let fields = (
            slack_incident_work::failed_step.eq(failure.map(|f| f.step.as_str())),
            slack_incident_work::failure.eq(failure.map(|f| f.reason.as_str())),
            slack_incident_work::failed_at.eq(failure.map(|f| f.at)),
        );
        let updated =
            diesel::update(slack_incident_work::table.filter(slack_incident_work::incident_id.eq(incident)))
                .set(fields)
                .execute(&mut *conn)
                .map_err(repository_error)?;
        if updated == 0 && failure.is_some() {
            let inserted = diesel::insert_into(slack_incident_work::table)
                .values((slack_incident_work::incident_id.eq(incident), fields))
                .execute(&mut *conn)
                .map_err(repository_error);
            match inserted {
                // A concurrent job recorded one first: the update above would have won anyway.
                Ok(_) | Err(RepositoryError::Conflict { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// The recorded failures of several incidents.
    ///
    /// # Errors
    /// A storage failure.
    pub fn failures_of(&self, incidents: &[i64]) -> Result<Vec<(i64, Failure)>, RepositoryError> {
        let mut conn = self.database.connection()?;
        let rows: Vec<FailureRow> = slack_incident_work::table
            .filter(slack_incident_work::incident_id.eq_any(incidents))
            .filter(slack_incident_work::failure.is_not_null())
            .select((
                slack_incident_work::incident_id,
                slack_incident_work::failed_step,
                slack_incident_work::failure,
                slack_incident_work::failed_at,
            ))
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, step, reason, at)| {
                Some((id, Failure { step: step.unwrap_or_default(), reason: reason?, at: at? }))
            })
            .collect())
    }
}
