//! `GET /api/v1/openapi.json`: every route the app serves under /api/v1 is in the document, and
//! real answers of the main routes match the schemas the document gives them.
use std::{collections::BTreeSet, path::Path};

use serde_json::Value;

use crate::{
    db_test,
    support::{
        fake_github::FakeGithub,
        schema,
        synced::{self, ADMIN},
        webhooks::SECRET,
        TestApp,
    },
};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

async fn document(app: &TestApp) -> Value {
    let r = app.get("/api/v1/openapi.json").await;
    assert_eq!(r.status(), 200, "the document needs no token");
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    doc
}

/// Every `#[get("...")]`-style route attribute in src/http: (method, path as declared).
fn declared_routes() -> BTreeSet<(String, String)> {
    fn walk(dir: &Path, out: &mut BTreeSet<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                for line in std::fs::read_to_string(&path).unwrap().lines() {
                    let line = line.trim();
                    for m in METHODS {
                        if let Some(rest) = line.strip_prefix(&format!("#[{m}(\"")) {
                            let route = rest.split('"').next().unwrap();
                            out.insert((m.to_owned(), route.to_owned()));
                        }
                    }
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http"),
        &mut out,
    );
    assert!(
        out.len() > 10,
        "the scan found the route attributes: {out:?}"
    );
    out
}

/// A concrete URL path for a template: every `{param}` (with or without a regex) filled in.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').unwrap() + open;
        let name = rest[open + 1..close].split(':').next().unwrap();
        out.push_str(match name {
            "spec" => "a...b",
            "path" => "x.txt",
            _ => "1",
        });
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// How the document names a template: regexes dropped (`{path:.+}` is `{path}`).
fn documented_form(template: &str) -> String {
    let (mut out, mut in_param, mut in_regex) = (String::new(), false, false);
    for c in template.chars() {
        match c {
            '{' => in_param = true,
            '}' => (in_param, in_regex) = (false, false),
            ':' if in_param => in_regex = true,
            _ => {}
        }
        if !in_regex {
            out.push(c);
        }
    }
    out
}

/// Whether the app serves `method path`: anything but the fallback's "no route" answer.
async fn served(app: &TestApp, method: &str, path: &str) -> bool {
    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let r = app
        .client
        .request(m, app.url(path))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    if r.status() != 404 {
        return true; // an event stream is dropped here, unread
    }
    let body: Value = r.json().await.unwrap_or(Value::Null);
    !body["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("no route for"))
}

db_test! {
    async fn every_served_api_route_is_in_the_document(db) {
        let fake = FakeGithub::start().await;
        let app = synced::start(&fake, &db, &[]).await;
        let doc = document(&app).await;
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for m in METHODS {
                if item.get(m).is_some() {
                    documented.insert((m.to_owned(), path.clone()));
                }
            }
        }
        // Each route attribute the app serves under /api/v1 must be documented.
        let mut checked = 0;
        for (method, route) in declared_routes() {
            let full = format!("/api/v1{route}");
            if served(&app, &method, &concrete(&full)).await {
                checked += 1;
                assert!(
                    documented.contains(&(method.clone(), documented_form(&full))),
                    "{} {full} is served but not in /api/v1/openapi.json: add #[utoipa::path] \
                     and list it in api_routes! (src/http/api/mod.rs)",
                    method.to_uppercase()
                );
            }
        }
        assert!(checked >= 12, "only {checked} routes found under /api/v1");
        // And everything documented is served.
        for (method, path) in &documented {
            assert!(served(&app, method, &concrete(path)).await, "{method} {path} is documented, not served");
            let op = &doc["paths"][path][method];
            assert!(op["responses"]["4XX"]["content"]["application/json"].is_object(), "{path}: the error body");
        }
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["admin_token"]["scheme"], "bearer");
        assert!(doc["security"].as_array().is_some_and(|s| !s.is_empty()));
        app.stop().await;
    }
}

/// Asks `method path` and checks the answer against the document's schema for its status.
async fn conforms(
    app: &TestApp,
    doc: &Value,
    method: &str,
    template: &str,
    path: &str,
    body: Option<Value>,
    auth: bool,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut req = app.client.request(m, app.url(path));
    if auth {
        req = req.bearer_auth(ADMIN);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let value: Value = r.json().await.unwrap();
    let responses = &doc["paths"][template][method]["responses"];
    assert!(
        responses.is_object(),
        "{method} {template} is not documented"
    );
    let range = format!("{}XX", status / 100);
    let response = [status.to_string(), range, "default".into()]
        .iter()
        .map(|k| &responses[k.as_str()])
        .find(|r| r.is_object())
        .unwrap_or_else(|| panic!("{method} {path}: status {status} is not documented"));
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path}: no JSON schema for {status}"
    );
    let errors = schema::violations(doc, schema, &value);
    assert!(
        errors.is_empty(),
        "{method} {path} ({status}) does not match its schema: {errors:#?}\n{value:#}"
    );
    (status, value)
}

db_test! {
    async fn real_answers_match_their_schemas(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "described");
        repo.write("README.md", "hello\n").write("src/a.rs", "fn a() {}\n");
        let first = repo.commit("one");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        let sel = synced::install(&fake, &app, &repo).await;
        repo.write("src/a.rs", "fn a() { 1 }\n").write("src/b.rs", "fn b() {}\n");
        repo.commit("two");
        let push = repo.push("main");
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        synced::wait_synced(&app.app, repo.id, "main", &push.after, std::time::Duration::from_secs(60)).await;
        let doc = document(&app).await;
        let id = sel.project_id;
        let p = |s: &str| format!("/api/v1/projects/{id}{s}");
        let t = |s: &str| format!("/api/v1/projects/{{id}}{s}");
        let get = |template: String, path: String| (template, path);
        let (s, list) = conforms(&app, &doc, "get", "/api/v1/projects", "/api/v1/projects", None, true).await;
        assert_eq!((s, list["projects"].as_array().map(Vec::len)), (200, Some(1)));
        for (template, path) in [
            get(t(""), p("")),
            get(t("/syncs"), p("/syncs")),
            get(t("/files"), p("/files")),
            get(t("/files"), p(&format!("/files?at={first}"))),
            get(t("/compare/{spec}"), p(&format!("/compare/{first}...{}", push.after))),
            get(t("/synced"), p(&format!("/synced?sha={}&timeout=0", push.after))),
            get(t("/synced"), p(&format!("/synced?sha={}&timeout=0", "ab".repeat(20)))),
            get("/api/v1/changes".into(), "/api/v1/changes?limit=2".into()),
            get("/api/v1/changes".into(), "/api/v1/changes?after=x".into()),
            get(t(""), "/api/v1/projects/999999".into()),
            get(t("/files"), p("/files?branch=nope")),
        ] {
            conforms(&app, &doc, "get", &template, &path, None, true).await;
        }
        let (s, _) = conforms(&app, &doc, "get", "/api/v1/projects", "/api/v1/projects", None, false).await;
        assert_eq!(s, 401);
        let (s, _) = conforms(&app, &doc, "put", &t("/branches"), &p("/branches"), Some(serde_json::json!({"branches": ["main", "release/*"]})), true).await;
        assert_eq!(s, 200);
        let (s, _) = conforms(&app, &doc, "put", &t("/branches"), &p("/branches"), Some(serde_json::json!({"branches": ["bad..name"]})), true).await;
        assert_eq!(s, 400);
        let (s, runs) = conforms(&app, &doc, "post", &t("/syncs"), &p("/syncs"), Some(serde_json::json!({"branch": "main"})), true).await;
        assert_eq!((s, runs["runs"].as_array().map(Vec::len)), (202, Some(1)));
        let (s, _) = conforms(&app, &doc, "get", "/api/v1/openapi.json", "/api/v1/openapi.json", None, false).await;
        assert_eq!(s, 200);
        app.stop().await;
    }
}
