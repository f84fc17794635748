//! Sign in with GitHub, as the fake answers it: the web application flow
//! (`GET /login/oauth/authorize`, which approves at once as the configured user and redirects back
//! with `code` and `state`; `POST /login/oauth/access_token` for the code grant with PKCE S256 and
//! the `refresh_token` grant, answering OAuth errors with 200 and `error` as GitHub does); the
//! endpoints called with the user's token are in user_api.rs.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{auth::mint, routes::Data, user_api};

pub const CLIENT_ID: &str = "Iv1.fakeclientid";
pub const CLIENT_SECRET: &str = "fake-client-secret-0123456789abcdef";

pub(crate) struct FakeUser {
    pub id: i64,
    pub login: String,
    /// Installation id -> the repositories the user reaches through it.
    pub access: BTreeMap<i64, BTreeSet<i64>>,
}

struct Grant {
    login: String,
    challenge: Option<String>,
    redirect_uri: String,
}

#[derive(Default)]
pub(crate) struct OAuth {
    pub users: BTreeMap<String, FakeUser>,
    pub approve_as: Option<String>,
    codes: HashMap<String, Grant>,
    /// Live user tokens -> login.
    pub tokens: HashMap<String, String>,
    /// Live refresh tokens -> login.
    refresh: HashMap<String, String>,
    /// (org, login) -> role (`admin` or `member`).
    pub memberships: HashMap<(String, String), String>,
    /// Tokens expire (GitHub's default for apps: 8 hours, with a refresh token) unless None.
    pub expires_in: Option<i64>,
    pub refreshes: u64,
}

impl OAuth {
    pub fn new() -> Self {
        Self {
            expires_in: Some(28_800),
            ..Default::default()
        }
    }

    /// Every access token stops working; refresh tokens still do.
    pub fn expire_tokens(&mut self) {
        self.tokens.clear();
    }

    /// The user revoked the app's authorisation: every token of theirs stops working.
    pub fn revoke(&mut self, login: &str) {
        self.tokens.retain(|_, l| l != login);
        self.refresh.retain(|_, l| l != login);
    }
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/oauth/authorize", web::get().to(authorize))
        .route("/login/oauth/access_token", web::post().to(access_token))
        .route("/user", web::get().to(user_api::user))
        .route(
            "/user/installations",
            web::get().to(user_api::installations),
        )
        .route(
            "/user/installations/{installation_id}/repositories",
            web::get().to(user_api::installation_repos),
        )
        .route(
            "/orgs/{org}/memberships/{username}",
            web::get().to(user_api::membership),
        );
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn authorize(state: Data, q: web::Query<AuthorizeQuery>) -> HttpResponse {
    if q.client_id != CLIENT_ID {
        return HttpResponse::NotFound().body("Not Found");
    }
    if q.code_challenge.is_some() && q.code_challenge_method.as_deref() != Some("S256") {
        return HttpResponse::BadRequest().body("code_challenge_method must be S256");
    }
    let Some(redirect_uri) = q.redirect_uri.clone() else {
        return HttpResponse::BadRequest().body("redirect_uri is required");
    };
    let mut oauth = state.oauth.lock().unwrap();
    let Some(login) = oauth.approve_as.clone() else {
        // Nobody to approve as: the page GitHub would show.
        return HttpResponse::Ok()
            .content_type("text/html")
            .body("<h1>Sign in to GitHub</h1>");
    };
    let code = mint("");
    oauth.codes.insert(
        code.clone(),
        Grant {
            login,
            challenge: q.code_challenge.clone(),
            redirect_uri: redirect_uri.clone(),
        },
    );
    let mut url = url::Url::parse(&redirect_uri).expect("a redirect URL");
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(s) = &q.state {
        url.query_pairs_mut().append_pair("state", s);
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.to_string()))
        .finish()
}

#[derive(Deserialize, Default)]
struct TokenParams {
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    grant_type: Option<String>,
    refresh_token: Option<String>,
}

/// GitHub's OAuth error: 200 with `error`, `error_description` and `error_uri`.
fn oauth_error(error: &str, description: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "error": error,
        "error_description": description,
        "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors",
    }))
}

fn issue(oauth: &mut OAuth, login: &str) -> Value {
    let token = mint("ghu_");
    oauth.tokens.insert(token.clone(), login.to_owned());
    match oauth.expires_in {
        None => json!({ "access_token": token, "scope": "", "token_type": "bearer" }),
        Some(expires_in) => {
            let refresh = mint("ghr_");
            oauth.refresh.insert(refresh.clone(), login.to_owned());
            json!({
                "access_token": token, "expires_in": expires_in,
                "refresh_token": refresh, "refresh_token_expires_in": 15_897_600,
                "scope": "", "token_type": "bearer",
            })
        }
    }
}

async fn access_token(state: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    // Parameters come as a form or as JSON, like GitHub accepts them.
    let json_body = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let p: TokenParams = if json_body {
        serde_json::from_slice(&body).unwrap_or_default()
    } else {
        let pairs: serde_json::Map<String, Value> = url::form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        serde_json::from_value(Value::Object(pairs)).unwrap_or_default()
    };
    if p.client_id.as_deref() != Some(CLIENT_ID)
        || p.client_secret.as_deref() != Some(CLIENT_SECRET)
    {
        return oauth_error(
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
        );
    }
    let mut oauth = state.oauth.lock().unwrap();
    if p.grant_type.as_deref() == Some("refresh_token") {
        let Some(login) = p
            .refresh_token
            .as_deref()
            .and_then(|r| oauth.refresh.remove(r))
        else {
            return oauth_error(
                "bad_refresh_token",
                "The refresh token passed is incorrect or expired.",
            );
        };
        // The old pair stops working.
        oauth.tokens.retain(|_, l| *l != login);
        oauth.refreshes += 1;
        return HttpResponse::Ok().json(issue(&mut oauth, &login));
    }
    let Some(grant) = p.code.as_deref().and_then(|c| oauth.codes.remove(c)) else {
        return oauth_error(
            "bad_verification_code",
            "The code passed is incorrect or expired.",
        );
    };
    if p.redirect_uri.is_some_and(|r| r != grant.redirect_uri) {
        return oauth_error(
            "redirect_uri_mismatch",
            "The redirect_uri MUST match the registered callback URL for this application.",
        );
    }
    if let Some(challenge) = &grant.challenge {
        let verifier = p.code_verifier.unwrap_or_default();
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
            return oauth_error(
                "bad_verification_code",
                "The code passed is incorrect or expired.",
            );
        }
    }
    HttpResponse::Ok().json(issue(&mut oauth, &grant.login))
}
