//! GitHub's authentication, as the fake enforces it: app JWTs (RS256, signed with the test app's
//! key, `iss` the app id, `exp` at most 10 minutes ahead) and installation tokens it issued.
use std::time::{Duration, SystemTime};

use actix_web::{http::StatusCode, HttpRequest, HttpResponse};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::server::{epoch_now, github_error, State};

#[derive(Deserialize)]
struct Claims {
    iat: u64,
    exp: u64,
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("token "))
        .map(str::trim)
}

fn unauthorized(message: &str) -> HttpResponse {
    github_error(StatusCode::UNAUTHORIZED, message)
}

/// The request carries a valid JWT for the test app.
pub(crate) fn require_app(state: &State, req: &HttpRequest) -> Result<(), HttpResponse> {
    let token = bearer(req).ok_or_else(|| unauthorized("A JSON web token could not be decoded"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[state.app_id.to_string()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Claims>(token, &state.decoding_key, &validation)
        .map_err(|_| unauthorized("A JSON web token could not be decoded"))?
        .claims;
    let now = epoch_now();
    if claims.exp > now + 600 {
        return Err(unauthorized(
            "'Expiration time' claim ('exp') is too far in the future",
        ));
    }
    if claims.iat > now + 60 {
        return Err(unauthorized("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"));
    }
    Ok(())
}

/// The installation a valid, unexpired installation token belongs to.
pub(crate) fn require_installation(state: &State, req: &HttpRequest) -> Result<i64, HttpResponse> {
    let token = bearer(req).ok_or_else(|| unauthorized("Requires authentication"))?;
    let inner = state.inner();
    match inner.tokens.get(token) {
        Some(issued) if issued.expires_at > SystemTime::now() => Ok(issued.installation),
        _ => Err(unauthorized("Bad credentials")),
    }
}

/// A new opaque token (`ghs_` and random characters, like GitHub's).
pub(crate) fn mint(prefix: &str) -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("randomness");
    format!("{prefix}{}", hex::encode(bytes))
}

pub(crate) fn issue_installation_token(state: &State, installation: i64) -> (String, SystemTime) {
    let lifetime: Duration = *state.token_lifetime.lock().unwrap();
    let token = mint("ghs_");
    let expires_at = SystemTime::now() + lifetime;
    state.inner().tokens.insert(
        token.clone(),
        super::server::Issued {
            installation,
            expires_at,
        },
    );
    (token, expires_at)
}
