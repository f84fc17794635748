//! PostgreSQL: the policies themselves, with queries that have no WHERE clause at all.
use hubsync::store::{migrate, scope::SETTING, DatabaseUrl};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{count_as, ids, seed, set, Role, A, B, TABLES};
use crate::support::{postgres_missing, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unscoped_query_under_installation_a_returns_none_of_bs_rows() {
    let Some(db) = TestDb::postgres().await else {
        return postgres_missing(module_path!());
    };
    let app = hubsync::store::connect(&DatabaseUrl::parse(&db.url).unwrap())
        .await
        .unwrap();
    migrate(&app).await.unwrap();
    seed(&app, A).await;
    seed(&app, B).await;
    // A plain connection: nothing sets the setting on it (the app's pool defaults to `*`).
    let conn = sea_orm::Database::connect(&db.url).await.unwrap();
    let role = Role::create(&db, false).await.unwrap();
    role.grant_tables(&conn).await;

    for table in TABLES {
        let total = count_as(&conn, "postgres", None, table).await;
        let a = count_as(&conn, &role.name, Some(&A.to_string()), table).await;
        let b = count_as(&conn, &role.name, Some(&B.to_string()), table).await;
        assert!(a > 0 && b > 0, "{table}: A sees {a}, B sees {b}");
        assert_eq!(a + b, total, "{table}: A's and B's rows are all the rows");
        let both = count_as(&conn, &role.name, Some(&format!("{A},{B}")), table).await;
        assert_eq!(both, total, "{table} under \"{A},{B}\"");
        assert_eq!(
            count_as(&conn, &role.name, Some("*"), table).await,
            total,
            "{table} under *"
        );
        // Secure by default: a connection that never set it, or set it empty, sees nothing.
        assert_eq!(
            count_as(&conn, &role.name, None, table).await,
            0,
            "{table} unset"
        );
        assert_eq!(
            count_as(&conn, &role.name, Some(""), table).await,
            0,
            "{table} empty"
        );
        assert_eq!(
            count_as(&conn, &role.name, Some("999"), table).await,
            0,
            "{table} under 999"
        );
    }

    // With an empty search_path, as pg_dump runs: the policies' functions still resolve.
    let txn = conn.begin().await.unwrap();
    txn.execute_unprepared(&format!(
        "SET LOCAL ROLE \"{}\"; SET LOCAL search_path = ''",
        role.name
    ))
    .await
    .unwrap();
    set(&txn, &A.to_string()).await;
    let n = txn
        .query_one_raw(sea_orm::Statement::from_string(
            txn.get_database_backend(),
            "SELECT count(*) AS n FROM public.files",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(n, 2, "A's files with an empty search_path");
    txn.rollback().await.unwrap();

    // The rows themselves: `SELECT * FROM files` under A lists A's selection only.
    let (_, _, sel_a, _) = ids(A);
    let txn = conn.begin().await.unwrap();
    txn.execute_unprepared(&format!("SET LOCAL ROLE \"{}\"", role.name))
        .await
        .unwrap();
    set(&txn, &A.to_string()).await;
    let rows = txn
        .query_all_raw(sea_orm::Statement::from_string(
            txn.get_database_backend(),
            "SELECT * FROM files ORDER BY path",
        ))
        .await
        .unwrap();
    let syncs: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get::<i64>("", "project_sync_id").unwrap())
        .collect();
    assert_eq!(syncs, vec![sel_a, sel_a]);

    // Writing is checked too: under A, a row for B's selection is refused.
    let (_, _, sel_b, _) = ids(B);
    let refused = txn
        .execute_unprepared(&format!(
            "INSERT INTO files (project_sync_id, path, blob_sha, mode) VALUES ({sel_b}, 'x', 'y', '100644')"
        ))
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("row-level security"),
        "{refused}"
    );
    txn.rollback().await.unwrap();

    // hubsync's own pool sees everything unless a transaction narrows it.
    let row = app
        .query_one_raw(sea_orm::Statement::from_string(
            app.get_database_backend(),
            format!("SELECT current_setting('{SETTING}') AS s"),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "s").unwrap(), "*");

    app.close().await.unwrap();
    conn.close().await.unwrap();
    role.drop().await;
}
