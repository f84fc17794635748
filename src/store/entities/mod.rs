//! SeaORM entities, one per table of the data model in docs/architecture.md.
pub mod background_passes;
pub mod blobs;
pub mod changes;
pub mod changes_horizon;
pub mod deliveries;
pub mod files;
pub mod installations;
pub mod project_syncs;
pub mod projects;
pub mod pushed_commits;
pub mod repositories;
pub mod sessions;
pub mod sync_events;
pub mod sync_run_attempts;
pub mod sync_runs;
pub mod webhook_redeliveries;
