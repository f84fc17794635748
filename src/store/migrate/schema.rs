//! What a database's schema is, read back from the engine's catalog, and how many rows each
//! table holds. Used to compare a database with the schema this binary's migrations build.
use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};

/// The migration bookkeeping table: not part of the schema being compared or counted.
const BOOKKEEPING: &str = "seaql_migrations";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableShape {
    /// Column name -> "type [NOT NULL]".
    pub columns: BTreeMap<String, String>,
    /// Index name -> its normalised definition (columns, uniqueness, partial WHERE).
    pub indexes: BTreeMap<String, String>,
}

pub type Snapshot = BTreeMap<String, TableShape>;

async fn rows(db: &impl ConnectionTrait, sql: &str) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
}

pub async fn tables(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    let sql = match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        _ => "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
    };
    rows(db, sql)
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "name"))
        .filter(|n| n.as_deref() != Ok(BOOKKEEPING))
        .collect()
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Rows per table (the bookkeeping table excluded).
pub async fn row_counts(db: &impl ConnectionTrait) -> Result<BTreeMap<String, i64>, DbErr> {
    let mut counts = BTreeMap::new();
    for t in tables(db).await? {
        let sql = format!("SELECT COUNT(*) AS n FROM {}", quote(&t));
        let n = match rows(db, &sql).await?.first() {
            Some(r) => r.try_get::<i64>("", "n")?,
            None => 0,
        };
        counts.insert(t, n);
    }
    Ok(counts)
}

pub async fn snapshot(db: &impl ConnectionTrait) -> Result<Snapshot, DbErr> {
    let (columns, indexes) = match db.get_database_backend() {
        DatabaseBackend::Sqlite => (
            "SELECT m.name AS t, p.name AS c, p.type AS ty, p.\"notnull\" <> 0 AS nn \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
            "SELECT tbl_name AS t, name, COALESCE(sql, 'automatic') AS def \
             FROM sqlite_master WHERE type = 'index'",
        ),
        _ => (
            "SELECT table_name::text AS t, column_name::text AS c, \
             data_type || COALESCE('(' || character_maximum_length || ')', '') AS ty, \
             is_nullable = 'NO' AS nn \
             FROM information_schema.columns WHERE table_schema = current_schema()",
            // The schema name appears in each definition: drop it so two schemas compare.
            "SELECT tablename::text AS t, indexname::text AS name, \
             replace(indexdef, ' ON ' || schemaname || '.', ' ON ') AS def \
             FROM pg_indexes WHERE schemaname = current_schema()",
        ),
    };
    let mut snap = Snapshot::new();
    for r in rows(db, columns).await? {
        let t: String = r.try_get("", "t")?;
        if t == BOOKKEEPING {
            continue;
        }
        let ty: String = r.try_get("", "ty")?;
        let not_null: bool = r.try_get("", "nn")?;
        let shape = format!(
            "{}{}",
            ty.to_ascii_lowercase(),
            if not_null { " NOT NULL" } else { "" }
        );
        snap.entry(t)
            .or_default()
            .columns
            .insert(r.try_get("", "c")?, shape);
    }
    for r in rows(db, indexes).await? {
        let t: String = r.try_get("", "t")?;
        if t == BOOKKEEPING {
            continue;
        }
        let def: String = r.try_get("", "def")?;
        let def = def.split_whitespace().collect::<Vec<_>>().join(" ");
        snap.entry(t)
            .or_default()
            .indexes
            .insert(r.try_get("", "name")?, def);
    }
    Ok(snap)
}

/// The indexes that are not unique: SQLite's automatic indexes and every index PostgreSQL
/// builds for a constraint are unique, so only a plain `CREATE INDEX` qualifies.
pub(crate) fn plain_indexes(snapshot: &Snapshot) -> impl Iterator<Item = String> + '_ {
    snapshot
        .values()
        .flat_map(|t| &t.indexes)
        .filter(|(_, def)| {
            def.get(..13)
                .is_some_and(|d| d.eq_ignore_ascii_case("CREATE INDEX "))
        })
        .map(|(name, _)| name.clone())
}

/// Every way `actual` differs from `expected`, one line each.
pub fn diff(expected: &Snapshot, actual: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (t, exp) in expected {
        let Some(act) = actual.get(t) else {
            out.push(format!("table {t} is missing"));
            continue;
        };
        for (c, ty) in &exp.columns {
            match act.columns.get(c) {
                None => out.push(format!("column {t}.{c} is missing")),
                Some(found) if found != ty => {
                    out.push(format!("column {t}.{c} is {found}, expected {ty}"))
                }
                Some(_) => {}
            }
        }
        for c in act.columns.keys().filter(|c| !exp.columns.contains_key(*c)) {
            out.push(format!("column {t}.{c} is not in this binary's schema"));
        }
        for (i, def) in &exp.indexes {
            match act.indexes.get(i) {
                None => out.push(format!("index {i} on {t} is missing")),
                Some(found) if found != def => out.push(format!(
                    "index {i} on {t} differs: found `{found}`, expected `{def}`"
                )),
                Some(_) => {}
            }
        }
        for i in act.indexes.keys().filter(|i| !exp.indexes.contains_key(*i)) {
            out.push(format!("index {i} on {t} is not in this binary's schema"));
        }
    }
    for t in actual.keys().filter(|t| !expected.contains_key(*t)) {
        out.push(format!("table {t} is not in this binary's schema"));
    }
    out
}
