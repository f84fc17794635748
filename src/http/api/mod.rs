//! The JSON API under /api/v1.
mod changes;
mod files;
pub mod projects;
mod snapshot;
mod subscription_deliveries;
mod subscriptions;
mod synced;
pub mod views;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .service(projects::list)
            .service(projects::get)
            .service(projects::set_branches)
            .service(projects::sync_now)
            .service(projects::history)
            .service(changes::feed)
            .service(synced::synced)
            .service(snapshot::compare)
            .service(files::manifest)
            .service(files::content)
            .service(subscriptions::create)
            .service(subscriptions::list)
            .service(subscriptions::get)
            .service(subscriptions::update)
            .service(subscriptions::remove)
            .service(subscription_deliveries::delivery_log)
            .service(subscription_deliveries::redeliver)
            .service(crate::http::sse::all_events),
    );
}
