//! Accepting a verified delivery: check that it parses, then store it. Nothing else happens in
//! the request; processing runs from the stored row.
use super::{
    events::{Envelope, Event},
    headers::DeliveryHeaders,
    inbox::{Inbox, InboxError},
};
use crate::store::deliveries::{DeliveryStatus, NewDelivery};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the body is not valid UTF-8")]
    NotUtf8,
    #[error("the body is not valid JSON: {0}")]
    NotJson(String),
    #[error("the {event} payload does not have the expected shape: {reason}")]
    Shape { event: String, reason: String },
    #[error(transparent)]
    Store(#[from] InboxError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Stored for the first time.
    Stored,
    /// The same delivery id was stored before: nothing more happens.
    Duplicate,
}

/// serde's messages quote the offending value (`invalid type: string "...", expected u64`, or a
/// value our parsers refused): a piece of the payload, which must not reach logs or answers. The
/// quoted text goes; what was expected, and where, stays.
pub(crate) fn describe(e: &serde_json::Error) -> String {
    let message = e.to_string();
    // Field names in these are hubsync's own, not the payload's.
    let keep_backticks =
        message.starts_with("missing field") || message.starts_with("duplicate field");
    let mut out = String::with_capacity(message.len().min(300));
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                // A Debug-quoted value: skip to its unescaped closing quote.
                let mut escaped = false;
                for q in chars.by_ref() {
                    match (escaped, q) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => escaped = false,
                    }
                }
                out.push_str("(a value)");
            }
            '`' if !keep_backticks => {
                chars.by_ref().find(|q| *q == '`');
                out.push_str("(a value)");
            }
            c => out.push(c),
        }
        if out.len() > 300 {
            out.push('…');
            break;
        }
    }
    out
}

pub async fn ingest(
    inbox: &Inbox,
    headers: &DeliveryHeaders,
    body: Vec<u8>,
) -> Result<Ingested, IngestError> {
    let text = String::from_utf8(body).map_err(|_| IngestError::NotUtf8)?;
    let refused = |e: serde_json::Error| {
        if e.is_data() {
            IngestError::Shape {
                event: headers.event.to_string(),
                reason: describe(&e),
            }
        } else {
            IngestError::NotJson(describe(&e))
        }
    };
    // The typed parse runs now so that a payload processing could not read is refused while
    // the sender is still listening, rather than failing later in the background.
    let event = Event::parse(&headers.event, &text).map_err(refused)?;
    let envelope = match event {
        // Pushes, nearly all deliveries, have no action: their installation comes from the
        // typed parse rather than a second pass over 9 KB.
        Event::Push(push) => Envelope {
            action: None,
            installation: push.installation,
        },
        _ => serde_json::from_str(&text).map_err(refused)?,
    };
    let status = if Event::is_handled(&headers.event) {
        DeliveryStatus::Received
    } else {
        DeliveryStatus::Ignored
    };
    let stored = inbox
        .store(NewDelivery {
            delivery_id: headers.delivery.to_string(),
            event: headers.event.to_string(),
            action: envelope.action,
            installation_id: envelope.installation.map(|i| i.id),
            hook_id: headers.hook_id,
            headers: headers.kept.clone(),
            payload: text,
            status,
        })
        .await?;
    Ok(if stored {
        Ingested::Stored
    } else {
        Ingested::Duplicate
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_of_refused_payloads_quote_none_of_them() {
        let e = serde_json::from_str::<u64>(r#""TOPSECRET \" still secret""#).unwrap_err();
        let d = describe(&e);
        assert!(
            !d.contains("TOPSECRET") && !d.contains("still secret"),
            "{d}"
        );
        assert!(
            d.contains("invalid type") && d.contains("expected u64") && d.contains("line 1"),
            "{d}"
        );
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        enum Kind {
            Branch,
            Tag,
        }
        let d = describe(&serde_json::from_str::<Kind>(r#""TOPSECRET""#).unwrap_err());
        assert!(
            !d.contains("TOPSECRET") && d.contains("unknown variant"),
            "{d}"
        );
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Push {
            after: String,
        }
        let d = describe(&serde_json::from_str::<Push>("{}").unwrap_err());
        assert!(d.contains("missing field `after`"), "{d}");
    }
}
