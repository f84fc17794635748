//! `/api/v1/subscriptions`: outgoing webhooks (Standard Webhooks). A subscription's secret is
//! answered once, at creation; listings never show it.
use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::openapi::ErrorBody;
use crate::{
    http::{auth::Admin, ApiError, AppState},
    outbox::target,
    secret::SigningSecret,
    store::{
        entities::webhook_subscriptions,
        outbox::{self, EventType, NewSubscription, MAX_SUBSCRIPTIONS},
        projects,
    },
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    url: String,
    project_id: Option<i64>,
    events: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SubscriptionView {
    pub id: i64,
    pub url: String,
    pub project_id: Option<i64>,
    pub events: Vec<EventType>,
    pub enabled: bool,
    pub consecutive_failures: i32,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&webhook_subscriptions::Model> for SubscriptionView {
    fn from(s: &webhook_subscriptions::Model) -> Self {
        Self {
            id: s.id,
            url: s.url.clone(),
            project_id: s.project_id,
            events: outbox::events_of(s),
            enabled: s.enabled,
            consecutive_failures: s.consecutive_failures,
            disabled_at: s.disabled_at,
            disabled_reason: s.disabled_reason.clone(),
            created_at: s.created_at,
        }
    }
}

/// A new subscription: the listed fields and, this once, its signing secret.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedSubscription {
    #[serde(flatten)]
    pub view: SubscriptionView,
    /// `whsec_...`: shown only in this answer.
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SubscriptionList {
    pub subscriptions: Vec<SubscriptionView>,
}

fn parse_events(raw: &[String]) -> Result<Vec<EventType>, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::BadRequest(
            "events must list at least one of \"sync.succeeded\", \"sync.failed\"".into(),
        ));
    }
    let mut out = Vec::new();
    for e in raw {
        let t = match e.as_str() {
            "sync.succeeded" => EventType::SyncSucceeded,
            "sync.failed" => EventType::SyncFailed,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "unknown event {e:?}: events are \"sync.succeeded\" and \"sync.failed\""
                )))
            }
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

pub(crate) async fn find(
    state: &AppState,
    id: i64,
) -> Result<webhook_subscriptions::Model, ApiError> {
    outbox::find(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no subscription with id {id}")))
}

/// Subscribes a URL to sync outcomes (Standard Webhooks); the secret is in this answer alone.
#[utoipa::path(
    tag = "subscriptions",
    request_body = CreateBody,
    responses(
        (status = 201, body = CreatedSubscription),
        (status = 400, description = "A bad or private URL, an unknown event or project", body = ErrorBody),
        (status = 409, description = "Too many subscriptions", body = ErrorBody),
    )
)]
#[post("/subscriptions")]
async fn create(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let url = target::parse(&body.url).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let events = parse_events(&body.events)?;
    if let Some(p) = body.project_id {
        if projects::load(&state.db, p).await?.is_none() {
            return Err(ApiError::BadRequest(format!("no project with id {p}")));
        }
    }
    target::check(&url, state.outbox.settings.allow_private)
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if outbox::count(&state.db).await? >= MAX_SUBSCRIPTIONS {
        return Err(ApiError::Conflict(format!(
            "at most {MAX_SUBSCRIPTIONS} subscriptions; delete one first"
        )));
    }
    let secret = SigningSecret::generate()
        .map_err(|e| ApiError::Internal(format!("no randomness for a secret: {e}")))?;
    let shown = secret.expose().to_owned();
    let new = NewSubscription {
        url: url.to_string(),
        project_id: body.project_id,
        events,
        secret,
    };
    let sub = outbox::create(&state.db, new).await?;
    tracing::info!(
        subscription = sub.id,
        "outgoing webhook subscription created"
    );
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedSubscription {
            view: SubscriptionView::from(&sub),
            secret: shown,
        }))
}

/// Every subscription (never its secret).
#[utoipa::path(tag = "subscriptions", responses((status = 200, body = SubscriptionList)))]
#[get("/subscriptions")]
async fn list(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let subs = outbox::list(&state.db).await?;
    let views: Vec<SubscriptionView> = subs.iter().map(SubscriptionView::from).collect();
    Ok(HttpResponse::Ok().json(SubscriptionList {
        subscriptions: views,
    }))
}

/// One subscription (never its secret).
#[utoipa::path(
    tag = "subscriptions",
    params(("id" = i64, Path, description = "The subscription's id")),
    responses(
        (status = 200, body = SubscriptionView),
        (status = 404, description = "No such subscription", body = ErrorBody),
    )
)]
#[get("/subscriptions/{id}")]
async fn get(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let sub = find(&state, *id).await?;
    Ok(HttpResponse::Ok().json(SubscriptionView::from(&sub)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateBody {
    enabled: bool,
}

/// `{"enabled": true}` re-enables a disabled subscription (its run of failures starts again from
/// zero, and what it had pending is sent); `false` pauses it.
#[utoipa::path(
    tag = "subscriptions",
    params(("id" = i64, Path, description = "The subscription's id")),
    request_body = UpdateBody,
    responses(
        (status = 200, body = SubscriptionView),
        (status = 404, description = "No such subscription", body = ErrorBody),
    )
)]
#[patch("/subscriptions/{id}")]
async fn update(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<UpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let sub = outbox::set_enabled(&state.db, *id, body.enabled)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no subscription with id {id}")))?;
    state.outbox.wake();
    Ok(HttpResponse::Ok().json(SubscriptionView::from(&sub)))
}

/// Deletes a subscription: its pending deliveries are cancelled, its log kept.
#[utoipa::path(
    tag = "subscriptions",
    params(("id" = i64, Path, description = "The subscription's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such subscription", body = ErrorBody),
    )
)]
#[delete("/subscriptions/{id}")]
async fn remove(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if !outbox::delete(&state.db, *id).await? {
        return Err(ApiError::NotFound(format!("no subscription with id {id}")));
    }
    tracing::info!(subscription = *id, "outgoing webhook subscription deleted");
    Ok(HttpResponse::NoContent().finish())
}
