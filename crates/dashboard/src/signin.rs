//! Local accounts: `/admin/login/` (e-mail and password, argon2; the users `create-user` makes) and
//! `/admin/logout/`. Single sign-on (OIDC) comes beside it.
//!
//! Failed attempts are counted per account and per client address in the cache (Redis when
//! configured, so across servers): past `FF_SIGNIN_MAX_FAILURES` for an account (5) or
//! `FF_SIGNIN_MAX_FAILURES_PER_ADDRESS` for an address (20) within `FF_SIGNIN_LOCKOUT_SECONDS` (900),
//! further attempts get 429 until the window ends, whatever the password. Sign-ins, failures and
//! sign-outs are written to the audit log.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use dashboard_templates::{Layout, LoginPage};
use incidents_core::{Email, EntryPoint, UserId};
use serde::Deserialize;
use serde_json::json;

use crate::State;
use crate::render::{ASSETS, PageError, html, respond, visitor};
use crate::session::{COOKIE, SIGNIN_COOKIE, check_csrf, random_token};

pub(crate) fn configure(routes: &mut web::ServiceConfig) {
    routes
        .service(web::resource("/admin/login").route(web::get().to(form)).route(web::post().to(sign_in)))
        .service(web::resource("/admin/logout").route(web::post().to(sign_out)));
}

/// A `next` that stays on this site (an absolute path, not `//host`).
pub(crate) fn safe_next(next: &str) -> String {
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\r', '\n'])
    {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

#[derive(Debug, Deserialize)]
struct Next {
    next: Option<String>,
}

fn login_layout(state: &State, csrf: String) -> Layout {
    Layout {
        app_name: state.context.config.app_display_name.clone(),
        title: "Sign in".to_owned(),
        user: None,
        is_staff: false,
        csrf,
        assets: ASSETS.to_owned(),
        section: "login",
    }
}

fn login_page(
    state: &State,
    request: &HttpRequest,
    token: &str,
    next: &str,
    email: &str,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let mut response = html(&LoginPage {
        layout: login_layout(state, token.to_owned()),
        next: next.to_owned(),
        email: email.to_owned(),
        error,
        sso: state.oidc.is_some(),
    })?;
    response
        .add_cookie(&state.sessions.signin_cookie(request, token.to_owned()))
        .map_err(|error| PageError::internal(&error))?;
    Ok(response)
}

async fn form(request: HttpRequest, state: web::Data<State>, query: web::Query<Next>) -> HttpResponse {
    let next = safe_next(query.next.as_deref().unwrap_or("/"));
    // Already signed in: on to where they were going.
    if request.cookie(COOKIE).is_some() && visitor(&request, &state, None).await.is_ok() {
        return HttpResponse::Found().insert_header((header::LOCATION, next)).finish();
    }
    let token = request
        .cookie(SIGNIN_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| t.len() == 64)
        .unwrap_or_else(random_token);
    respond(&request, login_page(&state, &request, &token, &next, "", None))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SignIn {
    csrf_token: String,
    email: String,
    password: String,
    next: String,
}

/// The cache keys of the failure counters and locks.
fn keys(email: &str, address: &str) -> [(String, String); 2] {
    [
        (format!("ff:signin:failures:account:{email}"), format!("ff:signin:locked:account:{email}")),
        (format!("ff:signin:failures:address:{address}"), format!("ff:signin:locked:address:{address}")),
    ]
}

async fn sign_in(request: HttpRequest, state: web::Data<State>, body: web::Bytes) -> HttpResponse {
    let result = sign_in_inner(&request, &state, &body).await;
    respond(&request, result)
}

async fn sign_in_inner(
    request: &HttpRequest,
    state: &web::Data<State>,
    body: &[u8],
) -> Result<HttpResponse, PageError> {
    let form: SignIn = crate::render::form(body)?;
    let next = safe_next(if form.next.is_empty() { "/" } else { &form.next });
    let cookie_token = request.cookie(SIGNIN_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    check_csrf(request, &state.context.config.base_url, &cookie_token, Some(&form.csrf_token))
        .map_err(|refusal| PageError::Forbidden(format!("This sign-in was refused: {refusal}.")))?;
    let email_text = form.email.trim().to_lowercase();
    let address = state.sessions.client_address(request);
    let cache = &state.context.cache;
    let config = &state.config;
    for (_, lock) in keys(&email_text, &address) {
        if matches!(cache.get(&lock).await, Ok(Some(_))) {
            return Err(PageError::TooMany(config.lockout.as_secs()));
        }
    }
    let refuse = |message: &str| {
        login_page(state, request, &cookie_token, &next, &email_text, Some(message.to_owned()))
    };
    let Ok(email) = Email::parse(&email_text) else {
        return refuse("Enter a valid e-mail address.");
    };
    let database = state.context.database.clone();
    let lookup = email.clone();
    let credentials = web::block(move || database.credentials(&lookup)).await??;
    let password = form.password;
    let known = credentials.as_ref().map(|c| c.user.id);
    let verified = web::block(move || {
        let Some(credentials) = credentials else {
            // The same work as a real check, so timing does not tell which addresses exist.
            let _ = platform::password::verify_password(&password, dummy_hash());
            return None;
        };
        let hash = credentials.password_hash.as_deref()?;
        (credentials.user.is_active && platform::password::verify_password(&password, hash))
            .then_some(credentials.user)
    })
    .await?;
    let Some(user) = verified else {
        for ((counter, lock), max) in keys(&email_text, &address)
            .into_iter()
            .zip([config.max_failures_per_account, config.max_failures_per_address])
        {
            if let Ok(count) = cache.increment(&counter, config.lockout).await
                && count >= max
            {
                let _ = cache.set(&lock, b"1", config.lockout).await;
            }
        }
        audit(
            state,
            known,
            "user.sign_in_failed",
            &email_text,
            json!({"email": email_text, "address": address}),
        )
        .await;
        return refuse("Wrong e-mail address or password.");
    };
    let [(account_failures, _), _] = keys(&email_text, "");
    let _ = cache.delete(&account_failures).await;
    start_session(request, state, user.id, &next, "password").await
}

/// Starts a session for `user` (always a new one: an id planted before sign-in is never adopted),
/// audits the sign-in, and sends them on to `next`.
pub(crate) async fn start_session(
    request: &HttpRequest,
    state: &State,
    user: UserId,
    next: &str,
    method: &str,
) -> Result<HttpResponse, PageError> {
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (sessions, address) = (state.sessions.clone(), state.sessions.client_address(request));
    let (id, _) = web::block(move || sessions.start(user, &user_agent, &address)).await??;
    audit(state, Some(user), "user.sign_in", &user.to_string(), json!({"method": method})).await;
    let mut response = HttpResponse::SeeOther().insert_header((header::LOCATION, next.to_owned())).finish();
    response.add_cookie(&state.sessions.cookie(request, id)).map_err(|error| PageError::internal(&error))?;
    response
        .add_cookie(&state.sessions.removal(request, SIGNIN_COOKIE))
        .map_err(|error| PageError::internal(&error))?;
    Ok(response)
}

/// A hash of a random password, verified against when the address is unknown (made once, with the
/// same parameters as real ones).
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| platform::password::hash_password(&random_token()).unwrap_or_default())
}

pub(crate) async fn audit(
    state: &State,
    actor: Option<UserId>,
    action: &'static str,
    object_id: &str,
    details: serde_json::Value,
) {
    let database = state.context.database.clone();
    let object_id = object_id.to_owned();
    let written = web::block(move || {
        database.record_audit(actor, EntryPoint::Web, (action, "user", &object_id), &details)
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::warn!(action, "could not write a sign-in to the audit log");
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SignOut {
    csrf_token: String,
}

pub(crate) async fn sign_out(
    request: HttpRequest,
    state: web::Data<State>,
    body: web::Bytes,
) -> HttpResponse {
    let form: SignOut = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let result = async {
        let visitor = visitor(&request, &state, Some(&form.csrf_token)).await?;
        if let Some(cookie) = request.cookie(COOKIE) {
            let (sessions, id) = (state.sessions.clone(), cookie.value().to_owned());
            web::block(move || sessions.end(&id)).await??;
        }
        let user = visitor.principal.user.id;
        audit(&state, Some(user), "user.sign_out", &user.to_string(), json!({})).await;
        let mut response =
            HttpResponse::SeeOther().insert_header((header::LOCATION, "/admin/login/")).finish();
        response
            .add_cookie(&state.sessions.removal(&request, COOKIE))
            .map_err(|error| PageError::internal(&error))?;
        Ok(response)
    }
    .await;
    respond(&request, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/incident/3/"), "/incident/3/");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
    }

    #[test]
    fn the_dummy_hash_is_a_real_hash() {
        assert!(dummy_hash().starts_with("$argon2id$"));
        assert!(!platform::password::verify_password("whatever", dummy_hash()));
    }
}
