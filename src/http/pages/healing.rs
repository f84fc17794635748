//! The self-healing section of `/`: when each pass last ran and what it did, and the latest
//! redeliveries hubsync asked GitHub for (no payloads: GUID, event, outcome).
use maud::{html, Markup};
use sea_orm::{DatabaseConnection, DbErr};

use super::layout::ago;
use crate::store::{
    passes::{self, PassKind},
    redeliveries,
};

/// Redelivery requests listed.
const RECENT: u64 = 10;

pub async fn section(db: &DatabaseConnection) -> Result<Markup, DbErr> {
    let mut rows = Vec::new();
    for (kind, label, unit) in [
        (
            PassKind::Redelivery,
            "Redelivery of missed webhooks",
            "redeliveries requested",
        ),
        (
            PassKind::Installations,
            "Installations reconcile",
            "changes applied",
        ),
    ] {
        rows.push((kind, label, unit, passes::load(db, kind).await?));
    }
    let recent = redeliveries::recent(db, RECENT).await?;
    Ok(html! {
        section.healing {
            h2 { "Self-healing" }
            table {
                thead { tr { th { "Pass" } th { "Last run" } th { "Outcome" } th { "In total" } } }
                tbody {
                    @for (kind, label, unit, row) in &rows {
                        tr data-pass=(kind.as_str()) {
                            td { (label) }
                            td { (ago(row.as_ref().and_then(|r| r.last_finished_at))) }
                            td {
                                @match row.as_ref().and_then(|r| r.last_outcome.as_deref()) {
                                    Some(o) => (o),
                                    None => "not run yet",
                                }
                                @if let Some(e) = row.as_ref().and_then(|r| r.last_error.as_deref()) {
                                    br; small.error { (e) }
                                }
                            }
                            td { (row.as_ref().map_or(0, |r| r.actions_total)) " " (unit) }
                        }
                    }
                }
            }
            @if !recent.is_empty() {
                h3 { "Latest redelivery requests" }
                table.redeliveries {
                    thead { tr { th { "Delivery" } th { "Event" } th { "GitHub recorded" } th { "Requests" } th { "Answer" } th { "When" } } }
                    tbody {
                        @for r in &recent {
                            tr data-guid=(r.guid) {
                                td { code { (r.guid) } }
                                td { (r.event) @if let Some(a) = &r.action { "." (a) } }
                                td { (r.status_code) }
                                td { (r.requests) }
                                td { (r.status) @if let Some(e) = &r.error { br; small.error { (e) } } }
                                td { (ago(Some(r.last_requested_at))) }
                            }
                        }
                    }
                }
            }
        }
    })
}
