//! The app's own identity: a short-lived JWT signed RS256 with the app's private key.
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::GithubError;
use crate::secret::Secret;

pub(crate) struct AppJwt {
    app_id: u64,
    key: EncodingKey,
}

#[derive(Serialize)]
struct Claims {
    iat: u64,
    exp: u64,
    iss: String,
}

impl AppJwt {
    pub fn new(app_id: u64, private_key: &Secret) -> Result<Self, GithubError> {
        let key = EncodingKey::from_rsa_pem(private_key.expose().as_bytes())
            .map_err(|_| GithubError::Jwt("the private key is not an RSA key in PEM".into()))?;
        Ok(Self { app_id, key })
    }

    pub fn app_id(&self) -> u64 {
        self.app_id
    }

    /// A fresh JWT: `iat` 60 s in the past against clock drift, `exp` 9 minutes ahead (GitHub
    /// refuses more than 10).
    pub fn sign(&self) -> Result<Secret, GithubError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| GithubError::Jwt("the system clock is before 1970".into()))?
            .as_secs();
        let claims = Claims {
            iat: now - 60,
            exp: now + 9 * 60,
            iss: self.app_id.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map(Secret::new)
            .map_err(|e| GithubError::Jwt(e.to_string()))
    }
}
