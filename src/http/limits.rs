//! Bounds on every request body, whatever the route: a read deadline (a slow sender gets 408) and
//! one budget of body bytes held in memory across all connections (past it, 503 with
//! Retry-After). Bytes count as they arrive, not as declared: a connection that declares 25 MB
//! and trickles one byte holds one byte, and a handler never sizes a buffer from the header. A
//! quarter of the budget is kept for the first 256 KiB of each body, so large senders cannot
//! starve the small deliveries that nearly all of GitHub's are.
use std::{
    cell::Cell,
    future::Future,
    pin::Pin,
    rc::Rc,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::PayloadError,
    http::header,
    middleware::Next,
    web::Bytes,
    HttpMessage, HttpResponse,
};
use futures_util::Stream;
use tokio::time::Sleep;

use super::error::ErrorBody;
use crate::config::HttpLimits;

/// glibc serves a freed large block's size from its heap afterwards (the mmap threshold rises to
/// it, up to 32 MiB), and a heap rarely shrinks: after a burst of 25 MB bodies the process kept
/// three to five times the body budget resident. A fixed threshold keeps every buffer over 128 KiB
/// in its own mapping, returned to the OS when the body is dropped.
pub(crate) fn return_large_buffers_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; any value is valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// What every request body may take. Shared by all workers.
#[derive(Clone)]
pub(crate) struct BodyLimits {
    timeout: Duration,
    budget: Arc<Budget>,
}

struct Budget {
    held: AtomicUsize,
    cap: usize,
    /// What bytes past a body's first `HttpLimits::SMALL_BODY` may take.
    large_cap: usize,
}

impl BodyLimits {
    pub fn new(limits: &HttpLimits) -> Self {
        Self {
            timeout: limits.body_timeout,
            budget: Arc::new(Budget {
                held: AtomicUsize::new(0),
                cap: limits.body_memory,
                large_cap: limits.large_body_memory(),
            }),
        }
    }

    /// Body bytes held right now, across all connections.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.budget.held.load(Ordering::Relaxed)
    }
}

impl Budget {
    /// Takes `n` more bytes for a body that holds `already`.
    fn take(&self, n: usize, already: usize) -> bool {
        let cap = if already + n <= HttpLimits::SMALL_BODY {
            self.cap
        } else {
            self.large_cap
        };
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(n).filter(|total| *total <= cap)
            })
            .is_ok()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Refusal {
    TooSlow,
    Busy,
}

/// One request's share: what it holds and why its body was cut off, if it was.
#[derive(Default)]
struct Share {
    held: Cell<usize>,
    refused: Cell<Option<Refusal>>,
}

/// Gives the request's bytes back however it ends, the client gone included.
struct Release {
    budget: Arc<Budget>,
    share: Rc<Share>,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.budget
            .held
            .fetch_sub(self.share.held.get(), Ordering::AcqRel);
    }
}

/// The middleware: wraps the body of any request that has one.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(limits) = has_body(&req)
        .then(|| req.app_data::<actix_web::web::Data<BodyLimits>>().cloned())
        .flatten()
    else {
        return next.call(req).await.map(|r| r.map_into_left_body());
    };
    let share = Rc::new(Share::default());
    let _release = Release {
        budget: limits.budget.clone(),
        share: share.clone(),
    };
    let mut req = req;
    let inner = req.take_payload();
    let guarded = Guarded {
        inner,
        deadline: Box::pin(tokio::time::sleep(limits.timeout)),
        budget: limits.budget.clone(),
        share: share.clone(),
        done: false,
    };
    req.set_payload(Payload::from(
        Box::pin(guarded) as actix_http::BoxedPayloadStream
    ));
    let res = next.call(req).await?;
    // Whatever the handler made of the cut-off body, the client hears why it was cut off.
    Ok(match share.refused.get() {
        None => res.map_into_left_body(),
        Some(refusal) => {
            let response = refused(refusal, &limits);
            res.into_response(response).map_into_right_body()
        }
    })
}

fn refused(refusal: Refusal, limits: &BodyLimits) -> HttpResponse {
    let secs = limits.timeout.as_secs_f64();
    match refusal {
        Refusal::TooSlow => HttpResponse::RequestTimeout().json(ErrorBody::new(format!(
            "the request body did not arrive within {secs} s"
        ))),
        Refusal::Busy => HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, secs.ceil().max(1.0).to_string()))
            .json(ErrorBody::new(
                "hubsync holds as many request bodies as it may (HUBSYNC_BODY_MEMORY_BYTES); \
                 retry later",
            )),
    }
}

/// Requests without a declared body (GET, event streams) pay nothing.
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

struct Guarded {
    inner: Payload,
    deadline: Pin<Box<Sleep>>,
    budget: Arc<Budget>,
    share: Rc<Share>,
    done: bool,
}

impl Guarded {
    fn refuse(&mut self, refusal: Refusal) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.done = true;
        self.share.refused.set(Some(refusal));
        let kind = match refusal {
            Refusal::TooSlow => std::io::ErrorKind::TimedOut,
            Refusal::Busy => std::io::ErrorKind::OutOfMemory,
        };
        Poll::Ready(Some(Err(PayloadError::Io(kind.into()))))
    }
}

impl Stream for Guarded {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        // Checked on every poll: a sender trickling bytes is never Pending for long.
        if self.deadline.as_mut().poll(cx).is_ready() {
            return self.refuse(Refusal::TooSlow);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if !self.budget.take(chunk.len(), self.share.held.get()) {
                    return self.refuse(Refusal::Busy);
                }
                self.share.held.set(self.share.held.get() + chunk.len());
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refuses_past_its_cap_and_takes_back_what_is_released() {
        let limits = BodyLimits::new(&HttpLimits {
            body_memory: 100,
            ..Default::default()
        });
        assert!(limits.budget.take(60, 0));
        assert!(!limits.budget.take(41, 0));
        assert!(limits.budget.take(40, 0));
        let share = Rc::new(Share::default());
        share.held.set(60);
        drop(Release {
            budget: limits.budget.clone(),
            share,
        });
        assert_eq!(limits.held(), 40);
        assert!(!limits.budget.take(usize::MAX, 0));
    }

    #[test]
    fn large_bodies_leave_a_quarter_for_small_ones() {
        let mib = 1024 * 1024;
        let limits = BodyLimits::new(&HttpLimits {
            body_memory: 64 * mib,
            ..Default::default()
        });
        let small = HttpLimits::SMALL_BODY;
        // A large body fills three quarters, and no more.
        assert!(limits.budget.take(small, 0));
        assert!(limits.budget.take(48 * mib - small, small));
        assert!(!limits.budget.take(1, 48 * mib));
        // Small bodies still fit in the last quarter: 64 of 256 KiB.
        let fitted = (0..100)
            .take_while(|_| limits.budget.take(small, 0))
            .count();
        assert_eq!(fitted, 64);
    }
}
