//! Self-healing passes (redelivery of webhooks GitHub could not deliver, the installation
//! reconcile): `background_passes` holds one row per kind of pass, with the lease that keeps two
//! replicas from running it at once, what its last run did, and the redelivery cursor;
//! `webhook_redeliveries` records each delivery GUID hubsync asked GitHub to send again, so no
//! replica asks twice for the same one.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let at = |c: BackgroundPasses| {
            ColumnDef::new(c)
                .timestamp_with_time_zone()
                .null()
                .to_owned()
        };
        m.create_table(
            Table::create()
                .table(BackgroundPasses::Table)
                .col(
                    ColumnDef::new(BackgroundPasses::Name)
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(BackgroundPasses::LeasedBy).text().null())
                .col(at(BackgroundPasses::LeaseUntil))
                .col(at(BackgroundPasses::NotBefore))
                .col(at(BackgroundPasses::LastStartedAt))
                .col(at(BackgroundPasses::LastFinishedAt))
                .col(ColumnDef::new(BackgroundPasses::LastOutcome).text().null())
                .col(ColumnDef::new(BackgroundPasses::LastError).text().null())
                .col(
                    ColumnDef::new(BackgroundPasses::ActionsTotal)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(BackgroundPasses::NewestSeen)
                        .big_integer()
                        .null(),
                )
                .col(ColumnDef::new(BackgroundPasses::ResumeUrl).text().null())
                .col(
                    ColumnDef::new(BackgroundPasses::ResumeNewest)
                        .big_integer()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookRedeliveries::Table)
                .col(
                    ColumnDef::new(WebhookRedeliveries::Guid)
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(WebhookRedeliveries::GithubDeliveryId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(WebhookRedeliveries::Event).text().not_null())
                .col(ColumnDef::new(WebhookRedeliveries::Action).text().null())
                .col(
                    ColumnDef::new(WebhookRedeliveries::InstallationId)
                        .big_integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookRedeliveries::StatusCode)
                        .integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookRedeliveries::Requests)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(WebhookRedeliveries::Status)
                        .text()
                        .not_null(),
                )
                .col(ColumnDef::new(WebhookRedeliveries::Error).text().null())
                .col(
                    ColumnDef::new(WebhookRedeliveries::FirstRequestedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookRedeliveries::LastRequestedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        // The status page lists the latest requests.
        m.create_index(
            Index::create()
                .name("ix_webhook_redeliveries_last_requested_at")
                .table(WebhookRedeliveries::Table)
                .col(WebhookRedeliveries::LastRequestedAt)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum BackgroundPasses {
    Table,
    Name,
    LeasedBy,
    LeaseUntil,
    NotBefore,
    LastStartedAt,
    LastFinishedAt,
    LastOutcome,
    LastError,
    ActionsTotal,
    NewestSeen,
    ResumeUrl,
    ResumeNewest,
}

#[derive(DeriveIden)]
enum WebhookRedeliveries {
    Table,
    Guid,
    GithubDeliveryId,
    Event,
    Action,
    InstallationId,
    StatusCode,
    Requests,
    Status,
    Error,
    FirstRequestedAt,
    LastRequestedAt,
}
