//! A subscription's delivery log and manual redelivery.
use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{openapi::ErrorBody, subscriptions::find};
use crate::ids::SubscriptionId;
use crate::{
    http::{auth::Admin, ApiError, AppState},
    outbox::sign,
    store::{
        entities::{outbox_attempts, outbox_deliveries},
        outbox::{deliveries, DeliveryStatus, EventType},
    },
};

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 200;

#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryAttemptView {
    attempt: i32,
    started_at: DateTime<Utc>,
    status_code: Option<i32>,
    duration_ms: i64,
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    id: i64,
    /// The `webhook-id` header, the same on every attempt.
    webhook_id: String,
    #[serde(rename = "type")]
    event_type: EventType,
    project_id: i64,
    run_id: i64,
    status: DeliveryStatus,
    attempts: i32,
    /// The last attempt's answer and time.
    status_code: Option<i32>,
    duration_ms: Option<i64>,
    error: Option<String>,
    /// When the next attempt is due (pending deliveries only).
    next_attempt_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    log: Vec<DeliveryAttemptView>,
}

impl DeliveryView {
    fn new(d: outbox_deliveries::Model, attempts: Vec<outbox_attempts::Model>) -> Self {
        Self {
            id: d.id,
            webhook_id: sign::message_id(d.id),
            event_type: d.event_type,
            project_id: d.project_id,
            run_id: d.run_id,
            status: d.status,
            attempts: d.attempts,
            status_code: d.last_status_code,
            duration_ms: d.last_duration_ms,
            error: d.last_error,
            next_attempt_at: (d.status == DeliveryStatus::Pending).then_some(d.next_attempt_at),
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            log: attempts
                .into_iter()
                .map(|a| DeliveryAttemptView {
                    attempt: a.attempt,
                    started_at: a.started_at,
                    status_code: a.status_code,
                    duration_ms: a.duration_ms,
                    error: a.error,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryLog {
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `before` for the next (older) page; null on the last.
    pub next_before: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    /// Deliveries with an id below this (the next page of an older log).
    before: Option<i64>,
    limit: Option<u64>,
}

/// A subscription's deliveries, newest first, each with its attempts.
#[utoipa::path(
    tag = "subscriptions",
    params(("id" = i64, Path, description = "The subscription's id"), LogQuery),
    responses(
        (status = 200, body = DeliveryLog),
        (status = 404, description = "No such subscription", body = ErrorBody),
    )
)]
#[get("/subscriptions/{id}/deliveries")]
async fn delivery_log(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let sub = find(&state, *id).await?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let rows = deliveries::log(&state.db, SubscriptionId(sub.id), q.before, limit).await?;
    let next_before = (rows.len() as u64 == limit)
        .then(|| rows.last().map(|(d, _)| d.id))
        .flatten();
    let views: Vec<DeliveryView> = rows
        .into_iter()
        .map(|(d, a)| DeliveryView::new(d, a))
        .collect();
    Ok(HttpResponse::Ok().json(DeliveryLog {
        deliveries: views,
        next_before,
    }))
}

/// Manual redelivery: the delivery is attempted again now, whatever it ended as.
#[utoipa::path(
    tag = "subscriptions",
    params(("id" = i64, Path, description = "The subscription's id"), ("delivery_id" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 202, body = DeliveryView),
        (status = 404, description = "No such subscription or delivery", body = ErrorBody),
        (status = 409, description = "The subscription is disabled", body = ErrorBody),
    )
)]
#[post("/subscriptions/{id}/deliveries/{delivery_id}/attempts")]
async fn redeliver(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery_id) = path.into_inner();
    let sub = find(&state, id).await?;
    if !sub.enabled {
        return Err(ApiError::Conflict(
            "the subscription is disabled: re-enable it first (PATCH {\"enabled\": true})".into(),
        ));
    }
    let d = deliveries::redeliver(&state.db, SubscriptionId(sub.id), delivery_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("no delivery {delivery_id} of subscription {id}"))
        })?;
    state.outbox.wake();
    Ok(HttpResponse::Accepted().json(DeliveryView::new(d, Vec::new())))
}
