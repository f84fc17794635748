//! `hubsync replay`: sign a payload file as GitHub would and POST it to a running hubsync, the
//! local-development counterpart of GitHub's "Redeliver".
use std::{path::Path, time::Duration};

use url::Url;

use super::{
    headers::{DeliveryId, EventName},
    signature,
};
use crate::secret::WebhookSecret;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("GITHUB_WEBHOOK_SECRET is not set: replay signs with it")]
    NoSecret,
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot reach hubsync at {url}: {reason}")]
    Send { url: String, reason: String },
    #[error("hubsync answered {status}: {body}")]
    Refused { status: u16, body: String },
}

pub struct Replay<'a> {
    pub event: &'a str,
    pub file: &'a Path,
    pub base_url: &'a Url,
    pub delivery: Option<&'a str>,
}

/// Sends the file and returns the line to print: status and delivery id.
pub async fn replay(r: Replay<'_>, secrets: &[WebhookSecret]) -> Result<String, ReplayError> {
    let secret = secrets.first().ok_or(ReplayError::NoSecret)?;
    let event =
        EventName::parse(r.event).map_err(|e| ReplayError::Invalid(format!("--event: {e}")))?;
    let delivery = match r.delivery {
        Some(d) => {
            DeliveryId::parse(d).map_err(|e| ReplayError::Invalid(format!("--delivery: {e}")))?
        }
        None => DeliveryId::parse(&random_delivery_id()).expect("a generated id is valid"),
    };
    let body = std::fs::read(r.file).map_err(|source| ReplayError::Read {
        path: r.file.display().to_string(),
        source,
    })?;
    let url = r
        .base_url
        .join("webhooks/github")
        .map_err(|e| ReplayError::Invalid(format!("--url: {e}")))?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| ReplayError::Invalid(e.to_string()))?;
    let response = client
        .post(url.clone())
        .header("Content-Type", "application/json")
        .header("User-Agent", "hubsync-replay")
        .header("X-GitHub-Event", event.as_str())
        .header("X-GitHub-Delivery", delivery.as_str())
        .header("X-Hub-Signature-256", signature::sign(secret, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| ReplayError::Send {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    match status {
        202 => Ok(format!("accepted  {delivery}")),
        200 => Ok(format!(
            "duplicate {delivery} (already received; nothing more happens)"
        )),
        _ => Err(ReplayError::Refused {
            status,
            body: text.chars().take(500).collect(),
        }),
    }
}

/// A random version-4 UUID, as GitHub's delivery ids are, from the standard library's
/// randomly seeded hasher (no extra crate for one id per command).
fn random_delivery_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_delivery_ids_are_uuids_and_differ() {
        let a = super::random_delivery_id();
        let b = super::random_delivery_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
