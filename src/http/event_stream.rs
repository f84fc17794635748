//! A `text/event-stream` response whose body is the subscriber's stream itself, polled by the
//! connection's own task. With 5,000 subscribers on a project a task and a channel per stream
//! (actix-web-lab's `Sse` from a receiver) woke two tasks per subscriber for every event and
//! rendered the message once per subscriber; here an event wakes the connection, which takes the
//! message the hub rendered once (`Published::frame`, a shared `Bytes`).
use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{
    body::{BodySize, MessageBody},
    http::header::{CacheControl, CacheDirective, ContentEncoding},
    HttpResponse,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::time::{interval, Interval, MissedTickBehavior};

const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// The response: a retry hint first, then `messages` (each a whole SSE message), with a
/// keep-alive comment every `keep_alive`; it ends when `messages` does.
pub(crate) fn response<S>(
    messages: Pin<Box<S>>,
    keep_alive: Duration,
    retry: Duration,
) -> HttpResponse
where
    S: Stream<Item = Bytes> + 'static,
{
    let mut keep_alive = interval(keep_alive);
    keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(ContentEncoding::Identity)
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .body(EventStream {
            retry: Some(format!("retry: {}\n\n", retry.as_millis()).into()),
            messages,
            keep_alive,
        })
}

struct EventStream<S> {
    retry: Option<Bytes>,
    messages: Pin<Box<S>>,
    keep_alive: Interval,
}

impl<S: Stream<Item = Bytes>> MessageBody for EventStream<S> {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Infallible>>> {
        // Every field is Unpin (the stream is boxed).
        let this = self.get_mut();
        if let Some(retry) = this.retry.take() {
            return Poll::Ready(Some(Ok(retry)));
        }
        if let Poll::Ready(message) = this.messages.poll_next_unpin(cx) {
            return Poll::Ready(message.map(Ok));
        }
        if this.keep_alive.poll_tick(cx).is_ready() {
            return Poll::Ready(Some(Ok(Bytes::from_static(KEEP_ALIVE))));
        }
        Poll::Pending
    }
}
