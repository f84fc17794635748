//! The project page's "Files without content" table: per branch, how many manifest entries have
//! no usable content, by reason (the manifest API's `skipped`).
use maud::{html, Markup};
use sea_orm::{DatabaseConnection, DbErr};

use crate::store::{projects::ProjectRecord, skipped};

pub async fn section(db: &DatabaseConnection, p: &ProjectRecord) -> Result<Markup, DbErr> {
    let mut rows = Vec::new();
    for s in p.selections.iter().filter(|s| !s.is_pattern) {
        let counts = skipped::counts(db, s.id).await?;
        if !counts.is_empty() {
            rows.push((s.branch.as_str(), counts));
        }
    }
    Ok(html! {
        @if !rows.is_empty() {
            h2 { "Files without content" }
            table.skipped {
                thead { tr { th { "Branch" } @for k in skipped::Skipped::ALL { th { (k.as_str()) } } } }
                tbody {
                    @for (branch, counts) in &rows {
                        tr {
                            td { (branch) }
                            @for k in skipped::Skipped::ALL {
                                td data-skipped=(k.as_str()) { (counts.get(&k).copied().unwrap_or(0)) }
                            }
                        }
                    }
                }
            }
        }
    })
}
