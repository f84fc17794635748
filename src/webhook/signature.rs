//! `X-Hub-Signature-256`: `sha256=` + hex HMAC-SHA256 of the exact body bytes, checked in constant
//! time against every configured secret (rotation keeps the old one valid for a while).
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::WebhookSecret;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    #[error("X-Hub-Signature-256 must start with sha256=")]
    WrongPrefix,
    #[error("X-Hub-Signature-256 is not sha256= followed by 64 hex digits")]
    Malformed,
    #[error("X-Hub-Signature-256 does not match the body")]
    Mismatch,
}

/// The header value GitHub would send for `body` signed with `secret`.
pub fn sign(secret: &WebhookSecret, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks the header against the body. Every secret is tried, whatever the outcome, so the time
/// taken does not tell which secret matched.
pub fn verify(
    header: Option<&[u8]>,
    body: &[u8],
    secrets: &[WebhookSecret],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let digits = header
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::WrongPrefix)?;
    let mut claimed = [0u8; 32];
    hex::decode_to_slice(digits, &mut claimed).map_err(|_| SignatureError::Malformed)?;
    let mut matched = false;
    for secret in secrets {
        let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(body);
        // verify_slice compares in constant time.
        matched |= mac.verify_slice(&claimed).is_ok();
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn secrets(s: &[&str]) -> Vec<WebhookSecret> {
        s.iter()
            .map(|s| WebhookSecret::parse(*s).unwrap())
            .collect()
    }

    #[test]
    fn githubs_documented_test_vector() {
        let s = secrets(&["It's a Secret to Everybody"]);
        assert_eq!(sign(&s[0], b"Hello, World!"), VECTOR);
        assert_eq!(
            verify(Some(VECTOR.as_bytes()), b"Hello, World!", &s),
            Ok(())
        );
    }

    #[test]
    fn any_configured_secret_is_accepted() {
        let s = secrets(&["the-previous-webhook-secret", "It's a Secret to Everybody"]);
        assert_eq!(
            verify(Some(VECTOR.as_bytes()), b"Hello, World!", &s),
            Ok(())
        );
    }

    #[test]
    fn each_failure_is_named() {
        let s = secrets(&["It's a Secret to Everybody"]);
        let body = b"Hello, World!";
        assert_eq!(verify(None, body, &s), Err(SignatureError::Missing));
        let sha1 = VECTOR.replace("sha256=", "sha1=");
        assert_eq!(
            verify(Some(sha1.as_bytes()), body, &s),
            Err(SignatureError::WrongPrefix)
        );
        assert_eq!(
            verify(Some(b"sha256=zz"), body, &s),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some(VECTOR.as_bytes()), b"Hello, World?", &s),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                Some(VECTOR.as_bytes()),
                body,
                &secrets(&["another-webhook-secret-entirely"])
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(VECTOR.as_bytes()), body, &[]),
            Err(SignatureError::Mismatch)
        );
    }
}
