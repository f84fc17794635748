//! The app-manifest flow: create hubsync's GitHub App from hubsync itself.
//!
//! `GET /setup` renders a form that posts `app-manifest.json` (this instance's URL filled in) to
//! GitHub with an unguessable, single-use `state`; GitHub sends the user back to
//! `GET /setup/callback?code=&state=`, where the code is exchanged for the app's credentials,
//! which are written to the credentials file and put to use without a restart.
//! Once an app is configured both routes answer 404, so nobody can swap in their own app or learn
//! which app this is; before that, when `HUBSYNC_ADMIN_TOKEN` is set, only an admin may start
//! the flow (the callback is authorised by the single-use state the admin was given).
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::{get, http::header, web, HttpResponse};
use serde::Deserialize;

use super::{auth::Admin, error::ApiError, AppState};
use crate::{
    github::{
        credentials::StoredCredentials, oauth::OAuthClient, AppCredentials, GithubApp, GithubHttp,
        GithubOptions,
    },
    secret::WebhookSecret,
};

const MANIFEST: &str = include_str!("../../app-manifest.json");
const PLACEHOLDER: &str = "https://hubsync.example.com";
const STATE_TTL: Duration = Duration::from_secs(60 * 60);
/// Pending states at most: past it the oldest is dropped, so reloading /setup cannot grow memory.
pub const MAX_PENDING_STATES: usize = 32;

/// Setup states handed out and not yet used, with when they were issued. In memory: the flow is a
/// one-time admin action on one instance, and a restart only means starting it again.
#[derive(Clone)]
pub struct SetupStates {
    issued: Arc<Mutex<HashMap<String, Instant>>>,
    ttl: Duration,
    max: usize,
}

impl Default for SetupStates {
    fn default() -> Self {
        Self {
            issued: Default::default(),
            ttl: STATE_TTL,
            max: MAX_PENDING_STATES,
        }
    }
}

impl SetupStates {
    fn issue(&self) -> Result<String, ApiError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| ApiError::Internal(format!("no randomness for the setup state: {e}")))?;
        let state = hex::encode(bytes);
        let mut states = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        states.retain(|_, issued| issued.elapsed() < self.ttl);
        while states.len() >= self.max {
            let oldest = states
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(s, _)| s.clone());
            oldest.map(|s| states.remove(&s));
        }
        states.insert(state.clone(), Instant::now());
        Ok(state)
    }

    /// True once per issued, unexpired state.
    fn take(&self, state: &str) -> bool {
        let mut states = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        states
            .remove(state)
            .is_some_and(|issued| issued.elapsed() < self.ttl)
    }
}

/// Once an app is configured, /setup is gone.
fn closed() -> ApiError {
    ApiError::NotFound("no route for /setup: a GitHub App is configured".into())
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{t}</title></head>\n<body>\n<h1>{t}</h1>\n{body}\n</body></html>\n",
            t = escape(title)
        ))
}

#[derive(Deserialize)]
struct SetupQuery {
    org: Option<String>,
}

#[get("/setup")]
async fn setup(
    state: web::Data<AppState>,
    admin: Result<Admin, ApiError>,
    query: web::Query<SetupQuery>,
) -> Result<HttpResponse, ApiError> {
    if state.github.app().is_some() {
        return Err(closed());
    }
    // With an admin token set, only an admin may connect an app; without one, whoever reaches
    // hubsync first can (the README says to set up before exposing it).
    if state.config.admin_token.is_some() {
        match admin {
            Ok(_) => {}
            Err(ApiError::Unauthorized(_)) => {
                return Ok(HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/login"))
                    .finish())
            }
            Err(e) => return Err(e),
        }
    }
    let org = match query
        .org
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        Some(o) if o.len() <= 39 && o.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
            Some(o.to_owned())
        }
        Some(_) => return Err(ApiError::BadRequest("org is not a GitHub login".into())),
        None => None,
    };
    let public = state.public_url.as_str().trim_end_matches('/');
    let manifest = MANIFEST.replace(PLACEHOLDER, public);
    let setup_state = state.setup_states.issue()?;
    let web = state.config.github.web_url.as_str().trim_end_matches('/');
    let action = match &org {
        Some(org) => format!("{web}/organizations/{org}/settings/apps/new?state={setup_state}"),
        None => format!("{web}/settings/apps/new?state={setup_state}"),
    };
    let owner = org
        .as_deref()
        .map(|o| format!("the organisation <strong>{}</strong>", escape(o)))
        .unwrap_or_else(|| "your personal account".into());
    Ok(page(
        "Create hubsync's GitHub App",
        &format!(
            "<p>GitHub will create the app for {owner}, with read-only access to contents and \
             metadata, sending webhooks to <code>{public}/webhooks/github</code>.</p>\n\
             <form id=\"create-app\" method=\"post\" action=\"{action}\">\n\
             <input type=\"hidden\" name=\"manifest\" value=\"{manifest}\">\n\
             <button type=\"submit\">Create the GitHub App</button>\n</form>\n\
             <form method=\"get\" action=\"/setup\"><label>For an organisation instead: \
             <input name=\"org\" placeholder=\"organisation login\"></label> \
             <button type=\"submit\">Use it</button></form>\n\
             <p>After GitHub creates the app, hubsync stores its credentials and sends you on to \
             install it; no restart is needed.</p>",
            public = escape(public),
            action = escape(&action),
            manifest = escape(&manifest),
        ),
    ))
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: String,
    state: String,
}

#[get("/setup/callback")]
async fn callback(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    if state.github.app().is_some() {
        return Err(closed());
    }
    if !state.setup_states.take(&query.state) {
        return Err(ApiError::BadRequest(
            "unknown or expired setup state: start again at /setup".into(),
        ));
    }
    let options = GithubOptions::from_config(&state.config.github);
    let http = GithubHttp::new(&options).map_err(|e| ApiError::Internal(e.to_string()))?;
    let created = http
        .convert_manifest_code(&query.code)
        .await
        .map_err(|e| ApiError::Upstream(format!("GitHub did not create the app: {e}")))?;
    let install_url = url::Url::parse(&format!(
        "{}/installations/new",
        created.html_url.trim_end_matches('/')
    ))
    .ok()
    .filter(|u| matches!(u.scheme(), "http" | "https"))
    .ok_or_else(|| ApiError::Upstream("GitHub answered an invalid html_url".into()))?;
    // GitHub may answer without a secret (null): HMAC with an empty key makes every signature
    // forgeable, so nothing is stored and webhooks stay off.
    let webhook_secret = WebhookSecret::parse(created.webhook_secret.expose()).map_err(|e| {
        ApiError::Upstream(format!(
            "GitHub created the app {} without a usable webhook secret ({e}); nothing was \
             stored: set a secret in the app's settings on GitHub, then configure the app \
             through GITHUB_APP_ID, GITHUB_PRIVATE_KEY_PATH and GITHUB_WEBHOOK_SECRET",
            created.slug
        ))
    })?;
    let stored = StoredCredentials {
        app_id: created.id,
        private_key: created.pem.clone(),
        webhook_secret: webhook_secret.clone(),
        client_id: created.client_id.clone(),
        client_secret: created.client_secret.clone(),
        html_url: created.html_url.clone(),
    };
    // On disk first: if this fails the user retries, and nothing half-configured is left running.
    stored
        .save(&state.config.credentials_path)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let app = GithubApp::new(
        &AppCredentials {
            app_id: created.id,
            private_key: created.pem,
        },
        options,
    )
    .map_err(|e| ApiError::Upstream(format!("GitHub's app key is unusable: {e}")))?;
    state.github.set(Arc::new(app), vec![webhook_secret]);
    // Sign in with GitHub works at once, with the OAuth client the manifest conversion returned.
    if !created.client_id.is_empty() && !created.client_secret.expose().is_empty() {
        let oauth = OAuthClient::new(
            &GithubOptions::from_config(&state.config.github),
            state.config.github.web_url.clone(),
            created.client_id.clone(),
            created.client_secret.clone(),
        )
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        state.github.set_oauth(Some(oauth));
    }
    tracing::info!(app_id = created.id, slug = %created.slug, "GitHub App created and configured");
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, install_url.as_str()))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_single_use_and_unguessable() {
        let states = SetupStates::default();
        let a = states.issue().unwrap();
        let b = states.issue().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(states.take(&a));
        assert!(!states.take(&a));
        assert!(!states.take("guess"));
        let bounded = SetupStates {
            max: 3,
            ..Default::default()
        };
        let first = bounded.issue().unwrap();
        let rest: Vec<String> = (0..3).map(|_| bounded.issue().unwrap()).collect();
        assert!(!bounded.take(&first), "the oldest went when a fourth came");
        assert!(rest.iter().all(|s| bounded.take(s)));
        let expiring = SetupStates {
            ttl: Duration::ZERO,
            ..Default::default()
        };
        let s = expiring.issue().unwrap();
        assert!(!expiring.take(&s), "expired");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
