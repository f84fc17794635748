//! Which SQL statements can lose data or break a hubsync that is still running the previous
//! release. A small tokenizer, not a full SQL parser: it reads the statements that sea-query and
//! hand-written migrations produce on SQLite and PostgreSQL, and errs on the side of flagging.
//!
//! Why not `sqlparser`: the scanner needs only a statement's verb, its target and a few clauses
//! (WHERE, NOT NULL, DEFAULT, TYPE), and it must flag, never fail, on syntax it does not know. A
//! full parser rejects whole statements it has no AST for (PL/pgSQL `DO` blocks, SQLite's table
//! rebuilds, dialect options), so it would need this tokenizer as its fallback anyway.
use std::{collections::HashSet, fmt};

mod sql;
#[cfg(test)]
mod tests;

use sql::{has_top_level, qualified_name, skip_to_top_level_verb, split_top_level, tokenize, Tok};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HazardKind {
    DropTable,
    DropColumn,
    DropIndex,
    /// DROP SCHEMA, DATABASE or SEQUENCE.
    DropOther,
    Truncate,
    DeleteWithoutWhere,
    UpdateWithoutWhere,
    TypeChange,
    NotNullWithoutDefault,
    Rename,
}

impl HazardKind {
    fn describe(self) -> &'static str {
        match self {
            Self::DropTable => "drops a table and every row in it",
            Self::DropColumn => "drops a column and its data",
            Self::DropIndex => "drops a unique (or unknown) index, and the uniqueness it enforced",
            Self::DropOther => "drops a schema, database or sequence",
            Self::Truncate => "truncates a table",
            Self::DeleteWithoutWhere => "deletes every row (DELETE without WHERE)",
            Self::UpdateWithoutWhere => "overwrites every row (UPDATE without WHERE)",
            Self::TypeChange => "changes a column type, which can truncate values",
            Self::NotNullWithoutDefault => {
                "makes a column NOT NULL without a default on a table that has rows"
            }
            Self::Rename => "renames a table or column, which breaks the running older binary",
        }
    }
}

/// One destructive step: what it does, to what, and the statement that does it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hazard {
    pub kind: HazardKind,
    pub target: String,
    pub statement: String,
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.kind.describe(), self.target)
    }
}

/// Reads the destructive steps of one migration's SQL, in order. `has_rows` says whether a
/// table holds rows in the database being migrated. Objects the migration itself created are
/// fair game: dropping or renaming them loses nothing. So is an index the schema shows to be
/// plain (not unique): it holds no data and enforces nothing, and queries still run without it.
pub(crate) struct Analyzer<'a> {
    has_rows: &'a dyn Fn(&str) -> bool,
    created: HashSet<String>,
    plain_indexes: HashSet<String>,
}

impl<'a> Analyzer<'a> {
    pub fn new(has_rows: &'a dyn Fn(&str) -> bool) -> Self {
        Self {
            has_rows,
            created: HashSet::new(),
            plain_indexes: HashSet::new(),
        }
    }

    /// The indexes known to be plain in the schema the migration runs on. Any other index
    /// dropped (unique, or not known) is flagged, since it may have enforced uniqueness.
    pub(crate) fn with_plain_indexes(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.plain_indexes.extend(names);
        self
    }

    pub(crate) fn analyze(&mut self, sql: &str) -> Vec<Hazard> {
        let toks = tokenize(sql);
        let mut hazards = Vec::new();
        for stmt in toks.split(|(t, _, _)| *t == Tok::Punct(';')) {
            let (Some(first), Some(last)) = (stmt.first(), stmt.last()) else {
                continue;
            };
            let text = sql[first.1..last.2].to_owned();
            let t: Vec<Tok> = stmt.iter().map(|(t, _, _)| t.clone()).collect();
            for (kind, target) in self.statement(&t) {
                hazards.push(Hazard {
                    kind,
                    target,
                    statement: text.clone(),
                });
            }
        }
        hazards
    }

    fn statement(&mut self, t: &[Tok]) -> Vec<(HazardKind, String)> {
        let at = |i: usize, kw: &str| t.get(i).is_some_and(|x| x.is(kw));
        let mut i = 0;
        // WITH ... DELETE/UPDATE: look at the verb after the CTEs.
        if at(0, "with") {
            i = skip_to_top_level_verb(t);
        }
        if at(i, "create") {
            let mut j = i + 1;
            while at(j, "unique") || at(j, "temporary") || at(j, "temp") || at(j, "concurrently") {
                j += 1;
            }
            if at(j, "table") || at(j, "index") {
                j += 1;
                while at(j, "if") || at(j, "not") || at(j, "exists") || at(j, "concurrently") {
                    j += 1;
                }
                if let Some(n) = qualified_name(t, j) {
                    self.created.insert(n.0);
                }
            }
            return vec![];
        }
        if at(i, "drop") {
            let kind = match t.get(i + 1).and_then(Tok::name) {
                Some("table") => HazardKind::DropTable,
                Some("index") => HazardKind::DropIndex,
                Some("schema" | "database" | "sequence") => HazardKind::DropOther,
                _ => return vec![],
            };
            let mut j = i + 2;
            while at(j, "if") || at(j, "exists") || at(j, "concurrently") {
                j += 1;
            }
            let mut out = Vec::new();
            while let Some((name, next)) = qualified_name(t, j) {
                let plain = kind == HazardKind::DropIndex && self.plain_indexes.contains(&name);
                if !self.created.contains(&name) && !plain {
                    out.push((kind, name));
                }
                if t.get(next) != Some(&Tok::Punct(',')) {
                    break;
                }
                j = next + 1;
            }
            return out;
        }
        if at(i, "truncate") {
            let j = if at(i + 1, "table") { i + 2 } else { i + 1 };
            let name = qualified_name(t, j).map(|n| n.0).unwrap_or_default();
            return vec![(HazardKind::Truncate, name)];
        }
        if at(i, "delete") && at(i + 1, "from") {
            let j = if at(i + 2, "only") { i + 3 } else { i + 2 };
            let name = qualified_name(t, j).map(|n| n.0).unwrap_or_default();
            if !has_top_level(t, "where") && !self.created.contains(&name) {
                return vec![(HazardKind::DeleteWithoutWhere, name)];
            }
            return vec![];
        }
        if at(i, "update") {
            let j = if at(i + 1, "only") { i + 2 } else { i + 1 };
            let name = qualified_name(t, j).map(|n| n.0).unwrap_or_default();
            if !has_top_level(t, "where") && !self.created.contains(&name) {
                return vec![(HazardKind::UpdateWithoutWhere, name)];
            }
            return vec![];
        }
        if at(i, "alter") && at(i + 1, "table") {
            let mut j = i + 2;
            while at(j, "if") || at(j, "exists") || at(j, "only") {
                j += 1;
            }
            let Some((table, next)) = qualified_name(t, j) else {
                return vec![];
            };
            if self.created.contains(&table) {
                return vec![];
            }
            return split_top_level(&t[next..])
                .into_iter()
                .filter_map(|action| self.alter_action(&table, action))
                .collect();
        }
        vec![]
    }

    fn alter_action(&mut self, table: &str, a: &[Tok]) -> Option<(HazardKind, String)> {
        let at = |i: usize, kw: &str| a.get(i).is_some_and(|x| x.is(kw));
        let col_at = |mut j: usize| {
            if at(j, "column") {
                j += 1;
            }
            while at(j, "if") || at(j, "not") || at(j, "exists") {
                j += 1;
            }
            (j, a.get(j).and_then(Tok::name).unwrap_or("").to_owned())
        };
        if at(0, "drop") {
            if at(1, "constraint") || at(1, "default") {
                return None;
            }
            let (_, col) = col_at(1);
            return Some((HazardKind::DropColumn, format!("{table}.{col}")));
        }
        if at(0, "rename") {
            if at(1, "constraint") {
                return None;
            }
            if at(1, "to") {
                let to = a.get(2).and_then(Tok::name).unwrap_or("");
                return Some((HazardKind::Rename, format!("{table} -> {to}")));
            }
            let (j, col) = col_at(1);
            let to = a.get(j + 2).and_then(Tok::name).unwrap_or("");
            return Some((HazardKind::Rename, format!("{table}.{col} -> {to}")));
        }
        if at(0, "alter") {
            let (j, col) = col_at(1);
            let target = format!("{table}.{col}");
            let rest = &a[(j + 1).min(a.len())..];
            let r = |i: usize, kw: &str| rest.get(i).is_some_and(|x| x.is(kw));
            let type_at = if r(0, "type") {
                Some(1)
            } else if r(0, "set") && r(1, "data") && r(2, "type") {
                Some(3)
            } else {
                None
            };
            if let Some(k) = type_at {
                // Every value fits in unbounded text; any other target can cut or fail.
                let to_text = r(k, "text") && rest.len() == k + 1;
                return (!to_text).then_some((HazardKind::TypeChange, target));
            }
            if r(0, "set") && r(1, "not") && r(2, "null") && (self.has_rows)(table) {
                return Some((HazardKind::NotNullWithoutDefault, target));
            }
            return None;
        }
        if at(0, "add") {
            if ["constraint", "primary", "foreign", "unique", "check"]
                .iter()
                .any(|k| at(1, k))
            {
                return None;
            }
            let (_, col) = col_at(1);
            let not_null = a.windows(2).any(|w| w[0].is("not") && w[1].is("null"));
            let default = a.iter().any(|x| x.is("default"));
            if not_null && !default && (self.has_rows)(table) {
                return Some((HazardKind::NotNullWithoutDefault, format!("{table}.{col}")));
            }
        }
        None
    }
}
