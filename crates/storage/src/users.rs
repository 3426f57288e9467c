//! Users.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use incidents_core::{Email, NewUser, RepositoryError, User, UserId, UserRepository};

use crate::connection::{Database, DbConnection};
use crate::error::repository_error;
use crate::schema::users;
use crate::{escape_like, now};

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: String,
    username: String,
    email: String,
    name: String,
    first_name: String,
    last_name: String,
    bot: bool,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
}

impl TryFrom<UserRow> for User {
    type Error = RepositoryError;

    fn try_from(row: UserRow) -> Result<Self, Self::Error> {
        let id = row
            .id
            .parse()
            .map_err(|_| RepositoryError::Internal(format!("users.id is not a UUID: {:?}", row.id)))?;
        Ok(Self {
            id: UserId(id),
            username: row.username,
            email: row.email,
            name: row.name,
            first_name: row.first_name,
            last_name: row.last_name,
            bot: row.bot,
            is_active: row.is_active,
            is_staff: row.is_staff,
            is_superuser: row.is_superuser,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUserRow<'a> {
    id: String,
    username: &'a str,
    email: &'a str,
    name: &'a str,
    is_staff: bool,
    is_superuser: bool,
    password_hash: Option<&'a str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl UserRepository for Database {
    fn create_user(&self, user: &NewUser) -> Result<User, RepositoryError> {
        let mut conn = self.connection()?;
        insert_user(&mut conn, user, now())
    }

    fn find_user_by_email(&self, email: &Email) -> Result<Option<User>, RepositoryError> {
        let mut conn = self.connection()?;
        users::table
            .filter(users::email.eq(email.as_str()))
            .select(UserRow::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?
            .map(User::try_from)
            .transpose()
    }
}

/// Inserts a user; the username derives from the e-mail address, made unique with a suffix. Each
/// attempt runs in a savepoint when the connection is in a transaction, so a conflict leaves the
/// transaction usable (PostgreSQL aborts a transaction on an error otherwise).
pub(crate) fn insert_user(
    conn: &mut DbConnection,
    user: &NewUser,
    now: NaiveDateTime,
) -> Result<User, RepositoryError> {
    let base = user.email.username_suggestion();
    // Another writer may take the same username between our check and our insert: try again
    // with the next free suffix rather than failing the caller.
    for _attempt in 0..5 {
        let taken: Vec<String> = users::table
            .filter(users::username.like(format!("{}%", escape_like(&base))).escape('\\'))
            .select(users::username)
            .load(conn)
            .map_err(repository_error)?;
        let username = (1..)
            .map(|n| if n == 1 { base.clone() } else { format!("{base}{n}") })
            .find(|candidate| !taken.contains(candidate))
            .unwrap_or_else(|| base.clone());
        let id = uuid::Uuid::now_v7().to_string();
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(users::table)
                .values(NewUserRow {
                    id: id.clone(),
                    username: &username,
                    email: user.email.as_str(),
                    name: &user.name,
                    is_staff: user.is_admin,
                    is_superuser: user.is_admin,
                    password_hash: user.password_hash.as_deref(),
                    created_at: now,
                    updated_at: now,
                })
                .execute(conn)
        });
        match inserted.map_err(repository_error) {
            Ok(_) => {
                let row = users::table
                    .find(&id)
                    .select(UserRow::as_select())
                    .first(conn)
                    .map_err(repository_error)?;
                return User::try_from(row);
            }
            Err(RepositoryError::Conflict { constraint }) if constraint.contains("email") => {
                return Err(RepositoryError::Conflict { constraint: "users.email".to_owned() });
            }
            Err(RepositoryError::Conflict { constraint }) if constraint.contains("username") => {}
            Err(other) => return Err(other),
        }
    }
    Err(RepositoryError::Conflict { constraint: "users.username".to_owned() })
}

/// A local account's sign-in credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: User,
    /// PHC-format (argon2id); `None` for users who sign in through SSO or Slack only.
    pub password_hash: Option<String>,
}

impl Database {
    /// The user with this e-mail address and their password hash, for a local sign-in.
    ///
    /// # Errors
    /// A storage failure.
    pub fn credentials(&self, email: &Email) -> Result<Option<Credentials>, RepositoryError> {
        let mut conn = self.connection()?;
        let row: Option<(UserRow, Option<String>)> = users::table
            .filter(users::email.eq(email.as_str()))
            .select((UserRow::as_select(), users::password_hash))
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?;
        row.map(|(row, password_hash)| Ok(Credentials { user: User::try_from(row)?, password_hash }))
            .transpose()
    }

    /// The user with this id.
    ///
    /// # Errors
    /// A storage failure.
    pub fn user(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        let mut conn = self.connection()?;
        let row: Option<UserRow> = users::table
            .find(id.to_string())
            .select(UserRow::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?;
        row.map(User::try_from).transpose()
    }

    /// The roles a user holds in incidents not closed: (incident, role type's name), newest first.
    ///
    /// # Errors
    /// A storage failure.
    pub fn open_roles_of(&self, id: UserId) -> Result<Vec<(i64, String)>, RepositoryError> {
        use crate::schema::{incident_role_types, incident_roles, incidents};
        let mut conn = self.connection()?;
        incident_roles::table
            .inner_join(incidents::table)
            .inner_join(incident_role_types::table)
            .filter(incident_roles::user_id.eq(id.to_string()))
            .filter(incidents::status.lt(incidents_core::IncidentStatus::Closed.value()))
            .order((incidents::id.desc(), incident_role_types::sort_order))
            .limit(50)
            .select((incidents::id, incident_role_types::name))
            .load(&mut *conn)
            .map_err(repository_error)
    }

    /// Appends an audit row about something other than an incident (a sign-in, a token, a setting).
    /// `actor` is `None` when nobody is known (a failed sign-in for an unknown address).
    ///
    /// # Errors
    /// A storage failure.
    pub fn record_audit(
        &self,
        actor: Option<UserId>,
        entry_point: incidents_core::EntryPoint,
        (action, object_type, object_id): (&str, &str, &str),
        details: &serde_json::Value,
    ) -> Result<(), RepositoryError> {
        use crate::schema::audit_log;
        let mut conn = self.connection()?;
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::occurred_at.eq(now()),
                audit_log::actor_user_id.eq(actor.map(|user| user.to_string())),
                audit_log::entry_point.eq(entry_point.as_str()),
                audit_log::action.eq(action),
                audit_log::object_type.eq(object_type),
                audit_log::object_id.eq(object_id),
                audit_log::details.eq(details.to_string()),
            ))
            .execute(&mut *conn)
            .map(drop)
            .map_err(repository_error)
    }
}

impl Database {
    /// Makes a user staff (single sign-on's `back_office` role); never revokes it. `true` when it
    /// changed.
    ///
    /// # Errors
    /// A storage failure.
    pub fn make_staff(&self, user: UserId) -> Result<bool, RepositoryError> {
        let mut conn = self.connection()?;
        let changed = diesel::update(users::table.find(user.to_string()).filter(users::is_staff.eq(false)))
            .set((users::is_staff.eq(true), users::updated_at.eq(now())))
            .execute(&mut *conn)
            .map_err(repository_error)?;
        Ok(changed > 0)
    }
}
