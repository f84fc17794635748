//! The HTTP server: actix's HTTP/1.1 service on the bound listener, with the limits a public
//! endpoint needs (`HttpLimits`): connections per process, a deadline for every request head,
//! keep-alive, and the body limits of `limits.rs` on every route.
//!
//! Built from actix's parts rather than `HttpServer` for one reason: actix times only the first
//! request head of a connection, so on a kept-alive connection the next head could trickle in a
//! byte at a time forever. `HeadDeadline` times every head from its first byte.
use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use actix_http::{HttpService, KeepAlive, Protocol};
use actix_service::{fn_service, map_config, IntoServiceFactory as _, ServiceFactoryExt as _};
use actix_web::{
    dev::{AppConfig, Server},
    middleware, web, App,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time::Sleep,
};

use tracing_actix_web::TracingLogger;

use super::{limits::BodyLimits, security_headers::SecurityHeaders, throttle::Throttle, AppState};
use crate::config::HttpLimits;

/// How long a closing connection may take to flush its last response.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long in-flight requests may take to finish after a stop.
const SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// Serves `state`'s routes on `listener` until the returned server's handle stops it.
pub fn start(
    listener: std::net::TcpListener,
    state: web::Data<AppState>,
    limits: &HttpLimits,
) -> io::Result<Server> {
    let addr = listener.local_addr()?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(512));
    let builder = actix_server::ServerBuilder::default();
    let shutdown = builder.graceful_shutdown_signal();
    super::limits::return_large_buffers_to_the_os();
    let body_limits = web::Data::new(BodyLimits::new(limits));
    let throttle = web::Data::new(Throttle::default());
    let headers = web::Data::new(SecurityHeaders::new(&state.config.github.web_url));
    let limits = limits.clone();
    builder
        .workers(workers)
        // actix counts per worker.
        .max_concurrent_connections(limits.max_connections.div_ceil(workers))
        // main owns signal handling, so that workers stop together with the server.
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .listen("hubsync", listener, move || {
            let app = App::new()
                .wrap(middleware::from_fn(super::limits::guard))
                .wrap(middleware::from_fn(super::security_headers::add))
                .wrap(middleware::NormalizePath::trim())
                // Outermost, so the limits' and headers' own log lines sit inside the span too.
                .wrap(TracingLogger::<super::request_span::RequestSpan>::new())
                .app_data(state.clone())
                .app_data(body_limits.clone())
                .app_data(throttle.clone())
                .app_data(headers.clone())
                .configure(super::routes);
            let shutdown = shutdown.clone();
            let http = HttpService::build()
                .keep_alive(KeepAlive::Timeout(limits.keep_alive))
                .client_request_timeout(limits.head_timeout)
                .client_disconnect_timeout(DISCONNECT_TIMEOUT)
                .local_addr(addr)
                // Idle kept-alive connections close at once on a stop rather than at their timeout.
                .graceful_shutdown_signal(move || {
                    let signal = shutdown.clone();
                    async move { signal.notified().await }
                })
                .finish(map_config(
                    app.into_factory()
                        .map_err(|e: actix_web::Error| e.error_response()),
                    |_| AppConfig::default(),
                ));
            let head_timeout = limits.head_timeout;
            fn_service(move |io: TcpStream| async move {
                // Small answers (a 202) go out at once rather than after a delayed ACK.
                let _ = io.set_nodelay(true);
                let peer = io.peer_addr().ok();
                Ok((HeadDeadline::new(io, head_timeout), Protocol::Http1, peer))
            })
            .and_then(http)
        })
        .map(|b| b.run())
}

/// A connection whose every request head must arrive within `timeout` of its first byte; past
/// it, reads fail and the connection is closed. It tells heads from the rest by HTTP/1.1's shape
/// alone: a head ends at its empty line, and bytes read after that belong to its body until the
/// answer starts (an interim `100 Continue` is not the answer).
struct HeadDeadline {
    io: TcpStream,
    timeout: Duration,
    phase: Phase,
    /// Made on the connection's first head and reset for each later one; polled only in a head.
    deadline: Option<Pin<Box<Sleep>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests: the next byte starts a head.
    Idle,
    /// Inside a head; the count of line ends seen in a row (2 ends the head).
    Head(u8),
    /// Head complete: body bytes, until the response starts.
    Answering,
}

impl HeadDeadline {
    fn new(io: TcpStream, timeout: Duration) -> Self {
        Self {
            io,
            timeout,
            phase: Phase::Idle,
            deadline: None,
        }
    }

    fn saw(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.phase = match (self.phase, b) {
                (Phase::Answering, _) => return,
                (Phase::Idle, _) if b == b'\r' || b == b'\n' => Phase::Idle, // between requests
                (Phase::Idle, _) => {
                    let at = tokio::time::Instant::now() + self.timeout;
                    match self.deadline.as_mut() {
                        Some(d) => d.as_mut().reset(at),
                        None => self.deadline = Some(Box::pin(tokio::time::sleep_until(at))),
                    }
                    Phase::Head(0)
                }
                (Phase::Head(_), b'\r') => self.phase,
                (Phase::Head(1), b'\n') => Phase::Answering,
                (Phase::Head(n), b'\n') => Phase::Head(n + 1),
                (Phase::Head(_), _) => Phase::Head(0),
            };
        }
    }

    fn wrote(&mut self, bytes: &[u8]) {
        // An interim `HTTP/1.1 1xx` answer is followed by the body, not by the next request.
        if !bytes.is_empty() && !bytes.starts_with(b"HTTP/1.1 1") {
            self.phase = Phase::Idle;
        }
    }
}

impl AsyncRead for HeadDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let in_head = matches!(self.phase, Phase::Head(_));
        if let Some(deadline) = self.deadline.as_mut().filter(|_| in_head) {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request head did not arrive in time",
                )));
            }
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if polled.is_ready() && self.phase != Phase::Answering {
            self.saw(&buf.filled()[before..]);
        }
        polled
    }
}

impl AsyncWrite for HeadDeadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.wrote(&buf[..n]);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn conn() -> HeadDeadline {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (io, _) = tokio::join!(TcpStream::connect(addr), l.accept());
        HeadDeadline::new(io.unwrap(), Duration::from_secs(5))
    }

    #[tokio::test]
    async fn a_head_is_timed_from_its_first_byte_to_its_empty_line() {
        let mut c = conn().await;
        c.saw(b"\r\n");
        assert_eq!(c.phase, Phase::Idle);
        assert!(c.deadline.is_none(), "no head yet, no timer");
        c.saw(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\n");
        assert!(matches!(c.phase, Phase::Head(_)) && c.deadline.is_some());
        c.saw(b"\r\n{\"body\":\r\n\r\n}");
        assert_eq!(c.phase, Phase::Answering);
        c.wrote(b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(
            c.phase,
            Phase::Answering,
            "the body follows an interim answer"
        );
        c.wrote(b"HTTP/1.1 202 Accepted\r\n");
        assert_eq!(c.phase, Phase::Idle);
        // Bare line feeds end a head too, split across reads.
        c.saw(b"GET / HTTP/1.1\n");
        c.saw(b"\n");
        assert_eq!(c.phase, Phase::Answering);
    }
}
