//! The processor's claim walks waiting deliveries in id order. Without this index SQLite found
//! them through (status, installation_id, id) and read every waiting row, 9 KB payload included,
//! to reach `not_before`: claiming got slower with every delivery in the backlog. The partial
//! index holds only waiting rows and everything the claim looks at besides the payload (status
//! too, so that SQLite need not read the row to check it).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx_deliveries_due")
                .table(Deliveries::Table)
                .col(Deliveries::Id)
                .col(Deliveries::InstallationId)
                .col(Deliveries::NotBefore)
                .col(Deliveries::Status)
                .and_where(Expr::col(Deliveries::Status).eq("received"))
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    InstallationId,
    NotBefore,
    Status,
}
