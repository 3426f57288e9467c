//! People: who declares, updates and holds roles on incidents.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub Uuid);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub bot: bool,
    pub is_active: bool,
    pub is_staff: bool,
    /// Admins hold every permission.
    pub is_superuser: bool,
}

impl User {
    /// "First Last" when both are set, else the name, else the username.
    #[must_use]
    pub fn full_name(&self) -> &str {
        if !self.name.is_empty() { &self.name } else { &self.username }
    }
}

/// What is needed to create a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: Email,
    pub name: String,
    pub is_admin: bool,
    /// A PHC-format password hash (argon2id); `None` for users who only sign in through SSO or Slack.
    pub password_hash: Option<String>,
}

/// A syntactically valid, lower-cased e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why an e-mail address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid e-mail address {0:?}: expected name@domain.tld, at most 128 characters")]
pub struct InvalidEmail(pub String);

impl Email {
    /// Longest address the `users.email` column accepts.
    pub const MAX_LEN: usize = 128;

    /// Validates and normalises (trims, lower-cases) an address.
    ///
    /// # Errors
    /// When the address is empty, too long, or not of the form `local@domain.tld`.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let address = raw.trim().to_lowercase();
        let valid = address.len() <= Self::MAX_LEN
            && !address.chars().any(|c| c.is_whitespace() || c.is_control())
            && match address.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid { Ok(Self(address)) } else { Err(InvalidEmail(raw.to_owned())) }
    }

    /// The address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The username this address suggests: its local part, reduced to `[a-z0-9._-]`.
    ///
    /// The original left usernames empty for users created from an e-mail, so the second such user
    /// hit the unique constraint; storage appends a numeric suffix when the suggestion is taken.
    #[must_use]
    pub fn username_suggestion(&self) -> String {
        let local = self.0.split('@').next().unwrap_or_default();
        let cleaned: String =
            local.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).collect();
        if cleaned.is_empty() { "user".to_owned() } else { cleaned }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidEmail;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_validated() {
        assert_eq!(
            Email::parse("  Jane.Doe@Example.COM ").map(|e| e.0),
            Ok("jane.doe@example.com".to_owned())
        );
        for bad in ["", "jane", "jane@", "@example.com", "jane@example", "ja ne@example.com", "a@b@c.com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(120));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn username_comes_from_the_local_part() {
        assert_eq!(
            Email::parse("jane.doe+ops@example.com").map(|e| e.username_suggestion()),
            Ok("jane.doeops".into())
        );
        assert_eq!(Email::parse("+++@example.com").map(|e| e.username_suggestion()), Ok("user".into()));
    }
}
