//! Sign-in sessions and CSRF.
//!
//! A session is a row in `dashboard_sessions`: the browser's cookie holds a random 256-bit id, the
//! row only its SHA-256 (a copy of the table signs nobody in). Signing in always makes a new session
//! (no fixation); signing out deletes the row, so the cookie is dead everywhere at once. The cookie is
//! `HttpOnly`, `SameSite=Lax`, `Secure` when `BASE_URL` is https.
//!
//! CSRF: every unsafe request carries the session's token (a hidden `csrf_token` field, or the
//! `X-CSRF-Token` header HTMX sends), compared in constant time, and must not come from another site
//! (`Origin` when the browser sends it must be this site's; `Sec-Fetch-Site: cross-site` is refused).
//! Before sign-in, the sign-in form is protected the same way with a token held in a cookie of its
//! own (double submit).

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use incidents_core::{RepositoryError, UserId};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use storage::{Database, repository_error};

/// The session cookie.
pub const COOKIE: &str = "ff_session";
/// The cookie holding the sign-in form's CSRF token, before there is a session.
pub const SIGNIN_COOKIE: &str = "ff_signin";
/// The header HTMX sends the token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

diesel::table! {
    dashboard_sessions (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        user_agent -> Text,
        address -> Text,
    }
}

/// 32 random bytes, hex.
#[must_use]
pub fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Compares two secrets without revealing where they differ.
#[must_use]
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0_u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: UserId,
    pub csrf: String,
    pub expires_at: NaiveDateTime,
}

/// The sessions table and the cookie's settings.
#[derive(Debug, Clone)]
pub struct Sessions {
    database: Database,
    lifetime: Duration,
    secure: bool,
    trusted_proxies: std::sync::Arc<[crate::proxy::Network]>,
}

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl Sessions {
    #[must_use]
    pub fn new(
        database: Database,
        lifetime: Duration,
        secure: bool,
        trusted_proxies: Vec<crate::proxy::Network>,
    ) -> Self {
        Self { database, lifetime, secure, trusted_proxies: trusted_proxies.into() }
    }

    /// Starts a session for `user`; returns the cookie value (shown to nobody else) and the session.
    /// Expired sessions are swept on the way.
    ///
    /// # Errors
    /// A storage failure.
    pub fn start(
        &self,
        user: UserId,
        user_agent: &str,
        address: &str,
    ) -> Result<(String, Session), RepositoryError> {
        let id = random_token();
        let now = incidents_core::clock::now();
        let expires_at =
            now + chrono::Duration::from_std(self.lifetime).unwrap_or(chrono::Duration::days(14));
        let session = Session { user, csrf: random_token(), expires_at };
        let mut conn = self.database.connection()?;
        diesel::delete(dashboard_sessions::table.filter(dashboard_sessions::expires_at.le(now)))
            .execute(&mut *conn)
            .map_err(repository_error)?;
        diesel::insert_into(dashboard_sessions::table)
            .values((
                dashboard_sessions::id_hash.eq(hash(&id)),
                dashboard_sessions::user_id.eq(user.to_string()),
                dashboard_sessions::csrf_token.eq(&session.csrf),
                dashboard_sessions::created_at.eq(now),
                dashboard_sessions::expires_at.eq(expires_at),
                dashboard_sessions::user_agent.eq(clip(user_agent, 256)),
                dashboard_sessions::address.eq(clip(address, 64)),
            ))
            .execute(&mut *conn)
            .map_err(repository_error)?;
        Ok((id, session))
    }

    /// The live session a cookie value names.
    ///
    /// # Errors
    /// A storage failure.
    pub fn find(&self, id: &str) -> Result<Option<Session>, RepositoryError> {
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let mut conn = self.database.connection()?;
        let row: Option<(String, String, NaiveDateTime)> = dashboard_sessions::table
            .find(hash(id))
            .filter(dashboard_sessions::expires_at.gt(incidents_core::clock::now()))
            .select((
                dashboard_sessions::user_id,
                dashboard_sessions::csrf_token,
                dashboard_sessions::expires_at,
            ))
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?;
        Ok(row.and_then(|(user, csrf, expires_at)| {
            user.parse().ok().map(|user| Session { user: UserId(user), csrf, expires_at })
        }))
    }

    /// Ends a session.
    ///
    /// # Errors
    /// A storage failure.
    pub fn end(&self, id: &str) -> Result<(), RepositoryError> {
        let mut conn = self.database.connection()?;
        diesel::delete(dashboard_sessions::table.find(hash(id)))
            .execute(&mut *conn)
            .map(drop)
            .map_err(repository_error)
    }

    /// Ends every session of a user (an operator's revocation).
    ///
    /// # Errors
    /// A storage failure.
    pub fn end_all(&self, user: UserId) -> Result<usize, RepositoryError> {
        let mut conn = self.database.connection()?;
        diesel::delete(dashboard_sessions::table.filter(dashboard_sessions::user_id.eq(user.to_string())))
            .execute(&mut *conn)
            .map_err(repository_error)
    }

    /// Whether the cookies of an answer to `request` are marked `Secure`: always when `BASE_URL` is
    /// https (or `FF_SECURE_COOKIES`), and when a trusted proxy says the client used https.
    #[must_use]
    pub fn secure(&self, request: &HttpRequest) -> bool {
        self.secure || crate::proxy::client(request, &self.trusted_proxies).https
    }

    /// The client's address, seen through the trusted proxies.
    #[must_use]
    pub fn client_address(&self, request: &HttpRequest) -> String {
        crate::proxy::client(request, &self.trusted_proxies).address
    }

    /// The session cookie for `id`.
    #[must_use]
    pub fn cookie(&self, request: &HttpRequest, id: String) -> Cookie<'static> {
        let max_age = actix_web::cookie::time::Duration::seconds(
            i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX),
        );
        self.base_cookie(request, COOKIE, id).max_age(max_age).finish()
    }

    /// A cookie that removes `name`.
    #[must_use]
    pub fn removal(&self, request: &HttpRequest, name: &'static str) -> Cookie<'static> {
        let mut cookie = self.base_cookie(request, name, String::new()).finish();
        cookie.make_removal();
        cookie
    }

    /// The sign-in form's token cookie (a browser session cookie).
    #[must_use]
    pub fn signin_cookie(&self, request: &HttpRequest, token: String) -> Cookie<'static> {
        self.base_cookie(request, SIGNIN_COOKIE, token).finish()
    }

    fn base_cookie(
        &self,
        request: &HttpRequest,
        name: &'static str,
        value: String,
    ) -> actix_web::cookie::CookieBuilder<'static> {
        Cookie::build(name, value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure(request))
    }
}

/// Why an unsafe request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrfRefusal {
    MissingToken,
    WrongToken,
    CrossSite,
}

impl std::fmt::Display for CsrfRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::MissingToken => "the form's security token is missing",
            Self::WrongToken => {
                "the form's security token does not match your session (it may have expired: reload the page)"
            }
            Self::CrossSite => "the request comes from another site",
        })
    }
}

/// Checks an unsafe request: same site, and `expected` sent in the header or as `form_token`.
///
/// # Errors
/// Why it is refused.
pub fn check_csrf(
    request: &HttpRequest,
    base_url: &url::Url,
    expected: &str,
    form_token: Option<&str>,
) -> Result<(), CsrfRefusal> {
    let header = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return Err(CsrfRefusal::CrossSite);
    }
    if let Some(origin) = header("origin") {
        let ours = base_url.origin().ascii_serialization();
        let info = request.connection_info();
        let served = format!("{}://{}", info.scheme(), info.host());
        if origin != ours && origin != served {
            return Err(CsrfRefusal::CrossSite);
        }
    }
    let sent = header(CSRF_HEADER).or(form_token).ok_or(CsrfRefusal::MissingToken)?;
    if expected.is_empty() || !same_secret(sent, expected) {
        return Err(CsrfRefusal::WrongToken);
    }
    Ok(())
}

/// Whether the method changes something (and so needs the CSRF check).
#[must_use]
pub fn is_unsafe(request: &HttpRequest) -> bool {
    !matches!(request.method().as_str(), "GET" | "HEAD" | "OPTIONS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert_eq!(random_token().len(), 64);
        assert_ne!(random_token(), random_token());
    }

    #[test]
    fn unsafe_requests_need_the_token_from_this_site() {
        use actix_web::test::TestRequest;
        let base: url::Url = "https://ff.example.com".parse().expect("url");
        let ok = TestRequest::post().insert_header(("origin", "https://ff.example.com")).to_http_request();
        assert_eq!(check_csrf(&ok, &base, "t0k3n", Some("t0k3n")), Ok(()));
        assert_eq!(check_csrf(&ok, &base, "t0k3n", None), Err(CsrfRefusal::MissingToken));
        assert_eq!(check_csrf(&ok, &base, "t0k3n", Some("other")), Err(CsrfRefusal::WrongToken));
        let evil = TestRequest::post().insert_header(("origin", "https://evil.example")).to_http_request();
        assert_eq!(check_csrf(&evil, &base, "t0k3n", Some("t0k3n")), Err(CsrfRefusal::CrossSite));
        let cross = TestRequest::post().insert_header(("sec-fetch-site", "cross-site")).to_http_request();
        assert_eq!(check_csrf(&cross, &base, "t0k3n", Some("t0k3n")), Err(CsrfRefusal::CrossSite));
        let htmx = TestRequest::post().insert_header((CSRF_HEADER, "t0k3n")).to_http_request();
        assert_eq!(check_csrf(&htmx, &base, "t0k3n", None), Ok(()));
    }
}
