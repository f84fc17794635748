//! Standard Webhooks signatures: `v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`,
//! keyed by the base64-decoded part of the `whsec_` secret.
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::SigningSecret;

/// The `webhook-signature` header's value; None for a secret that is not `whsec_` + base64.
pub fn signature(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = secret.key()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    ))
}

/// The `webhook-id` of a delivery: the same on every attempt.
pub(crate) fn message_id(delivery_id: i64) -> String {
    format!("msg_{delivery_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_specs_test_vector() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        let other = signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body);
        assert_ne!(sig, other, "the timestamp is signed");
    }
}
