//! The one claim statement of the leased queues (runs, outbox deliveries, redelivery requests):
//! pick the due rows in a sub-select, mark them claimed (a lease, a request) in the same UPDATE and
//! return them. (Webhook deliveries are only locked: their processing commits in the claiming
//! transaction, so they need no lease.) On PostgreSQL the sub-select takes row locks with SKIP
//! LOCKED, so two replicas claiming at once each get other rows and neither waits; SQLite
//! serialises writers, so the one statement is atomic there.
use sea_orm::{DbBackend, Statement, Value};

/// The parts of one queue's claim; `$N` parameters are the caller's, in `values` order.
pub(super) struct Claim<'a> {
    /// The queue table and its key column.
    pub table: &'static str,
    pub key: &'static str,
    /// The table's alias in the sub-select (the rows to lock), then any joins after it.
    pub alias: &'static str,
    pub joins: &'a str,
    /// What claiming does to a row (the SET list).
    pub set: &'a str,
    /// Which rows are due, in which order, how many.
    pub due: &'a str,
    pub order: &'a str,
    pub limit: &'a str,
    pub returning: &'a str,
}

impl Claim<'_> {
    pub(super) fn statement(
        &self,
        backend: DbBackend,
        values: impl IntoIterator<Item = Value>,
    ) -> Statement {
        let Claim {
            table,
            key,
            alias,
            joins,
            set,
            due,
            order,
            limit,
            returning,
        } = self;
        let lock = match backend {
            // Only the queue's own rows are locked, not the rows joined to decide.
            DbBackend::Postgres => format!(" FOR UPDATE OF {alias} SKIP LOCKED"),
            _ => String::new(),
        };
        let order = if order.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {order}")
        };
        let limit = if limit.is_empty() {
            String::new()
        } else {
            format!(" LIMIT {limit}")
        };
        let sql = format!(
            "UPDATE {table} SET {set} \
             WHERE {key} IN (SELECT {alias}.{key} FROM {table} {alias} {joins} \
               WHERE {due}{order}{limit}{lock}) \
             RETURNING {returning}"
        );
        Statement::from_sql_and_values(backend, sql, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim() -> Claim<'static> {
        Claim {
            table: "jobs",
            key: "id",
            alias: "j",
            joins: "",
            set: "lease_until = $1",
            due: "j.status = 'queued'",
            order: "j.id",
            limit: "1",
            returning: "*",
        }
    }

    #[test]
    fn postgres_locks_only_the_queue_rows_and_skips_locked_ones() {
        let sql = claim().statement(DbBackend::Postgres, [1.into()]).sql;
        assert!(
            sql.contains("ORDER BY j.id LIMIT 1 FOR UPDATE OF j SKIP LOCKED)"),
            "{sql}"
        );
        assert!(sql.starts_with("UPDATE jobs SET lease_until = $1 WHERE id IN (SELECT j.id"));
    }

    #[test]
    fn sqlite_has_no_row_locks() {
        let sql = claim().statement(DbBackend::Sqlite, [1.into()]).sql;
        assert!(!sql.contains("FOR UPDATE"), "{sql}");
        assert!(sql.ends_with("RETURNING *"), "{sql}");
    }
}
