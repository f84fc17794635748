//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of `/api/v1`, generated from the
//! handlers' `#[utoipa::path]` annotations and their request and response types (`ToSchema`).
//! The list of paths is the route list in `api/mod.rs`, so a route cannot be served without
//! being documented; `tests/openapi.rs` checks the document against what the app serves.
use std::sync::OnceLock;

use actix_web::{get, HttpResponse};

pub use crate::http::error::ErrorBody;
use serde::Serialize;
use utoipa::{
    openapi::{
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
        ContentBuilder, OpenApi as Document, RefOr, Response, ResponseBuilder,
    },
    Modify, OpenApi, PartialSchema, ToSchema,
};

/// 410 from the change feed and snapshots: the cursor is older than the feed's retention.
#[derive(Serialize, ToSchema)]
pub(crate) struct GoneBody {
    pub error: String,
    /// Where to follow the feed from after reading the files again.
    pub oldest_cursor: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hubsync",
        description = "The JSON API of hubsync: projects, branch selections, sync runs, synced \
                       files, the change feed. Every route needs the admin token as a bearer token \
                       (or a session from /login), except this document.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(ErrorBody, GoneBody)),
    security(("admin_token" = []), ("session" = [])),
    modifiers(&Common),
)]
struct Base;

/// Security schemes, and the error answers every operation may give.
struct Common;

impl Modify for Common {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer $HUBSYNC_ADMIN_TOKEN`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "hubsync_session",
                "The session cookie /login sets; a request that changes something must also \
                 come from hubsync's pages or send X-CSRF-Token",
            ))),
        );
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    ErrorBody::name(),
                ))))
                .build(),
        )
        .into()
}

/// The document: the base above, the paths of `paths` under `scope`, and on every operation
/// `4XX` and `5XX` answers with the error body unless it names its own.
pub fn build(paths: Document, scope: &str) -> Document {
    let mut doc = Base::openapi().merge_from(paths);
    let items = std::mem::take(&mut doc.paths.paths);
    for (path, mut item) in items {
        for op in operations(&mut item) {
            for (code, what) in [
                (
                    "4XX",
                    "The request was refused: bad input, not authenticated, not found...",
                ),
                ("5XX", "hubsync or the database failed"),
            ] {
                op.responses
                    .responses
                    .entry(code.to_owned())
                    .or_insert_with(|| error_response(what));
            }
        }
        doc.paths.paths.insert(format!("{scope}{path}"), item);
    }
    doc
}

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The document as served, rendered once.
pub fn json() -> &'static str {
    static RENDERED: OnceLock<String> = OnceLock::new();
    RENDERED.get_or_init(|| {
        super::document()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"the OpenAPI document: {e}\"}}"))
    })
}

/// The OpenAPI document of this API. Public: it names routes and shapes, nothing stored.
#[utoipa::path(
    tag = "meta",
    security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)),
)]
#[get("/openapi.json")]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json())
}

/// A schema for a response that is a stream of Server-Sent Events.
pub(crate) struct EventStream;

impl PartialSchema for EventStream {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "text/event-stream: `id:`, `event:` and JSON `data:` lines per event",
            ))
            .into()
    }
}

impl ToSchema for EventStream {}

/// A synced file's bytes.
pub(crate) struct FileBytes;

impl PartialSchema for FileBytes {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .content_media_type("application/octet-stream")
            .into()
    }
}

impl ToSchema for FileBytes {}
