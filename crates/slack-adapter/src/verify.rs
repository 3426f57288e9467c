//! Verifying that a request comes from Slack: `X-Slack-Signature` is `v0=` and the hex HMAC-SHA256,
//! keyed with the signing secret, of `v0:<X-Slack-Request-Timestamp>:<raw body>`. It is checked on
//! the raw bytes, before anything is parsed, in constant time; a timestamp more than five minutes
//! from now (either way) is refused, so a captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from now.
pub const MAX_SKEW_SECONDS: i64 = 5 * 60;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Slack-Request-Timestamp or X-Slack-Signature")]
    Missing,
    #[error("X-Slack-Request-Timestamp is not a number")]
    BadTimestamp,
    #[error("X-Slack-Request-Timestamp is more than five minutes from now")]
    Stale,
    #[error("X-Slack-Signature does not match")]
    Mismatch,
}

/// Checks a request's signature headers against its raw body, at `now` (Unix seconds).
///
/// # Errors
/// See [`SignatureError`].
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let sent: i64 = timestamp.trim().parse().map_err(|_| SignatureError::BadTimestamp)?;
    if (now - sent).abs() > MAX_SKEW_SECONDS {
        return Err(SignatureError::Stale);
    }
    let expected = signature.strip_prefix("v0=").and_then(|hex| hex::decode(hex).ok());
    let Some(expected) = expected else { return Err(SignatureError::Mismatch) };
    let mut mac = mac(secret);
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

/// The `X-Slack-Signature` Slack would send for `body` at `timestamp` (for tests and tools that
/// play Slack).
#[must_use]
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(secret: &str) -> Hmac<Sha256> {
    // HMAC accepts a key of any length.
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

    #[test]
    fn slacks_documented_example_verifies() {
        // The example of Slack's "Verifying requests from Slack" page.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(sign(SECRET, "1531420618", body), signature);
        assert_eq!(verify(SECRET, Some("1531420618"), Some(signature), body, 1_531_420_618 + 299), Ok(()));
    }

    #[test]
    fn wrong_missing_stale_and_future_requests_are_refused() {
        let body = b"{\"type\":\"url_verification\"}";
        let good = sign(SECRET, "1000000", body);
        let at = 1_000_000;
        assert_eq!(verify(SECRET, Some("1000000"), Some(&good), body, at), Ok(()));
        assert_eq!(verify("other", Some("1000000"), Some(&good), body, at), Err(SignatureError::Mismatch));
        assert_eq!(verify(SECRET, Some("1000000"), Some(&good), b"{}", at), Err(SignatureError::Mismatch));
        assert_eq!(verify(SECRET, None, Some(&good), body, at), Err(SignatureError::Missing));
        assert_eq!(verify(SECRET, Some("1000000"), None, body, at), Err(SignatureError::Missing));
        assert_eq!(verify(SECRET, Some("soon"), Some(&good), body, at), Err(SignatureError::BadTimestamp));
        assert_eq!(verify(SECRET, Some("1000000"), Some("v0=zz"), body, at), Err(SignatureError::Mismatch));
        assert_eq!(verify(SECRET, Some("1000000"), Some(&good), body, at + 301), Err(SignatureError::Stale));
        assert_eq!(verify(SECRET, Some("1000000"), Some(&good), body, at - 301), Err(SignatureError::Stale));
    }
}
