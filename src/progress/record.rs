//! Writing progress events.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, FromQueryResult, Set, Statement,
};

use super::ProgressEvent;
use crate::store::entities::sync_events;

/// Appends an event. On PostgreSQL the same statement announces it to every replica's tailer
/// (`NOTIFY`, sent when the surrounding transaction commits; see src/progress/listen.rs).
pub async fn record(
    db: &impl ConnectionTrait,
    project_id: i64,
    event: &ProgressEvent,
) -> Result<sync_events::Model, DbErr> {
    let (run_id, kind, data) = (event.run_id(), event.kind(), event.data());
    if db.get_database_backend() == DbBackend::Postgres {
        let sql = format!(
            "INSERT INTO sync_events (project_id, run_id, kind, data, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, project_id, run_id, kind, data, created_at, \
               pg_notify('{}', id::text)::text AS announced",
            super::listen::CHANNEL
        );
        let stmt = Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [
                project_id.into(),
                run_id.into(),
                kind.as_str().into(),
                data.into(),
                Utc::now().into(),
            ],
        );
        return sync_events::Model::find_by_statement(stmt)
            .one(db)
            .await?
            .ok_or_else(|| DbErr::RecordNotInserted);
    }
    sync_events::ActiveModel {
        project_id: Set(project_id),
        run_id: Set(run_id),
        kind: Set(kind),
        data: Set(data),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Deletes events older than `retention`. Replays from a recent id are unaffected: ids only grow,
/// and a client asking for an id older than the retention gets whatever is kept.
pub async fn prune(
    db: &impl ConnectionTrait,
    retention: std::time::Duration,
) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let cutoff =
        Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let res = sync_events::Entity::delete_many()
        .filter(sync_events::Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Prunes once an hour until shutdown.
pub(crate) async fn run_pruner(
    db: sea_orm::DatabaseConnection,
    retention: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        match prune(&db, retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "pruned old progress events"),
            Err(e) => tracing::warn!(error = %e, "pruning progress events failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
    }
}
