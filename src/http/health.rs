//! Liveness and readiness probes for load balancers and orchestrators.
use actix_web::{get, web, HttpResponse};
use serde_json::json;

use super::{error::ApiError, AppState};

/// The process is up and serving HTTP.
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The service can do its work: the database answers.
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .db
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(format!("database unreachable: {e}")))?;
    Ok(HttpResponse::Ok()
        .json(json!({ "status": "ready", "database": state.config.database_url.engine() })))
}
