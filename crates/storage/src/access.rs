//! API tokens and permissions.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use incidents_core::access::{AccessRepository, ApiTokenRecord, Permission, Principal, TokenRejection};
use incidents_core::query::{Page, PageRequest};
use incidents_core::{RepositoryError, User, UserId};

use crate::connection::{Database, DbConnection, write_transaction};
use crate::error::repository_error;
use crate::schema::{api_tokens, user_permissions, users};

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
struct TokenRow {
    id: i64,
    user_id: String,
    name: String,
    created_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    last_used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
}

fn user_id(text: &str) -> Result<UserId, RepositoryError> {
    text.parse().map(UserId).map_err(|_| RepositoryError::Internal(format!("not a user id: {text:?}")))
}

impl TryFrom<TokenRow> for ApiTokenRecord {
    type Error = RepositoryError;

    fn try_from(row: TokenRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.id,
            user_id: user_id(&row.user_id)?,
            name: row.name,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct PrincipalUser {
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

impl AccessRepository for Database {
    fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        token_hash: &str,
        expires_at: Option<NaiveDateTime>,
    ) -> Result<ApiTokenRecord, RepositoryError> {
        let mut conn = self.connection()?;
        let now = crate::now();
        let id: i64 = diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::user_id.eq(user.to_string()),
                api_tokens::name.eq(name),
                api_tokens::token_hash.eq(token_hash),
                api_tokens::created_at.eq(now),
                api_tokens::expires_at.eq(expires_at),
            ))
            .returning(api_tokens::id)
            .get_result(&mut *conn)
            .map_err(repository_error)?;
        api_tokens::table
            .find(id)
            .select(TokenRow::as_select())
            .first(&mut *conn)
            .map_err(repository_error)
            .and_then(ApiTokenRecord::try_from)
    }

    fn authenticate_token(
        &self,
        token_hash: &str,
        now: NaiveDateTime,
    ) -> Result<Result<Principal, TokenRejection>, RepositoryError> {
        let mut conn = self.connection()?;
        // One round trip: the token, its user, and one row per permission the user holds.
        let rows: Vec<(TokenRow, PrincipalUser, Option<String>)> = api_tokens::table
            .inner_join(users::table)
            .left_join(user_permissions::table.on(user_permissions::user_id.eq(users::id)))
            .filter(api_tokens::token_hash.eq(token_hash))
            .select((
                TokenRow::as_select(),
                PrincipalUser::as_select(),
                user_permissions::codename.nullable(),
            ))
            .load(&mut *conn)
            .map_err(repository_error)?;
        let mut rows = rows.into_iter();
        let Some((token, user, first)) = rows.next() else { return Ok(Err(TokenRejection::Invalid)) };
        if token.revoked_at.is_some() || token.expires_at.is_some_and(|expires| expires <= now) {
            return Ok(Err(TokenRejection::Invalid));
        }
        if !user.is_active {
            return Ok(Err(TokenRejection::UserInactive));
        }
        // Record the last use at most once a minute: a busy client should not write on every request.
        if token.last_used_at.is_none_or(|used| now - used > chrono::TimeDelta::minutes(1)) {
            diesel::update(api_tokens::table.find(token.id))
                .set(api_tokens::last_used_at.eq(now))
                .execute(&mut *conn)
                .map_err(repository_error)?;
        }
        let permissions: HashSet<String> =
            first.into_iter().chain(rows.filter_map(|(_, _, codename)| codename)).collect();
        Ok(Ok(Principal { user: principal_user(user)?, permissions }))
    }

    fn principal(&self, user: UserId) -> Result<Option<Principal>, RepositoryError> {
        let mut conn = self.connection()?;
        let rows: Vec<(PrincipalUser, Option<String>)> = users::table
            .left_join(user_permissions::table.on(user_permissions::user_id.eq(users::id)))
            .filter(users::id.eq(user.to_string()))
            .select((PrincipalUser::as_select(), user_permissions::codename.nullable()))
            .load(&mut *conn)
            .map_err(repository_error)?;
        let mut rows = rows.into_iter();
        let Some((user, first)) = rows.next() else { return Ok(None) };
        let permissions: HashSet<String> =
            first.into_iter().chain(rows.filter_map(|(_, codename)| codename)).collect();
        Ok(Some(Principal { user: principal_user(user)?, permissions }))
    }

    fn api_tokens(&self, page: PageRequest) -> Result<Page<ApiTokenRecord>, RepositoryError> {
        use crate::catalog_queries::{count, limit_offset, paged};
        let mut conn = self.connection()?;
        let total = count(&mut conn, page, |c| api_tokens::table.count().get_result(c))?;
        let (limit, offset) = limit_offset(page);
        let rows: Vec<TokenRow> = api_tokens::table
            .order(api_tokens::id.desc())
            .limit(limit)
            .offset(offset)
            .select(TokenRow::as_select())
            .load(&mut *conn)
            .map_err(repository_error)?;
        let items = rows.into_iter().map(ApiTokenRecord::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(paged(items, page, total))
    }

    fn revoke_api_token(&self, id: i64, now: NaiveDateTime) -> Result<(), RepositoryError> {
        let mut conn = self.connection()?;
        let revoked = diesel::update(api_tokens::table.find(id).filter(api_tokens::revoked_at.is_null()))
            .set(api_tokens::revoked_at.eq(now))
            .execute(&mut *conn)
            .map_err(repository_error)?;
        if revoked == 0 {
            return Err(RepositoryError::NotFound(format!("active API token {id}")));
        }
        Ok(())
    }

    fn grant_permissions(&self, user: UserId, permissions: &[Permission]) -> Result<(), RepositoryError> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| grant(conn, user, permissions)).map_err(repository_error)
    }
}

/// Grants what `user` does not hold yet, on `conn` (in the caller's transaction).
pub(crate) fn grant(conn: &mut DbConnection, user: UserId, permissions: &[Permission]) -> QueryResult<()> {
    for permission in permissions {
        let granted = user_permissions::table
            .filter(user_permissions::user_id.eq(user.to_string()))
            .filter(user_permissions::codename.eq(permission.codename()));
        if diesel::select(diesel::dsl::exists(granted)).get_result::<bool>(conn)? {
            continue;
        }
        diesel::insert_into(user_permissions::table)
            .values((
                user_permissions::user_id.eq(user.to_string()),
                user_permissions::codename.eq(permission.codename()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn principal_user(user: PrincipalUser) -> Result<User, RepositoryError> {
    Ok(User {
        id: user_id(&user.id)?,
        username: user.username,
        email: user.email,
        name: user.name,
        first_name: user.first_name,
        last_name: user.last_name,
        bot: user.bot,
        is_active: user.is_active,
        is_staff: user.is_staff,
        is_superuser: user.is_superuser,
    })
}
