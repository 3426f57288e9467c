//! Endpoint secrets at rest: deliveries must be signed with the secret itself, so it cannot be
//! stored as a hash; it is stored encrypted instead (ChaCha20-Poly1305, a random nonce per secret)
//! under a key derived from the deployment's `SECRET_KEY`. A copy of the database alone does not
//! reveal secrets stored this way.
//!
//! Stored form: `enc1:<nonce hex>:<ciphertext hex>`. A value without the prefix was stored before
//! secrets were encrypted and is read as it is (in clear: register such endpoints again).

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "enc1:";
/// Separates this key from anything else derived from `SECRET_KEY`.
const KEY_PURPOSE: &[u8] = b"firefighter/webhook-endpoint-secrets/v1";

/// Why a stored secret cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the stored secret is malformed")]
    Malformed,
    /// Another key sealed it: `SECRET_KEY` changed since the endpoint was registered.
    #[error(
        "the stored secret does not open with this SECRET_KEY (was it changed? register the endpoint again)"
    )]
    WrongKey,
}

/// Seals and opens endpoint secrets.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// The box keyed by the deployment's secret key.
    #[must_use]
    pub fn new(secret_key: &str) -> Self {
        // HMAC-SHA256 as a PRF: a 256-bit key bound to its purpose.
        let derived = <Hmac<Sha256> as Mac>::new_from_slice(secret_key.as_bytes())
            .map(|mut mac| {
                mac.update(KEY_PURPOSE);
                mac.finalize().into_bytes()
            })
            .unwrap_or_default();
        Self { cipher: ChaCha20Poly1305::new(Key::from_slice(&derived)) }
    }

    /// The stored form of `secret`.
    #[must_use]
    pub fn seal(&self, secret: &str) -> String {
        let nonce_bytes: [u8; 12] = rand::random();
        let nonce = Nonce::from_slice(&nonce_bytes);
        // Encryption cannot fail for inputs of this size.
        let sealed = self.cipher.encrypt(nonce, secret.as_bytes()).unwrap_or_default();
        format!("{PREFIX}{}:{}", hex::encode(nonce_bytes), hex::encode(sealed))
    }

    /// The secret from its stored form.
    ///
    /// # Errors
    /// The stored form is malformed, or another key sealed it.
    pub fn open(&self, stored: &str) -> Result<String, SecretError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (nonce, sealed) = rest.split_once(':').ok_or(SecretError::Malformed)?;
        let nonce = hex::decode(nonce).map_err(|_| SecretError::Malformed)?;
        let sealed = hex::decode(sealed).map_err(|_| SecretError::Malformed)?;
        if nonce.len() != 12 {
            return Err(SecretError::Malformed);
        }
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(&nonce), sealed.as_slice())
            .map_err(|_| SecretError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| SecretError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_do_not_show_in_their_stored_form() {
        let secrets = SecretBox::new("a-deployment-secret-key-of-some-length");
        let sealed = secrets.seal("shared-with-the-receiver");
        assert!(sealed.starts_with("enc1:"));
        assert!(!sealed.contains("shared-with-the-receiver"));
        assert_ne!(sealed, secrets.seal("shared-with-the-receiver"), "a fresh nonce each time");
        assert_eq!(secrets.open(&sealed), Ok("shared-with-the-receiver".to_owned()));
        assert!(sealed.len() <= 5 + 24 + 1 + 2 * (200 * 4 + 16), "fits the column for any allowed secret");
    }

    #[test]
    fn another_key_or_a_damaged_value_does_not_open() {
        let sealed = SecretBox::new("key-one-key-one-key-one-key-one").seal("shared-with-the-receiver");
        let other = SecretBox::new("key-two-key-two-key-two-key-two");
        assert_eq!(other.open(&sealed), Err(SecretError::WrongKey));
        // Flip the last hex digit (always to a different one).
        let mut damaged = sealed.clone();
        let last = damaged.pop();
        damaged.push(if last == Some('0') { '1' } else { '0' });
        let secrets = SecretBox::new("key-one-key-one-key-one-key-one");
        assert!(secrets.open(&damaged).is_err());
        assert_eq!(secrets.open("enc1:zz"), Err(SecretError::Malformed));
    }

    #[test]
    fn values_stored_before_encryption_read_as_they_are() {
        let secrets = SecretBox::new("key-one-key-one-key-one-key-one");
        assert_eq!(secrets.open("a-plain-old-secret-value"), Ok("a-plain-old-secret-value".to_owned()));
    }
}
