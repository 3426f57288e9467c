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
