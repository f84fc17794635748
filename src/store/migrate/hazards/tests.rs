use super::*;

fn kinds(sql: &str, rows: bool) -> Vec<(HazardKind, String)> {
    let has_rows = move |_: &str| rows;
    Analyzer::new(&has_rows)
        .analyze(sql)
        .into_iter()
        .map(|h| (h.kind, h.target))
        .collect()
}

#[test]
fn additive_statements_are_safe() {
    for sql in [
        r#"CREATE TABLE "x" ("id" bigint NOT NULL PRIMARY KEY)"#,
        r#"ALTER TABLE "files" ADD COLUMN "lang" text NULL"#,
        r#"ALTER TABLE "files" ADD COLUMN "n" bigint NOT NULL DEFAULT 0"#,
        "CREATE UNIQUE INDEX uq ON sync_runs (project_sync_id) WHERE status = 'queued'",
        "UPDATE files SET mode = '100644' WHERE mode = ''",
        "DELETE FROM deliveries WHERE status = 'x'",
        "INSERT INTO blobs (sha) VALUES ('drop table blobs; delete from files')",
        r#"ALTER TABLE "files" ALTER COLUMN "path" TYPE text"#,
        "ALTER TABLE files ADD CONSTRAINT c CHECK (size IS NOT NULL)",
        // Objects made by the same migration may be dropped or renamed.
        "CREATE TABLE tmp (a int); DROP TABLE tmp; CREATE INDEX i ON files (mode); DROP INDEX i",
    ] {
        assert_eq!(kinds(sql, true), vec![], "{sql}");
    }
}

#[test]
fn each_destructive_kind_is_flagged() {
    use HazardKind::*;
    for (sql, kind, target) in [
        (
            r#"DROP TABLE IF EXISTS "public"."blobs""#,
            DropTable,
            "blobs",
        ),
        (
            r#"ALTER TABLE "files" DROP COLUMN "size""#,
            DropColumn,
            "files.size",
        ),
        ("ALTER TABLE files DROP size", DropColumn, "files.size"),
        (
            r#"DROP INDEX "idx_files_blob_sha""#,
            DropIndex,
            "idx_files_blob_sha",
        ),
        ("DROP SCHEMA public CASCADE", DropOther, "public"),
        ("TRUNCATE TABLE sync_events", Truncate, "sync_events"),
        ("DELETE FROM deliveries", DeleteWithoutWhere, "deliveries"),
        (
            "UPDATE blobs SET content = NULL",
            UpdateWithoutWhere,
            "blobs",
        ),
        (
            "UPDATE files SET mode = (SELECT m FROM x WHERE y)",
            UpdateWithoutWhere,
            "files",
        ),
        (
            r#"ALTER TABLE "files" ALTER COLUMN "mode" TYPE varchar(3)"#,
            TypeChange,
            "files.mode",
        ),
        (
            "ALTER TABLE files ALTER mode SET DATA TYPE int USING mode::int",
            TypeChange,
            "files.mode",
        ),
        (
            r#"ALTER TABLE "files" ADD COLUMN "lang" text NOT NULL"#,
            NotNullWithoutDefault,
            "files.lang",
        ),
        (
            "ALTER TABLE files ALTER COLUMN size SET NOT NULL",
            NotNullWithoutDefault,
            "files.size",
        ),
        (
            r#"ALTER TABLE "blobs" RENAME TO "blob""#,
            Rename,
            "blobs -> blob",
        ),
        (
            "ALTER TABLE files RENAME COLUMN mode TO file_mode",
            Rename,
            "files.mode -> file_mode",
        ),
    ] {
        assert_eq!(kinds(sql, true), vec![(kind, target.to_owned())], "{sql}");
    }
}

#[test]
fn not_null_without_default_matters_only_when_the_table_has_rows() {
    let sql = "ALTER TABLE files ADD COLUMN lang text NOT NULL";
    assert_eq!(kinds(sql, false), vec![]);
    assert_eq!(kinds(sql, true).len(), 1);
}

#[test]
fn a_sqlite_table_rebuild_is_a_drop_of_the_old_table() {
    let sql = "CREATE TABLE files_new (path text); INSERT INTO files_new SELECT path FROM files; \
               DROP TABLE files; ALTER TABLE files_new RENAME TO files";
    assert_eq!(
        kinds(sql, true),
        vec![(HazardKind::DropTable, "files".to_owned())]
    );
}

#[test]
fn dropping_an_index_the_schema_shows_plain_loses_nothing() {
    let has_rows = |_: &str| true;
    let drop = r#"DROP INDEX "idx_deliveries_pending"; DROP INDEX "uq_deliveries_delivery_id""#;
    let flagged = |plain: &[&str]| -> Vec<String> {
        Analyzer::new(&has_rows)
            .with_plain_indexes(plain.iter().map(|s| s.to_string()))
            .analyze(drop)
            .into_iter()
            .map(|h| h.target)
            .collect()
    };
    assert_eq!(
        flagged(&["idx_deliveries_pending"]),
        vec!["uq_deliveries_delivery_id"],
        "a plain index goes quietly, a unique one is flagged"
    );
    assert_eq!(
        flagged(&[]),
        vec!["idx_deliveries_pending", "uq_deliveries_delivery_id"],
        "an index not known to be plain is flagged"
    );
}
