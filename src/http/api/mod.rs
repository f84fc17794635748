//! The JSON API under /api/v1.
mod changes;
mod files;
pub mod openapi;
pub mod projects;
mod snapshot;
mod subscription_deliveries;
mod subscriptions;
mod synced;
pub mod tokens;
pub mod views;

use actix_web::web;

/// Where the API is served.
pub(crate) const SCOPE: &str = "/api/v1";

/// Lists each /api/v1 handler once: the list registers it on the scope and puts its
/// `#[utoipa::path]` into the OpenAPI document, so a route is served only if it is documented.
/// A handler without `#[utoipa::path]` does not compile here (see docs/architecture.md).
macro_rules! api_routes {
    ($($($segment:ident)::+),+ $(,)?) => {
        pub fn routes(cfg: &mut web::ServiceConfig) {
            cfg.service(web::scope(SCOPE)$(.service($($segment)::+))+);
        }

        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($($segment)::+),+))]
        struct Paths;
    };
}

api_routes!(
    projects::list,
    projects::get,
    projects::set_branches,
    projects::sync_now,
    projects::history,
    changes::feed,
    synced::synced,
    snapshot::compare,
    files::manifest,
    files::content,
    tokens::create,
    tokens::list,
    tokens::revoke,
    subscriptions::create,
    subscriptions::list,
    subscriptions::get,
    subscriptions::update,
    subscriptions::remove,
    subscription_deliveries::delivery_log,
    subscription_deliveries::redeliver,
    crate::http::sse::all_events,
    openapi::openapi_json,
);

/// The OpenAPI 3.1 document of every /api/v1 route.
pub fn document() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    openapi::build(Paths::openapi(), SCOPE)
}
