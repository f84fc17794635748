//! `POST /webhooks/github`: verify, store, acknowledge. Processing happens in the background.
use actix_web::{
    http::{header, StatusCode},
    post, web, HttpRequest, HttpResponse, ResponseError as _,
};
use futures_util::StreamExt;
use serde::Serialize;
use tracing::Instrument;

use super::{error::ApiError, AppState};
use crate::metrics::DeliveryOutcome;
use crate::webhook::{
    headers::DeliveryHeaders,
    inbox::InboxError,
    ingest::{ingest, IngestError, Ingested},
    signature,
};

#[post("/webhooks/github")]
async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let answer = accept(&req, payload, &state).await;
    let outcome = match &answer {
        Ok(res) if res.status() == StatusCode::OK => DeliveryOutcome::Duplicate,
        Ok(_) => DeliveryOutcome::Accepted,
        Err(ApiError::Unauthorized(_)) => DeliveryOutcome::Unauthorized,
        Err(ApiError::Unavailable(_)) => DeliveryOutcome::Unavailable,
        Err(e) if e.status_code().is_client_error() => DeliveryOutcome::Invalid,
        Err(_) => DeliveryOutcome::Error,
    };
    let event = req
        .headers()
        .get("x-github-event")
        .and_then(|v| v.to_str().ok());
    state.metrics.webhook_delivery(event, outcome);
    answer
}

async fn accept(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    // The live list: the setup flow can add a secret without a restart.
    let secrets = &state.github.webhook_secrets();
    if secrets.is_empty() {
        return Err(ApiError::Unavailable(
            "hubsync is not configured to receive webhooks: set GITHUB_WEBHOOK_SECRET".into(),
        ));
    }
    let body = read_body(req, payload, state.config.webhook.max_body_bytes).await?;
    // Nothing about the body is looked at before its signature is checked.
    signature::verify(
        req.headers()
            .get("X-Hub-Signature-256")
            .map(|v| v.as_bytes()),
        &body,
        secrets,
    )
    .map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    require_json(req)?;
    let headers =
        DeliveryHeaders::parse(req.headers()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let span =
        tracing::info_span!("webhook", delivery_id = %headers.delivery, event = %headers.event);
    let outcome = ingest(&state.inbox, &headers, body)
        .instrument(span.clone())
        .await
        .map_err(|e| match e {
            IngestError::Store(e @ InboxError::Closed) => ApiError::Unavailable(e.to_string()),
            IngestError::Store(e) => ApiError::Internal(e.to_string()),
            other => {
                span.in_scope(|| tracing::info!(reason = %other, "delivery refused"));
                ApiError::BadRequest(other.to_string())
            }
        })?;
    let _enter = span.enter(); // no await below
    let delivery = headers.delivery.as_str();
    Ok(match outcome {
        Ingested::Stored => {
            tracing::info!("delivery stored");
            HttpResponse::Accepted().json(Acknowledged {
                status: "accepted",
                delivery,
            })
        }
        Ingested::Duplicate => {
            tracing::info!("duplicate delivery acknowledged");
            HttpResponse::Ok().json(Acknowledged {
                status: "duplicate",
                delivery,
            })
        }
    })
}

/// Reads the body up to `limit` bytes; a declared or actual larger body is refused with 413,
/// the declared one before a byte is read. The buffer grows with what arrives, never with what the
/// client declares; http::limits bounds the time it may take and the bytes all bodies hold.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the body is larger than the {limit} bytes hubsync accepts"
        ))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // A Vec, not BytesMut: it becomes the stored payload's String without a copy.
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// GitHub can be set to send form-encoded payloads; hubsync needs the JSON content type.
fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "content type must be application/json (set the webhook's content type to JSON), got {:?}",
            content_type.chars().take(100).collect::<String>()
        )))
    }
}

/// What GitHub is told about a delivery it sent: stored now, or stored before.
#[derive(Serialize)]
struct Acknowledged<'a> {
    status: &'static str,
    delivery: &'a str,
}
