//! SeaORM entities, one per table of the data model in docs/architecture.md.
pub mod api_tokens;
pub mod background_passes;
pub mod blobs;
pub mod changes;
pub mod changes_horizon;
pub mod deliveries;
pub mod files;
pub mod github_users;
pub mod head_commits;
pub mod installations;
pub mod outbox_attempts;
pub mod outbox_deliveries;
pub mod project_syncs;
pub mod projects;
pub mod pushed_commits;
pub mod repositories;
pub mod sessions;
pub mod setup_links;
pub mod sync_events;
pub mod sync_run_attempts;
pub mod sync_runs;
pub mod user_repositories;
pub mod webhook_redeliveries;
pub mod webhook_subscriptions;

/// `as_str`, Display and comparison with a plain string for an enum stored as its string value
/// (`DeriveActiveEnum`), so rows written before the enum read unchanged.
macro_rules! stored_strings {
    ($t:ty { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $t {
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
pub(crate) use stored_strings;
