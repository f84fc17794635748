//! One tracing span per request (tracing-actix-web), so every log line a handler writes carries
//! its request id, method and route. The span records the matched route pattern
//! (`/api/v1/projects/{id}`), never the raw path or query: those carry setup tokens, OAuth codes
//! and file paths that must stay out of the logs.
use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    Error, HttpMessage as _,
};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

pub(crate) struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().copied();
        tracing::info_span!(
            "request",
            method = %request.method(),
            route = request.match_pattern().as_deref().unwrap_or("unmatched"),
            request_id = request_id.map(tracing::field::display),
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(response) => response.response().status(),
            Err(e) => e.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
    }
}
