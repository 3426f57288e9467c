//! Single sign-on with OpenID Connect (the original's `/oidc/` routes and variables): the
//! authorization-code flow with PKCE (S256), `state` and `nonce` checked, the ID token's signature
//! (from the provider's JWKS), issuer, audience and expiry verified.
//!
//! - `GET /oidc/authenticate/?next=…`: a fresh `state`, `nonce` and PKCE verifier go into a short-lived
//!   cookie of their own (`ff_oidc`, HttpOnly, SameSite=Lax, MAC'd with a key derived from
//!   `SECRET_KEY`), and the browser is sent to the provider.
//! - `GET /oidc/callback/`: the `state` must match the cookie's; the code is exchanged (client secret
//!   by HTTP Basic, the PKCE verifier); the ID token must carry the cookie's `nonce`. The person is the
//!   user with the token's `email` (from userinfo when the token has none), made on first sign-in with
//!   the responder permissions. A `roles` claim (a list) sets their groups at every sign-in: each role
//!   naming a group makes them a member, they leave the groups it does not name, and `back_office`
//!   makes them staff (never revoked, as the original). Then a new session, as a local sign-in.
//! - `POST /oidc/logout/`: the same as `/admin/logout/`.
//!
//! Discovery and the JWKS are fetched on first use and again after an hour, or when a token names a
//! key the cached set does not have.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use incidents_core::access::AccessRepository as _;
use incidents_core::{Email, EntryPoint};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::sync::RwLock;

use crate::State;
use crate::config::OidcConfig;
use crate::render::{PageError, respond};
use crate::session::{random_token, same_secret};

/// The cookie holding a sign-in in progress.
pub const FLOW_COOKIE: &str = "ff_oidc";
/// How long a sign-in at the provider may take.
const FLOW_LIFETIME: Duration = Duration::from_secs(600);
/// How long discovery and the JWKS are kept.
const PROVIDER_LIFETIME: Duration = Duration::from_secs(3600);
/// The signature algorithms accepted for ID tokens (asymmetric only).
const ALGORITHMS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::ES256,
    Algorithm::ES384,
];

pub(crate) fn configure(routes: &mut web::ServiceConfig) {
    routes
        .service(web::resource("/oidc/authenticate").route(web::get().to(authenticate)))
        .service(web::resource("/oidc/callback").route(web::get().to(callback)))
        .service(web::resource("/oidc/logout").route(web::post().to(crate::signin::sign_out)));
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
}

#[derive(Debug, Clone)]
struct Provider {
    discovery: Discovery,
    keys: JwkSet,
    fetched: Instant,
}

/// The relying party: its configuration, HTTP client and what it knows of the provider.
pub struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    provider: RwLock<Option<Provider>>,
    /// The key the flow cookie is MAC'd with.
    flow_key: Vec<u8>,
    redirect_uri: String,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc").field("discovery", &self.config.discovery_url.as_str()).finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Oidc {
    /// The relying party for `config`, answering at `base_url`, its cookie keyed from `secret_key`.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(config: OidcConfig, base_url: &url::Url, secret_key: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let flow_key =
            Sha256::digest(format!("firefighter oidc flow cookie\0{secret_key}").as_bytes()).to_vec();
        let redirect_uri = format!("{}/oidc/callback/", base_url.as_str().trim_end_matches('/'));
        Ok(Self { config, http, provider: RwLock::new(None), flow_key, redirect_uri })
    }

    async fn fetch(&self) -> Result<Provider, String> {
        let get = |url: String| async move {
            let response = self.http.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("{url} answered {}", response.status()));
            }
            response.bytes().await.map_err(|e| format!("{url}: {e}"))
        };
        let body = get(self.config.discovery_url.to_string()).await?;
        let discovery: Discovery =
            serde_json::from_slice(&body).map_err(|e| format!("the discovery document: {e}"))?;
        let body = get(discovery.jwks_uri.clone()).await?;
        let keys: JwkSet = serde_json::from_slice(&body).map_err(|e| format!("the JWKS: {e}"))?;
        Ok(Provider { discovery, keys, fetched: Instant::now() })
    }

    /// The provider, fetched when unknown, stale, or (`refresh`) when a key is missing.
    async fn provider(&self, refresh: bool) -> Result<Provider, String> {
        if !refresh
            && let Some(provider) = self.provider.read().await.as_ref()
            && provider.fetched.elapsed() < PROVIDER_LIFETIME
        {
            return Ok(provider.clone());
        }
        let fresh = self.fetch().await?;
        *self.provider.write().await = Some(fresh.clone());
        Ok(fresh)
    }

    fn mac(&self, payload: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.flow_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key"));
        mac.update(payload.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The ID token's claims, verified.
    async fn verify(&self, id_token: &str, nonce: &str) -> Result<Value, String> {
        let header = jsonwebtoken::decode_header(id_token).map_err(|e| format!("the ID token: {e}"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(format!("the ID token is signed with {:?}, which is not accepted", header.alg));
        }
        let mut provider = self.provider(false).await?;
        let find = |keys: &JwkSet| match &header.kid {
            Some(kid) => keys.find(kid).cloned(),
            None if keys.keys.len() == 1 => keys.keys.first().cloned(),
            None => None,
        };
        let jwk = match find(&provider.keys) {
            Some(jwk) => jwk,
            None => {
                provider = self.provider(true).await?;
                find(&provider.keys).ok_or("the ID token's key is not in the provider's JWKS")?
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("the provider's key: {e}"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[self.config.client_id.as_str()]);
        validation.set_issuer(&[provider.discovery.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 60;
        let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
            .map_err(|e| format!("the ID token: {e}"))?
            .claims;
        let sent = claims.get("nonce").and_then(Value::as_str).unwrap_or_default();
        if !same_secret(sent, nonce) {
            return Err("the ID token's nonce is not this sign-in's".to_owned());
        }
        Ok(claims)
    }
}

/// A sign-in in progress, as its cookie carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
    started: u64,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Flow {
    fn encode(&self, oidc: &Oidc) -> String {
        // Hex: actix percent-decodes cookie values, which would change a URL-encoded `next`.
        let next = hex::encode(self.next.as_bytes());
        let payload = format!("{}|{}|{}|{next}|{}", self.state, self.nonce, self.verifier, self.started);
        let mac = oidc.mac(&payload);
        format!("{payload}|{mac}")
    }

    fn decode(raw: &str, oidc: &Oidc) -> Option<Self> {
        let (payload, mac) = raw.rsplit_once('|')?;
        if !same_secret(&oidc.mac(payload), mac) {
            return None;
        }
        let mut parts = payload.split('|');
        let (state, nonce, verifier, next, started) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let next = String::from_utf8(hex::decode(next).ok()?).ok()?;
        let started = started.parse().ok()?;
        (unix_now().saturating_sub(started) <= FLOW_LIFETIME.as_secs()).then(|| Self {
            state: state.to_owned(),
            nonce: nonce.to_owned(),
            verifier: verifier.to_owned(),
            next,
            started,
        })
    }
}

fn flow_cookie(state: &State, request: &HttpRequest, value: String) -> Cookie<'static> {
    let mut cookie = Cookie::build(FLOW_COOKIE, value)
        .path("/oidc/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.sessions.secure(request))
        .finish();
    if cookie.value().is_empty() {
        cookie.make_removal();
    }
    cookie
}

#[derive(Debug, Deserialize)]
struct Next {
    next: Option<String>,
}

async fn authenticate(
    request: HttpRequest,
    state: web::Data<State>,
    query: web::Query<Next>,
) -> HttpResponse {
    let result = async {
        let oidc = state.oidc.as_ref().ok_or(PageError::NotFound)?;
        let provider = oidc.provider(false).await.map_err(|error| {
            tracing::warn!(%error, "the single sign-on provider cannot be reached");
            PageError::Unavailable("The single sign-on provider cannot be reached right now. Try again in a moment, or sign in with a password.".to_owned())
        })?;
        let flow = Flow {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
            next: crate::signin::safe_next(query.next.as_deref().unwrap_or("/")),
            started: unix_now(),
        };
        let challenge = b64(&Sha256::digest(flow.verifier.as_bytes()));
        let mut location = url::Url::parse(&provider.discovery.authorization_endpoint)
            .map_err(|error| PageError::internal(&error))?;
        location
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &oidc.config.client_id)
            .append_pair("redirect_uri", &oidc.redirect_uri)
            .append_pair("scope", &oidc.config.scopes)
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let mut response = HttpResponse::Found().insert_header((header::LOCATION, location.to_string())).finish();
        response.add_cookie(&flow_cookie(&state, &request, flow.encode(oidc))).map_err(|error| PageError::internal(&error))?;
        Ok(response)
    }
    .await;
    respond(&request, result)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Callback {
    code: String,
    state: String,
    error: String,
    error_description: String,
}

#[derive(Debug, Deserialize)]
struct Tokens {
    id_token: String,
    access_token: Option<String>,
}

async fn callback(
    request: HttpRequest,
    state: web::Data<State>,
    query: web::Query<Callback>,
) -> HttpResponse {
    let result = async {
        let oidc = state.oidc.as_ref().ok_or(PageError::NotFound)?;
        match sign_in(&request, &state, oidc, &query).await {
            Ok(response) => Ok(response),
            Err(SsoError::Refused(reason)) => {
                crate::signin::audit(
                    &state,
                    None,
                    "user.sign_in_failed",
                    "oidc",
                    json!({"method": "oidc", "reason": reason}),
                )
                .await;
                Err(PageError::Forbidden(format!("Single sign-on did not sign you in: {reason}.")))
            }
            Err(SsoError::Page(error)) => Err(error),
        }
    }
    .await;
    respond(&request, result)
}

enum SsoError {
    /// Why the sign-in was refused (shown, and audited).
    Refused(String),
    Page(PageError),
}

impl From<PageError> for SsoError {
    fn from(error: PageError) -> Self {
        Self::Page(error)
    }
}

async fn sign_in(
    request: &HttpRequest,
    state: &State,
    oidc: &Oidc,
    query: &Callback,
) -> Result<HttpResponse, SsoError> {
    let refused = |reason: &str| SsoError::Refused(reason.to_owned());
    if !query.error.is_empty() {
        let description = if query.error_description.is_empty() {
            String::new()
        } else {
            format!(" ({})", query.error_description)
        };
        return Err(SsoError::Refused(format!("the provider answered {}{description}", query.error)));
    }
    let flow = request
        .cookie(FLOW_COOKIE)
        .and_then(|cookie| Flow::decode(cookie.value(), oidc))
        .ok_or_else(|| refused("this sign-in was not started here, or took too long; start again"))?;
    if query.state.is_empty() || !same_secret(&query.state, &flow.state) {
        return Err(refused("the provider's answer does not belong to this sign-in (state)"));
    }
    let provider = oidc
        .provider(false)
        .await
        .map_err(|error| SsoError::Refused(format!("the provider cannot be reached: {error}")))?;
    let response = oidc
        .http
        .post(&provider.discovery.token_endpoint)
        .basic_auth(&oidc.config.client_id, Some(oidc.config.client_secret.expose()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", query.code.as_str()),
            ("redirect_uri", oidc.redirect_uri.as_str()),
            ("code_verifier", flow.verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|error| SsoError::Refused(format!("the token endpoint cannot be reached: {error}")))?;
    if !response.status().is_success() {
        return Err(SsoError::Refused(format!("the token endpoint answered {}", response.status())));
    }
    let tokens: Tokens = response
        .json()
        .await
        .map_err(|error| SsoError::Refused(format!("the token endpoint's answer: {error}")))?;
    let mut claims = oidc.verify(&tokens.id_token, &flow.nonce).await.map_err(SsoError::Refused)?;
    if claims.get("email").and_then(Value::as_str).is_none()
        && let (Some(userinfo), Some(access)) = (&provider.discovery.userinfo_endpoint, &tokens.access_token)
        && let Ok(response) = oidc.http.get(userinfo).bearer_auth(access).send().await
        && let Ok(info) = response.json::<Value>().await
        && info.get("sub") == claims.get("sub")
        && let (Some(target), Some(info)) = (claims.as_object_mut(), info.as_object())
    {
        for (key, value) in info {
            target.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .and_then(|email| Email::parse(email).ok())
        .ok_or_else(|| refused("the provider gives no valid e-mail address for you"))?;
    let text = |key: &str| claims.get(key).and_then(Value::as_str).unwrap_or_default().trim().to_owned();
    let name = [
        text("name"),
        format!("{} {}", text("given_name"), text("family_name")).trim().to_owned(),
        text("preferred_username"),
    ]
    .into_iter()
    .find(|name| !name.is_empty())
    .unwrap_or_default();
    // The original's rule (reference §6.2): a `roles` claim that is not a list changes nothing;
    // `back_office` makes staff (never revoked) and is not a group; the other roles become the user's
    // groups exactly, those no group has being reported; an empty list removes every group.
    let roles: Option<Vec<String>> = claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|roles| roles.iter().filter_map(Value::as_str).map(str::to_owned).collect());
    let (lifecycle, database) = (state.context.lifecycle.clone(), state.context.database.clone());
    let principal = web::block(move || -> Result<_, PageError> {
        let user = lifecycle
            .provision_user(&email, &name, EntryPoint::Web, "first single sign-on")
            .map_err(|error| PageError::internal(&error))?;
        if let Some(mut roles) = roles {
            let before = roles.len();
            roles.retain(|role| role != "back_office");
            if roles.len() < before {
                database.make_staff(user)?;
            }
            let unknown = database.sync_user_groups(user, &roles)?;
            for group in unknown {
                tracing::warn!(%group, "a single sign-on role names no group of this application");
            }
        }
        Ok(database.principal(user)?)
    })
    .await
    .map_err(|error| SsoError::Page(error.into()))??;
    let Some(principal) = principal.filter(|principal| principal.user.is_active) else {
        return Err(refused("your account is deactivated"));
    };
    let mut response =
        crate::signin::start_session(request, state, principal.user.id, &flow.next, "oidc").await?;
    response
        .add_cookie(&flow_cookie(state, request, String::new()))
        .map_err(|error| SsoError::Page(PageError::internal(&error)))?;
    Ok(response)
}

/// The OIDC part of the dashboard's state.
pub(crate) type SharedOidc = Option<Arc<Oidc>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc() -> Oidc {
        let config = OidcConfig {
            discovery_url: "https://sso.example.com/.well-known/openid-configuration".parse().expect("url"),
            client_id: "firefighter".into(),
            client_secret: platform::Secret::new("s3cret"),
            scopes: "openid email profile".into(),
            timeout: Duration::from_secs(5),
        };
        Oidc::new(config, &"https://ff.example.com".parse().expect("url"), "a secret key").expect("oidc")
    }

    #[test]
    fn the_flow_cookie_is_tamper_proof_and_expires() {
        let oidc = oidc();
        let flow = Flow {
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            next: "/incident/?a=1|b".into(),
            started: unix_now(),
        };
        let raw = flow.encode(&oidc);
        assert_eq!(Flow::decode(&raw, &oidc), Some(flow.clone()));
        assert_eq!(Flow::decode(&raw.replacen("s|", "x|", 1), &oidc), None, "changed");
        let old = Flow { started: unix_now() - 3600, ..flow };
        assert_eq!(Flow::decode(&old.encode(&oidc), &oidc), None, "too old");
        assert_eq!(oidc.redirect_uri, "https://ff.example.com/oidc/callback/");
    }
}
