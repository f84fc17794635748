//! The fake's HTTP server: shared state, the middleware that counts requests, injects faults and
//! adds GitHub's rate-limit headers, and helpers for GitHub's error shape.
use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    path::PathBuf,
    sync::{Mutex, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use actix_web::{
    dev::{ServerHandle, Service},
    http::{header::HeaderName, StatusCode},
    web, App, HttpResponse, HttpServer,
};
use jsonwebtoken::DecodingKey;

use super::{
    faults::{Fault, FaultRule},
    routes,
};

pub(crate) struct Installation {
    pub id: i64,
    pub account_login: String,
    pub account_id: i64,
    pub repos: BTreeSet<i64>,
    /// ISO 8601 while suspended: GitHub then refuses the installation tokens.
    pub suspended_at: Option<String>,
}

pub(crate) struct RepoMeta {
    pub id: i64,
    pub installation: i64,
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub private: bool,
    pub bare: PathBuf,
}

impl RepoMeta {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

pub(crate) struct Issued {
    pub installation: i64,
    pub expires_at: SystemTime,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub installations: BTreeMap<i64, Installation>,
    pub repos: BTreeMap<i64, RepoMeta>,
    pub tokens: HashMap<String, Issued>,
    pub download_tokens: HashSet<String>,
    pub manifest_codes: HashMap<String, serde_json::Value>,
    pub last_manifest: Option<serde_json::Value>,
    /// The `webhook_secret` the next app created answers with, when not a fresh one: GitHub's
    /// schema allows null (`Some(None)`).
    pub manifest_webhook_secret: Option<Option<String>>,
    pub truncate_trees: bool,
    pub used: u64,
    pub hook: super::hooks::Hook,
}

pub(crate) struct State {
    pub base_url: OnceLock<String>,
    pub app_id: u64,
    pub app_slug: String,
    pub private_pem: String,
    pub decoding_key: DecodingKey,
    pub dir: PathBuf,
    pub token_lifetime: Mutex<Duration>,
    pub inner: Mutex<Inner>,
    pub counts: Mutex<HashMap<String, u64>>,
    /// Requests received in all, for tests that wait for one.
    pub arrived: tokio::sync::watch::Sender<u64>,
    /// Tree requests with `recursive`.
    pub recursive_trees: Mutex<u64>,
    pub faults: Mutex<Vec<FaultRule>>,
    pub latency: Mutex<Duration>,
    /// Requests being answered now, and the most seen at once.
    pub in_flight: Mutex<(u64, u64)>,
    /// Users, their tokens and organisation memberships (Sign in with GitHub).
    pub oauth: Mutex<super::oauth::OAuth>,
}

impl State {
    pub fn base(&self) -> &str {
        self.base_url.get().map(String::as_str).unwrap_or("")
    }

    pub fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// The first armed fault for this route, used up by one.
    fn take_fault(&self, route: &str) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap();
        let rule = faults
            .iter_mut()
            .find(|r| r.remaining > 0 && (r.route == route || r.route == "*"))?;
        rule.remaining -= 1;
        Some(rule.fault.clone())
    }
}

pub(crate) fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// GitHub's error body: `{"message", "documentation_url", "status"}`.
pub(crate) fn github_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.as_u16().to_string(),
    }))
}

/// `/repos/{owner}/{repo}/branches/{branch:.*}` -> `/repos/{owner}/{repo}/branches/{branch}`.
fn route_key(method: &str, pattern: &str) -> String {
    let (mut out, mut in_brace, mut skipping) = (String::new(), false, false);
    for c in pattern.chars() {
        match c {
            '{' => in_brace = true,
            ':' if in_brace => skipping = true,
            '}' => (in_brace, skipping) = (false, false),
            _ => {}
        }
        if !skipping {
            out.push(c);
        }
    }
    format!("{method} {out}")
}

pub(crate) async fn start(state: web::Data<State>) -> ServerHandle {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake GitHub");
    let addr = listener.local_addr().unwrap();
    let _ = state.base_url.set(format!("http://{addr}"));
    let server = HttpServer::new(move || {
        let mw_state = state.clone();
        App::new()
            .app_data(state.clone())
            .wrap_fn(move |req, srv| {
                let state = mw_state.clone();
                let pattern = req.match_pattern().unwrap_or_else(|| req.path().to_owned());
                let route = route_key(req.method().as_str(), &pattern);
                *state
                    .counts
                    .lock()
                    .unwrap()
                    .entry(route.clone())
                    .or_default() += 1;
                state.arrived.send_modify(|n| *n += 1);
                let fault = state.take_fault(&route);
                let mut delay = *state.latency.lock().unwrap();
                if let Some(Fault::Latency(d)) = &fault {
                    delay += *d;
                }
                let call = match fault.as_ref().and_then(Fault::response) {
                    Some(resp) => Err(req.into_response(resp)),
                    None => Ok(srv.call(req)),
                };
                {
                    let mut f = state.in_flight.lock().unwrap();
                    f.0 += 1;
                    f.1 = f.1.max(f.0);
                }
                async move {
                    let _done = InFlight(state.clone());
                    if !delay.is_zero() {
                        // A fault (slow GitHub), not a wait.
                        tokio::time::sleep(delay).await;
                    }
                    let mut res = match call {
                        Ok(fut) => fut.await?.map_into_boxed_body(),
                        Err(res) => res.map_into_boxed_body(),
                    };
                    rate_limit_headers(&state, &route, res.headers_mut());
                    Ok(res)
                }
            })
            .configure(routes::configure)
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    handle
}

/// Counts a request as finished when dropped (also when the client disconnects mid-way).
struct InFlight(web::Data<State>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.lock().unwrap().0 -= 1;
    }
}

fn rate_limit_headers(
    state: &State,
    route: &str,
    headers: &mut actix_web::http::header::HeaderMap,
) {
    // Web pages (not the API) carry no rate-limit headers.
    if route.contains("/_codeload/")
        || route.contains("/settings/apps/new")
        || route.contains("/login/oauth/")
    {
        return;
    }
    let used = {
        let mut inner = state.inner();
        inner.used += 1;
        inner.used
    };
    let reset = epoch_now() + 3600;
    for (name, value) in [
        ("x-ratelimit-limit", "5000".to_string()),
        (
            "x-ratelimit-remaining",
            5000u64.saturating_sub(used).to_string(),
        ),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-used", used.to_string()),
        ("x-ratelimit-resource", "core".to_string()),
    ] {
        if !headers.contains_key(name) {
            headers.insert(HeaderName::from_static(name), value.parse().unwrap());
        }
    }
}

#[test]
fn route_keys_drop_regexes() {
    assert_eq!(
        route_key("GET", "/repos/{owner}/{repo}/branches/{branch:.*}"),
        "GET /repos/{owner}/{repo}/branches/{branch}"
    );
    assert_eq!(
        route_key("GET", "/installation/repositories"),
        "GET /installation/repositories"
    );
}
