//! Row-level security (issue 21, item 4): on PostgreSQL the policies, not the WHERE clauses,
//! keep installation A's transactions from B's rows; on SQLite the store's scoped reads do.
//!
//! Superusers bypass row-level security, and tests connect as `postgres`: every PostgreSQL check
//! here runs as a role of its own, made for the test's database and dropped after it.
mod app;
mod events;
mod policy;
mod scoped;
mod streams;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};

use crate::support::TestDb;

/// The tables the migration protects (docs/architecture.md, "Row-level security").
pub const TABLES: &[&str] = &[
    "installations",
    "repositories",
    "user_repositories",
    "projects",
    "pushed_commits",
    "head_commits",
    "project_syncs",
    "sync_events",
    "changes",
    "files",
    "sync_runs",
    "sync_run_attempts",
];

/// Installations A and B of `seed`.
pub const A: i64 = 1;
pub const B: i64 = 2;

/// The ids `seed` gives installation `i`'s rows: (repository, project, selection, run).
pub fn ids(i: i64) -> (i64, i64, i64, i64) {
    (100 + i, 10 * i, 10 * i + 1, 10 * i + 2)
}

/// One row or more in every protected table for installation `i`, in SQL both engines run.
pub async fn seed(db: &impl ConnectionTrait, i: i64) {
    let (repo, project, sel, run) = ids(i);
    // Now, not a fixed date: no retention pass may ever find these rows old.
    let t = format!("'{}'", chrono::Utc::now().to_rfc3339());
    let sha = format!("'{:040x}'", i);
    let statements = [
        format!(
            "INSERT INTO installations (id, account_login, account_id, account_type, created_at, \
             updated_at) VALUES ({i}, 'org-{i}', {}, 'Organization', {t}, {t})",
            i * 10
        ),
        format!(
            "INSERT INTO repositories (id, installation_id, full_name, default_branch, private, \
             archived, created_at, updated_at) VALUES ({repo}, {i}, 'org-{i}/repo', 'main', true, \
             false, {t}, {t})"
        ),
        format!(
            "INSERT INTO projects (id, repository_id, created_at) VALUES ({project}, {repo}, {t})"
        ),
        format!(
            "INSERT INTO project_syncs (id, project_id, branch, is_pattern, enabled, state, \
             last_synced_sha, created_at, updated_at) VALUES ({sel}, {project}, 'main', false, \
             true, 'synced', {sha}, {t}, {t})"
        ),
        format!(
            "INSERT INTO files (project_sync_id, path, blob_sha, mode, size) VALUES \
             ({sel}, 'a-{i}.txt', {sha}, '100644', 1), ({sel}, 'b-{i}.txt', {sha}, '100644', 2)"
        ),
        format!(
            "INSERT INTO sync_runs (id, project_sync_id, trigger, target_sha, status, attempt, \
             queued_at) VALUES ({run}, {sel}, 'push', {sha}, 'succeeded', 1, {t})"
        ),
        format!(
            "INSERT INTO sync_run_attempts (id, run_id, attempt, worker, status, started_at) \
             VALUES ({run}, {run}, 1, 'test', 'succeeded', {t})"
        ),
        format!(
            "INSERT INTO sync_events (id, project_id, run_id, kind, data, created_at) VALUES \
             ({run}, {project}, {run}, 'sync.succeeded', '{{}}', {t})"
        ),
        format!(
            "INSERT INTO changes (id, project_id, project_sync_id, run_id, repository, branch, \
             commit_sha, path, change, created_at) VALUES ({run}, {project}, {sel}, {run}, \
             'org-{i}/repo', 'main', {sha}, 'a-{i}.txt', 'added', {t})"
        ),
        format!(
            "INSERT INTO pushed_commits (id, repository_id, branch, sha, head_sha, created_at) \
             VALUES ({run}, {repo}, 'main', {sha}, {sha}, {t})"
        ),
        format!(
            "INSERT INTO head_commits (id, repository_id, sha, message, created_at) VALUES \
             ({run}, {repo}, {sha}, 'a commit', {t})"
        ),
        format!(
            "INSERT INTO github_users (id, login, access_token, created_at, updated_at) VALUES \
             ({i}, 'user-{i}', 'sealed', {t}, {t})"
        ),
        format!(
            "INSERT INTO user_repositories (user_id, repository_id, installation_id, role) \
             VALUES ({i}, {repo}, {i}, 'member')"
        ),
    ];
    for sql in statements {
        db.execute_unprepared(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// A role of the test's own, cluster-wide on PostgreSQL: `drop` removes it.
pub struct Role {
    pub name: String,
    admin: String,
    database: String,
    db_url: String,
}

impl Role {
    /// A non-superuser role for this database (None on SQLite). `owner`: it owns the database
    /// (an app connecting as it creates, and so owns, the tables: FORCE applies to owners too);
    /// otherwise it may read and write every table, as a reporting role might.
    pub async fn create(db: &TestDb, owner: bool) -> Option<Role> {
        if db.engine != "postgres" {
            return None;
        }
        let url = url::Url::parse(&db.url).unwrap();
        let database = url.path().trim_start_matches('/').to_owned();
        let name = format!("{database}_role");
        let mut admin = url.clone();
        admin.set_path("postgres");
        let admin = admin.to_string();
        let conn = sea_orm::Database::connect(&admin).await.unwrap();
        let sql = format!("CREATE ROLE \"{name}\" LOGIN NOSUPERUSER NOBYPASSRLS");
        conn.execute_unprepared(&sql).await.unwrap();
        if owner {
            conn.execute_unprepared(&format!(
                "ALTER DATABASE \"{database}\" OWNER TO \"{name}\""
            ))
            .await
            .unwrap();
        }
        conn.close().await.unwrap();
        Some(Role {
            name,
            admin,
            database,
            db_url: db.url.clone(),
        })
    }

    /// The database URL with this role as the user.
    pub fn url(&self) -> String {
        let mut url = url::Url::parse(&self.db_url).unwrap();
        url.set_username(&self.name).unwrap();
        url.to_string()
    }

    /// Lets the role read and write every table (it does not own them).
    pub async fn grant_tables(&self, conn: &impl ConnectionTrait) {
        let sql = format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \"{}\"",
            self.name
        );
        conn.execute_unprepared(&sql).await.unwrap();
    }

    pub async fn drop(self) {
        let conn = sea_orm::Database::connect(&self.db_url).await.unwrap();
        for sql in [
            format!("ALTER DATABASE \"{}\" OWNER TO CURRENT_USER", self.database),
            format!("REASSIGN OWNED BY \"{}\" TO CURRENT_USER", self.name),
            format!("DROP OWNED BY \"{}\"", self.name),
        ] {
            conn.execute_unprepared(&sql).await.unwrap();
        }
        conn.close().await.unwrap();
        let conn = sea_orm::Database::connect(&self.admin).await.unwrap();
        conn.execute_unprepared(&format!("DROP ROLE \"{}\"", self.name))
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
}

/// `SELECT count(*) FROM table`, no WHERE, as `role` with the setting `setting` (None: unset).
pub async fn count_as(
    conn: &DatabaseConnection,
    role: &str,
    setting: Option<&str>,
    table: &str,
) -> i64 {
    let txn = conn.begin().await.unwrap();
    txn.execute_unprepared(&format!("SET LOCAL ROLE \"{role}\""))
        .await
        .unwrap();
    if let Some(s) = setting {
        set(&txn, s).await;
    }
    let row = txn
        .query_one_raw(Statement::from_string(
            txn.get_database_backend(),
            format!("SELECT count(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    txn.rollback().await.unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// `SET LOCAL hubsync.installation_ids`, as the app's store::scope does it.
pub async fn set(txn: &impl ConnectionTrait, setting: &str) {
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "SELECT set_config('hubsync.installation_ids', $1, true)",
        [setting.into()],
    ))
    .await
    .unwrap();
}

/// After an upgrade (tests/migrations/upgrade.rs), to a non-superuser role: every row of every
/// protected table is visible under `*`, and under exactly one of `installations`, its own.
pub async fn assert_upgraded_rows_visible(
    db: &TestDb,
    conn: &DatabaseConnection,
    installations: &[i64],
    rows: impl Fn(&str) -> usize,
) {
    let Some(role) = Role::create(db, false).await else {
        return;
    };
    role.grant_tables(conn).await;
    for table in TABLES {
        let total = rows(table) as i64;
        assert_eq!(
            count_as(conn, &role.name, Some("*"), table).await,
            total,
            "{table} under *"
        );
        let mut sum = 0;
        for i in installations {
            sum += count_as(conn, &role.name, Some(&i.to_string()), table).await;
        }
        assert_eq!(sum, total, "{table}: each row under its own installation");
    }
    role.drop().await;
}
