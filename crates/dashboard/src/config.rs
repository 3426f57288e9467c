//! The dashboard's configuration section.

use std::time::Duration;

use platform::ConfigReader;

/// Sessions and sign-in limits.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// How long a session lasts after sign-in (`SESSION_COOKIE_AGE`, seconds; the original's Django
    /// setting; two weeks by default).
    pub session_lifetime: Duration,
    /// Mark the cookie `Secure` even when `BASE_URL` is http (TLS ended by a trusted proxy in front
    /// of a plain-http `BASE_URL`): `FF_SECURE_COOKIES`.
    pub secure_cookies: bool,
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
            session_lifetime: Duration::from_secs(14 * 24 * 3600),
            secure_cookies: false,
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
        let per_account = env.parse("FF_SIGNIN_MAX_FAILURES", 5, bounded(1, 1000));
        let per_address = env.parse("FF_SIGNIN_MAX_FAILURES_PER_ADDRESS", 20, bounded(1, 100_000));
        let lockout = env.parse("FF_SIGNIN_LOCKOUT_SECONDS", 900, bounded(1, 86_400));
        Self {
            session_lifetime: Duration::from_secs(lifetime),
            secure_cookies,
            max_failures_per_account: i64::try_from(per_account).unwrap_or(i64::MAX),
            max_failures_per_address: i64::try_from(per_address).unwrap_or(i64::MAX),
            lockout: Duration::from_secs(lockout),
        }
    }
}
