//! What pending migrations will do, found without touching the data: they run against a scratch
//! database on the same engine (an in-memory SQLite, or a PostgreSQL schema inside a transaction
//! that is always rolled back), brought to the same applied migrations first, while sea-orm's
//! statement log is recorded. So every statement is captured exactly as the engine receives it,
//! raw SQL included, and introspection (`has_column`...) sees a real schema. Not a mock or proxy
//! connection: sea-orm 2.0.4's proxy feature does not compile with SQLite, and a mock cannot
//! answer a migration's introspection queries. Not a rolled-back run on the live database: that
//! would take its locks and rewrite its tables just to look.
use std::{
    fmt,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use migration::{DataLoss, MigrationTrait, SchemaManager};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseExecutor, DatabaseTransaction, DbErr, TransactionTrait,
};
use tracing::{
    field::{Field, Visit},
    instrument::WithSubscriber,
    level_filters::LevelFilter,
    span,
    subscriber::Interest,
    Dispatch, Event, Metadata, Subscriber,
};

use super::{
    hazards::{Analyzer, Hazard},
    schema, MigrationSet,
};

/// A throwaway database on the connected engine.
pub(super) enum Scratch {
    Sqlite(DatabaseConnection),
    Postgres(DatabaseTransaction),
}

impl Scratch {
    pub async fn open(db: &DatabaseConnection) -> Result<Self, DbErr> {
        match db.get_database_backend() {
            DatabaseBackend::Sqlite => {
                // One connection that never idles out: each in-memory connection is its own database.
                let mut opts = ConnectOptions::new("sqlite::memory:");
                opts.max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None::<Duration>)
                    .max_lifetime(None::<Duration>)
                    .sqlx_logging(false)
                    .map_sqlx_sqlite_opts(|o| o.foreign_keys(true));
                Ok(Self::Sqlite(Database::connect(opts).await?))
            }
            _ => {
                // Inside a transaction that is never committed: a crash leaves nothing behind.
                let txn = db.begin().await?;
                let nanos = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos());
                let name = format!("hubsync_scratch_{}_{nanos}", std::process::id());
                txn.execute_unprepared(&format!("CREATE SCHEMA \"{name}\""))
                    .await?;
                txn.execute_unprepared(&format!("SET LOCAL search_path TO \"{name}\""))
                    .await?;
                Ok(Self::Postgres(txn))
            }
        }
    }

    pub fn conn(&self) -> DatabaseExecutor<'_> {
        match self {
            Self::Sqlite(c) => c.into(),
            Self::Postgres(t) => t.into(),
        }
    }

    pub(crate) async fn discard(self) {
        let _ = match self {
            Self::Sqlite(c) => c.close().await,
            Self::Postgres(t) => t.rollback().await,
        };
    }

    /// Applies migrations to the scratch directly (no recording).
    pub async fn apply<'a>(
        &self,
        migrations: impl IntoIterator<Item = &'a dyn MigrationTrait>,
    ) -> Result<(), (String, DbErr)> {
        for m in migrations {
            m.up(&SchemaManager::new(self.conn()))
                .await
                .map_err(|e| (m.name().to_owned(), e))?;
        }
        Ok(())
    }
}

/// Receives sea-orm's statement log (feature `debug-print`: one debug event per statement, raw
/// SQL included, emitted on the calling task) while a migration future runs under it. Nothing
/// else is recorded, and the app's own subscriber is untouched outside that future.
struct Capture {
    log: Arc<Mutex<Vec<String>>>,
}

fn is_statement_log(meta: &Metadata<'_>) -> bool {
    let t = meta.target();
    meta.is_event() && (t.starts_with("sea_orm::driver") || t.starts_with("sea_orm::database"))
}

struct Message<'a>(&'a mut Option<String>);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            *self.0 = Some(format!("{value:?}"));
        }
    }
}

impl Subscriber for Capture {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_statement_log(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        is_statement_log(meta)
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = None;
        event.record(&mut Message(&mut message));
        if let (Some(sql), Ok(mut log)) = (message, self.log.lock()) {
            log.push(sql);
        }
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

impl Capture {
    /// Runs `fut` with every statement it sends recorded; reads are left out.
    async fn run<T>(fut: impl std::future::Future<Output = T>) -> (T, Vec<String>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let dispatch = Dispatch::new(Capture { log: log.clone() });
        let out = fut.with_subscriber(dispatch).await;
        let all = log
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        let writes = all
            .into_iter()
            .filter(|s| {
                let head = s.trim_start().to_ascii_lowercase();
                !(head.starts_with("select") || head.starts_with("pragma"))
            })
            .collect();
        (out, writes)
    }
}

/// Fails closed: if the statement log cannot be heard (a dependency compiled debug events out,
/// say), planning stops instead of reporting an empty, "safe" plan.
async fn capture_works(scratch: &Scratch) -> Result<(), DbErr> {
    const CANARY: &str = "CREATE TABLE hubsync_capture_canary (x INTEGER)";
    let (result, seen) = Capture::run(scratch.conn().execute_unprepared(CANARY)).await;
    result?;
    scratch
        .conn()
        .execute_unprepared("DROP TABLE hubsync_capture_canary")
        .await?;
    if seen.iter().any(|s| s == CANARY) {
        Ok(())
    } else {
        Err(DbErr::Custom(
            "cannot record migration SQL: sea-orm's statement log is not reaching hubsync".into(),
        ))
    }
}

/// One pending migration as it would run on the connected engine.
#[derive(Debug, Clone)]
pub struct PlannedMigration {
    pub name: String,
    pub statements: Vec<String>,
    pub hazards: Vec<Hazard>,
    pub data_loss: Option<DataLoss>,
    /// Set when the migration fails even on the scratch database.
    pub error: Option<String>,
}

impl PlannedMigration {
    pub(crate) fn is_destructive(&self) -> bool {
        !self.hazards.is_empty() || self.data_loss.is_some()
    }

    /// One line for logs and refusals.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.hazards.iter().map(|h| h.to_string()).collect();
        if let Some(d) = &self.data_loss {
            parts.push(format!(
                "declares data loss: {}{}",
                d.reason,
                if d.removes_rows_from.is_empty() {
                    String::new()
                } else {
                    format!(" (rows from {})", d.removes_rows_from.join(", "))
                }
            ));
        }
        format!("{}: {}", self.name, parts.join("; "))
    }
}

/// Plans the migrations of `set` not yet in `applied`. `counts_from` is where row counts are read
/// (the database itself, or the transaction that is about to migrate it).
pub(super) async fn plan(
    db: &DatabaseConnection,
    counts_from: &impl ConnectionTrait,
    set: &MigrationSet,
    applied: &[String],
) -> Result<Vec<PlannedMigration>, DbErr> {
    let (done, pending): (Vec<_>, Vec<_>) = set
        .migrations()
        .partition(|m| applied.iter().any(|a| a == m.name()));
    if pending.is_empty() {
        return Ok(vec![]); // the common start: no counting, no scratch
    }
    let counts = schema::row_counts(counts_from).await?;
    let has_rows = |t: &str| counts.get(t).is_some_and(|n| *n > 0);

    let scratch = Scratch::open(db).await?;
    let plans = plan_on(&scratch, set, done, pending, &has_rows).await;
    scratch.discard().await; // on every path: nothing of the scratch outlives the plan
    plans
}

async fn plan_on(
    scratch: &Scratch,
    set: &MigrationSet,
    done: Vec<&dyn MigrationTrait>,
    pending: Vec<&dyn MigrationTrait>,
    has_rows: &dyn Fn(&str) -> bool,
) -> Result<Vec<PlannedMigration>, DbErr> {
    let mut plans = Vec::new();
    if let Err((name, e)) = scratch.apply(done).await {
        plans.push(PlannedMigration {
            name,
            statements: vec![],
            hazards: vec![],
            data_loss: None,
            error: Some(format!(
                "an applied migration fails on a scratch database: {e}"
            )),
        });
        return Ok(plans);
    }
    capture_works(scratch).await?;
    for m in pending {
        // The schema this migration will find: what the applied and earlier pending ones built.
        let before = schema::snapshot(&scratch.conn()).await?;
        let (result, statements) = Capture::run(m.up(&SchemaManager::new(scratch.conn()))).await;
        let mut analyzer =
            Analyzer::new(has_rows).with_plain_indexes(schema::plain_indexes(&before));
        let hazards = statements
            .iter()
            .flat_map(|s| analyzer.analyze(s))
            .collect();
        let failed = result.is_err();
        plans.push(PlannedMigration {
            name: m.name().to_owned(),
            statements,
            hazards,
            data_loss: set.data_loss(m.name()).cloned(),
            error: result.err().map(|e| e.to_string()),
        });
        if failed {
            break; // later migrations build on this one
        }
    }
    Ok(plans)
}
