//! One run's events, for its timeline on the run page (rows from `store::scoped::run`).
use chrono::{DateTime, Utc};

use super::ProgressEvent;
use crate::store::entities::sync_events;

/// The rows as (when, event), in their order; rows this version cannot read are left out.
pub fn timeline(rows: &[sync_events::Model]) -> Vec<(DateTime<Utc>, ProgressEvent)> {
    rows.iter()
        .filter_map(|r| Some((r.created_at, ProgressEvent::from_row(r).ok()?)))
        .collect()
}
