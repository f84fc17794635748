//! The delivery headers GitHub sends, parsed once: delivery id, event name, hook id.
use std::fmt;

use actix_web::http::header::HeaderMap;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("invalid {0} header: {1}")]
    Invalid(&'static str, &'static str),
}

/// `X-GitHub-Delivery`: a GUID GitHub keeps across redeliveries, so it identifies a delivery.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DeliveryId(String);

impl DeliveryId {
    pub fn parse(raw: &str) -> Result<Self, HeaderError> {
        let ok = !raw.is_empty()
            && raw.len() <= 100
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(HeaderError::Invalid(
                "X-GitHub-Delivery",
                "expected up to 100 letters, digits and dashes",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeliveryId({})", self.0)
    }
}

/// `X-GitHub-Event`: the event name (`push`, `installation`, ...).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EventName(String);

impl EventName {
    pub fn parse(raw: &str) -> Result<Self, HeaderError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(HeaderError::Invalid(
                "X-GitHub-Event",
                "expected an event name such as push",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventName({})", self.0)
    }
}

/// The headers that identify and describe a delivery.
#[derive(Debug, Clone)]
pub struct DeliveryHeaders {
    pub delivery: DeliveryId,
    pub event: EventName,
    pub hook_id: Option<i64>,
    /// The headers worth keeping with the stored delivery (for audit and redelivery).
    pub kept: Value,
}

const KEPT: [&str; 7] = [
    "x-github-delivery",
    "x-github-event",
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
    "x-hub-signature-256",
    "user-agent",
];

impl DeliveryHeaders {
    pub fn parse(headers: &HeaderMap) -> Result<Self, HeaderError> {
        let text = |name: &'static str| -> Result<Option<&str>, HeaderError> {
            headers
                .get(name)
                .map(|v| {
                    v.to_str()
                        .map(str::trim)
                        .map_err(|_| HeaderError::Invalid(name, "not visible ASCII"))
                })
                .transpose()
        };
        let event = text("X-GitHub-Event")?.ok_or(HeaderError::Missing("X-GitHub-Event"))?;
        let delivery =
            text("X-GitHub-Delivery")?.ok_or(HeaderError::Missing("X-GitHub-Delivery"))?;
        let hook_id = text("X-GitHub-Hook-ID")?
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| HeaderError::Invalid("X-GitHub-Hook-ID", "not a number"))
            })
            .transpose()?;
        let mut kept = Map::new();
        for name in KEPT {
            if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
                // A header is at most a few hundred bytes from GitHub; cap what others send.
                // `to_str` passed only visible ASCII, so any byte offset is a char boundary.
                kept.insert(name.to_owned(), Value::String(v[..v.len().min(512)].into()));
            }
        }
        Ok(Self {
            event: EventName::parse(event)?,
            delivery: DeliveryId::parse(delivery)?,
            hook_id,
            kept: Value::Object(kept),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids() {
        assert!(DeliveryId::parse("72d3162e-cc78-11e3-81ab-4c9367dc0958").is_ok());
        for bad in ["", "a b", "x/y", &"a".repeat(101), "é"] {
            assert!(DeliveryId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn event_names() {
        for ok in [
            "push",
            "installation_repositories",
            "github_app_authorization",
        ] {
            assert!(EventName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Push", "push event", &"a".repeat(65)] {
            assert!(EventName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kept_headers_are_capped_and_skip_values_that_are_not_visible_ascii() {
        use actix_web::http::header::{HeaderName, HeaderValue};
        let mut map = HeaderMap::new();
        let mut set = |name: &'static str, value: HeaderValue| {
            map.insert(HeaderName::from_static(name), value)
        };
        set("x-github-event", HeaderValue::from_static("push"));
        set("x-github-delivery", HeaderValue::from_static("d-1"));
        set(
            "user-agent",
            HeaderValue::from_str(&"u".repeat(2000)).unwrap(),
        );
        set(
            "x-github-hook-installation-target-type",
            HeaderValue::from_bytes("intégration".as_bytes()).unwrap(),
        );
        let kept = DeliveryHeaders::parse(&map).unwrap().kept;
        assert_eq!(kept["user-agent"].as_str().map(str::len), Some(512));
        assert_eq!(kept["x-github-event"], "push");
        assert!(kept.get("x-github-hook-installation-target-type").is_none());
    }
}
