//! Slack users and the product's users: a Slack user is known by the user it was linked to, or made
//! a user (with the responder permissions) from `users.info` the first time the product meets them.

use incidents_core::{Email, EntryPoint, UserId};

use crate::client::{SlackClient, SlackError};
use crate::store::SlackStore;

/// Why a Slack user could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Slack(#[from] SlackError),
    #[error("storage: {0}")]
    Storage(String),
}

/// The local user of a Slack user: known, or made from `users.info` on first sight (bots and people
/// without an e-mail address are not users: `None`).
///
/// # Errors
/// Slack or the database failed.
pub fn resolve_user(
    slack: &SlackClient,
    store: &SlackStore,
    lifecycle: &platform::Lifecycle,
    slack_id: &str,
) -> Result<Option<UserId>, ResolveError> {
    let storage = |error: &dyn std::fmt::Display| ResolveError::Storage(error.to_string());
    if let Some((id, _)) = store.user_of(slack_id).map_err(|e| storage(&e))? {
        return Ok(id.parse().ok().map(UserId));
    }
    let info = match slack.user_info(slack_id) {
        Ok(info) => info,
        Err(error) if error.is("user_not_found") => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    if info.is_bot || info.deleted {
        return Ok(None);
    }
    let Some(email) = info.profile.email.as_deref().and_then(|email| Email::parse(email).ok()) else {
        return Ok(None);
    };
    let name = info.real_name.clone().or(info.profile.real_name.clone()).unwrap_or_default();
    let name: String = name.chars().take(128).collect();
    let user = lifecycle
        .provision_user(&email, &name, EntryPoint::Slack, "first seen in Slack")
        .map_err(|e| storage(&e))?;
    store
        .link_user(&user.to_string(), slack_id, Some(&info.name), incidents_core::clock::now())
        .map_err(|e| storage(&e))?;
    Ok(Some(user))
}
