//! A fake OpenID Connect provider on loopback, for the dashboard's single sign-on tests: discovery,
//! JWKS, an authorization endpoint that signs in the configured person at once, a token endpoint that
//! checks the client's credentials, the redirect URI and the PKCE verifier before issuing an RS256 ID
//! token with the request's nonce, and a userinfo endpoint. It records the authorization requests.
//!
//! The signing key in `keys/oidc-test-key.der` (PKCS#1 DER) exists only for these tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const KEY: &[u8] = include_bytes!("../keys/oidc-test-key.der");
const MODULUS: &str = "wqj1WTotwF0vuw3U2nflVNtyy1-1YFjizw3QBAzGKiAdn0KTPYlMJ02GFbD7GDYu5se1A9fbv5JdFU2L4zMVEZv6gbe5NH_fCiRrDmYLu8WT9VjzU7DeEYUFHEJXZi03VDmmH9vNCz8aIZ8yn5aTai1Ldxd8fBvuxzWSBmqJGlW4lKh5eEtu4_ZLqnaxkQUg8X3B4LcSAdiNHDG1-0_RXhByJr9Tx4OKP6iHpUOafBAoa45lehYxcN7D3vkaL7zBpZS7y0LNGJW4xjyM32WOrM6kXVVY9tyd8L_Tex1MwmlU4m27jLYzfSkW9lwx66RmFThcrMtYx0XYRWsDEnrGWw";
const KID: &str = "firefighter-test-key";

/// Who signs in, and what the provider remembers.
#[derive(Debug, Default)]
pub struct OidcState {
    pub client_id: String,
    pub client_secret: String,
    /// The claims of the person who signs in (`email`, `name`, `preferred_username`, `roles` …).
    pub person: Value,
    /// The authorization requests received (their query parameters).
    pub authorizations: Vec<HashMap<String, String>>,
    /// Codes issued: code -> (nonce, PKCE challenge, redirect URI).
    codes: HashMap<String, (String, String, String)>,
    /// Sign ID tokens with a nonce other than the request's (to test the check).
    pub wrong_nonce: bool,
    /// Answer the authorization request with this `error` instead of a code.
    pub refuse: Option<String>,
    issued: u64,
}

/// The running fake provider.
pub struct FakeOidc {
    /// Its issuer (and base) URL; the discovery document is at `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    state: Arc<Mutex<OidcState>>,
    handle: actix_web::dev::ServerHandle,
}

impl std::fmt::Debug for FakeOidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOidc").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

fn query(request: &HttpRequest) -> HashMap<String, String> {
    serde_urlencoded::from_str(request.query_string()).unwrap_or_default()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn serve(state: &Mutex<OidcState>, issuer: &str, request: &HttpRequest, body: &[u8]) -> HttpResponse {
    let Ok(mut state) = state.lock() else { return HttpResponse::InternalServerError().finish() };
    match request.path() {
        "/.well-known/openid-configuration" => HttpResponse::Ok().json(json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "jwks_uri": format!("{issuer}/jwks"),
            "end_session_endpoint": format!("{issuer}/logout"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        })),
        "/jwks" => HttpResponse::Ok().json(json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID, "n": MODULUS, "e": "AQAB"}]})),
        "/authorize" => {
            let params = query(request);
            state.authorizations.push(params.clone());
            let redirect = params.get("redirect_uri").cloned().unwrap_or_default();
            let back_state = params.get("state").cloned().unwrap_or_default();
            let location = if let Some(error) = state.refuse.clone() {
                format!("{redirect}?error={error}&state={back_state}")
            } else {
                state.issued += 1;
                let code = format!("code-{}", state.issued);
                let nonce = params.get("nonce").cloned().unwrap_or_default();
                let challenge = params.get("code_challenge").cloned().unwrap_or_default();
                state.codes.insert(code.clone(), (nonce, challenge, redirect.clone()));
                format!("{redirect}?code={code}&state={back_state}")
            };
            HttpResponse::Found().insert_header(("location", location)).finish()
        }
        "/token" => {
            let form: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", state.client_id, state.client_secret))
            );
            let sent =
                request.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
            if sent != expected {
                return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
            }
            let code = form.get("code").cloned().unwrap_or_default();
            let Some((nonce, challenge, redirect)) = state.codes.remove(&code) else {
                return HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}));
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            if b64(&Sha256::digest(verifier.as_bytes())) != challenge
                || form.get("redirect_uri") != Some(&redirect)
                || form.get("grant_type").map(String::as_str) != Some("authorization_code")
            {
                return HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}));
            }
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let mut claims = state.person.clone();
            claims["iss"] = json!(issuer);
            claims["aud"] = json!(state.client_id);
            claims["iat"] = json!(now);
            claims["exp"] = json!(now + 300);
            claims["nonce"] = json!(if state.wrong_nonce { "not-the-nonce".to_owned() } else { nonce });
            if claims.get("sub").is_none() {
                claims["sub"] = json!(format!("sub-{}", claims["email"].as_str().unwrap_or_default()));
            }
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
            header.kid = Some(KID.to_owned());
            let key = jsonwebtoken::EncodingKey::from_rsa_der(KEY);
            let Ok(id_token) = jsonwebtoken::encode(&header, &claims, &key) else {
                return HttpResponse::InternalServerError().finish();
            };
            HttpResponse::Ok().json(json!({"access_token": format!("access-{code}"), "token_type": "Bearer",
                "expires_in": 300, "id_token": id_token}))
        }
        "/userinfo" => HttpResponse::Ok().json(state.person.clone()),
        _ => HttpResponse::NotFound().finish(),
    }
}

impl FakeOidc {
    /// Starts a provider for the client `client_id` / `client_secret`, signing in `person`.
    ///
    /// # Panics
    /// When it cannot bind a loopback port.
    #[must_use]
    pub fn start(client_id: &str, client_secret: &str, person: Value) -> Self {
        let state = Arc::new(Mutex::new(OidcState {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            person,
            ..OidcState::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let issuer = format!("http://{}", listener.local_addr().expect("address"));
        let (shared, base) = (Arc::clone(&state), issuer.clone());
        let server = actix_web::HttpServer::new(move || {
            let (state, issuer) = (Arc::clone(&shared), base.clone());
            actix_web::App::new().default_service(web::to(move |request: HttpRequest, body: web::Bytes| {
                let (state, issuer) = (Arc::clone(&state), issuer.clone());
                async move { serve(&state, &issuer, &request, &body) }
            }))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { issuer, state, handle }
    }

    /// The discovery document's URL (`OIDC_OP_DISCOVERY_DOCUMENT_URL`).
    #[must_use]
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// The state, to read or change.
    ///
    /// # Panics
    /// When a handler panicked while holding it.
    pub fn state(&self) -> MutexGuard<'_, OidcState> {
        self.state.lock().expect("the fake provider's state")
    }

    /// Stops it.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}
