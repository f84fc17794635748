//! The outgoing webhooks section of `/`: each subscription, whether it is enabled (or why it was
//! disabled), its run of failures and its deliveries by status. URLs are shown without their
//! query, which may carry a receiver's token.
use maud::{html, Markup};
use sea_orm::{DatabaseConnection, DbErr};

use crate::store::outbox::{self, DeliveryStatus};

pub async fn section(db: &DatabaseConnection) -> Result<Markup, DbErr> {
    let subs = outbox::list(db).await?;
    if subs.is_empty() {
        return Ok(html! {});
    }
    let counts = outbox::deliveries::counts(db).await?;
    let n = |id: i64, s: DeliveryStatus| counts.get(&(id, s)).copied().unwrap_or(0);
    Ok(html! {
        section.outbox {
            h2 { "Outgoing webhooks" }
            table {
                thead { tr { th { "Subscription" } th { "Events" } th { "State" } th { "Failures in a row" } th { "Pending" } th { "Delivered" } th { "Failed" } } }
                tbody {
                    @for s in &subs {
                        tr data-subscription=(s.id) {
                            td {
                                code { (without_query(&s.url)) }
                                @if let Some(p) = s.project_id { br; small { a href=(format!("/projects/{p}")) { "project " (p) } } }
                            }
                            td { @for (i, e) in outbox::events_of(s).iter().enumerate() { @if i > 0 { ", " } (e) } }
                            td {
                                @if s.enabled {
                                    span.state data-state="enabled" { "enabled" }
                                } @else {
                                    span.state data-state="disabled" { "disabled" }
                                    @if let Some(r) = &s.disabled_reason { br; small.error { (r) } }
                                }
                            }
                            td { (s.consecutive_failures) }
                            td { (n(s.id, DeliveryStatus::Pending)) }
                            td { (n(s.id, DeliveryStatus::Succeeded)) }
                            td { (n(s.id, DeliveryStatus::Failed)) }
                        }
                    }
                }
            }
        }
    })
}

fn without_query(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => String::new(),
    }
}
