//! Who may do what: API tokens and permissions.
//!
//! Permissions follow the original's Django codenames (`incidents.view_incident`, `add_incident`,
//! `change_…`, `delete_…`) so existing grants carry over; admins hold every permission.

use std::collections::HashSet;
use std::fmt;

use chrono::NaiveDateTime;

use crate::ports::RepositoryError;
use crate::user::{User, UserId};

/// A new API token: 20 random bytes as 40 hex characters, the original's format. Shown once; only its
/// hash is stored. The one place tokens are made, whatever makes them (the API, the CLI, the
/// back-office).
#[must_use]
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 20]>())
}

/// The SHA-256 hex digest under which a token is stored. Tokens carry 160 random bits, so a fast hash
/// is enough: there is nothing to brute-force.
#[must_use]
pub fn hash_token(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// What a request does to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    View,
    Add,
    Change,
    Delete,
}

impl Action {
    /// The codename prefix.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Add => "add",
            Self::Change => "change",
            Self::Delete => "delete",
        }
    }
}

/// A resource permissions apply to, named by its model as in the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Incident,
    Environment,
    Priority,
    IncidentCategory,
    Group,
    IncidentCost,
    IncidentCostType,
    User,
    ApiToken,
    /// A permission group (Django's `auth.group`): a named permission set.
    PermissionGroup,
}

impl Resource {
    /// Every resource.
    pub const ALL: [Self; 10] = [
        Self::Incident,
        Self::Environment,
        Self::Priority,
        Self::IncidentCategory,
        Self::Group,
        Self::IncidentCost,
        Self::IncidentCostType,
        Self::User,
        Self::ApiToken,
        Self::PermissionGroup,
    ];

    /// The model name in codenames.
    #[must_use]
    pub const fn model(self) -> &'static str {
        match self {
            Self::Incident => "incident",
            Self::Environment => "environment",
            Self::Priority => "priority",
            Self::IncidentCategory => "incidentcategory",
            Self::Group | Self::PermissionGroup => "group",
            Self::IncidentCost => "incidentcost",
            Self::IncidentCostType => "incidentcosttype",
            Self::User => "user",
            Self::ApiToken => "apitoken",
        }
    }
}

/// A permission: an action on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permission {
    pub action: Action,
    pub resource: Resource,
}

impl Permission {
    /// `action` on `resource`.
    #[must_use]
    pub const fn new(action: Action, resource: Resource) -> Self {
        Self { action, resource }
    }

    /// The Django-style codename, e.g. `incidents.view_incident`.
    #[must_use]
    pub fn codename(self) -> String {
        let app = match self.resource {
            Resource::ApiToken => "api",
            Resource::PermissionGroup => "auth",
            _ => "incidents",
        };
        format!("{app}.{}_{}", self.action.as_str(), self.resource.model())
    }

    /// Every permission that exists.
    #[must_use]
    pub fn all() -> Vec<Self> {
        Resource::ALL
            .into_iter()
            .flat_map(|resource| {
                [Action::View, Action::Add, Action::Change, Action::Delete]
                    .map(|action| Self::new(action, resource))
            })
            .collect()
    }

    /// The permission set of a user created on first sight, whatever the entry point (a Slack user,
    /// an SSO sign-in, the creator named by an API declaration): a responder, who reads everything an
    /// incident needs and declares and runs incidents and their costs, but administers nothing
    /// (tokens, users, reference data). Staff grant more.
    #[must_use]
    pub fn responder() -> Vec<Self> {
        let mut set: Vec<Self> = Resource::ALL
            .into_iter()
            .filter(|resource| !matches!(resource, Resource::ApiToken | Resource::PermissionGroup))
            .map(|resource| Self::new(Action::View, resource))
            .collect();
        for resource in [Resource::Incident, Resource::IncidentCost] {
            set.extend([Action::Add, Action::Change].map(|action| Self::new(action, resource)));
        }
        set
    }

    /// Parses a codename.
    ///
    /// # Errors
    /// When no permission has that codename; the message lists the form expected.
    pub fn parse(codename: &str) -> Result<Self, String> {
        Self::all().into_iter().find(|p| p.codename() == codename).ok_or_else(|| {
            format!("unknown permission {codename:?} (expected e.g. incidents.view_incident, incidents.add_incident)")
        })
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.codename())
    }
}

/// An authenticated user with what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: User,
    /// Codenames granted (admins need none).
    pub permissions: HashSet<String>,
}

impl Principal {
    /// Which private incidents the principal sees, as a filter: staff see every incident (`None`);
    /// anyone else only the private incidents they are a member of or hold a role in.
    #[must_use]
    pub fn visibility(&self) -> Option<UserId> {
        (!(self.user.is_staff || self.user.is_superuser)).then_some(self.user.id)
    }

    /// Whether the principal may see `incident`: it is public, they are staff or hold a role in it, or
    /// (asked last) `is_member`.
    ///
    /// # Errors
    /// What `is_member` fails with.
    pub fn may_see<E>(
        &self,
        incident: &crate::query::IncidentView,
        is_member: impl FnOnce() -> Result<bool, E>,
    ) -> Result<bool, E> {
        let Some(user) = self.visibility() else { return Ok(true) };
        if !incident.private || incident.roles.iter().any(|role| role.user.id == user) {
            return Ok(true);
        }
        is_member()
    }

    /// Whether the principal may do this.
    #[must_use]
    pub fn can(&self, permission: Permission) -> bool {
        self.user.is_active && (self.user.is_superuser || self.permissions.contains(&permission.codename()))
    }
}

/// A stored API token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    pub id: i64,
    pub user_id: UserId,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A group: a named permission set its members hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionGroup {
    pub id: i64,
    pub name: String,
    /// Codenames, sorted.
    pub permissions: Vec<String>,
    /// The members' e-mail addresses, sorted.
    pub members: Vec<String>,
}

/// The longest group name (Django's).
pub const GROUP_NAME_MAX_CHARS: usize = 150;

/// Checks a group name: trimmed, 1 to 150 characters, no control characters.
///
/// # Errors
/// A sentence saying what is wrong.
pub fn group_name(name: &str) -> Result<&str, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a group needs a name".to_owned());
    }
    if name.chars().count() > GROUP_NAME_MAX_CHARS {
        return Err(format!("a group name has at most {GROUP_NAME_MAX_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("a group name cannot hold control characters".to_owned());
    }
    Ok(name)
}

/// Why a presented token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    /// Unknown, revoked or expired: the original answered "Invalid token." for all three.
    Invalid,
    /// The token's user is inactive.
    UserInactive,
}

/// Tokens and permissions. Implemented by storage.
pub trait AccessRepository {
    /// Stores a new token for `user` under the SHA-256 hex digest of its secret.
    ///
    /// # Errors
    /// A storage failure, or an unknown user.
    fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        token_hash: &str,
        expires_at: Option<NaiveDateTime>,
    ) -> Result<ApiTokenRecord, RepositoryError>;

    /// Resolves a token digest to its principal, recording the use; `Err(rejection)` inside `Ok` when
    /// the token is not acceptable.
    ///
    /// # Errors
    /// A storage failure.
    fn authenticate_token(
        &self,
        token_hash: &str,
        now: NaiveDateTime,
    ) -> Result<Result<Principal, TokenRejection>, RepositoryError>;

    /// The principal of a user (for entry points that identify people another way than by token:
    /// Slack, a dashboard session); `None` for an unknown user.
    ///
    /// # Errors
    /// A storage failure.
    fn principal(&self, user: UserId) -> Result<Option<Principal>, RepositoryError>;

    /// Every token (revoked and expired ones too), newest first.
    ///
    /// # Errors
    /// A storage failure.
    fn api_tokens(
        &self,
        page: crate::query::PageRequest,
    ) -> Result<crate::query::Page<ApiTokenRecord>, RepositoryError>;

    /// Revokes a token; it stops working at once.
    ///
    /// # Errors
    /// [`RepositoryError::NotFound`] for an unknown token.
    fn revoke_api_token(&self, id: i64, now: NaiveDateTime) -> Result<(), RepositoryError>;

    /// Grants permissions to a user (granting one twice is harmless).
    ///
    /// # Errors
    /// A storage failure, or an unknown user.
    fn grant_permissions(&self, user: UserId, permissions: &[Permission]) -> Result<(), RepositoryError>;

    /// Every group, by name.
    ///
    /// # Errors
    /// A storage failure.
    fn permission_groups(&self) -> Result<Vec<PermissionGroup>, RepositoryError>;

    /// Creates the group `name` (already checked with [`group_name`]) or replaces its permissions;
    /// `true` when it was created.
    ///
    /// # Errors
    /// A storage failure.
    fn put_permission_group(
        &self,
        name: &str,
        permissions: &[Permission],
    ) -> Result<(PermissionGroup, bool), RepositoryError>;

    /// Deletes a group (its members keep what was granted to them directly). `false` when there was
    /// none.
    ///
    /// # Errors
    /// A storage failure.
    fn delete_permission_group(&self, name: &str) -> Result<bool, RepositoryError>;

    /// Adds `user` to the group `name` (`member`) or removes them. `None` when there is no such group,
    /// otherwise whether it changed anything.
    ///
    /// # Errors
    /// A storage failure.
    fn set_group_member(
        &self,
        name: &str,
        user: UserId,
        member: bool,
    ) -> Result<Option<bool>, RepositoryError>;

    /// Makes `user` a member of exactly the existing groups among `names` (single sign-on's `roles`);
    /// answers the names no group has.
    ///
    /// # Errors
    /// A storage failure.
    fn sync_user_groups(&self, user: UserId, names: &[String]) -> Result<Vec<String>, RepositoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codenames_match_the_original() {
        assert_eq!(Permission::new(Action::View, Resource::Incident).codename(), "incidents.view_incident");
        assert_eq!(Permission::new(Action::Add, Resource::Incident).codename(), "incidents.add_incident");
        assert_eq!(
            Permission::new(Action::View, Resource::IncidentCostType).codename(),
            "incidents.view_incidentcosttype"
        );
        assert_eq!(
            Permission::parse("incidents.view_priority"),
            Ok(Permission::new(Action::View, Resource::Priority))
        );
        assert!(Permission::parse("incidents.fly_incident").is_err());
        assert_eq!(
            Permission::new(Action::Change, Resource::PermissionGroup).codename(),
            "auth.change_group"
        );
        assert_eq!(Permission::all().len(), 40);
        assert!(!Permission::responder().iter().any(|p| p.resource == Resource::PermissionGroup));
    }
}
