//! Sealing secrets hubsync must keep in its database (users' GitHub tokens): ChaCha20-Poly1305
//! with a key derived from the app's OAuth client secret, so a copy of the database alone gives
//! nobody GitHub access. A new client secret makes old seals unreadable: their users sign in again.
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use sha2::{Digest, Sha256};

use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SealError {
    #[error("no randomness for sealing")]
    Random,
    #[error("a sealed value is unreadable (sealed with another key, or damaged)")]
    Open,
}

/// Seals and opens values with one key. Debug never shows it.
pub(crate) struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    /// A sealer whose key is derived from `secret` (and a label, so the key is used for nothing
    /// else).
    pub(crate) fn from_secret(label: &str, secret: &Secret) -> Self {
        let mut h = Sha256::new();
        h.update(b"hubsync seal\0");
        h.update(label.as_bytes());
        h.update(b"\0");
        h.update(secret.expose().as_bytes());
        let key = UnboundKey::new(&CHACHA20_POLY1305, &h.finalize()).expect("a 32-byte key");
        Self {
            key: LessSafeKey::new(key),
        }
    }

    /// Hex of a fresh nonce followed by the ciphertext and its tag.
    pub(crate) fn seal(&self, value: &Secret) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut buf = value.expose().as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .map_err(|_| SealError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(hex::encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<Secret, SealError> {
        let bytes = hex::decode(sealed).map_err(|_| SealError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut buf = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut buf)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain.to_vec())
            .map(Secret::new)
            .map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_the_same_key_only() {
        let a = Sealer::from_secret("user tokens", &Secret::new("client-secret-a"));
        let b = Sealer::from_secret("user tokens", &Secret::new("client-secret-b"));
        let sealed = a.seal(&Secret::new("ghu_token")).unwrap();
        assert!(!sealed.contains("ghu_token"));
        assert_ne!(
            sealed,
            a.seal(&Secret::new("ghu_token")).unwrap(),
            "fresh nonce"
        );
        assert_eq!(a.open(&sealed).unwrap().expose(), "ghu_token");
        assert!(b.open(&sealed).is_err());
        assert!(a.open("zz").is_err());
        assert!(a.open(&sealed[..sealed.len() - 2]).is_err());
    }
}
