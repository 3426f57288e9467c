//! The dashboard's configuration section.

use std::time::Duration;

use platform::ConfigReader;

/// Single sign-on (OpenID Connect), with the original's variable names.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// `OIDC_OP_DISCOVERY_DOCUMENT_URL`.
    pub discovery_url: url::Url,
    /// `OIDC_RP_CLIENT_ID`.
    pub client_id: String,
    /// `OIDC_RP_CLIENT_SECRET`.
    pub client_secret: platform::Secret,
    /// `OIDC_RP_SCOPES` (`openid email profile`).
    pub scopes: String,
    /// `OIDC_TIMEOUT`, seconds (15).
    pub timeout: Duration,
}

/// Sessions, sign-in limits and single sign-on.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// Single sign-on, when `OIDC_OP_DISCOVERY_DOCUMENT_URL` is set.
    pub oidc: Option<OidcConfig>,
    /// How long a session lasts after sign-in (`SESSION_COOKIE_AGE`, seconds; the original's Django
    /// setting; two weeks by default).
    pub session_lifetime: Duration,
    /// Mark the cookie `Secure` even when `BASE_URL` is http (TLS ended by a trusted proxy in front
    /// of a plain-http `BASE_URL`): `FF_SECURE_COOKIES`.
    pub secure_cookies: bool,
    /// Reverse proxies believed about the client's address and scheme (`FF_TRUSTED_PROXIES`: IP
    /// addresses or networks, comma-separated; none by default).
    pub trusted_proxies: Vec<crate::proxy::Network>,
    /// Failed sign-ins for one account within the window before further attempts are refused
    /// (`FF_SIGNIN_MAX_FAILURES`, 5).
    pub max_failures_per_account: i64,
    /// The same for one client address (`FF_SIGNIN_MAX_FAILURES_PER_ADDRESS`, 20).
    pub max_failures_per_address: i64,
    /// The window, and how long refusals last (`FF_SIGNIN_LOCKOUT_SECONDS`, 900).
    pub lockout: Duration,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            oidc: None,
            session_lifetime: Duration::from_secs(14 * 24 * 3600),
            secure_cookies: false,
            trusted_proxies: Vec::new(),
            max_failures_per_account: 5,
            max_failures_per_address: 20,
            lockout: Duration::from_secs(900),
        }
    }
}

fn bounded(min: u64, max: u64) -> impl FnOnce(&str) -> Result<u64, String> {
    move |raw| match raw.parse::<u64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

impl DashboardConfig {
    /// Reads the section; problems are reported with every other section's.
    pub fn read(env: &mut ConfigReader<'_>) -> Self {
        let default = Self::default();
        let lifetime =
            env.parse("SESSION_COOKIE_AGE", default.session_lifetime.as_secs(), bounded(60, 365 * 24 * 3600));
        let secure_cookies = env.parse("FF_SECURE_COOKIES", false, platform::config::parse_bool);
        let trusted_proxies = env.parse("FF_TRUSTED_PROXIES", Vec::new(), |raw: &str| {
            raw.split(',')
                .filter(|part| !part.trim().is_empty())
                .map(crate::proxy::Network::parse)
                .collect::<Result<Vec<_>, _>>()
        });
        let per_account = env.parse("FF_SIGNIN_MAX_FAILURES", 5, bounded(1, 1000));
        let per_address = env.parse("FF_SIGNIN_MAX_FAILURES_PER_ADDRESS", 20, bounded(1, 100_000));
        let lockout = env.parse("FF_SIGNIN_LOCKOUT_SECONDS", 900, bounded(1, 86_400));
        Self {
            oidc: read_oidc(env),
            session_lifetime: Duration::from_secs(lifetime),
            secure_cookies,
            trusted_proxies,
            max_failures_per_account: i64::try_from(per_account).unwrap_or(i64::MAX),
            max_failures_per_address: i64::try_from(per_address).unwrap_or(i64::MAX),
            lockout: Duration::from_secs(lockout),
        }
    }
}

fn read_oidc(env: &mut ConfigReader<'_>) -> Option<OidcConfig> {
    let discovery = env.get("OIDC_OP_DISCOVERY_DOCUMENT_URL").map(str::to_owned);
    let client_id = env.get("OIDC_RP_CLIENT_ID").map(str::to_owned);
    let secret = env.get("OIDC_RP_CLIENT_SECRET").map(str::to_owned);
    let timeout = env.parse("OIDC_TIMEOUT", 15, bounded(1, 300));
    // PKCE is always used; the original's switch is accepted and ignored.
    env.parse("OIDC_RP_USE_PKCE", true, platform::config::parse_bool);
    let scopes = env.get("OIDC_RP_SCOPES").unwrap_or("openid email profile").to_owned();
    if discovery.is_none() && client_id.is_none() && secret.is_none() {
        return None;
    }
    let mut missing = false;
    for (name, value) in [
        ("OIDC_OP_DISCOVERY_DOCUMENT_URL", &discovery),
        ("OIDC_RP_CLIENT_ID", &client_id),
        ("OIDC_RP_CLIENT_SECRET", &secret),
    ] {
        if value.is_none() {
            env.problem(name, "single sign-on needs OIDC_OP_DISCOVERY_DOCUMENT_URL, OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET together");
            missing = true;
        }
    }
    let discovery_url = match discovery.as_deref().map(url::Url::parse) {
        Some(Ok(url)) if matches!(url.scheme(), "https" | "http") => Some(url),
        Some(_) => {
            env.problem("OIDC_OP_DISCOVERY_DOCUMENT_URL", "not an http(s) URL");
            None
        }
        None => None,
    };
    if !scopes.split_whitespace().any(|scope| scope == "openid") {
        env.problem("OIDC_RP_SCOPES", "must include openid");
    }
    if missing {
        return None;
    }
    Some(OidcConfig {
        discovery_url: discovery_url?,
        client_id: client_id?,
        client_secret: platform::Secret::new(secret?),
        scopes,
        timeout: Duration::from_secs(timeout),
    })
}
