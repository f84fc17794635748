//! Secrets and tokens (issue 19, item 3): no short or empty webhook secret from any source, a long
//! admin token, and guessing throttled per client address.
use reqwest::StatusCode;

use crate::{
    db_test,
    security::browser::{create_on_github, setup_form},
    support::{fake_github::FakeGithub, hubsync_bin, seed, spawn_app_with, test_config, TestDb},
};

const TOKEN: &str = "secrets-test-admin-token-0123456789abcdef";

/// `hubsync serve` with `env`: its exit code and stderr. One that keeps serving after a minute
/// (it accepted the configuration) is stopped and has no exit code.
async fn serve_with(db: &TestDb, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = hubsync_bin();
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("hubsync runs");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let pid = child.id().to_string();
    let exited = tokio::task::spawn_blocking(move || child.wait().ok().and_then(|s| s.code()));
    let code = match tokio::time::timeout(std::time::Duration::from_secs(60), exited).await {
        Ok(code) => code.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
            None
        }
    };
    let stderr = tokio::task::spawn_blocking(move || reader.join().unwrap())
        .await
        .unwrap();
    (code, stderr)
}

db_test! {
    async fn weak_secrets_and_tokens_stop_startup_naming_where_they_came_from(db) {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("creds.json");
        let key = include_str!("../../fixtures/test-app-key.pem");
        std::fs::write(&creds, serde_json::json!({
            "app_id": 1, "private_key": key, "webhook_secret": "",
            "client_id": "Iv1.x", "client_secret": "cs",
        }).to_string()).unwrap();
        let long = "a-webhook-secret-that-is-long-enough";
        let short_list = format!("{long},tiny");
        for (env, var) in [
            (vec![("GITHUB_WEBHOOK_SECRET", "tiny")], "GITHUB_WEBHOOK_SECRET"),
            (vec![("GITHUB_WEBHOOK_SECRET", short_list.as_str())], "GITHUB_WEBHOOK_SECRET"),
            (vec![("HUBSYNC_CREDENTIALS_PATH", creds.to_str().unwrap())], "HUBSYNC_CREDENTIALS_PATH"),
            (vec![("GITHUB_WEBHOOK_SECRET", long), ("HUBSYNC_ADMIN_TOKEN", "tinytoken")], "HUBSYNC_ADMIN_TOKEN"),
        ] {
            let (code, stderr) = serve_with(&db, &env).await;
            assert_eq!(code, Some(1), "{env:?}: {stderr}");
            let line = stderr.trim();
            assert_eq!(line.lines().count(), 1, "{line}");
            assert!(line.contains(var) && line.contains("at least"), "{line}");
            assert!(!line.contains("tiny"), "never echoes the value: {line}");
        }
    }
}

db_test! {
    async fn setup_refuses_an_app_that_comes_back_without_a_usable_webhook_secret(db) {
        for secret in [None, Some("short-secret")] {
            let fake = FakeGithub::start().await;
            fake.set_manifest_webhook_secret(secret);
            let dir = tempfile::tempdir().unwrap();
            let creds = dir.path().join("creds.json");
            let fresh;
            let target = if secret.is_none() { &db } else {
                fresh = crate::migrations::another(&db).await;
                &fresh
            };
            let app = spawn_app_with(test_config(target, &[
                ("GITHUB_API_URL", fake.url.as_str()),
                ("GITHUB_URL", fake.url.as_str()),
                ("HUBSYNC_CREDENTIALS_PATH", creds.to_str().unwrap()),
            ])).await;
            let cookie = crate::support::first_admin(&app).await;
            let (action, manifest) = setup_form(&app.base, &cookie).await;
            let res = create_on_github(&action, &manifest).await;
            assert_eq!(res.status(), StatusCode::BAD_GATEWAY, "{secret:?}");
            // A page (GitHub sent the browser here) that says why.
            let error = res.text().await.unwrap();
            assert!(error.contains("webhook secret") && error.contains("at least 20"), "{error}");
            assert!(!creds.exists(), "nothing stored");
            assert!(app.app.github.app().is_none() && app.app.github.webhook_secrets().is_empty());
            // Webhooks stay off rather than accepting signatures made with an empty key.
            let r = app.client.post(app.url("/webhooks/github"))
                .header("Content-Type", "application/json")
                .header("X-GitHub-Event", "ping")
                .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
                .header("X-Hub-Signature-256", crate::support::signing::github_signature("", b"{}"))
                .body("{}")
                .send().await.unwrap();
            assert_eq!(r.status(), 503);
            app.stop().await;
        }
    }
}

fn bearer(app: &crate::support::TestApp, from: &str, token: &str) -> reqwest::RequestBuilder {
    app.client
        .get(app.url("/api/v1/projects"))
        .bearer_auth(token)
        .header("X-Forwarded-For", from)
}

fn login(app: &crate::support::TestApp, from: &str, token: &str) -> reqwest::RequestBuilder {
    app.client
        .post(app.url("/login"))
        .header("X-Forwarded-For", from)
        .form(&[("token", token)])
}

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

db_test! {
    async fn guessing_tokens_is_throttled_per_client_address(db) {
        // Behind a proxy on 127.0.0.1 that names each client in X-Forwarded-For.
        let (app, _) = seed::app_with_project(&db, TOKEN, "octo-org/vault", &[("HUBSYNC_TRUSTED_PROXIES", "127.0.0.1")]).await;
        let (mallory, alice) = ("203.0.113.66", "198.51.100.7");
        for i in 0..10 {
            let r = bearer(&app, mallory, &format!("guess-{i}")).send().await.unwrap();
            assert_eq!(r.status(), 401, "guess {i}");
        }
        // The eleventh try waits, even with the right token: guessing on at full speed is over.
        let r = bearer(&app, mallory, TOKEN).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!((1..=60).contains(&retry_after(&r)), "{:?}", r.headers());
        let r = login(&app, mallory, TOKEN).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the login form counts the same guesses");
        assert!(retry_after(&r) >= 1);
        assert!(r.text().await.unwrap().contains("too many failed attempts"));

        // Another client is not held back, and failed logins count like bad bearer tokens.
        let r = bearer(&app, alice, TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 200);
        for _ in 0..10 {
            assert_eq!(login(&app, alice, "wrong").send().await.unwrap().status(), 401);
        }
        let r = login(&app, alice, TOKEN).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(bearer(&app, "192.0.2.1", TOKEN).send().await.unwrap().status(), 200);
        app.stop().await;

        // Without a trusted proxy the header is the client's own word, and is ignored: changing
        // it does not get a guesser a fresh count.
        let other = crate::migrations::another(&db).await;
        let app = spawn_app_with(test_config(&other, &[("HUBSYNC_ADMIN_TOKEN", TOKEN)])).await;
        for i in 0..10 {
            let r = bearer(&app, &format!("203.0.113.{i}"), "guess").send().await.unwrap();
            assert_eq!(r.status(), 401);
        }
        let r = bearer(&app, "203.0.113.200", TOKEN).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        app.stop().await;
    }
}
