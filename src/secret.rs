//! Wrappers for secrets (private key, webhook secrets, tokens) that never print their value, and
//! the minimum strength hubsync accepts for the ones an operator chooses.
use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// `secrecy` zeroes the value when the last copy is dropped, so a freed key or token does not
/// linger in memory that a core dump or a later allocation could show.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The only way to read the value: call sites that need it are easy to audit.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A secret shorter than hubsync accepts. Says how long it is, never what it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is {len} {unit} long; at least {min} are needed (e.g. `openssl rand -hex 32`)")]
pub struct WeakSecret {
    pub what: &'static str,
    pub len: usize,
    pub unit: &'static str,
    pub min: usize,
}

/// A webhook secret long enough that its signatures cannot be guessed. An empty one would make
/// every signature forgeable (HMAC takes an empty key), so none can be built.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WebhookSecret(Secret);

impl WebhookSecret {
    pub(crate) const MIN_BYTES: usize = 20;

    pub fn parse(raw: impl Into<String>) -> Result<Self, WeakSecret> {
        let raw = raw.into();
        at_least(&raw, "the webhook secret", Self::MIN_BYTES)?;
        Ok(Self(Secret::new(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// The admin token: whoever holds it controls what hubsync syncs.
pub(crate) const ADMIN_TOKEN_MIN_CHARS: usize = 32;

pub(crate) fn admin_token(raw: impl Into<String>) -> Result<Secret, WeakSecret> {
    let raw = raw.into();
    let len = raw.chars().count();
    if len < ADMIN_TOKEN_MIN_CHARS {
        return Err(WeakSecret {
            what: "the admin token",
            len,
            unit: "characters",
            min: ADMIN_TOKEN_MIN_CHARS,
        });
    }
    Ok(Secret::new(raw))
}

fn at_least(raw: &str, what: &'static str, min: usize) -> Result<(), WeakSecret> {
    if raw.len() < min {
        return Err(WeakSecret {
            what,
            len: raw.len(),
            unit: "bytes",
            min,
        });
    }
    Ok(())
}

/// An outgoing webhook's signing secret, `whsec_` + base64 of its key (Standard Webhooks). Stored
/// as it is (every attempt is signed with it), shown to the API once, never printed.
#[derive(Clone, PartialEq, Eq, sea_orm::DeriveValueType)]
pub struct SigningSecret(String);

impl SigningSecret {
    pub(crate) const PREFIX: &'static str = "whsec_";
    /// Key bytes: the spec asks for 24 to 64.
    const KEY_BYTES: usize = 32;

    /// A new random secret.
    pub fn generate() -> Result<Self, getrandom::Error> {
        use base64::Engine;
        let mut key = [0u8; Self::KEY_BYTES];
        getrandom::fill(&mut key)?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(key);
        Ok(Self(format!("{}{encoded}", Self::PREFIX)))
    }

    /// Reads one back (`whsec_` + base64 of 24 to 64 bytes).
    pub fn parse(raw: &str) -> Option<Self> {
        let s = Self(raw.to_owned());
        let n = s.key()?.len();
        (24..=64).contains(&n).then_some(s)
    }

    /// The HMAC key: the base64-decoded part after `whsec_`.
    pub fn key(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        let b64 = self.0.strip_prefix(Self::PREFIX)?;
        base64::engine::general_purpose::STANDARD.decode(b64).ok()
    }

    /// For the one answer that shows it (the subscription's creation).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

/// Compares digests, so timing reveals neither a secret nor its length.
pub fn same(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
        let w = WebhookSecret::parse("a-webhook-secret-of-28-bytes").unwrap();
        assert!(!format!("{w:?}").contains("28-bytes"));
        let signing = SigningSecret::generate().unwrap();
        let b64 = signing.expose().strip_prefix("whsec_").unwrap().to_owned();
        assert!(!format!("{signing:?}").contains(&b64));
        assert_eq!(signing.key().unwrap().len(), 32);
        assert_eq!(SigningSecret::parse(signing.expose()), Some(signing));
        assert_eq!(
            SigningSecret::parse("whsec_c2hvcnQ="),
            None,
            "too short a key"
        );
    }

    #[test]
    fn short_secrets_are_refused_without_echoing_them() {
        for raw in ["", "hunter2", "nineteen-bytes-long"] {
            let e = WebhookSecret::parse(raw).unwrap_err();
            assert_eq!((e.len, e.min), (raw.len(), 20));
            assert!(raw.is_empty() || !e.to_string().contains(raw), "{e}");
        }
        assert!(WebhookSecret::parse("twenty-bytes-exactly").is_ok());
        assert!(admin_token("x".repeat(31)).is_err());
        assert!(admin_token("x".repeat(32)).is_ok());
    }
}
