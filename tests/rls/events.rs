//! Run pages, files without content and stored progress events, read in the caller's scope: the
//! store's reads under installation A return none of B's rows (the policies on PostgreSQL, the
//! store on SQLite), and the pages answer 404 for a run outside what the caller sees.
use hubsync::{
    ids::{ProjectId, RepositoryId},
    store::{scope::Scope, scoped, skipped::Skipped, DatabaseUrl},
};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use super::{ids, seed, Role, A, B};
use crate::{
    db_test,
    support::{spawn_app_with, sse::SseStream, test_config, wait::LIMIT},
};

const ADMIN: &str = "rls-events-admin-token-0123456789abcdef";

/// A symlink in each installation's branch (a file without content), and a `queued` event of
/// its run that this version reads (the seed's own event is of a kind it does not know).
async fn more_rows(db: &impl ConnectionTrait) {
    let t = chrono::Utc::now().to_rfc3339();
    for i in [A, B] {
        let (_, project, sel, run) = ids(i);
        let data = json!({"run_id": run, "branch": "main", "trigger": "push", "from_sha": null,
            "target_sha": null, "coalesced": false});
        for sql in [
            format!(
                "INSERT INTO files (project_sync_id, path, blob_sha, mode, size) VALUES \
                 ({sel}, 'link-{i}', '{:040x}', '120000', 3)",
                i + 100
            ),
            format!(
                "INSERT INTO sync_events (id, project_id, run_id, kind, data, created_at) VALUES \
                 ({}, {project}, {run}, 'queued', '{data}', '{t}')",
                run + 1
            ),
        ] {
            db.execute_unprepared(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }
}

db_test! {
    async fn runs_events_and_skipped_counts_are_read_in_the_scope(db) {
        let role = Role::create(&db, true).await;
        let url = role.as_ref().map_or_else(|| db.url.clone(), Role::url);
        let conn = hubsync::store::connect(&DatabaseUrl::parse(&url).unwrap()).await.unwrap();
        hubsync::store::migrate(&conn).await.unwrap();
        seed(&conn, A).await;
        seed(&conn, B).await;
        more_rows(&conn).await;
        let (repo_a, project_a, sel_a, run_a) = ids(A);
        let (repo_b, project_b, sel_b, run_b) = ids(B);
        let a = Scope::installation(A);

        // One run: A's with its attempt, event and commit; B's is not there under A.
        let detail = scoped::run(&conn, &a, run_a, RepositoryId(repo_a)).await.unwrap().unwrap();
        assert_eq!((detail.run.id, detail.attempts.len(), detail.events.len()), (run_a, 1, 1));
        assert_eq!(detail.commit.unwrap().message, "a commit");
        assert!(scoped::run(&conn, &a, run_b, RepositoryId(repo_b)).await.unwrap().is_none(), "B's run under A");
        assert!(scoped::run(&conn, &Scope::All, run_b, RepositoryId(repo_b)).await.unwrap().is_some());

        // Stored events, asked for every project or for B's: A's only; the page still says
        // how far it read, so a replay that skips B's rows goes on after them.
        let page = scoped::events(&conn, &a, None, 0, i64::MAX, 100).await.unwrap();
        assert_eq!(page.rows.iter().map(|r| r.project_id).collect::<Vec<_>>(), vec![project_a]);
        let page = scoped::events(&conn, &a, Some(ProjectId(project_b)), 0, i64::MAX, 100).await.unwrap();
        assert!(page.rows.is_empty(), "B's events under A");
        let page = scoped::events(&conn, &Scope::All, None, 0, i64::MAX, 100).await.unwrap();
        assert_eq!(page.rows.len(), 2);
        assert_eq!(page.last, Some(run_b + 1));

        // Files without content, asked for both branches: A's symlink only.
        let counts = scoped::skipped_counts(&conn, &a, &[sel_a, sel_b]).await.unwrap();
        assert_eq!(counts.len(), 1, "B's branch under A");
        assert_eq!(counts[0].0, sel_a);
        assert_eq!(counts[0].1.get(&Skipped::Symlink), Some(&1));
        let counts = scoped::skipped_counts(&conn, &Scope::All, &[sel_a, sel_b]).await.unwrap();
        assert_eq!(counts.len(), 2);

        conn.close().await.unwrap();
        if let Some(role) = role {
            role.drop().await;
        }
    }
}

db_test! {
    async fn a_run_page_outside_the_callers_projects_is_404(db) {
        let role = Role::create(&db, true).await;
        let mut db = db;
        if let Some(r) = &role {
            db.url = r.url();
        }
        let app = spawn_app_with(test_config(&db, &[("HUBSYNC_ADMIN_TOKEN", ADMIN)])).await;
        seed(&app.app.db, A).await;
        seed(&app.app.db, B).await;
        more_rows(&app.app.db).await;
        if db.engine == "postgres" {
            // The seed's explicit ids leave the sequence behind them: new events must come after.
            app.app.db.execute_unprepared("SELECT setval(pg_get_serial_sequence('sync_events', 'id'), 1000)").await.unwrap();
        }
        let (_, project_a, _, run_a) = ids(A);
        let (_, project_b, _, run_b) = ids(B);
        let r = app.client.post(app.url("/api/v1/tokens")).bearer_auth(ADMIN)
            .json(&json!({"name": "a", "scope": "read", "project_id": project_a}))
            .send().await.unwrap();
        assert_eq!(r.status(), 201);
        let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        let get = |path: String| {
            let req = app.client.get(app.url(&path)).bearer_auth(&token);
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };

        let (status, html) = get(format!("/projects/{project_a}/runs/{run_a}")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("a commit"), "the run's commit, read in A's scope");
        let (status, html) = get(format!("/projects/{project_a}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Files without content") && html.contains(r#"data-skipped="symlink">1<"#), "{html}");
        for path in [
            format!("/projects/{project_a}/runs/{run_b}"),
            format!("/projects/{project_b}/runs/{run_b}"),
            format!("/projects/{project_a}/runs/999"),
            format!("/projects/{project_a}/runs/not-a-run"),
        ] {
            let (status, html) = get(path.clone()).await;
            assert_eq!(status, 404, "{path}");
            assert!(html.contains("no run") || html.contains("no project"), "{path}: {html}");
        }
        // Replay from the start, then live: A's stored event, never B's (stored after it), then
        // the next live one.
        for path in [format!("/projects/{project_a}/events"), "/api/v1/events".to_owned()] {
            let resp = SseStream::connect(&app.client, &app.url(&path), &token, Some(0)).await;
            let mut s = SseStream::new(resp);
            assert_eq!(s.next(LIMIT).await.unwrap().id(), run_a + 1, "{path}");
            let r = app.client.put(app.url(&format!("/api/v1/projects/{project_a}/branches"))).bearer_auth(ADMIN)
                .json(&json!({ "branches": ["main", format!("dev-{}", path.len())] })).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let live = s.next(LIMIT).await.unwrap();
            assert!(live.id() > run_b + 1 && live.json()["project_id"] == project_a, "{path}: {live:?}");
        }
        // The admin reaches B's run.
        let r = app.client.get(app.url(&format!("/projects/{project_b}/runs/{run_b}"))).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(r.status(), 200);

        app.stop().await;
        if let Some(role) = role {
            role.drop().await;
        }
    }
}
