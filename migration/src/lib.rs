//! hubsync's schema, one additive migration at a time (see README.md in this crate).
pub use sea_orm_migration::prelude::*;

mod data_loss;
mod m20261126_000001_initial;
mod m20261126_000002_deliveries_due;
mod m20261126_000003_drop_unused_delivery_index;
mod m20261203_000100_sessions;
mod m20261203_000200_sync_run_attempts;
mod m20261203_000201_blobs_without_content;
mod m20261203_000500_healing_passes;
mod m20261203_000700_changes;
mod m20261203_000701_pushed_commits;
mod m20261203_000702_blobs_lfs_pointer;
mod m20261203_000800_runs_finished_index;
mod m20261203_000900_outbox;
mod m20261203_000920_api_tokens;
mod m20261203_000921_setup_links;
mod m20261203_000940_github_users;
mod m20261203_000960_files_submodules;
mod m20261203_000990_head_commits;
mod m20261204_001000_row_level_security;

pub use data_loss::DataLoss;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_initial::Migration),
            Box::new(m20261126_000002_deliveries_due::Migration),
            Box::new(m20261126_000003_drop_unused_delivery_index::Migration),
            Box::new(m20261203_000100_sessions::Migration),
            Box::new(m20261203_000200_sync_run_attempts::Migration),
            Box::new(m20261203_000201_blobs_without_content::Migration),
            Box::new(m20261203_000500_healing_passes::Migration),
            Box::new(m20261203_000700_changes::Migration),
            Box::new(m20261203_000701_pushed_commits::Migration),
            Box::new(m20261203_000702_blobs_lfs_pointer::Migration),
            Box::new(m20261203_000800_runs_finished_index::Migration),
            Box::new(m20261203_000900_outbox::Migration),
            Box::new(m20261203_000920_api_tokens::Migration),
            Box::new(m20261203_000921_setup_links::Migration),
            Box::new(m20261203_000940_github_users::Migration),
            Box::new(m20261203_000960_files_submodules::Migration),
            Box::new(m20261203_000990_head_commits::Migration),
            Box::new(m20261204_001000_row_level_security::Migration),
        ]
    }
}

impl Migrator {
    /// The migrations that remove data on purpose, each with what it removes. Every migration not
    /// listed here must be additive: `hubsync migrate check` and the crate's tests enforce it.
    pub fn data_loss() -> Vec<DataLoss> {
        vec![]
    }
}
