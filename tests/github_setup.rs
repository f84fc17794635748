//! The app-manifest flow end to end: hubsync's /setup page, the fake GitHub's app-creation page,
//! hubsync's callback, the credentials file, and the client picking them up without a restart.
use hubsync::{git::BranchName, github::RepoName};

use crate::{
    db_test,
    security::browser::get,
    support::{fake_github::FakeGithub, first_admin, spawn_app_with, test_config},
};

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of `attr="..."` after `marker` in `html`.
fn attr_after(html: &str, marker: &str, attr: &str) -> String {
    let from = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let rest = &html[from..];
    let start = rest.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
    let end = start + rest[start..].find('"').unwrap();
    unescape(&rest[start..end])
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

db_test! {
    async fn the_manifest_flow_creates_stores_and_uses_the_app(db) {
        let fake = FakeGithub::start().await;
        let dir = tempfile::tempdir().unwrap();
        let creds_path = dir.path().join("creds.json");
        let config = test_config(&db, &[
            ("GITHUB_API_URL", fake.url.as_str()),
            ("GITHUB_URL", fake.url.as_str()),
            ("HUBSYNC_CREDENTIALS_PATH", creds_path.to_str().unwrap()),
        ]);
        let app = spawn_app_with(config).await;
        assert!(app.app.github.app().is_none());
        let http = no_redirects();
        let cookie = first_admin(&app).await;

        let page = get(app.url("/setup?account=personal"), &cookie).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let action = attr_after(&html, "id=\"create-app\"", "action");
        let manifest = attr_after(&html, "name=\"manifest\"", "value");
        assert!(action.starts_with(&format!("{}/settings/apps/new?state=", fake.url)), "{action}");
        let state = action.split("state=").nth(1).unwrap().to_owned();
        assert_eq!(state.len(), 64);
        let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        assert_eq!(m["hook_attributes"]["url"], format!("{}/webhooks/github", app.base));
        assert_eq!(m["redirect_url"], format!("{}/setup/callback", app.base));
        assert!(!manifest.contains("hubsync.example.com"));

        // An organisation's app is created under the organisation's settings.
        let html = get(app.url("/setup?org=octo-org"), &cookie).await.text().await.unwrap();
        let org_action = attr_after(&html, "id=\"create-app\"", "action");
        assert!(org_action.contains("/organizations/octo-org/settings/apps/new?state="));
        assert_eq!(get(app.url("/setup?org=bad%20org"), &cookie).await.status(), 400);

        // The user submits the form on GitHub; GitHub sends them back with a code.
        let res = http.post(&action).form(&[("manifest", manifest.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), 302);
        let back = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(back.starts_with(&format!("{}/setup/callback?code=", app.base)), "{back}");
        assert_eq!(fake.last_manifest().unwrap()["url"], app.base);

        // A forged or stale state is refused, and the code is not spent.
        let code = back.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned();
        let res = http
            .get(app.url(&format!("/setup/callback?code={code}&state=wrong")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        // The browser lands here from GitHub: a page that says why, and how to start again.
        let body = res.text().await.unwrap();
        assert!(body.contains("unknown or expired setup state") && body.contains("href=\"/setup\""), "{body}");
        assert!(!creds_path.exists());
        assert_eq!(app.get("/setup/callback?state=x").await.status(), 400, "code is required");

        let res = http.get(&back).send().await.unwrap();
        assert_eq!(res.status(), 302, "{:?}", res.text().await);
        assert_eq!(
            res.headers()["location"].to_str().unwrap(),
            format!("{}/apps/hubsync-test/installations/new", fake.url)
        );

        // Stored for the next start, readable by this user only.
        let stored = hubsync::github::credentials::StoredCredentials::load(&creds_path).unwrap().unwrap();
        assert_eq!(stored.app_id, 4242);
        assert!(stored.private_key.expose().contains("PRIVATE KEY"));
        assert!(stored.webhook_secret.expose().starts_with("whsec_"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&creds_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        // In use at once, without a restart.
        let github = app.app.github.app().expect("app configured by the callback");
        assert_eq!(github.app_id(), 4242);
        assert_eq!(app.app.github.webhook_secrets()[0].expose(), stored.webhook_secret.expose());
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "widgets");
        repo.write("x", "x");
        repo.commit("x");
        repo.push("main");
        let head = github
            .installation(inst)
            .branch_head(&RepoName::parse("octo-org/widgets").unwrap(), &BranchName::parse("main").unwrap())
            .await
            .unwrap();
        assert_eq!(head.commit.as_str(), repo.head("main").unwrap());

        // A configured instance cannot be set up again: both routes are gone.
        let res = http.get(&back).send().await.unwrap();
        assert_eq!(res.status(), 404);
        let res = app.get("/setup").await;
        assert_eq!(res.status(), 404);
        assert!(!res.text().await.unwrap().contains("4242"), "nor says which app it is");
        app.stop().await;

        // The next start reads the file.
        let config = test_config(&db, &[
            ("GITHUB_API_URL", fake.url.as_str()),
            ("HUBSYNC_CREDENTIALS_PATH", creds_path.to_str().unwrap()),
        ]);
        assert_eq!(config.github.app.as_ref().unwrap().app_id, 4242);
        assert_eq!(config.github.client_id.as_deref(), Some("Iv1.fakeclientid"));
    }
}

db_test! {
    async fn a_failed_code_exchange_is_a_502_and_stores_nothing(db) {
        let fake = FakeGithub::start().await;
        let dir = tempfile::tempdir().unwrap();
        let creds_path = dir.path().join("creds.json");
        let config = test_config(&db, &[
            ("GITHUB_API_URL", fake.url.as_str()),
            ("GITHUB_URL", fake.url.as_str()),
            ("HUBSYNC_CREDENTIALS_PATH", creds_path.to_str().unwrap()),
        ]);
        let app = spawn_app_with(config).await;
        let cookie = first_admin(&app).await;
        let html = get(app.url("/setup?account=personal"), &cookie).await.text().await.unwrap();
        let action = attr_after(&html, "id=\"create-app\"", "action");
        let state = action.split("state=").nth(1).unwrap();
        // A code GitHub never issued.
        let res = app.get(&format!("/setup/callback?code=bogus&state={state}")).await;
        assert_eq!(res.status(), 502);
        let body = res.text().await.unwrap();
        assert!(body.contains("GitHub did not create the app") && body.contains("404"), "{body}");
        assert!(!creds_path.exists());
        assert!(app.app.github.app().is_none());
        app.stop().await;
    }
}
