//! Row-level security on PostgreSQL (docs/architecture.md, "Row-level security"): every table
//! whose rows belong to one installation shows a transaction only the rows of the installations
//! named in `hubsync.installation_ids` (`*`: all; unset or empty: none). hubsync's own connections
//! default to `*` and narrow with `SET LOCAL`. Policies only: no row, column or index changes, so
//! nothing to backfill. SQLite has no RLS; the store layer scopes reads there instead.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables with the installation's id in a column of their own.
const DIRECT: &[(&str, &str)] = &[
    ("installations", "id"),
    ("repositories", "installation_id"),
    ("user_repositories", "installation_id"),
];

/// Tables whose row is visible when its parent row is (the parent's own policy decides): one
/// primary-key probe per level, no denormalised column to keep in step.
const BY_PARENT: &[(&str, &str, &str)] = &[
    ("projects", "repository_id", "repositories"),
    ("pushed_commits", "repository_id", "repositories"),
    ("head_commits", "repository_id", "repositories"),
    ("project_syncs", "project_id", "projects"),
    ("sync_events", "project_id", "projects"),
    ("changes", "project_id", "projects"),
    ("files", "project_sync_id", "project_syncs"),
    ("sync_runs", "project_sync_id", "project_syncs"),
    ("sync_run_attempts", "run_id", "sync_runs"),
];

/// `*` sees everything; anything else is a comma-separated list of installation ids. The bodies
/// name only pg_catalog's functions: pg_dump (and others) run with an empty search_path, and a
/// `SET search_path` clause would stop PostgreSQL inlining them into the policies.
const SEES_ALL: &str = "coalesce(current_setting('hubsync.installation_ids', true), '') = '*'";

fn functions() -> [String; 2] {
    [
        format!(
            "CREATE FUNCTION hubsync_sees_all() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE \
             AS $$ SELECT {SEES_ALL} $$"
        ),
        format!(
            "CREATE FUNCTION hubsync_installation_visible(installation bigint) RETURNS boolean \
             LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT {SEES_ALL} OR installation = ANY \
             (string_to_array(nullif(current_setting('hubsync.installation_ids', true), '*'), \
             ',')::bigint[]) $$"
        ),
    ]
}

fn protect(table: &str, using: &str) -> [String; 3] {
    [
        format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"),
        // The owner too: hubsync usually owns its tables. Superusers still bypass RLS.
        format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"),
        // USING is also the WITH CHECK: a scoped transaction cannot write another's rows.
        format!("CREATE POLICY hubsync_installation ON {table} USING ({using})"),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        let mut statements: Vec<String> = functions().into();
        for (table, column) in DIRECT {
            statements.extend(protect(
                table,
                &format!("hubsync_installation_visible({column})"),
            ));
        }
        for (table, column, parent) in BY_PARENT {
            // `hubsync_sees_all()` first: the unscoped paths skip the parent probe.
            statements.extend(protect(
                table,
                &format!(
                    "hubsync_sees_all() OR EXISTS (SELECT 1 FROM {parent} \
                     WHERE {parent}.id = {table}.{column})"
                ),
            ));
        }
        let db = m.get_connection();
        for sql in statements {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }
}
