//! Outgoing webhooks (Standard Webhooks): `webhook_subscriptions` (where to POST which events,
//! and the signing secret, which must stay readable to sign), `outbox_deliveries` (one row per
//! event and subscription, written in the transaction that records the run's outcome, so a crash
//! loses none) and `outbox_attempts` (the delivery log: one row per POST).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let id = |c: DynIden| {
            ColumnDef::new(c)
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key()
                .to_owned()
        };
        let at = |c: DynIden, null: bool| {
            let mut d = ColumnDef::new(c);
            d.timestamp_with_time_zone();
            if null {
                d.null();
            } else {
                d.not_null();
            }
            d.to_owned()
        };
        m.create_table(
            Table::create()
                .table(WebhookSubscriptions::Table)
                .col(id(WebhookSubscriptions::Id.into_iden()))
                .col(ColumnDef::new(WebhookSubscriptions::Url).text().not_null())
                .col(
                    ColumnDef::new(WebhookSubscriptions::ProjectId)
                        .big_integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookSubscriptions::Events)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookSubscriptions::Secret)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookSubscriptions::Enabled)
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(
                    ColumnDef::new(WebhookSubscriptions::ConsecutiveFailures)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(at(WebhookSubscriptions::DisabledAt.into_iden(), true))
                .col(
                    ColumnDef::new(WebhookSubscriptions::DisabledReason)
                        .text()
                        .null(),
                )
                .col(at(WebhookSubscriptions::CreatedAt.into_iden(), false))
                .col(at(WebhookSubscriptions::DeletedAt.into_iden(), true))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OutboxDeliveries::Table)
                .col(id(OutboxDeliveries::Id.into_iden()))
                .col(
                    ColumnDef::new(OutboxDeliveries::SubscriptionId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboxDeliveries::EventType)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboxDeliveries::ProjectId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboxDeliveries::RunId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(OutboxDeliveries::Payload).text().not_null())
                .col(ColumnDef::new(OutboxDeliveries::Status).text().not_null())
                .col(
                    ColumnDef::new(OutboxDeliveries::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(at(OutboxDeliveries::NextAttemptAt.into_iden(), false))
                .col(at(OutboxDeliveries::LeaseUntil.into_iden(), true))
                .col(ColumnDef::new(OutboxDeliveries::LeasedBy).text().null())
                .col(
                    ColumnDef::new(OutboxDeliveries::LastStatusCode)
                        .integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(OutboxDeliveries::LastDurationMs)
                        .big_integer()
                        .null(),
                )
                .col(ColumnDef::new(OutboxDeliveries::LastError).text().null())
                .col(at(OutboxDeliveries::CreatedAt.into_iden(), false))
                .col(at(OutboxDeliveries::DeliveredAt.into_iden(), true))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_outbox_deliveries_subscription")
                        .from(OutboxDeliveries::Table, OutboxDeliveries::SubscriptionId)
                        .to(WebhookSubscriptions::Table, WebhookSubscriptions::Id)
                        .on_delete(ForeignKeyAction::Restrict)
                        .on_update(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        // The claim: each subscription's oldest pending delivery; the log: a subscription's newest.
        m.create_index(
            Index::create()
                .name("idx_outbox_deliveries_subscription")
                .table(OutboxDeliveries::Table)
                .col(OutboxDeliveries::SubscriptionId)
                .col(OutboxDeliveries::Status)
                .col(OutboxDeliveries::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_outbox_deliveries_due")
                .table(OutboxDeliveries::Table)
                .col(OutboxDeliveries::Status)
                .col(OutboxDeliveries::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OutboxAttempts::Table)
                .col(id(OutboxAttempts::Id.into_iden()))
                .col(
                    ColumnDef::new(OutboxAttempts::DeliveryId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(OutboxAttempts::Attempt).integer().not_null())
                .col(at(OutboxAttempts::StartedAt.into_iden(), false))
                .col(
                    ColumnDef::new(OutboxAttempts::DurationMs)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(OutboxAttempts::StatusCode).integer().null())
                .col(ColumnDef::new(OutboxAttempts::Error).text().null())
                .col(ColumnDef::new(OutboxAttempts::Worker).text().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_outbox_attempts_delivery")
                        .from(OutboxAttempts::Table, OutboxAttempts::DeliveryId)
                        .to(OutboxDeliveries::Table, OutboxDeliveries::Id)
                        .on_delete(ForeignKeyAction::Restrict)
                        .on_update(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_outbox_attempts_delivery")
                .table(OutboxAttempts::Table)
                .col(OutboxAttempts::DeliveryId)
                .col(OutboxAttempts::Attempt)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum WebhookSubscriptions {
    Table,
    Id,
    Url,
    ProjectId,
    Events,
    Secret,
    Enabled,
    ConsecutiveFailures,
    DisabledAt,
    DisabledReason,
    CreatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum OutboxDeliveries {
    Table,
    Id,
    SubscriptionId,
    EventType,
    ProjectId,
    RunId,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LeasedBy,
    LastStatusCode,
    LastDurationMs,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum OutboxAttempts {
    Table,
    Id,
    DeliveryId,
    Attempt,
    StartedAt,
    DurationMs,
    StatusCode,
    Error,
    Worker,
}
