//! The first run (issue 21, item 1): on a bare machine `hubsync serve` prints one setup link that
//! signs its opener in as the first admin; `/` shows a checklist rather than a login that cannot
//! work; /setup creates an organisation's app by default and warns when GitHub cannot reach the
//! instance; the app's setup URL brings the installer back with the repositories appearing.

use reqwest::{header, StatusCode};

use crate::{
    db_test,
    security::{
        browser::{create_on_github, get, no_redirects},
        child::ChildApp,
    },
    support::{fake_github::FakeGithub, first_admin, spawn_app_with, test_config, wait},
};

fn cookie_of(r: &reqwest::Response) -> String {
    r.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

db_test! {
    async fn serve_prints_one_setup_link_that_signs_in_the_first_admin_once(db) {
        let env = [("DATABASE_URL", db.url.clone()), ("RUST_LOG", "trace".to_owned())];
        let app = ChildApp::start(&env).await;
        let line = app.stdout_line("/setup?token=").await;
        let link = line.split_whitespace().find(|w| w.contains("/setup?token=")).unwrap().to_owned();
        assert!(link.starts_with(&app.base), "{link}");
        let token = link.split("token=").nth(1).unwrap();
        assert_eq!(token.len(), 64);

        // Anonymous: the API is closed.
        assert_eq!(get(app.url("/api/v1/projects"), "").await.status(), 401);
        let r = get(link.clone(), "").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/setup", "on to creating the app");
        let set = r.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
        let cookie = cookie_of(&r);
        assert_eq!(get(app.url("/api/v1/projects"), &cookie).await.status(), 200);
        let html = get(app.url("/setup"), &cookie).await.text().await.unwrap();
        assert!(html.contains("Log out") && html.contains("name=\"org\""), "{html}");

        // Once: a second browser with the same link is refused.
        let r = get(link.clone(), "").await;
        assert_eq!(r.status(), 400);
        assert!(r.headers().get(header::SET_COOKIE).is_none());
        assert!(r.text().await.unwrap().contains("used already"));
        let log = app.stop().await;
        assert!(!log.contains(token), "the link's token is never logged");
        assert!(log.contains("setup link is printed on standard output"));

        // An admin exists now: the next start prints no link.
        let again = ChildApp::start(&env).await;
        assert_eq!(get(again.url("/api/v1/projects"), &cookie).await.status(), 200, "the session lives on");
        // Stopped, it has printed all it will.
        let (_, printed) = again.stop_all().await;
        assert!(printed.iter().all(|l| !l.contains("token=")), "{printed:?}");
    }
}

db_test! {
    async fn only_one_line_is_printed_and_an_admin_token_means_no_link(db) {
        let app = ChildApp::start(&[("DATABASE_URL", db.url.clone())]).await;
        app.stdout_line("/setup?token=").await;
        let printed = app.stdout();
        app.stop().await;
        assert_eq!(printed.len(), 1, "{printed:?}");
        let other = crate::migrations::another(&db).await;
        let app = ChildApp::start(&[
            ("DATABASE_URL", other.url.clone()),
            ("HUBSYNC_ADMIN_TOKEN", "first-run-admin-token-0123456789abcdef".to_owned()),
        ]).await;
        let html = get(app.url("/login"), "").await.text().await.unwrap();
        let printed = app.stdout();
        app.stop().await;
        assert!(html.contains("name=\"token\""));
        assert!(printed.is_empty(), "{printed:?}");
    }
}

db_test! {
    async fn an_unconfigured_instance_shows_a_checklist_never_a_login_dead_end(db) {
        let app = spawn_app_with(test_config(&db, &[])).await;
        let r = get(app.url("/"), "").await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        for needle in ["Create the GitHub App", "Install it", "Choose branches", "/setup?token="] {
            assert!(html.contains(needle), "{needle} in {html}");
        }
        assert!(!html.contains("Log out") && !html.contains("name=\"token\""), "{html}");
        // /login has no password to ask for: it says how to sign in instead.
        let html = get(app.url("/login"), "").await.text().await.unwrap();
        assert!(!html.contains("name=\"token\"") && html.contains("setup link") && !html.contains("Log out"), "{html}");
        let r = get(app.url("/setup"), "").await;
        assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/login"));

        let cookie = first_admin(&app).await;
        let html = get(app.url("/"), &cookie).await.text().await.unwrap();
        assert!(html.contains("href=\"/setup\"") && html.contains("Log out") && html.contains("href=\"/tokens\""), "{html}");
        app.stop().await;
    }
}

db_test! {
    async fn setup_makes_an_organisation_app_by_default_and_warns_about_private_urls(db) {
        let fake = FakeGithub::start().await;
        let vars = [("GITHUB_API_URL", fake.url.as_str()), ("GITHUB_URL", fake.url.as_str())];
        let app = spawn_app_with(test_config(&db, &vars)).await;
        let cookie = first_admin(&app).await;
        let r = get(app.url("/setup"), &cookie).await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains("/static/style.css"), "styled like the other pages");
        assert!(html.contains("name=\"org\"") && !html.contains("id=\"create-app\""), "the organisation comes first: {html}");
        assert!(html.contains("account=personal"));
        assert!(html.contains("GitHub cannot reach") && html.contains("HUBSYNC_PUBLIC_URL") && html.contains("tunnel"), "{html}");
        let html = get(app.url("/setup?org=octo-org"), &cookie).await.text().await.unwrap();
        assert!(html.contains("value=\"octo-org\""), "prefilled");
        let (action, manifest) = form_at(&app, "/setup?org=octo-org", &cookie).await;
        assert!(action.starts_with(&format!("{}/organizations/octo-org/settings/apps/new?state=", fake.url)), "{action}");
        let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        assert_eq!(m["setup_url"], format!("{}/setup/installed", app.base));
        let (action, _) = form_at(&app, "/setup?account=personal", &cookie).await;
        assert!(action.starts_with(&format!("{}/settings/apps/new?state=", fake.url)), "{action}");
        app.stop().await;

        // A public URL GitHub can reach: no warning (a fresh database: no admin there yet).
        let fresh = crate::migrations::another(&db).await;
        let app = spawn_app_with(test_config(&fresh, &[
            ("GITHUB_URL", fake.url.as_str()),
            ("HUBSYNC_PUBLIC_URL", "https://hubsync.example.com"),
        ])).await;
        let cookie = first_admin(&app).await;
        let html = get(app.url("/setup?org=octo-org"), &cookie).await.text().await.unwrap();
        assert!(!html.contains("GitHub cannot reach"), "{html}");
        app.stop().await;
    }
}

/// The create-app form's action and manifest on the page at `path`.
async fn form_at(app: &crate::support::TestApp, path: &str, cookie: &str) -> (String, String) {
    let html = get(app.url(path), cookie).await.text().await.unwrap();
    let attr = |marker: &str, name: &str| {
        let rest = &html[html
            .find(marker)
            .unwrap_or_else(|| panic!("{marker} in {html}"))..];
        let start = rest.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        rest[start..start + rest[start..].find('"').unwrap()]
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
    };
    (
        attr("id=\"create-app\"", "action"),
        attr("name=\"manifest\"", "value"),
    )
}

db_test! {
    async fn the_setup_url_brings_the_installer_back_with_the_repositories(db) {
        let fake = FakeGithub::start().await;
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("creds.json");
        // No scheduled reconcile: only the setup URL can bring the installation in.
        let app = spawn_app_with(test_config(&db, &[
            ("GITHUB_API_URL", fake.url.as_str()),
            ("GITHUB_URL", fake.url.as_str()),
            ("HUBSYNC_CREDENTIALS_PATH", creds.to_str().unwrap()),
            ("HUBSYNC_RECONCILE_SECS", "0"),
            ("HUBSYNC_REDELIVERY_SECS", "0"),
        ])).await;
        let cookie = first_admin(&app).await;
        let (action, manifest) = form_at(&app, "/setup?org=octo-org", &cookie).await;
        let r = create_on_github(&action, &manifest).await;
        assert_eq!(r.status(), StatusCode::FOUND);
        assert!(app.app.github.app().is_some(), "in use without a restart");
        // The checklist's install step links to the new app's install page.
        let html = get(app.url("/"), &cookie).await.text().await.unwrap();
        assert!(html.contains("/apps/hubsync-test/installations/new"), "{html}");

        // The user installs the app on GitHub; GitHub sends them to the setup URL (from
        // github.com: the Strict session cookie is not sent along).
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "widgets");
        repo.write("README.md", "hi\n");
        repo.commit("first");
        repo.push("main");
        let r = get(app.url(&format!("/setup/installed?installation_id={inst}&setup_action=install")), "").await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains(&format!("http-equiv=\"refresh\" content=\"0; url=/?installation={inst}\"")), "{html}");
        // The page it moves on to (with the cookie now: the request comes from hubsync's page)
        // reloads until the repositories are there.
        // Reloaded after each self-healing pass (the installer's return asked for one).
        let mut passes = app.app.activity.healing.watch();
        let html = wait::until("the repositories appear", &mut passes, async || {
            let html = get(app.url(&format!("/?installation={inst}")), &cookie).await.text().await.unwrap();
            if html.contains("octo-org/widgets") {
                return Some(html);
            }
            assert!(html.contains("http-equiv=\"refresh\"") && html.contains("Fetching"), "{html}");
            None
        })
        .await;
        assert!(!html.contains("http-equiv=\"refresh\""), "no more reloading once they are there");

        // A forged id changes nothing; a malformed one is a 400.
        assert_eq!(get(app.url("/setup/installed?installation_id=987654321&setup_action=install"), "").await.status(), 200);
        assert_eq!(get(app.url("/setup/installed?installation_id=abc"), "").await.status(), 400);
        let r = get(app.url("/setup/installed?installation_id=5&setup_action=request"), "").await;
        assert!(r.text().await.unwrap().contains("owners"));
        let html = get(app.url("/?installation=987654321&tries=30"), &cookie).await.text().await.unwrap();
        assert!(!html.contains("http-equiv=\"refresh\"") && html.contains("not listed yet"), "bounded: {html}");
        assert!(no_redirects().get(app.url("/")).send().await.unwrap().status().is_redirection(), "configured: anonymous visitors log in");
        app.stop().await;
    }
}
