//! HTTP routes. Handlers read the database and enqueue work; they never call GitHub.
pub mod api;
pub mod auth;
pub mod client;
mod csrf;
pub mod error;
mod event_stream;
mod health;
pub mod limits;
pub mod metrics;
pub(crate) mod pages;
mod request_span;
pub mod security_headers;
pub mod server;
pub mod setup;
pub mod signin;
pub mod sse;
mod stream_access;
pub mod throttle;
pub mod visibility;
mod webhooks;

use std::sync::Arc;

use actix_web::{error::InternalError, web, HttpRequest, HttpResponse, ResponseError};
use sea_orm::DatabaseConnection;

pub use error::ApiError;
use error::ErrorBody;

use crate::{config::Config, github::GithubSlot};

/// Shared by every handler.
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    /// Live progress events for SSE subscribers.
    pub hub: crate::progress::Hub,
    /// Wakes sync workers and the hub after a handler queued runs or wrote events.
    pub nudge: crate::sync::Nudge,
    /// Outgoing webhooks: woken when a handler makes a delivery due.
    pub outbox: crate::outbox::Outbox,
    /// Cancelled on shutdown, so long-lived responses (event streams) end.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// The GitHub App client and webhook secrets in use. Handlers never call GitHub with it
    /// (they enqueue work); only the setup flow fills it in.
    pub github: GithubSlot,
    /// Where users and GitHub reach this instance.
    pub public_url: url::Url,
    pub setup_states: setup::SetupStates,
    /// Asks the self-healing task to look at an installation now (the app's setup URL).
    pub install_requests: crate::healing::InstallRequests,
    /// Stores webhook deliveries, many per commit, and wakes the processor.
    pub inbox: crate::webhook::inbox::Inbox,
    /// What /metrics reports; counted where each thing happens.
    pub metrics: crate::metrics::Metrics,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config())
        .app_data(query_config())
        .app_data(path_config())
        .app_data(pages::form_config())
        .service(health::healthz)
        .service(health::readyz)
        .service(metrics::main_listener)
        .service(sse::project_events)
        .configure(pages::routes)
        .configure(api::routes)
        .configure(setup::routes)
        .service(webhooks::receive)
        .default_service(web::to(not_found));
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    if let Some(page) = pages::not_found(&req) {
        return page;
    }
    HttpResponse::NotFound().json(ErrorBody::new(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}

/// Extractor failures keep their status (400, 413, 415...) and get the same JSON shape as every
/// other error.
fn json_error<E: ResponseError + 'static>(err: E) -> actix_web::Error {
    let body = ErrorBody::new(err.to_string());
    let status = err.status_code();
    InternalError::from_response(err, HttpResponse::build(status).json(body)).into()
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().error_handler(|e, _| json_error(e))
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|e, _| json_error(e))
}

fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|e, _| json_error(e))
}
