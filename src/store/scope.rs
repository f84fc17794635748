//! Which installations' rows a transaction may see (docs/architecture.md, "Row-level security").
//!
//! On PostgreSQL the migration's policies read `hubsync.installation_ids`: hubsync's connections
//! default to `*` (see `SEE_ALL`), and `begin` narrows one transaction with `SET LOCAL`, so a
//! query that forgets its WHERE clause still returns none of another installation's rows. SQLite
//! has no row-level security: there the scoped reads (`store::scoped`) filter with `Limit`.
use std::collections::HashSet;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, QuerySelect, Statement, TransactionTrait,
};

use super::entities::{project_syncs, projects, repositories, user_repositories};

/// The installations a caller or worker may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The break-glass admin, unlimited API tokens, and hubsync's own background work.
    All,
    /// These installations only (none when empty).
    Installations(Vec<i64>),
}

/// The setting the policies read: `*`, or installation ids separated by commas.
pub const SETTING: &str = "hubsync.installation_ids";

/// Run on every new PostgreSQL connection of hubsync's pool: unscoped work (webhooks, healing,
/// the outbox, admin pages) sees every row. Any other connection sees none until it sets it.
/// (Bind `SETTING` as its parameter.)
pub(crate) const SEE_ALL: &str = "SELECT set_config($1, '*', false)";

impl Scope {
    pub fn installation(id: i64) -> Self {
        Self::Installations(vec![id])
    }

    /// The setting's value for this scope.
    pub fn setting(&self) -> String {
        match self {
            Self::All => "*".to_owned(),
            Self::Installations(ids) => {
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            }
        }
    }

    pub fn allows(&self, installation_id: i64) -> bool {
        match self {
            Self::All => true,
            Self::Installations(ids) => ids.contains(&installation_id),
        }
    }
}

/// Narrows the rest of this transaction to `scope` (PostgreSQL; nothing on SQLite).
pub async fn set(txn: &impl ConnectionTrait, scope: &Scope) -> Result<(), DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config($1, $2, true)",
        [SETTING.into(), scope.setting().into()],
    ))
    .await
    .map(|_| ())
}

/// A read transaction limited to `scope`.
pub async fn begin(db: &DatabaseConnection, scope: &Scope) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    set(&txn, scope).await?;
    Ok(txn)
}

/// A write transaction (`store::begin_write`) limited to `scope`: the policies' check refuses a
/// row of another installation.
pub async fn begin_write(
    db: &DatabaseConnection,
    scope: &Scope,
) -> Result<DatabaseTransaction, DbErr> {
    let txn = super::begin_write(db).await?;
    set(&txn, scope).await?;
    Ok(txn)
}

/// The scope of a token limited to one project: that project's installation.
pub async fn of_project(db: &impl ConnectionTrait, project_id: i64) -> Result<Scope, DbErr> {
    let ids: Vec<i64> = projects::Entity::find_by_id(project_id)
        .select_only()
        .column(repositories::Column::InstallationId)
        .inner_join(repositories::Entity)
        .into_tuple()
        .all(db)
        .await?;
    Ok(Scope::Installations(ids))
}

/// The scope of a user signed in with GitHub: the installations GitHub lets them reach.
pub async fn of_user(db: &impl ConnectionTrait, user_id: i64) -> Result<Scope, DbErr> {
    let ids: Vec<i64> = user_repositories::Entity::find()
        .select_only()
        .column(user_repositories::Column::InstallationId)
        .distinct()
        .filter(user_repositories::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Scope::Installations(ids))
}

/// What a scoped read may return where no policy filters it (SQLite).
pub(crate) struct Limit {
    pub projects: HashSet<i64>,
    pub syncs: HashSet<i64>,
}

impl Limit {
    /// None: nothing to filter here, because the scope is everything or PostgreSQL's policies
    /// apply it (filtering twice would hide a policy that does not work from the tests).
    pub(crate) async fn of(
        txn: &impl ConnectionTrait,
        scope: &Scope,
    ) -> Result<Option<Self>, DbErr> {
        let Scope::Installations(ids) = scope else {
            return Ok(None);
        };
        if txn.get_database_backend() == DbBackend::Postgres {
            return Ok(None);
        }
        let projects: HashSet<i64> = projects::Entity::find()
            .select_only()
            .column(projects::Column::Id)
            .inner_join(repositories::Entity)
            .filter(repositories::Column::InstallationId.is_in(ids.iter().copied()))
            .into_tuple::<i64>()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        let syncs = project_syncs::Entity::find()
            .select_only()
            .column(project_syncs::Column::Id)
            .filter(project_syncs::Column::ProjectId.is_in(projects.iter().copied()))
            .into_tuple::<i64>()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        Ok(Some(Self { projects, syncs }))
    }
}
