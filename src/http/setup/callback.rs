//! `GET /setup/callback`: GitHub created the app; exchange the code for its credentials, store
//! them, put them to use at once, and send the user on to install the app.
use std::sync::Arc;

use actix_web::{get, http::header, web, HttpResponse};
use serde::Deserialize;

use super::closed;
use crate::{
    github::{
        credentials::StoredCredentials, oauth::OAuthClient, AppCredentials, GithubApp, GithubHttp,
        GithubOptions,
    },
    http::{error::ApiError, pages::PageError, AppState},
    secret::WebhookSecret,
};

#[derive(Deserialize)]
struct CallbackQuery {
    code: String,
    state: String,
}

#[get("/setup/callback")]
pub(super) async fn callback(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, PageError> {
    // A person's browser lands here from GitHub: errors are pages with a way back.
    callback_in(&state, &query)
        .await
        .map_err(|e| PageError::from(e).back("/setup", "Start again at /setup"))
}

async fn callback_in(state: &AppState, query: &CallbackQuery) -> Result<HttpResponse, ApiError> {
    if state.github.app().is_some() {
        return Err(closed());
    }
    if !state.setup_states.take(&query.state) {
        return Err(ApiError::BadRequest(
            "unknown or expired setup state: start again at /setup".into(),
        ));
    }
    let options = GithubOptions::from_config(&state.config.github, &state.metrics);
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
    state.github.set_app_page(created.html_url.clone());
    // Sign in with GitHub works at once, with the OAuth client the manifest conversion returned.
    if !created.client_id.is_empty() && !created.client_secret.expose().is_empty() {
        let oauth = OAuthClient::new(
            &GithubOptions::from_config(&state.config.github, &state.metrics),
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
