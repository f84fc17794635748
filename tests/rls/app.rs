//! End to end: hubsync runs as a non-superuser that owns its tables (on PostgreSQL: FORCE applies
//! to it), syncs two installations (the worker's scoped transactions pass the policies' checks),
//! and a token limited to installation A's project reads nothing of installation B.
use std::time::Duration;

use hubsync::store::{scope::Scope, scoped};
use serde_json::{json, Value};

use super::Role;
use crate::{
    db_test,
    support::{
        fake_github::FakeGithub,
        synced::{self, ADMIN},
        webhooks::SECRET,
        TestApp,
    },
};

async fn get(app: &TestApp, path: &str, bearer: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
}

db_test! {
    async fn the_app_as_a_non_superuser_syncs_and_a_token_of_installation_a_reads_nothing_of_b(db) {
        let role = Role::create(&db, true).await;
        let mut db = db;
        if let Some(r) = &role {
            db.url = r.url();
        }
        let fake = FakeGithub::start().await;
        let (inst_a, inst_b) = (fake.add_installation("org-a"), fake.add_installation("org-b"));
        let repo_a = fake.create_repo(inst_a, "alpha");
        repo_a.write("a.txt", "from A\n");
        repo_a.commit("A");
        repo_a.push("main");
        let repo_b = fake.create_repo(inst_b, "beta");
        repo_b.write("b.txt", "from B\n");
        repo_b.commit("B");
        repo_b.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        let sel_a = synced::install(&fake, &app, &repo_a).await;
        let sel_b = synced::install(&fake, &app, &repo_b).await;

        // A push: the worker's swap, events and feed rows, written under A's scope.
        repo_a.write("a2.txt", "more\n");
        repo_a.commit("A again");
        let push = repo_a.push("main");
        let r = fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        assert_eq!(r.status(), 202);
        let head = repo_a.head("main").unwrap();
        synced::wait_synced(&app.app, repo_a.id, "main", &head, Duration::from_secs(60)).await;

        let r = app.client.post(app.url("/api/v1/tokens")).bearer_auth(ADMIN)
            .json(&json!({"name": "alpha", "scope": "read", "project_id": sel_a.project_id}))
            .send().await.unwrap();
        assert_eq!(r.status(), 201);
        let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();

        let v: Value = get(&app, "/api/v1/projects", &token).await.json().await.unwrap();
        let listed: Vec<i64> = v["projects"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
        assert_eq!(listed, vec![sel_a.project_id]);
        let r = get(&app, &format!("/api/v1/projects/{}/files", sel_a.project_id), &token).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let paths: Vec<&str> = v["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
        assert_eq!(paths, vec!["a.txt", "a2.txt"]);
        let r = get(&app, &format!("/api/v1/projects/{}/files/a2.txt", sel_a.project_id), &token).await;
        assert_eq!(r.text().await.unwrap(), "more\n");
        let r = get(&app, &format!("/api/v1/projects/{}/syncs", sel_a.project_id), &token).await;
        assert_eq!(r.json::<Value>().await.unwrap()["runs"].as_array().unwrap().len(), 2);
        for path in ["", "/files", "/files/b.txt", "/syncs"] {
            let r = get(&app, &format!("/api/v1/projects/{}{path}", sel_b.project_id), &token).await;
            assert_eq!(r.status(), 404, "B's project{path}");
        }
        let v: Value = get(&app, "/api/v1/changes", &token).await.json().await.unwrap();
        let feed: Vec<&str> = v["changes"].as_array().unwrap().iter().map(|c| c["path"].as_str().unwrap()).collect();
        assert_eq!(feed, vec!["a.txt", "a2.txt"]);
        // The admin still sees both installations.
        let v: Value = get(&app, "/api/v1/projects", ADMIN).await.json().await.unwrap();
        assert_eq!(v["projects"].as_array().unwrap().len(), 2);

        // Through the app's own connection, with no check of the handlers': A's scope reaches
        // none of B's rows (the policies on PostgreSQL, the store on SQLite).
        let a = Scope::installation(inst_a);
        let db_conn = &app.app.db;
        assert!(scoped::manifest(db_conn, &a, sel_b.id).await.unwrap().is_empty());
        assert!(scoped::project(db_conn, &a, sel_b.project_id).await.unwrap().is_none());
        let page = scoped::changes(db_conn, &a, 0, None, 100).await.unwrap();
        assert!(page.rows.iter().all(|c| c.project_id == sel_a.project_id) && !page.rows.is_empty());
        let b = Scope::installation(inst_b);
        assert_eq!(scoped::manifest(db_conn, &b, sel_b.id).await.unwrap().len(), 1);

        app.stop().await;
        if let Some(role) = role {
            role.drop().await;
        }
    }
}
