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

/// serde's messages quote the offending value, which may be huge: keep them short.
fn short(e: serde_json::Error) -> String {
    let mut s = e.to_string();
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
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
                reason: short(e),
            }
        } else {
            IngestError::NotJson(short(e))
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
