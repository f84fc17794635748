//! The JSON API over HTTP: auth, projects, selections, manual syncs, history, files.
use hubsync::store::manifests::{self, Entry};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    db_test,
    support::{seed, TestApp, TestDb},
};

const TOKEN: &str = "admin-token-for-tests-0123456789abcdef";

async fn app_with_project(db: &TestDb) -> (TestApp, i64) {
    seed::app_with_project(db, TOKEN, "octo-org/hello", &[]).await
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

db_test! {
    async fn the_api_requires_the_admin_token(db) {
        let (app, id) = app_with_project(&db).await;
        let r = app.get("/api/v1/projects").await;
        assert_eq!(r.status(), 401);
        assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("Bearer"));
        let r = app.client.get(app.url("/api/v1/projects")).bearer_auth("wrong").send().await.unwrap();
        assert_eq!(r.status(), 401);
        let (status, body) = call(&app, reqwest::Method::GET, &format!("/api/v1/projects/{id}"), None).await;
        assert_eq!(status, 200, "{body}");
    }
}

db_test! {
    async fn projects_list_and_show_their_branches(db) {
        let (app, id) = app_with_project(&db).await;
        let (status, body) = call(&app, reqwest::Method::GET, "/api/v1/projects", None).await;
        assert_eq!(status, 200);
        let p = &body["projects"][0];
        assert_eq!(p["id"], id);
        assert_eq!(p["repository"]["full_name"], "octo-org/hello");
        assert_eq!(p["repository"]["html_url"], "https://github.com/octo-org/hello");
        assert_eq!(p["installation"]["account"], "octo-org");
        assert_eq!(p["branches"][0]["name"], "main");
        assert_eq!(p["branches"][0]["state"], "pending");
        assert!(p["stopped"].is_null());

        let (status, body) = call(&app, reqwest::Method::GET, "/api/v1/projects/9999", None).await;
        assert_eq!(status, 404);
        assert!(body["error"].as_str().unwrap().contains("9999"));
        let (status, _) = call(&app, reqwest::Method::GET, "/api/v1/projects/abc", None).await;
        assert_eq!(status, 400);
    }
}

db_test! {
    async fn setting_the_selection_validates_and_queues_new_branches(db) {
        let (app, id) = app_with_project(&db).await;
        let path = format!("/api/v1/projects/{id}/branches");
        let (status, body) = call(&app, reqwest::Method::PUT, &path, Some(json!({ "branches": ["main", "dev", "release/*"] }))).await;
        assert_eq!(status, 200, "{body}");
        let names: Vec<(&str, bool, bool)> = body["branches"].as_array().unwrap().iter()
            .map(|b| (b["name"].as_str().unwrap(), b["pattern"].as_bool().unwrap(), b["enabled"].as_bool().unwrap()))
            .collect();
        assert_eq!(names, vec![("main", false, true), ("dev", false, true), ("release/*", true, true)]);
        let (_, runs) = call(&app, reqwest::Method::GET, &format!("/api/v1/projects/{id}/syncs?branch=dev"), None).await;
        assert_eq!(runs["runs"][0]["trigger"], "selection");

        for bad in [json!({ "branches": ["a..b"] }), json!({ "branches": "main" }), json!({ "branch": ["main"] }), json!({ "branches": ["["] })] {
            let (status, body) = call(&app, reqwest::Method::PUT, &path, Some(bad.clone())).await;
            assert_eq!(status, 400, "{bad} -> {body}");
            assert!(body["error"].is_string());
        }
        // Deselecting keeps the branch row (and its data), disabled.
        let (_, body) = call(&app, reqwest::Method::PUT, &path, Some(json!({ "branches": ["main"] }))).await;
        let dev = body["branches"].as_array().unwrap().iter().find(|b| b["name"] == "dev").unwrap().clone();
        assert_eq!(dev["enabled"], false);
    }
}

db_test! {
    async fn manual_syncs_queue_and_show_in_history(db) {
        let (app, id) = app_with_project(&db).await;
        let path = format!("/api/v1/projects/{id}/syncs");
        let (status, body) = call(&app, reqwest::Method::POST, &path, Some(json!({ "branch": "main" }))).await;
        assert_eq!(status, 202, "{body}");
        // The install run was still queued: the manual request folds into it.
        let (_, hist) = call(&app, reqwest::Method::GET, &path, None).await;
        assert_eq!(hist["runs"].as_array().unwrap().len(), 1);
        assert_eq!(hist["runs"][0]["status"], "queued");
        assert_eq!(hist["runs"][0]["branch"], "main");
        let (status, _) = call(&app, reqwest::Method::POST, &path, Some(json!({ "branch": "nope" }))).await;
        assert_eq!(status, 404);
        let r = app.client.post(app.url(&path)).bearer_auth(TOKEN).body("{not json").send().await.unwrap();
        assert_eq!(r.status(), 400);
        let r = app.client.post(app.url(&path)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 202, "an empty body syncs every selected branch");
        let (status, _) = call(&app, reqwest::Method::GET, &format!("{path}?limit=nope"), None).await;
        assert_eq!(status, 400);
    }
}

db_test! {
    async fn files_serve_the_manifest_and_raw_content(db) {
        let (app, id) = app_with_project(&db).await;
        let conn = &app.app.db;
        let sel = hubsync::store::selections::selections(conn, id).await.unwrap()[0].id;
        let bin: Vec<u8> = vec![0, 159, 146, 150, 255];
        manifests::store_blob(conn, "a1", 6, Some(b"hello\n".to_vec())).await.unwrap();
        manifests::store_blob(conn, "b2", 5, Some(bin.clone())).await.unwrap();
        manifests::store_blob(conn, "c3", 20_000_000, None).await.unwrap();
        let entries = [
            Entry { path: "README.md".into(), sha: "a1".into(), mode: "100644".into(), size: Some(6) },
            Entry { path: "img/logo.png".into(), sha: "b2".into(), mode: "100644".into(), size: Some(5) },
            Entry { path: "big.iso".into(), sha: "c3".into(), mode: "100644".into(), size: Some(20_000_000) },
            Entry { path: "vendor/lib".into(), sha: "d4".into(), mode: "160000".into(), size: None },
        ];
        manifests::replace_manifest(conn, sel, &[], &entries).await.unwrap();

        let (status, body) = call(&app, reqwest::Method::GET, &format!("/api/v1/projects/{id}/files?branch=main"), None).await;
        assert_eq!(status, 200);
        let paths: Vec<&str> = body["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
        assert_eq!(paths, vec!["README.md", "big.iso", "img/logo.png", "vendor/lib"]);

        let r = app.client.get(app.url(&format!("/api/v1/projects/{id}/files/img/logo.png"))).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-hubsync-blob-sha"], "b2");
        assert_eq!(r.bytes().await.unwrap().to_vec(), bin);
        for (path, needle) in [("big.iso", "size limit"), ("vendor/lib", "submodule"), ("nope.txt", "no file")] {
            let (status, body) = call(&app, reqwest::Method::GET, &format!("/api/v1/projects/{id}/files/{path}"), None).await;
            assert_eq!(status, 404);
            assert!(body["error"].as_str().unwrap().contains(needle), "{body}");
        }
        let (status, _) = call(&app, reqwest::Method::GET, &format!("/api/v1/projects/{id}/files?branch=other"), None).await;
        assert_eq!(status, 404);

        // A second manifest swap touches only what differs.
        let entries2 = [Entry { path: "README.md".into(), sha: "b2".into(), mode: "100644".into(), size: Some(5) }];
        let old = manifests::manifest(conn, sel).await.unwrap();
        manifests::replace_manifest(conn, sel, &old, &entries2).await.unwrap();
        let (_, body) = call(&app, reqwest::Method::GET, &format!("/api/v1/projects/{id}/files"), None).await;
        assert_eq!(body["files"], json!([{ "path": "README.md", "sha": "b2", "size": 5, "mode": "100644", "skipped": null }]));
    }
}
