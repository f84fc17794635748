//! One POST of a delivery: signed, with a timeout, no redirects followed, and at most
//! `MAX_RESPONSE` bytes of the answer read (then the connection is dropped).
use std::time::{Duration, Instant};

use chrono::Utc;
use url::Url;

use super::{sign, target, OutboxSettings};
use crate::store::outbox::deliveries::{AttemptOutcome, Claimed};

/// Bytes of a receiver's answer read at most; the status is what counts.
const MAX_RESPONSE: usize = 64 * 1024;

pub(crate) fn client(settings: &OutboxSettings) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment would make the address check meaningless.
        .no_proxy()
        .dns_resolver(target::resolver(settings.allow_private))
        .user_agent(concat!("hubsync/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(4)
        .build()
}

pub(crate) async fn post(
    client: &reqwest::Client,
    settings: &OutboxSettings,
    c: &Claimed,
) -> AttemptOutcome {
    let started_at = Utc::now();
    let t0 = Instant::now();
    let (status_code, error) = match attempt(client, settings, c).await {
        Ok(status) if (200..300).contains(&status) => (Some(status as i32), None),
        Ok(status) => (
            Some(status as i32),
            Some(format!("the receiver answered {status}")),
        ),
        Err(e) => (None, Some(e)),
    };
    AttemptOutcome {
        started_at,
        duration_ms: t0.elapsed().as_millis() as i64,
        status_code,
        error,
    }
}

async fn attempt(
    client: &reqwest::Client,
    settings: &OutboxSettings,
    c: &Claimed,
) -> Result<u16, String> {
    let url = target::parse(&c.url).map_err(|e| e.to_string())?;
    literal_allowed(&url, settings.allow_private)?;
    let id = sign::message_id(c.delivery.id);
    let timestamp = Utc::now().timestamp();
    let body = c.delivery.payload.as_bytes();
    let signature = sign::signature(&c.secret, &id, timestamp, body)
        .ok_or("the subscription's secret is not usable")?;
    let mut resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(c.delivery.payload.clone())
        .send()
        .await
        .map_err(describe)?;
    let status = resp.status().as_u16();
    // Read (and drop) a bounded part of the answer, so the connection can be reused; a receiver
    // that sends more or stalls costs this attempt nothing more than the timeout.
    let mut read = 0usize;
    while read < MAX_RESPONSE {
        match resp.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
    Ok(status)
}

/// The resolver checks names; an IP address in the URL is checked here.
fn literal_allowed(url: &Url, allow_private: bool) -> Result<(), String> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => std::net::IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => std::net::IpAddr::V6(ip),
        _ => return Ok(()),
    };
    if allow_private || target::is_public(ip) {
        Ok(())
    } else {
        Err(target::TargetError::Private {
            host: url.host_str().unwrap_or_default().to_owned(),
            ip,
        }
        .to_string())
    }
}

/// The error and its causes, without the URL (it may carry a token in its query).
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut out = kind.to_owned();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
