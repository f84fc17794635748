//! Reading `sync_events` in id order, without skipping a row that commits late.
//!
//! The tailer keeps a cursor: every id at or below it has been handed on, or is known never to
//! come. It reads forward by id, a page at a time. On PostgreSQL ids come from a sequence before
//! commit, so transaction B may commit id 11 while A still holds id 10: a reader that moved past
//! 10 would lose it. So a missing id becomes a *gap*, and rows above the lowest gap are held back
//! (to keep the order SSE clients resume from with `Last-Event-ID`) until each gap is settled:
//! - its row turns up (gaps are re-read by id), or
//! - it provably never will: every transaction that could hold it has ended. A transaction takes
//!   `RowExclusiveLock` on `sync_events` before its INSERT draws an id and keeps it until it ends,
//!   so the holders listed in `pg_locks` once a gap is seen include whoever holds the gap's id.
//!   When none of them is left, a last re-read finds the row or the id was rolled back.
//! - or, so that one stuck transaction cannot stall everyone's live view, after `MAX_HOLD`
//!   (logged; such a row still reaches clients that replay from an older `Last-Event-ID`).
//!
//! Chosen over serialising the append point (a lock held from INSERT to commit), which would make
//! every transaction that writes an event commit one after another. SQLite has one writer at a
//! time, so its ids commit in order and a gap there is settled at once.
use std::{
    collections::{BTreeMap, HashSet},
    time::{Duration, Instant},
};

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::gaps::Gaps;
use crate::store::entities::sync_events::{self, Column, Entity as Events};

/// Rows read per query.
const PAGE: u64 = 1000;
/// Rows held above a gap at most; past it the tailer stops reading ahead until the gap settles.
const HOLD_CAP: usize = 10_000;
/// Gap ranges re-read per query.
const RANGES_PER_READ: usize = 100;
/// How long a gap may hold back later rows before they go out without it.
pub(crate) const MAX_HOLD: Duration = Duration::from_secs(10);
/// At start, ids this far below the newest are watched for late commits.
const START_WINDOW: u64 = 1000;

pub(crate) struct Tail {
    cursor: i64,
    read_high: i64,
    /// Rows read but not handed on yet; None for rows that were there before the tailer started.
    held: BTreeMap<i64, Option<sync_events::Model>>,
    gaps: Gaps,
    watch: Option<Watch>,
    reads: u64,
}

/// The transactions that could hold the ids of the gaps at or below `covers`.
struct Watch {
    writers: HashSet<String>,
    covers: i64,
    since: Instant,
}

/// What one step produced.
pub(crate) struct Step {
    /// Rows to hand on, in id order.
    pub ready: Vec<sync_events::Model>,
    /// A full page was read: there may be more right away.
    pub more: bool,
    /// Some ids are still unsettled.
    pub waiting: bool,
}

impl Tail {
    /// Positions the cursor at the newest row, watching the ids just below it that are not
    /// there yet (they may belong to transactions still open).
    pub async fn start(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let ids: Vec<i64> = Events::find()
            .select_only()
            .column(Column::Id)
            .order_by_desc(Column::Id)
            .limit(START_WINDOW)
            .into_tuple()
            .all(db)
            .await?;
        let mut tail = Self {
            cursor: 0,
            read_high: 0,
            held: BTreeMap::new(),
            gaps: Gaps::default(),
            watch: None,
            reads: 1,
        };
        if ids.len() as u64 == START_WINDOW {
            tail.cursor = ids.last().copied().unwrap_or(0);
            tail.read_high = tail.cursor;
        }
        let floor = tail.cursor;
        for id in ids.into_iter().rev().filter(|id| *id > floor) {
            tail.note(id, None);
        }
        Ok(tail)
    }

    /// Every id at or below this has been handed on or will never come.
    pub(crate) fn cursor(&self) -> i64 {
        self.cursor
    }

    /// Queries run so far.
    pub fn reads(&self) -> u64 {
        self.reads
    }

    /// Reads the next page and settles what it can.
    pub async fn step(&mut self, db: &DatabaseConnection) -> Result<Step, DbErr> {
        let mut more = false;
        if self.held.len() < HOLD_CAP {
            // Rows of kinds this version does not know (a newer replica's) are left out: their
            // ids become gaps, settled as any other, instead of failing every read from here on.
            let rows = Events::find()
                .filter(Column::Id.gt(self.read_high))
                .filter(sync_events::readable())
                .order_by_asc(Column::Id)
                .limit(PAGE)
                .all(db)
                .await?;
            self.reads += 1;
            more = rows.len() as u64 == PAGE;
            for row in rows {
                self.note(row.id, Some(row));
            }
        }
        if !self.gaps.is_empty() {
            self.reread(db, i64::MAX).await?;
        }
        if !self.gaps.is_empty() {
            self.settle(db).await?;
        }
        let ready = self.release();
        Ok(Step {
            ready,
            more,
            waiting: !self.gaps.is_empty(),
        })
    }

    /// Records a row read forward: ids skipped on the way to it become gaps.
    fn note(&mut self, id: i64, row: Option<sync_events::Model>) {
        if id > self.read_high {
            self.gaps.add(self.read_high + 1, id - 1);
            self.read_high = id;
        }
        self.held.insert(id, row);
    }

    /// Re-reads the gaps at or below `upto` by id; rows found are late commits.
    async fn reread(&mut self, db: &DatabaseConnection, upto: i64) -> Result<(), DbErr> {
        let mut from = i64::MIN;
        loop {
            let ranges = self.gaps.between(from, upto, RANGES_PER_READ);
            let Some(&(last, _)) = ranges.last() else {
                return Ok(());
            };
            let any = ranges.iter().fold(Condition::any(), |c, (a, b)| {
                c.add(Column::Id.between(*a, *b))
            });
            let rows = Events::find()
                .filter(any)
                .filter(sync_events::readable())
                .order_by_asc(Column::Id)
                .all(db)
                .await?;
            self.reads += 1;
            for row in rows {
                self.gaps.fill(row.id);
                self.held.insert(row.id, Some(row));
            }
            if ranges.len() < RANGES_PER_READ {
                return Ok(());
            }
            from = last;
        }
    }

    /// Decides which gaps will never be filled.
    async fn settle(&mut self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let writers = open_writers(db).await?;
        self.reads += 1;
        if let Some(w) = &self.watch {
            let covers = w.covers;
            if w.writers.is_disjoint(&writers) {
                self.watch = None;
                // They ended after the last re-read: one more finds what they committed.
                self.reread(db, covers).await?;
                let n = self.gaps.forget_upto(covers);
                tracing::debug!(ids = n, upto = covers, "progress event ids never committed");
            } else if w.since.elapsed() >= MAX_HOLD {
                self.watch = None;
                self.reread(db, covers).await?;
                let n = self.gaps.forget_upto(covers);
                tracing::warn!(
                    ids = n,
                    upto = covers,
                    "progress events held back by a transaction open for {MAX_HOLD:?}; \
                     sending later events without waiting for it"
                );
            }
        }
        if self.watch.is_none() && !self.gaps.is_empty() {
            let covers = self.read_high;
            if writers.is_empty() {
                self.reread(db, covers).await?;
                self.gaps.forget_upto(covers);
            } else {
                self.watch = Some(Watch {
                    writers,
                    covers,
                    since: Instant::now(),
                });
            }
        }
        Ok(())
    }

    /// Hands on the held rows below the lowest gap and moves the cursor up to it.
    fn release(&mut self) -> Vec<sync_events::Model> {
        let bound = self
            .gaps
            .first()
            .map_or(self.read_high, |g| g - 1)
            .max(self.cursor);
        let mut ready = Vec::new();
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() > bound {
                break;
            }
            if let Some(row) = entry.remove() {
                ready.push(row);
            }
        }
        self.cursor = bound;
        ready
    }
}

/// The transactions that hold a lock on `sync_events` now (PostgreSQL's virtual transaction ids;
/// none on SQLite, whose writers commit in id order).
async fn open_writers(db: &DatabaseConnection) -> Result<HashSet<String>, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(HashSet::new());
    }
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT virtualtransaction AS vxid FROM pg_locks \
             WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' \
               AND relation = to_regclass('sync_events') \
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "vxid"))
        .collect()
}
