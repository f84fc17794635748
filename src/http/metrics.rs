//! `GET /metrics` in Prometheus text format. On the main listener it needs
//! `Authorization: Bearer $HUBSYNC_METRICS_TOKEN` (no token configured: 404, as if it were not
//! there); on `HUBSYNC_METRICS_BIND`'s listener it is served alone and without a token.
use std::{net::SocketAddr, time::Duration};

use actix_web::{dev::Server, get, web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::Utc;
use sea_orm::DatabaseConnection;

use super::{auth, ApiError, AppState};
use crate::{
    metrics::{Metrics, Scraped, CONTENT_TYPE, LAG_SERIES},
    store::gauges,
};

/// A scrape's database reads must finish within this, else 503 (Prometheus' default timeout is 10 s).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(8);

#[get("/metrics")]
async fn main_listener(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match &state.config.metrics.token {
        Some(token) => auth::check_bearer(&req, token, "metrics")?,
        None => {
            return Err(ApiError::NotFound(
                "/metrics is off on this listener: set HUBSYNC_METRICS_TOKEN, or scrape \
                 HUBSYNC_METRICS_BIND's listener"
                    .into(),
            ))
        }
    }
    scrape(&state.db, &state.metrics).await
}

/// Reads the database's figures and renders every metric. Scrapes run one at a time, so a
/// crowd of scrapers costs the database one scrape's queries at once.
pub async fn scrape(db: &DatabaseConnection, metrics: &Metrics) -> Result<HttpResponse, ApiError> {
    let _one = metrics.scrape_lock().await;
    let scraped = tokio::time::timeout(SCRAPE_TIMEOUT, read(db))
        .await
        .map_err(|_| ApiError::Unavailable("the database did not answer in time".into()))??;
    Ok(HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(metrics.render(&scraped)))
}

async fn read(db: &DatabaseConnection) -> Result<Scraped, ApiError> {
    let now = Utc::now();
    let mut lag: Vec<(i64, f64)> = gauges::oldest_unsynced(db)
        .await?
        .into_iter()
        .map(|(project, since)| {
            let seconds = (now - since).num_milliseconds().max(0) as f64 / 1000.0;
            (project, seconds)
        })
        .collect();
    lag.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let lag_max = lag.first().map_or(0.0, |l| l.1);
    lag.truncate(LAG_SERIES as usize);
    Ok(Scraped {
        delivery_queue: gauges::delivery_queue(db).await?,
        sync_queue: gauges::sync_queue(db).await?,
        lag,
        lag_max,
    })
}

struct Separate {
    db: DatabaseConnection,
    metrics: Metrics,
}

#[get("/metrics")]
async fn separate(state: web::Data<Separate>) -> Result<HttpResponse, ApiError> {
    scrape(&state.db, &state.metrics).await
}

/// Serves `/metrics` alone on `listener`, without a token: for `HUBSYNC_METRICS_BIND`, an
/// address only the monitoring system reaches. Small limits: one worker, few connections.
pub(crate) fn serve_separately(
    listener: std::net::TcpListener,
    db: DatabaseConnection,
    metrics: Metrics,
) -> std::io::Result<(Server, SocketAddr)> {
    let addr = listener.local_addr()?;
    let state = web::Data::new(Separate { db, metrics });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .service(separate)
            .default_service(web::to(super::not_found))
    })
    .workers(1)
    .max_connections(64)
    .client_request_timeout(Duration::from_secs(5))
    .disable_signals()
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    Ok((server, addr))
}
