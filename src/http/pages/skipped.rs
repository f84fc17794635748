//! The project page's "Files without content" table: per branch, how many manifest entries have
//! no usable content, by reason (the manifest API's `skipped`), read in the caller's scope.
use maud::{html, Markup};
use sea_orm::{DatabaseConnection, DbErr};

use crate::store::{projects::ProjectRecord, scope::Scope, scoped, skipped};

pub async fn section(
    db: &DatabaseConnection,
    scope: &Scope,
    p: &ProjectRecord,
) -> Result<Markup, DbErr> {
    let ids = p.branch_ids();
    let branch_of = |id: i64| {
        p.selections
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.branch.as_str())
    };
    let rows: Vec<_> = scoped::skipped_counts(db, scope, &ids)
        .await?
        .into_iter()
        .filter_map(|(id, counts)| Some((branch_of(id)?, counts)))
        .collect();
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
