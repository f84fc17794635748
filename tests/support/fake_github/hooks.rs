//! The app's webhook as GitHub runs it: deliveries sent to the configured URL and recorded in a
//! delivery log (`GET /app/hook/deliveries`, newest first, cursor pagination through `Link`),
//! and redelivery on request (`POST /app/hook/deliveries/{delivery_id}/attempts`: 202, then the
//! stored delivery is sent again, signed, with the same GUID). Also `GET /app/installations`.
use std::time::{Duration, Instant};

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    auth::require_app,
    routes::{link_header, not_found, Data, Page},
    server::{github_error, State},
    webhooks::{installation_json, WebhookDelivery},
    FakeGithub,
};

/// One attempt in the delivery log, with what was sent (for redelivery).
pub(crate) struct HookAttempt {
    pub id: i64,
    pub delivery: WebhookDelivery,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
    pub repository_id: Option<i64>,
    pub delivered_at: chrono::DateTime<chrono::Utc>,
    pub redelivery: bool,
    pub status_code: u16,
    pub status: String,
    pub duration: f64,
}

/// The app's webhook configuration and its delivery log.
#[derive(Default)]
pub(crate) struct Hook {
    pub url: Option<String>,
    pub secret: String,
    pub log: Vec<HookAttempt>,
    /// GUIDs redelivery was asked for, in order.
    pub redelivered: Vec<String>,
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/installations", web::get().to(list_installations))
        .route(
            "/app/installations/{installation_id}",
            web::get().to(get_installation),
        )
        .route("/app/hook/deliveries", web::get().to(list_deliveries))
        .route(
            "/app/hook/deliveries/{delivery_id}/attempts",
            web::post().to(redeliver),
        );
}

/// Sends `d` to `url` signed with `secret`, as GitHub's hookshot does: (status, description).
async fn send(d: &WebhookDelivery, url: &str, secret: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client builds");
    let mut req = client.post(url).body(d.body.clone());
    for (k, v) in d.headers(secret) {
        req = req.header(k, v);
    }
    match req.send().await {
        Ok(r) => {
            let s = r.status();
            (s.as_u16(), s.canonical_reason().unwrap_or("").to_owned())
        }
        // GitHub reports a receiver it could not reach as a 502.
        Err(_) => (502, "failed to connect".into()),
    }
}

fn record(
    state: &State,
    d: &WebhookDelivery,
    redelivery: bool,
    (status_code, status): (u16, String),
    duration: f64,
) -> i64 {
    let payload = d.payload();
    let mut inner = state.inner();
    let id = 12_000_000_000 + inner.hook.log.len() as i64;
    inner.hook.log.push(HookAttempt {
        id,
        delivery: d.clone(),
        action: payload["action"].as_str().map(str::to_owned),
        installation_id: payload["installation"]["id"].as_i64(),
        repository_id: payload["repository"]["id"].as_i64(),
        delivered_at: chrono::Utc::now(),
        redelivery,
        status_code,
        status,
        duration,
    });
    id
}

async fn deliver(state: &State, d: &WebhookDelivery, redelivery: bool) -> u16 {
    let (url, secret) = {
        let inner = state.inner();
        (inner.hook.url.clone(), inner.hook.secret.clone())
    };
    let started = Instant::now();
    let answer = match url {
        Some(url) => send(d, &url, &secret).await,
        None => (502, "failed to connect".into()),
    };
    let code = answer.0;
    record(
        state,
        d,
        redelivery,
        answer,
        started.elapsed().as_secs_f64(),
    );
    code
}

impl FakeGithub {
    /// The app's webhook URL and secret (GitHub signs every delivery with the secret).
    pub fn set_webhook(&self, url: &str, secret: &str) {
        let mut inner = self.state.inner();
        inner.hook.url = Some(url.to_owned());
        inner.hook.secret = secret.to_owned();
    }

    /// Delivers `d` to the app's webhook as GitHub does, recording the attempt in the delivery
    /// log (502 when nothing answered). Returns the status code GitHub recorded.
    pub async fn deliver(&self, d: &WebhookDelivery) -> u16 {
        deliver(&self.state, d, false).await
    }

    /// Records an attempt without sending it: e.g. hubsync stored the delivery but GitHub gave up
    /// waiting for the answer (a timeout GitHub logs as failed).
    pub fn record_delivery(&self, d: &WebhookDelivery, status_code: u16) -> i64 {
        let status = StatusCode::from_u16(status_code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_owned();
        record(&self.state, d, false, (status_code, status), 0.01)
    }

    /// GUIDs hubsync asked to redeliver, in order (a GUID twice if asked twice).
    pub fn redelivered(&self) -> Vec<String> {
        self.state.inner().hook.redelivered.clone()
    }

    /// Attempts in the delivery log, redeliveries included.
    pub fn delivery_log_len(&self) -> usize {
        self.state.inner().hook.log.len()
    }

    pub fn suspend_installation(&self, installation: i64) {
        if let Some(i) = self.state.inner().installations.get_mut(&installation) {
            i.suspended_at = Some("2026-11-26T00:00:00Z".into());
        }
    }

    pub fn unsuspend_installation(&self, installation: i64) {
        if let Some(i) = self.state.inner().installations.get_mut(&installation) {
            i.suspended_at = None;
        }
    }
}

fn attempt_json(a: &HookAttempt) -> Value {
    json!({
        "id": a.id, "guid": a.delivery.delivery_id,
        "delivered_at": a.delivered_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "redelivery": a.redelivery, "duration": a.duration,
        "status": a.status, "status_code": a.status_code,
        "event": a.delivery.event, "action": a.action,
        "installation_id": a.installation_id, "repository_id": a.repository_id,
        "throttled_at": null,
    })
}

#[derive(Deserialize)]
struct DeliveriesQuery {
    per_page: Option<usize>,
    cursor: Option<String>,
    redelivery: Option<bool>,
}

/// Newest first; `cursor` (`v1_<id>`, from a previous `Link`) starts at that delivery.
async fn list_deliveries(
    state: Data,
    req: HttpRequest,
    q: web::Query<DeliveriesQuery>,
) -> HttpResponse {
    if let Err(r) = require_app(&state, &req) {
        return r;
    }
    let per_page = q.per_page.unwrap_or(30).clamp(1, 100);
    let from = match q.cursor.as_deref() {
        None => i64::MAX,
        Some(c) => match c.strip_prefix("v1_").and_then(|n| n.parse::<i64>().ok()) {
            Some(id) => id,
            None => return github_error(StatusCode::BAD_REQUEST, "Invalid cursor"),
        },
    };
    let inner = state.inner();
    let mut matching: Vec<&HookAttempt> = inner
        .hook
        .log
        .iter()
        .filter(|a| a.id <= from && q.redelivery.is_none_or(|r| a.redelivery == r))
        .collect();
    matching.sort_by_key(|a| std::cmp::Reverse(a.id));
    let page: Vec<Value> = matching
        .iter()
        .take(per_page)
        .map(|a| attempt_json(a))
        .collect();
    let mut res = HttpResponse::Ok();
    if let Some(next) = matching.get(per_page) {
        let filter = q
            .redelivery
            .map(|r| format!("&redelivery={r}"))
            .unwrap_or_default();
        res.insert_header((
            header::LINK,
            format!(
                "<{}/app/hook/deliveries?per_page={per_page}&cursor=v1_{}{filter}>; rel=\"next\"",
                state.base(),
                next.id
            ),
        ));
    }
    res.json(page)
}

async fn redeliver(state: Data, req: HttpRequest, path: web::Path<i64>) -> HttpResponse {
    if let Err(r) = require_app(&state, &req) {
        return r;
    }
    let id = path.into_inner();
    let delivery = {
        let mut inner = state.inner();
        let Some(d) = inner
            .hook
            .log
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.delivery.clone())
        else {
            return not_found();
        };
        inner.hook.redelivered.push(d.delivery_id.clone());
        d
    };
    // GitHub queues the redelivery and answers at once.
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        deliver(&state, &delivery, true).await;
    });
    HttpResponse::Accepted().json(json!({}))
}

/// `GET /app/installations/{installation_id}`: one installation of the app, or 404.
async fn get_installation(state: Data, req: HttpRequest, id: web::Path<i64>) -> HttpResponse {
    if let Err(r) = require_app(&state, &req) {
        return r;
    }
    let id = id.into_inner();
    if !state.inner().installations.contains_key(&id) {
        return super::routes::not_found();
    }
    HttpResponse::Ok().json(installation_json(&state, id))
}

async fn list_installations(state: Data, req: HttpRequest, q: web::Query<Page>) -> HttpResponse {
    if let Err(r) = require_app(&state, &req) {
        return r;
    }
    let ids: Vec<i64> = state.inner().installations.keys().copied().collect();
    let (per_page, page, range) = q.slice(&ids);
    let list: Vec<Value> = ids[range]
        .iter()
        .map(|id| installation_json(&state, *id))
        .collect();
    let mut res = HttpResponse::Ok();
    if let Some(links) = link_header(&state, "/app/installations", per_page, page, ids.len()) {
        res.insert_header((header::LINK, links));
    }
    res.json(list)
}
