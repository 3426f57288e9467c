//! API tokens and permissions.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use incidents_core::access::{
    AccessRepository, ApiTokenRecord, Permission, PermissionGroup, Principal, TokenRejection,
};
use incidents_core::query::{Page, PageRequest};
use incidents_core::{RepositoryError, User, UserId};

use crate::connection::{Database, DbConnection, write_transaction};
use crate::error::repository_error;
use crate::schema::{
    api_tokens, permission_group_permissions, permission_groups, user_groups, user_permissions, users,
};

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
        let found: Option<(TokenRow, PrincipalUser)> = api_tokens::table
            .inner_join(users::table)
            .filter(api_tokens::token_hash.eq(token_hash))
            .select((TokenRow::as_select(), PrincipalUser::as_select()))
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?;
        let Some((token, user)) = found else { return Ok(Err(TokenRejection::Invalid)) };
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
        let permissions = held_permissions(&mut conn, &user.id).map_err(repository_error)?;
        Ok(Ok(Principal { user: principal_user(user)?, permissions }))
    }

    fn principal(&self, user: UserId) -> Result<Option<Principal>, RepositoryError> {
        let mut conn = self.connection()?;
        let found: Option<PrincipalUser> = users::table
            .find(user.to_string())
            .select(PrincipalUser::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?;
        let Some(user) = found else { return Ok(None) };
        let permissions = held_permissions(&mut conn, &user.id).map_err(repository_error)?;
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

    fn permission_groups(&self) -> Result<Vec<PermissionGroup>, RepositoryError> {
        let mut conn = self.connection()?;
        let groups: Vec<(i64, String)> = permission_groups::table
            .order(permission_groups::name)
            .select((permission_groups::id, permission_groups::name))
            .load(&mut *conn)
            .map_err(repository_error)?;
        let mut permissions: HashMap<i64, Vec<String>> = HashMap::new();
        for (group, codename) in permission_group_permissions::table
            .order(permission_group_permissions::codename)
            .select((permission_group_permissions::group_id, permission_group_permissions::codename))
            .load::<(i64, String)>(&mut *conn)
            .map_err(repository_error)?
        {
            permissions.entry(group).or_default().push(codename);
        }
        let mut members: HashMap<i64, Vec<String>> = HashMap::new();
        for (group, email) in user_groups::table
            .inner_join(users::table)
            .order(users::email)
            .select((user_groups::group_id, users::email))
            .load::<(i64, String)>(&mut *conn)
            .map_err(repository_error)?
        {
            members.entry(group).or_default().push(email);
        }
        Ok(groups
            .into_iter()
            .map(|(id, name)| PermissionGroup {
                id,
                name,
                permissions: permissions.remove(&id).unwrap_or_default(),
                members: members.remove(&id).unwrap_or_default(),
            })
            .collect())
    }

    fn put_permission_group(
        &self,
        name: &str,
        permissions: &[Permission],
    ) -> Result<(PermissionGroup, bool), RepositoryError> {
        let mut conn = self.connection()?;
        let (id, created) = write_transaction(&mut conn, |conn| {
            let existing = group_id(conn, name)?;
            let (id, created) = match existing {
                Some(id) => (id, false),
                None => {
                    let id = diesel::insert_into(permission_groups::table)
                        .values((
                            permission_groups::name.eq(name),
                            permission_groups::created_at.eq(crate::now()),
                        ))
                        .returning(permission_groups::id)
                        .get_result::<i64>(conn)?;
                    (id, true)
                }
            };
            diesel::delete(
                permission_group_permissions::table.filter(permission_group_permissions::group_id.eq(id)),
            )
            .execute(conn)?;
            let codenames: HashSet<String> = permissions.iter().map(|p| p.codename()).collect();
            for codename in codenames {
                diesel::insert_into(permission_group_permissions::table)
                    .values((
                        permission_group_permissions::group_id.eq(id),
                        permission_group_permissions::codename.eq(codename),
                    ))
                    .execute(conn)?;
            }
            Ok((id, created))
        })
        .map_err(repository_error)?;
        drop(conn);
        let group = self
            .permission_groups()?
            .into_iter()
            .find(|group| group.id == id)
            .ok_or_else(|| RepositoryError::NotFound(format!("group {name}")))?;
        Ok((group, created))
    }

    fn delete_permission_group(&self, name: &str) -> Result<bool, RepositoryError> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            let Some(id) = group_id(conn, name)? else { return Ok(false) };
            // Explicitly, not through ON DELETE CASCADE alone: SQLite connections opened without the
            // foreign_keys pragma would leave orphans.
            diesel::delete(user_groups::table.filter(user_groups::group_id.eq(id))).execute(conn)?;
            diesel::delete(
                permission_group_permissions::table.filter(permission_group_permissions::group_id.eq(id)),
            )
            .execute(conn)?;
            diesel::delete(permission_groups::table.find(id)).execute(conn)?;
            Ok(true)
        })
        .map_err(repository_error)
    }

    fn set_group_member(
        &self,
        name: &str,
        user: UserId,
        member: bool,
    ) -> Result<Option<bool>, RepositoryError> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            let Some(id) = group_id(conn, name)? else { return Ok(None) };
            let row = || {
                user_groups::table
                    .filter(user_groups::user_id.eq(user.to_string()))
                    .filter(user_groups::group_id.eq(id))
            };
            let present = diesel::select(diesel::dsl::exists(row())).get_result::<bool>(conn)?;
            Ok(Some(match (present, member) {
                (false, true) => {
                    diesel::insert_into(user_groups::table)
                        .values((user_groups::user_id.eq(user.to_string()), user_groups::group_id.eq(id)))
                        .execute(conn)?;
                    true
                }
                (true, false) => {
                    diesel::delete(row()).execute(conn)?;
                    true
                }
                _ => false,
            }))
        })
        .map_err(repository_error)
    }

    fn sync_user_groups(&self, user: UserId, names: &[String]) -> Result<Vec<String>, RepositoryError> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            let known: Vec<(i64, String)> = permission_groups::table
                .filter(permission_groups::name.eq_any(names))
                .select((permission_groups::id, permission_groups::name))
                .load(conn)?;
            diesel::delete(user_groups::table.filter(user_groups::user_id.eq(user.to_string())))
                .execute(conn)?;
            for (id, _) in &known {
                diesel::insert_into(user_groups::table)
                    .values((user_groups::user_id.eq(user.to_string()), user_groups::group_id.eq(id)))
                    .execute(conn)?;
            }
            let mut unknown: Vec<String> =
                names.iter().filter(|name| !known.iter().any(|(_, known)| known == *name)).cloned().collect();
            unknown.sort();
            unknown.dedup();
            Ok(unknown)
        })
        .map_err(repository_error)
    }
}

fn group_id(conn: &mut DbConnection, name: &str) -> QueryResult<Option<i64>> {
    permission_groups::table
        .filter(permission_groups::name.eq(name))
        .select(permission_groups::id)
        .first(conn)
        .optional()
}

/// What `user` holds: granted to them, or to one of their groups.
fn held_permissions(conn: &mut DbConnection, user: &str) -> QueryResult<HashSet<String>> {
    // Two queries: diesel's multi-backend connection has no UNION.
    let mut held: HashSet<String> = user_permissions::table
        .filter(user_permissions::user_id.eq(user.to_owned()))
        .select(user_permissions::codename)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    held.extend(
        permission_group_permissions::table
            .inner_join(
                user_groups::table.on(user_groups::group_id.eq(permission_group_permissions::group_id)),
            )
            .filter(user_groups::user_id.eq(user.to_owned()))
            .select(permission_group_permissions::codename)
            .load::<String>(conn)?,
    );
    Ok(held)
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
