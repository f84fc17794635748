//! What a browser may run on hubsync's origin (issue 19, item 4): pages under a strict
//! Content-Security-Policy with no inline code, synced files downloaded and sandboxed, never
//! rendered, and /setup only for an admin and only until an app is configured.
use reqwest::{header, StatusCode};

use crate::{
    db_test,
    security::browser::{create_on_github, get, login, setup_form},
    support::{fake_github::FakeGithub, seed, spawn_app_with, synced, test_config},
};

const TOKEN: &str = "pages-security-admin-token-0123456789ab";

/// The page's headers forbid inline code and framing, and its HTML has none to forbid.
fn assert_locked_down(what: &str, headers: &header::HeaderMap, html: &str) {
    let csp = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"))
        .to_str()
        .unwrap();
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}: {csp}"
    );
    for directive in [
        "frame-ancestors 'none'",
        "default-src 'none'",
        "script-src 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: {directive} in {csp}");
    }
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    let lower = html.to_ascii_lowercase();
    for (at, _) in lower.match_indices("<script") {
        let tag = &lower[at..at + lower[at..].find('>').unwrap()];
        assert!(tag.contains(" src="), "{what}: an inline script: {tag}");
    }
    assert!(
        !lower.contains("<style") && !lower.contains(" style="),
        "{what}: inline style"
    );
    assert!(
        !lower.contains(" onclick=")
            && !lower.contains(" onload=")
            && !lower.contains("javascript:"),
        "{what}"
    );
}

db_test! {
    async fn every_page_is_served_under_a_policy_without_inline_code(db) {
        let (app, id) = seed::app_with_project(&db, TOKEN, "octo-org/site", &[]).await;
        let (cookie, _) = login(&app.base, TOKEN).await;
        for path in ["/login".to_owned(), "/".to_owned(), format!("/projects/{id}"), "/setup".to_owned()] {
            let r = get(app.url(&path), &cookie).await;
            assert_eq!(r.status(), 200, "{path}");
            assert!(r.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
            let headers = r.headers().clone();
            assert_locked_down(&path, &headers, &r.text().await.unwrap());
        }
        // /setup's form goes to GitHub, and only there.
        let r = get(app.url("/setup"), &cookie).await;
        assert!(r.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("form-action 'self' https://github.com"));
        // Errors and redirects carry the headers too.
        let r = get(app.url("/no/such/page"), "").await;
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        for (path, kind) in [("/static/app.js", "text/javascript"), ("/static/style.css", "text/css")] {
            let r = get(app.url(path), "").await;
            assert!(r.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with(kind), "{path}");
            assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        }
        app.stop().await;
    }
}

db_test! {
    async fn synced_html_and_svg_are_downloaded_never_run_on_hubsyncs_origin(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "site");
        let html = "<!doctype html><script>fetch('/api/v1/projects').then(r => r.text()).then(alert)</script>";
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>"#;
        repo.write("evil.html", html).write("img/evil.svg", svg).write("README.md", "# site\n");
        repo.commit("a site");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        synced::install(&fake, &app, &repo).await;
        let (cookie, _) = login(&app.base, synced::ADMIN).await;
        let projects: serde_json::Value = get(app.url("/api/v1/projects"), &cookie).await.json().await.unwrap();
        let id = projects["projects"][0]["id"].as_i64().unwrap();
        // A browser that follows a link to the file, with the admin's session.
        for (path, bytes, name) in [("evil.html", html, "evil.html"), ("img/evil.svg", svg, "evil.svg")] {
            let r = get(app.url(&format!("/api/v1/projects/{id}/files/{path}")), &cookie).await;
            assert_eq!(r.status(), 200, "{path}");
            let h = r.headers().clone();
            assert_eq!(h[header::CONTENT_TYPE], "application/octet-stream", "{path}");
            let disposition = h[header::CONTENT_DISPOSITION].to_str().unwrap();
            assert!(disposition.starts_with("attachment") && disposition.contains(name), "{disposition}");
            let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(csp.contains("sandbox") && csp.contains("default-src 'none'"), "{csp}");
            assert_eq!(h["x-content-type-options"], "nosniff");
            assert_eq!(r.text().await.unwrap(), bytes, "the bytes themselves are untouched");
        }
        app.stop().await;
    }
}

db_test! {
    async fn setup_is_for_an_admin_and_gone_once_an_app_is_configured(db) {
        let fake = FakeGithub::start().await;
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("creds.json");
        let app = spawn_app_with(test_config(&db, &[
            ("GITHUB_API_URL", fake.url.as_str()),
            ("GITHUB_URL", fake.url.as_str()),
            ("HUBSYNC_CREDENTIALS_PATH", creds.to_str().unwrap()),
            ("HUBSYNC_ADMIN_TOKEN", TOKEN),
        ])).await;
        // Anyone who reaches hubsync could otherwise connect an app of their own.
        let r = get(app.url("/setup"), "").await;
        assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/login"));
        let (cookie, _) = login(&app.base, TOKEN).await;

        // Pending states are bounded: reloading the page many times drops the oldest.
        let (first, manifest) = setup_form(&app.base, &cookie).await;
        let mut last = first.clone();
        for _ in 0..hubsync::http::setup::MAX_PENDING_STATES {
            last = setup_form(&app.base, &cookie).await.0;
        }
        let r = create_on_github(&first, &manifest).await;
        assert_eq!(r.status(), 400, "the oldest state was dropped");
        assert!(r.text().await.unwrap().contains("unknown or expired"));
        let r = create_on_github(&last, &manifest).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{:?}", r.text().await);
        assert!(app.app.github.app().is_some());

        // Configured: both routes are gone, for admins too, and say nothing about the app.
        for (path, who) in [("/setup", cookie.as_str()), ("/setup", ""), ("/setup/callback?code=x&state=y", "")] {
            let r = get(app.url(path), who).await;
            assert_eq!(r.status(), 404, "{path}");
            assert!(!r.text().await.unwrap().contains("4242"));
        }
        app.stop().await;

        // An app configured through the environment closes it from the start.
        let other = crate::migrations::another(&db).await;
        let env = fake.app_env();
        let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        vars.push(("GITHUB_WEBHOOK_SECRET", "a-webhook-secret-long-enough"));
        let app = spawn_app_with(test_config(&other, &vars)).await;
        assert_eq!(app.get("/setup").await.status(), 404);
        app.stop().await;
    }
}
