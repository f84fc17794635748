//! A webhook receiver for outgoing-webhook tests: a real HTTP server on 127.0.0.1:0 that records
//! every request and answers from a script (a status, or no answer at all), and an independent
//! Standard Webhooks signature check.
use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{dev::ServerHandle, web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    /// Never answers (the sender's timeout or shutdown ends the request).
    Hang,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: String,
    /// What this request was answered (or not).
    pub reply: Reply,
    pub at: tokio::time::Instant,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }
}

#[derive(Default)]
struct Script {
    next: VecDeque<Reply>,
    otherwise: Option<Reply>,
}

struct Shared {
    script: Mutex<Script>,
    tx: mpsc::UnboundedSender<Received>,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Received>,
    server: ServerHandle,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let reply = {
        let mut s = shared.script.lock().unwrap();
        s.next
            .pop_front()
            .or(s.otherwise)
            .unwrap_or(Reply::Status(204))
    };
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let _ = shared.tx.send(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
        reply,
        at: tokio::time::Instant::now(),
    });
    match reply {
        Reply::Status(code) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                .body("receiver says hello")
        }
        Reply::Hang => std::future::pending().await,
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            script: Mutex::new(Script::default()),
            tx,
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        let data = web::Data::new(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://{addr}/hooks/hubsync"),
            shared,
            rx,
            server: handle,
        }
    }

    /// The next requests get these answers, in order; after them, `otherwise` (default 204).
    pub fn answer(&self, next: &[Reply]) {
        self.shared
            .script
            .lock()
            .unwrap()
            .next
            .extend(next.iter().copied());
    }

    pub fn otherwise(&self, reply: Reply) {
        self.shared.script.lock().unwrap().otherwise = Some(reply);
    }

    /// The next request, waiting at most `within`.
    pub async fn next(&mut self, within: Duration) -> Received {
        tokio::time::timeout(within, self.rx.recv())
            .await
            .expect("a webhook arrives in time")
            .expect("the receiver is running")
    }

    /// Requests received so far and not yet taken.
    pub fn drain(&mut self) -> Vec<Received> {
        let mut out = Vec::new();
        while let Ok(r) = self.rx.try_recv() {
            out.push(r);
        }
        out
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}

/// Checks a request as a Standard Webhooks receiver would, from the secret alone: the
/// signature over `{id}.{timestamp}.{body}`, keyed by the decoded secret, and a timestamp
/// within five minutes.
pub fn verify(secret: &str, r: &Received) -> Result<(), String> {
    let b64 = secret.strip_prefix("whsec_").ok_or("no whsec_ prefix")?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| e.to_string())?;
    let ts: i64 = r
        .timestamp
        .parse()
        .map_err(|_| "webhook-timestamp is not a number")?;
    let now = chrono::Utc::now().timestamp();
    if (now - ts).abs() > 300 {
        return Err(format!("timestamp {ts} is too far from now ({now})"));
    }
    if r.id.is_empty() {
        return Err("no webhook-id".into());
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let ok = r
        .signature
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected);
    if ok {
        Ok(())
    } else {
        Err(format!("no v1 signature matches ({})", r.signature))
    }
}
