//! The one progress event type: what the sync layer records, the hub carries, SSE sends (the
//! variant's name is the SSE `event:` field) and the page's script reads (app.js).
use bytestring::ByteString;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::method::{Fallback, SyncMethod};
use crate::{
    git::{BranchName, Sha},
    store::{
        entities::sync_events::{self, EventKind},
        runs::Trigger,
        selections::SelectionState,
    },
};

/// Stored as `sync_events.kind` (the tag) and `sync_events.data` (the fields); sent as the SSE
/// event name and, with `project_id` and `at` added, its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// A run was queued, or a push coalesced into the queued one.
    Queued {
        run_id: i64,
        branch: BranchName,
        trigger: Trigger,
        /// Where the branch stands now.
        from_sha: Option<Sha>,
        target_sha: Option<Sha>,
        coalesced: bool,
    },
    Started {
        run_id: i64,
        branch: BranchName,
        trigger: Trigger,
        from_sha: Option<Sha>,
        target_sha: Option<Sha>,
        attempt: i32,
        started_at: Option<DateTime<Utc>>,
    },
    /// Blobs fetched so far out of those the run needs.
    Progress {
        run_id: i64,
        branch: BranchName,
        done: u64,
        total: u64,
    },
    /// The run's figures, every attempt's fetches and requests included.
    Succeeded {
        run_id: i64,
        branch: BranchName,
        sha: Sha,
        from_sha: Option<Sha>,
        files_total: i64,
        files_changed: i64,
        files_fetched: i64,
        bytes_fetched: i64,
        api_requests: i64,
        /// Absent in events written before runs recorded it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<SyncMethod>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<Fallback>,
    },
    Failed {
        run_id: i64,
        branch: BranchName,
        error: String,
        will_retry: bool,
        attempt: i32,
        from_sha: Option<Sha>,
        target_sha: Option<Sha>,
        files_total: Option<i64>,
        files_changed: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<i64>,
    },
    SelectionChanged(SelectionChange),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SelectionChange {
    /// The operator replaced the selection with these names and patterns.
    Replaced { branches: Vec<String> },
    /// The branch is gone on GitHub; `state` is always `deleted`.
    BranchDeleted {
        branch: BranchName,
        state: SelectionState,
    },
}

impl ProgressEvent {
    pub fn branch_deleted(branch: BranchName) -> Self {
        Self::SelectionChanged(SelectionChange::BranchDeleted {
            branch,
            state: SelectionState::Deleted,
        })
    }

    /// The `kind` column and SSE event name.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Queued { .. } => EventKind::Queued,
            Self::Started { .. } => EventKind::Started,
            Self::Progress { .. } => EventKind::Progress,
            Self::Succeeded { .. } => EventKind::Succeeded,
            Self::Failed { .. } => EventKind::Failed,
            Self::SelectionChanged(_) => EventKind::SelectionChanged,
        }
    }

    pub fn run_id(&self) -> Option<i64> {
        match self {
            Self::Queued { run_id, .. }
            | Self::Started { run_id, .. }
            | Self::Progress { run_id, .. }
            | Self::Succeeded { run_id, .. }
            | Self::Failed { run_id, .. } => Some(*run_id),
            Self::SelectionChanged(_) => None,
        }
    }

    /// The fields without the tag, as the `data` column holds them.
    pub(crate) fn data(&self) -> Value {
        let mut v = serde_json::to_value(self).expect("a progress event serializes");
        if let Value::Object(map) = &mut v {
            map.remove("kind");
        }
        v
    }

    /// Reads a stored row back.
    pub(crate) fn from_row(row: &sync_events::Model) -> Result<Self, serde_json::Error> {
        let mut data = row.data.clone();
        if let Value::Object(map) = &mut data {
            map.insert("kind".into(), row.kind.as_str().into());
        }
        serde_json::from_value(data)
    }
}

/// An event ready for the wire, rendered once however many subscribers receive it.
#[derive(Debug, Clone)]
pub struct Published {
    pub id: i64,
    pub project_id: i64,
    pub event: ProgressEvent,
    /// The SSE data: the event's fields with `project_id` and `at` (when it happened, so a
    /// replayed event shows the right "time since" and run duration).
    pub data: ByteString,
    /// The whole SSE message (`event:`, `id:`, `data:`), shared by every subscriber's stream:
    /// rendering it per subscriber cost 5,000 allocations and copies per event.
    pub frame: bytes::Bytes,
}

impl Published {
    /// None (and a warning) for a row this version cannot read, say one a newer replica wrote.
    pub(crate) fn from_row(row: &sync_events::Model) -> Option<Self> {
        let event = match ProgressEvent::from_row(row) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(id = row.id, kind = %row.kind, error = %e, "skipping an unreadable progress event");
                return None;
            }
        };
        let mut data = serde_json::to_value(&event).expect("a progress event serializes");
        if let Value::Object(map) = &mut data {
            map.insert("project_id".into(), row.project_id.into());
            map.insert("at".into(), row.created_at.to_rfc3339().into());
        }
        let data = data.to_string();
        // Compact JSON has no line breaks (they are escaped in strings), so one `data:` line.
        let frame = format!("event: {}\nid: {}\ndata: {data}\n\n", event.kind(), row.id);
        Some(Self {
            id: row.id,
            project_id: row.project_id,
            event,
            data: data.into(),
            frame: frame.into(),
        })
    }

    pub fn kind(&self) -> EventKind {
        self.event.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: EventKind, data: Value) -> sync_events::Model {
        sync_events::Model {
            id: 7,
            project_id: 3,
            run_id: None,
            kind,
            data,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn rows_written_before_the_type_read_back() {
        let replaced = row(
            EventKind::SelectionChanged,
            serde_json::json!({ "branches": ["main", "release/*"] }),
        );
        assert_eq!(
            ProgressEvent::from_row(&replaced).unwrap(),
            ProgressEvent::SelectionChanged(SelectionChange::Replaced {
                branches: vec!["main".into(), "release/*".into()]
            })
        );
        let deleted = row(
            EventKind::SelectionChanged,
            serde_json::json!({ "branch": "x", "state": "deleted" }),
        );
        assert_eq!(
            ProgressEvent::from_row(&deleted).unwrap(),
            ProgressEvent::branch_deleted(BranchName::parse("x").unwrap())
        );
        let failed = row(
            EventKind::Failed,
            serde_json::json!({ "run_id": 1, "branch": "main", "error": "boom", "will_retry": false,
                                "attempt": 5, "from_sha": null, "target_sha": null,
                                "files_total": null, "files_changed": null }),
        );
        let ev = ProgressEvent::from_row(&failed).unwrap();
        assert_eq!(ev.kind(), "failed");
        assert_eq!(ev.data(), failed.data, "written back unchanged");
    }

    #[test]
    fn the_wire_carries_the_fields_project_and_time() {
        let ev = ProgressEvent::Progress {
            run_id: 1,
            branch: BranchName::parse("main").unwrap(),
            done: 2,
            total: 4,
        };
        let p = Published::from_row(&row(ev.kind(), ev.data())).unwrap();
        let wire: Value = serde_json::from_str(&p.data).unwrap();
        assert_eq!(wire["done"], 2);
        assert_eq!(wire["branch"], "main");
        assert_eq!(wire["project_id"], 3);
        assert!(wire["at"].is_string());
        assert_eq!(
            p.frame,
            format!("event: progress\nid: {}\ndata: {}\n\n", p.id, p.data).as_bytes(),
            "one message, one data line"
        );
        assert!(
            Published::from_row(&row(EventKind::Progress, serde_json::json!({ "who": "a" })))
                .is_none()
        );
    }
}
