//! A progress event as streams send it.
use bytestring::ByteString;
use serde_json::{json, Value};

use crate::store::entities::sync_events;

/// A `sync_events` row with its `data` rendered for the wire once, however many subscribers
/// receive it.
#[derive(Debug, Clone)]
pub struct Published {
    pub row: sync_events::Model,
    pub data: ByteString,
}

impl From<sync_events::Model> for Published {
    fn from(row: sync_events::Model) -> Self {
        let data = wire_data(&row).to_string().into();
        Self { row, data }
    }
}

/// An event's `data` as clients read it: the row's data with `project_id` and `at` (when it
/// happened, so a replayed event shows the right "time since" and run duration).
pub fn wire_data(ev: &sync_events::Model) -> Value {
    let mut data = ev.data.clone();
    if let Value::Object(map) = &mut data {
        map.insert("project_id".into(), json!(ev.project_id));
        map.insert("at".into(), json!(ev.created_at.to_rfc3339()));
    }
    data
}
