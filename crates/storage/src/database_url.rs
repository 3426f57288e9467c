//! `DATABASE_URL`: which backend, where, and how to print it without its password.

use std::fmt;
use std::path::PathBuf;

/// A parsed database location.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file (created when missing).
    Sqlite { path: PathBuf },
    /// A PostgreSQL connection URL, passed to libpq as given.
    Postgres { url: String },
}

/// Why a `DATABASE_URL` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("unsupported scheme '{0}' (use sqlite:// or postgres://)")]
    UnsupportedScheme(String),
    #[error("missing scheme in '{0}' (use sqlite://path/to/file.db or postgres://user@host/db)")]
    MissingScheme(String),
    #[error("sqlite:// needs a file path, for example sqlite://./data/firefighter.db")]
    MissingSqlitePath,
    #[error("in-memory SQLite is not supported: every pooled connection would see its own empty database")]
    InMemorySqlite,
}

impl DatabaseUrl {
    /// Parses `sqlite://<path>`, `sqlite:<path>`, `postgres://…` or `postgresql://…`.
    ///
    /// # Errors
    /// An unknown or missing scheme, or a SQLite URL without a usable path.
    pub fn parse(raw: &str) -> Result<Self, DatabaseUrlError> {
        let raw = raw.trim();
        let Some((scheme, rest)) = raw.split_once(':') else {
            return Err(DatabaseUrlError::MissingScheme(raw.to_owned()));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Ok(Self::Postgres { url: raw.to_owned() }),
            "sqlite" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                let path = path.split_once('?').map_or(path, |(path, _)| path);
                if path.is_empty() {
                    Err(DatabaseUrlError::MissingSqlitePath)
                } else if path == ":memory:" || path.contains("mode=memory") {
                    Err(DatabaseUrlError::InMemorySqlite)
                } else {
                    Ok(Self::Sqlite { path: PathBuf::from(path) })
                }
            }
            other
                if other.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') && rest.starts_with("//") =>
            {
                Err(DatabaseUrlError::UnsupportedScheme(other.to_owned()))
            }
            _ => Err(DatabaseUrlError::MissingScheme(raw.to_owned())),
        }
    }

    /// A SQLite file URL.
    #[must_use]
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        Self::Sqlite { path: path.into() }
    }

    /// The URL with any password replaced by `***`, safe to log or show.
    #[must_use]
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite { path } => format!("sqlite://{}", path.display()),
            Self::Postgres { url } => redact_password(url),
        }
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{credentials}@{host}"),
        },
        None => authority.to_owned(),
    };
    // libpq also accepts password=… in the query string.
    let tail = tail
        .split('&')
        .map(|part| match part.split_once("password=") {
            Some((prefix, _)) => format!("{prefix}password=***"),
            None => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{scheme}://{authority}{tail}")
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_backends() {
        assert_eq!(DatabaseUrl::parse("sqlite://./data/ff.db"), Ok(DatabaseUrl::sqlite("./data/ff.db")));
        assert_eq!(DatabaseUrl::parse("sqlite:///var/lib/ff.db"), Ok(DatabaseUrl::sqlite("/var/lib/ff.db")));
        assert_eq!(DatabaseUrl::parse("sqlite:ff.db"), Ok(DatabaseUrl::sqlite("ff.db")));
        assert!(matches!(DatabaseUrl::parse("postgres://u@h/db"), Ok(DatabaseUrl::Postgres { .. })));
        assert!(matches!(DatabaseUrl::parse("postgresql://u@h/db"), Ok(DatabaseUrl::Postgres { .. })));
    }

    #[test]
    fn refuses_other_schemes_with_a_clear_message() {
        let error = DatabaseUrl::parse("mysql://root@localhost/ff").map(|_| ()).unwrap_err();
        assert_eq!(error.to_string(), "unsupported scheme 'mysql' (use sqlite:// or postgres://)");
        assert_eq!(DatabaseUrl::parse("sqlite://"), Err(DatabaseUrlError::MissingSqlitePath));
        assert_eq!(DatabaseUrl::parse("sqlite::memory:"), Err(DatabaseUrlError::InMemorySqlite));
        assert!(matches!(DatabaseUrl::parse("just-a-file.db"), Err(DatabaseUrlError::MissingScheme(_))));
    }

    #[test]
    fn never_shows_a_password() {
        let url =
            DatabaseUrl::parse("postgres://ff:s3cr3t@db.internal:5432/ff?sslmode=require&password=other")
                .map(|u| u.redacted())
                .unwrap_or_default();
        assert_eq!(url, "postgres://ff:***@db.internal:5432/ff?sslmode=require&password=***");
        assert!(!format!("{:?}", DatabaseUrl::Postgres { url: "postgres://a:pw@h/d".into() }).contains("pw"));
    }
}
