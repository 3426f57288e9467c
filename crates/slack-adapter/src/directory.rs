//! The Slack directory: user groups and their members, the members of known conversations, and the
//! conversations and user groups that respond to each incident category (§13.2, §13.4, §14.2).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use incidents_core::RepositoryError;
use storage::repository_error;

use crate::schema::{
    slack_conversation_categories, slack_conversation_members, slack_conversations,
    slack_user_group_categories, slack_user_group_members, slack_user_groups,
};
use crate::store::{ConversationRow, SlackStore, TxError};

/// The user-group tag whose members are invited to every public P1.
pub const INVITED_FOR_ALL_PUBLIC_P1: &str = "invited_for_all_public_p1";

/// A user group the product knows.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = slack_user_groups)]
pub struct UserGroupRow {
    pub id: i64,
    /// Slack's id (`S…`).
    pub usergroup_id: String,
    pub handle: String,
    pub name: String,
    pub description: String,
    pub tag: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A conversation or user group with the categories it responds to and its member count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked<T> {
    pub item: T,
    pub categories: Vec<String>,
    pub members: usize,
}

fn category_map(rows: Vec<(i64, String)>) -> BTreeMap<i64, Vec<String>> {
    let mut map: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (id, category) in rows {
        map.entry(id).or_default().push(category);
    }
    map
}

fn count_map(rows: Vec<i64>) -> BTreeMap<i64, usize> {
    let mut map = BTreeMap::new();
    for id in rows {
        *map.entry(id).or_default() += 1;
    }
    map
}

impl SlackStore {
    /// The conversations that are not an incident's, with their categories.
    ///
    /// # Errors
    /// A storage failure.
    pub fn conversations(&self) -> Result<Vec<Linked<ConversationRow>>, RepositoryError> {
        let mut conn = self.database.connection()?;
        let rows: Vec<ConversationRow> = slack_conversations::table
            .filter(slack_conversations::incident_id.is_null())
            .order(slack_conversations::name)
            .select(ConversationRow::as_select())
            .load(&mut *conn)
            .map_err(repository_error)?;
        let mut categories = category_map(
            slack_conversation_categories::table
                .select((
                    slack_conversation_categories::conversation_id,
                    slack_conversation_categories::category_id,
                ))
                .load(&mut *conn)
                .map_err(repository_error)?,
        );
        let members = count_map(
            slack_conversation_members::table
                .select(slack_conversation_members::conversation_id)
                .load(&mut *conn)
                .map_err(repository_error)?,
        );
        Ok(rows
            .into_iter()
            .map(|row| Linked {
                categories: categories.remove(&row.id).unwrap_or_default(),
                members: members.get(&row.id).copied().unwrap_or_default(),
                item: row,
            })
            .collect())
    }

    /// Records (or updates) a conversation that is not an incident's, with its tag (`""`: none) and,
    /// when given, the categories it responds to; all or nothing.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when another conversation has the tag or a category does not
    /// exist; a storage failure.
    pub fn put_conversation(
        &self,
        channel_id: &str,
        name: &str,
        kind: &str,
        tag: &str,
        categories: Option<&[String]>,
        now: NaiveDateTime,
    ) -> Result<ConversationRow, RepositoryError> {
        let row = self.database.transaction(|conn| -> Result<ConversationRow, TxError> {
            let existing: Option<i64> = slack_conversations::table
                .filter(slack_conversations::channel_id.eq(channel_id))
                .select(slack_conversations::id)
                .first(conn)
                .optional()?;
            let id = match existing {
                Some(id) => {
                    diesel::update(slack_conversations::table.find(id))
                        .set((
                            slack_conversations::name.eq(name),
                            slack_conversations::kind.eq(kind),
                            slack_conversations::tag.eq(tag),
                            slack_conversations::updated_at.eq(now),
                        ))
                        .execute(conn)
                        .map_err(repository_error)?;
                    id
                }
                None => diesel::insert_into(slack_conversations::table)
                    .values((
                        slack_conversations::channel_id.eq(channel_id),
                        slack_conversations::name.eq(name),
                        slack_conversations::kind.eq(kind),
                        slack_conversations::status.eq("opened"),
                        slack_conversations::tag.eq(tag),
                        slack_conversations::created_at.eq(now),
                        slack_conversations::updated_at.eq(now),
                    ))
                    .returning(slack_conversations::id)
                    .get_result(conn)
                    .map_err(repository_error)?,
            };
            if let Some(categories) = categories {
                diesel::delete(
                    slack_conversation_categories::table
                        .filter(slack_conversation_categories::conversation_id.eq(id)),
                )
                .execute(conn)?;
                for category in categories {
                    diesel::insert_into(slack_conversation_categories::table)
                        .values((
                            slack_conversation_categories::conversation_id.eq(id),
                            slack_conversation_categories::category_id.eq(category),
                        ))
                        .execute(conn)
                        .map_err(repository_error)?;
                }
            }
            Ok(slack_conversations::table.find(id).select(ConversationRow::as_select()).first(conn)?)
        })?;
        Ok(row)
    }

    /// Sets the categories a conversation responds to.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] for an unknown category; [`RepositoryError::NotFound`] for an
    /// unknown conversation; a storage failure.
    pub fn set_conversation_categories(
        &self,
        channel_id: &str,
        categories: &[String],
    ) -> Result<(), RepositoryError> {
        self.database.transaction(|conn| -> Result<(), TxError> {
            let id: i64 = slack_conversations::table
                .filter(slack_conversations::channel_id.eq(channel_id))
                .select(slack_conversations::id)
                .first(conn)
                .optional()?
                .ok_or_else(|| RepositoryError::NotFound(format!("conversation {channel_id}")))?;
            diesel::delete(
                slack_conversation_categories::table
                    .filter(slack_conversation_categories::conversation_id.eq(id)),
            )
            .execute(conn)?;
            for category in categories {
                diesel::insert_into(slack_conversation_categories::table)
                    .values((
                        slack_conversation_categories::conversation_id.eq(id),
                        slack_conversation_categories::category_id.eq(category),
                    ))
                    .execute(conn)
                    .map_err(repository_error)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Replaces a conversation's members (Slack user ids).
    ///
    /// # Errors
    /// A storage failure.
    pub fn set_conversation_members(
        &self,
        channel_id: &str,
        members: &[String],
    ) -> Result<bool, RepositoryError> {
        let found = self.database.transaction(|conn| -> Result<bool, TxError> {
            let Some(id) = slack_conversations::table
                .filter(slack_conversations::channel_id.eq(channel_id))
                .select(slack_conversations::id)
                .first::<i64>(conn)
                .optional()?
            else {
                return Ok(false);
            };
            diesel::delete(
                slack_conversation_members::table.filter(slack_conversation_members::conversation_id.eq(id)),
            )
            .execute(conn)?;
            // One row at a time: the connection serves both backends, which batch inserts do not.
            for member in dedup(members) {
                diesel::insert_into(slack_conversation_members::table)
                    .values((
                        slack_conversation_members::conversation_id.eq(id),
                        slack_conversation_members::slack_id.eq(member),
                    ))
                    .execute(conn)?;
            }
            Ok(true)
        })?;
        Ok(found)
    }

    /// Adds (`joined`) or removes a member of a known conversation; `false` when it is not known.
    ///
    /// # Errors
    /// A storage failure.
    pub fn set_member(
        &self,
        channel_id: &str,
        slack_id: &str,
        joined: bool,
    ) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        let Some(id) = slack_conversations::table
            .filter(slack_conversations::channel_id.eq(channel_id))
            .select(slack_conversations::id)
            .first::<i64>(&mut *conn)
            .optional()
            .map_err(repository_error)?
        else {
            return Ok(false);
        };
        let member = slack_conversation_members::table
            .filter(slack_conversation_members::conversation_id.eq(id))
            .filter(slack_conversation_members::slack_id.eq(slack_id));
        diesel::delete(member).execute(&mut *conn).map_err(repository_error)?;
        if joined {
            diesel::insert_into(slack_conversation_members::table)
                .values((
                    slack_conversation_members::conversation_id.eq(id),
                    slack_conversation_members::slack_id.eq(slack_id),
                ))
                .execute(&mut *conn)
                .map_err(repository_error)?;
        }
        Ok(true)
    }

    /// The user groups the product knows, with their categories.
    ///
    /// # Errors
    /// A storage failure.
    pub fn user_groups(&self) -> Result<Vec<Linked<UserGroupRow>>, RepositoryError> {
        let mut conn = self.database.connection()?;
        let rows: Vec<UserGroupRow> = slack_user_groups::table
            .order(slack_user_groups::handle)
            .select(UserGroupRow::as_select())
            .load(&mut *conn)
            .map_err(repository_error)?;
        let mut categories = category_map(
            slack_user_group_categories::table
                .select((
                    slack_user_group_categories::user_group_id,
                    slack_user_group_categories::category_id,
                ))
                .load(&mut *conn)
                .map_err(repository_error)?,
        );
        let members = count_map(
            slack_user_group_members::table
                .select(slack_user_group_members::user_group_id)
                .load(&mut *conn)
                .map_err(repository_error)?,
        );
        Ok(rows
            .into_iter()
            .map(|row| Linked {
                categories: categories.remove(&row.id).unwrap_or_default(),
                members: members.get(&row.id).copied().unwrap_or_default(),
                item: row,
            })
            .collect())
    }

    /// Records (or updates) a user group with its tag and, when given, its categories.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] for an unknown category; a storage failure.
    pub fn upsert_user_group(
        &self,
        usergroup_id: &str,
        handle: &str,
        name: &str,
        tag: &str,
        categories: Option<&[String]>,
        now: NaiveDateTime,
    ) -> Result<UserGroupRow, RepositoryError> {
        let row = self.database.transaction(|conn| -> Result<UserGroupRow, TxError> {
            let existing: Option<i64> = slack_user_groups::table
                .filter(slack_user_groups::usergroup_id.eq(usergroup_id))
                .select(slack_user_groups::id)
                .first(conn)
                .optional()?;
            let id = match existing {
                Some(id) => {
                    diesel::update(slack_user_groups::table.find(id))
                        .set((
                            slack_user_groups::handle.eq(handle),
                            slack_user_groups::name.eq(name),
                            slack_user_groups::tag.eq(tag),
                            slack_user_groups::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                    id
                }
                None => diesel::insert_into(slack_user_groups::table)
                    .values((
                        slack_user_groups::usergroup_id.eq(usergroup_id),
                        slack_user_groups::handle.eq(handle),
                        slack_user_groups::name.eq(name),
                        slack_user_groups::tag.eq(tag),
                        slack_user_groups::created_at.eq(now),
                        slack_user_groups::updated_at.eq(now),
                    ))
                    .returning(slack_user_groups::id)
                    .get_result(conn)?,
            };
            if let Some(categories) = categories {
                diesel::delete(
                    slack_user_group_categories::table
                        .filter(slack_user_group_categories::user_group_id.eq(id)),
                )
                .execute(conn)?;
                for category in categories {
                    diesel::insert_into(slack_user_group_categories::table)
                        .values((
                            slack_user_group_categories::user_group_id.eq(id),
                            slack_user_group_categories::category_id.eq(category),
                        ))
                        .execute(conn)
                        .map_err(repository_error)?;
                }
            }
            Ok(slack_user_groups::table.find(id).select(UserGroupRow::as_select()).first(conn)?)
        })?;
        Ok(row)
    }

    /// Forgets a user group.
    ///
    /// # Errors
    /// A storage failure.
    pub fn delete_user_group(&self, usergroup_id: &str) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        let deleted =
            diesel::delete(slack_user_groups::table.filter(slack_user_groups::usergroup_id.eq(usergroup_id)))
                .execute(&mut *conn)
                .map_err(repository_error)?;
        Ok(deleted > 0)
    }

    /// Updates a known user group from Slack (name, handle, description, members); `false` when the
    /// product does not know it.
    ///
    /// # Errors
    /// A storage failure.
    pub fn refresh_user_group(
        &self,
        group: &crate::model::UserGroup,
        now: NaiveDateTime,
    ) -> Result<bool, RepositoryError> {
        let found = self.database.transaction(|conn| -> Result<bool, TxError> {
            let Some(id) = slack_user_groups::table
                .filter(slack_user_groups::usergroup_id.eq(&group.id))
                .select(slack_user_groups::id)
                .first::<i64>(conn)
                .optional()?
            else {
                return Ok(false);
            };
            let description: String = group.description.chars().take(140).collect();
            diesel::update(slack_user_groups::table.find(id))
                .set((
                    slack_user_groups::handle.eq(group.handle.chars().take(80).collect::<String>()),
                    slack_user_groups::name.eq(group.name.chars().take(80).collect::<String>()),
                    slack_user_groups::description.eq(description),
                    slack_user_groups::updated_at.eq(now),
                ))
                .execute(conn)?;
            diesel::delete(
                slack_user_group_members::table.filter(slack_user_group_members::user_group_id.eq(id)),
            )
            .execute(conn)?;
            for member in dedup(&group.users) {
                diesel::insert_into(slack_user_group_members::table)
                    .values((
                        slack_user_group_members::user_group_id.eq(id),
                        slack_user_group_members::slack_id.eq(member),
                    ))
                    .execute(conn)?;
            }
            Ok(true)
        })?;
        Ok(found)
    }

    /// The Slack ids to invite to an incident of `category` (§14.2): members of the conversations
    /// and user groups linked to the category, and, for a public P1, of the user groups tagged
    /// `invited_for_all_public_p1`.
    ///
    /// # Errors
    /// A storage failure.
    pub fn responders(&self, category: &str, public_p1: bool) -> Result<Vec<String>, RepositoryError> {
        let mut conn = self.database.connection()?;
        let mut ids: Vec<String> = slack_conversation_members::table
            .inner_join(
                slack_conversation_categories::table.on(slack_conversation_categories::conversation_id
                    .eq(slack_conversation_members::conversation_id)),
            )
            .filter(slack_conversation_categories::category_id.eq(category))
            .select(slack_conversation_members::slack_id)
            .load(&mut *conn)
            .map_err(repository_error)?;
        ids.extend(
            slack_user_group_members::table
                .inner_join(slack_user_group_categories::table.on(
                    slack_user_group_categories::user_group_id.eq(slack_user_group_members::user_group_id),
                ))
                .filter(slack_user_group_categories::category_id.eq(category))
                .select(slack_user_group_members::slack_id)
                .load::<String>(&mut *conn)
                .map_err(repository_error)?,
        );
        if public_p1 {
            ids.extend(
                slack_user_group_members::table
                    .inner_join(
                        slack_user_groups::table
                            .on(slack_user_groups::id.eq(slack_user_group_members::user_group_id)),
                    )
                    .filter(slack_user_groups::tag.eq(INVITED_FOR_ALL_PUBLIC_P1))
                    .select(slack_user_group_members::slack_id)
                    .load::<String>(&mut *conn)
                    .map_err(repository_error)?,
            );
        }
        Ok(dedup(&ids))
    }
}

/// `ids` without repeats, in first-seen order.
fn dedup(ids: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.iter().filter(|id| seen.insert(id.as_str())).cloned().collect()
}
