//! Liveness and readiness probes for load balancers and orchestrators.
use actix_web::{get, web, HttpResponse};
use serde::Serialize;

use super::{error::ApiError, AppState};

/// A probe's answer.
#[derive(Serialize)]
struct Health {
    status: &'static str,
    /// The engine, once the database answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'static str>,
}

/// The process is up and serving HTTP.
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        database: None,
    })
}

/// The service can do its work: the database answers.
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .db
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(format!("database unreachable: {e}")))?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ready",
        database: Some(state.config.database_url.engine()),
    }))
}
