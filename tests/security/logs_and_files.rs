//! Logs and files at rest (issue 19, item 5): at RUST_LOG=trace the real binary logs no payload,
//! file content, token or secret, and the database and credentials files are its user's alone.
use std::time::Duration;

use reqwest::{header, StatusCode};

use crate::{
    db_test,
    security::{
        browser::{create_on_github, csrf_of, no_redirects, setup_form},
        child::ChildApp,
    },
    support::{fake_github::FakeGithub, sse::SseStream},
};

const SECRET: &str = "SECRET-webhook-secret-marker-0001";
const TOKEN: &str = "SECRET-admin-token-marker-0123456789abcdef";
const WRONG_BEARER: &str = "SECRET-wrong-bearer-marker";
const WRONG_LOGIN: &str = "SECRET-wrong-login-marker";
const FILE_CONTENT: &str = "SECRET-file-content-marker: the synced code itself";
const COMMIT_MESSAGE: &str = "SECRET-commit-message-marker (in every push payload)";

/// Reads the API (bearer) until the project's main branch is at `sha`: again after each event
/// on the app's own event stream.
async fn wait_synced(app: &ChildApp, sha: &str) -> i64 {
    let http = reqwest::Client::new();
    let stream = SseStream::connect(&http, &app.url("/api/v1/events"), TOKEN, None).await;
    let mut events = SseStream::new(stream);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let v: serde_json::Value = http
            .get(app.url("/api/v1/projects"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let project = &v["projects"][0];
        if project["branches"][0]["last_synced_sha"] == sha {
            return project["id"].as_i64().unwrap();
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(events.next(left).await.is_some(), "never synced {sha}: {v}");
    }
}

db_test! {
    async fn nothing_secret_reaches_the_log_even_at_trace(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "vault");
        for i in 0..5 {
            repo.write(&format!("src/f{i}.rs"), format!("{FILE_CONTENT} {i}\n"));
        }
        repo.commit(COMMIT_MESSAGE);
        repo.push("main");
        let mut env: Vec<(&str, String)> = fake.app_env();
        env.extend([
            ("DATABASE_URL", db.url.clone()),
            ("RUST_LOG", "trace".to_owned()),
            ("GITHUB_WEBHOOK_SECRET", SECRET.to_owned()),
            ("HUBSYNC_ADMIN_TOKEN", TOKEN.to_owned()),
            ("HUBSYNC_RECONCILE_SECS", "0".to_owned()),
            // The first sync reads the tarball (a download URL with a token in it).
            ("HUBSYNC_TARBALL_THRESHOLD", "1".to_owned()),
        ]);
        let app = ChildApp::start(&env).await;
        let http = reqwest::Client::new();
        let hook = app.url("/webhooks/github");
        assert_eq!(fake.installation_event(inst, "created").send(&http, &hook, SECRET).await.status(), 202);
        wait_synced(&app, &repo.head("main").unwrap()).await;
        repo.write("src/f0.rs", format!("{FILE_CONTENT} changed\n"));
        repo.commit(COMMIT_MESSAGE);
        let push = repo.push("main");
        assert_eq!(fake.push_event(&push).send(&http, &hook, SECRET).await.status(), 202);
        let id = wait_synced(&app, &push.after).await;

        // Reading the code, right and wrong tokens, a session with its CSRF token, logging out.
        let r = http.get(app.url(&format!("/api/v1/projects/{id}/files/src/f0.rs"))).bearer_auth(TOKEN).send().await.unwrap();
        assert!(r.text().await.unwrap().starts_with(FILE_CONTENT));
        let r = http.get(app.url("/api/v1/projects")).bearer_auth(WRONG_BEARER).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = no_redirects().post(app.url("/login")).form(&[("token", WRONG_LOGIN)]).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = no_redirects().post(app.url("/login")).form(&[("token", TOKEN)]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let cookie = r.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
        let html = no_redirects().get(app.url(&format!("/projects/{id}"))).header(header::COOKIE, &cookie)
            .send().await.unwrap().text().await.unwrap();
        let csrf = csrf_of(&html);
        let r = no_redirects().post(app.url("/logout")).header(header::COOKIE, &cookie)
            .form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        // A delivery refused for its shape: the reason is logged, the payload is not.
        let bad = format!(r#"{{"ref":"refs/heads/main","after":"{COMMIT_MESSAGE}","repository":{{"id":1}}}}"#);
        let r = http.post(&hook)
            .header("Content-Type", "application/json")
            .header("X-GitHub-Event", "push")
            .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
            .header("X-Hub-Signature-256", crate::support::signing::github_signature(SECRET, bad.as_bytes()))
            .body(bad)
            .send().await.unwrap();
        assert_eq!(r.status(), 400);

        let log = app.stop().await;
        assert!(log.lines().count() > 100 && log.contains("\"level\":\"TRACE\""), "trace logging is on");
        assert!(log.contains("wrong token") && log.contains("127.0.0.1"), "failed attempts are logged, with the client");
        assert!(log.contains("delivery refused") && log.contains("is not a git object id"), "the refusal is logged, with its reason");
        let session = cookie.split_once('=').unwrap().1;
        let key_line = crate::support::fake_github::TEST_APP_KEY.lines().nth(3).unwrap();
        for (what, needle) in [
            ("the webhook secret", SECRET),
            ("the admin token", TOKEN),
            ("a wrong bearer token", WRONG_BEARER),
            ("a wrong login", WRONG_LOGIN),
            ("file content", "SECRET-file-content-marker"),
            ("a payload", "SECRET-commit-message-marker"),
            ("the session cookie", session),
            ("the CSRF token", csrf.as_str()),
            ("an installation token", "ghs_"),
            ("a download URL's token", "?token="),
            ("the private key", key_line),
            ("an app JWT", "eyJ"),
        ] {
            assert!(!log.contains(needle), "{what} is in the log: {}", line_with(&log, needle));
        }
    }
}

fn line_with<'a>(log: &'a str, needle: &str) -> &'a str {
    log.lines().find(|l| l.contains(needle)).unwrap_or_default()
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

db_test! {
    async fn the_database_and_credentials_are_created_for_hubsyncs_user_only(db) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let root = tempfile::tempdir().unwrap();
            // A directory hubsync makes is 0700; one the operator made keeps its mode.
            let made = root.path().join("state/hubsync");
            let theirs = root.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).unwrap();
            let sqlite_file = made.join("hubsync.db");
            let (url, creds) = if db.engine == "sqlite" {
                (format!("sqlite://{}", sqlite_file.display()), made.join("hubsync-credentials.json"))
            } else {
                (db.url.clone(), made.join("hubsync-credentials.json"))
            };
            let fake = FakeGithub::start().await;
            let app = ChildApp::start(&[
                ("DATABASE_URL", url),
                ("HUBSYNC_CREDENTIALS_PATH", creds.display().to_string()),
                ("GITHUB_API_URL", fake.url.clone()),
                ("GITHUB_URL", fake.url.clone()),
            ]).await;
            if db.engine == "sqlite" {
                assert_eq!(mode(&made), 0o700);
                assert_eq!(mode(made.parent().unwrap()), 0o700);
                for f in ["hubsync.db", "hubsync.db-wal", "hubsync.db-shm"] {
                    assert_eq!(mode(&made.join(f)), 0o600, "{f}");
                }
            }
            // The setup flow writes the credentials (the directory may be new here too).
            let line = app.stdout_line("/setup?token=").await;
            let link = line.split_whitespace().find(|w| w.contains("/setup?token=")).unwrap();
            let r = crate::security::browser::get(link.to_owned(), "").await;
            let cookie = r.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
            let (action, manifest) = setup_form(&app.base, &cookie).await;
            assert_eq!(create_on_github(&action, &manifest).await.status(), StatusCode::FOUND);
            assert_eq!(mode(&creds), 0o600);
            assert_eq!(mode(creds.parent().unwrap()), 0o700);
            app.stop().await;

            // In the operator's directory: the file private, the directory as the operator left it.
            if db.engine == "sqlite" {
                let app = ChildApp::start(&[("DATABASE_URL", format!("sqlite://{}", theirs.join("h.db").display()))]).await;
                app.stop().await;
                assert_eq!(mode(&theirs), 0o755);
                assert_eq!(mode(&theirs.join("h.db")), 0o600);
            }
        }
    }
}
