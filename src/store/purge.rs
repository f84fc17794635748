//! Removing stored content the size limit no longer allows, only when the operator asks
//! (`hubsync purge-oversized --apply`): lowering `HUBSYNC_MAX_FILE_SIZE` alone deletes nothing.
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};

use super::entities::blobs::{self, Column};

/// Blobs cleared per statement: bounded transactions on a large store.
const BATCH: u64 = 500;

/// Stored content over a size limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Oversized {
    pub blobs: u64,
    pub bytes: u64,
}

/// What `purge` would clear under `max_file_size`.
pub async fn oversized(db: &impl ConnectionTrait, max_file_size: u64) -> Result<Oversized, DbErr> {
    let (blobs, bytes): (i64, Option<i64>) = blobs::Entity::find()
        .select_only()
        .column_as(Column::Sha.count(), "blobs")
        // PostgreSQL sums BIGINT into NUMERIC.
        .column_as(Expr::cust("CAST(SUM(size) AS BIGINT)"), "bytes")
        .filter(over(max_file_size))
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((0, None));
    Ok(Oversized {
        blobs: blobs.max(0) as u64,
        bytes: bytes.unwrap_or(0).max(0) as u64,
    })
}

/// Clears the content of every blob over `max_file_size`, in batches. The blobs stay listed, as
/// files skipped for their size are, and are fetched again once a limit allows them.
pub async fn purge(db: &impl ConnectionTrait, max_file_size: u64) -> Result<Oversized, DbErr> {
    let mut done = Oversized::default();
    loop {
        let batch: Vec<(String, i64)> = blobs::Entity::find()
            .select_only()
            .column(Column::Sha)
            .column(Column::Size)
            .filter(over(max_file_size))
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        if batch.is_empty() {
            return Ok(done);
        }
        done.blobs += batch.len() as u64;
        done.bytes += batch.iter().map(|(_, size)| size.max(&0)).sum::<i64>() as u64;
        blobs::Entity::update_many()
            .col_expr(Column::Content, Expr::value(Option::<Vec<u8>>::None))
            .col_expr(Column::Binary, Expr::value(false))
            .filter(Column::Sha.is_in(batch.into_iter().map(|(sha, _)| sha)))
            .exec(db)
            .await?;
    }
}

fn over(max_file_size: u64) -> sea_orm::Condition {
    let max = i64::try_from(max_file_size).unwrap_or(i64::MAX);
    sea_orm::Condition::all()
        .add(Column::Content.is_not_null())
        .add(Column::Size.gt(max))
}
