//! The status pages over HTTP: login and sessions, redirects, CSRF, readable HTML.
use reqwest::{redirect::Policy, StatusCode};

use crate::{
    db_test,
    support::{seed, TestApp, TestDb},
};

const TOKEN: &str = "page-test-token-0123456789abcdef01234";

async fn app_with_project(db: &TestDb) -> (TestApp, i64) {
    seed::app_with_project(db, TOKEN, "octo-org/secret-plans", &[]).await
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

async fn login(app: &TestApp, client: &reqwest::Client) -> reqwest::Response {
    client
        .post(app.url("/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap()
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

db_test! {
    async fn anonymous_visitors_are_sent_to_login_and_see_no_names(db) {
        let (app, id) = app_with_project(&db).await;
        let client = browser();
        for path in ["/".to_string(), format!("/projects/{id}")] {
            let r = client.get(app.url(&path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
            assert_eq!(r.headers()["location"], "/login");
            assert!(!r.text().await.unwrap().contains("secret-plans"));
        }
        let r = client.get(app.url("/login")).send().await.unwrap();
        let html = r.text().await.unwrap();
        assert!(html.contains("name=\"token\"") && !html.contains("secret-plans"));
        let r = client.post(app.url("/login")).form(&[("token", "wrong")]).send().await.unwrap();
        assert_eq!(r.status(), 401);
    }
}

db_test! {
    async fn logging_in_sets_a_strict_http_only_session_that_opens_pages_and_api(db) {
        let (app, id) = app_with_project(&db).await;
        let client = browser();
        let r = login(&app, &client).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("hubsync_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain http: not Secure");
        assert!(!cookie.contains(TOKEN), "the token itself is never the cookie");

        let html = client.get(app.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("octo-org/secret-plans") && html.contains("pending"), "{html}");
        let html = client.get(app.url(&format!("/projects/{id}"))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Sync now") && html.contains("Branch selection") && html.contains("<progress"));
        assert!(html.contains(&format!("data-events=\"/projects/{id}/events\"")));
        // Without JavaScript nothing is live, so the indicator stays hidden until the script runs.
        assert!(html.contains("title=\"live updates\" hidden>"), "{html}");
        let r = client.get(app.url("/api/v1/projects")).send().await.unwrap();
        assert_eq!(r.status(), 200, "the session opens the API too");

        let csrf = csrf_of(&html);
        let r = client.post(app.url("/logout")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = client.get(app.url("/")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "logged out");
    }
}

db_test! {
    async fn forms_need_their_csrf_token(db) {
        let (app, id) = app_with_project(&db).await;
        let client = browser();
        login(&app, &client).await;
        let html = client.get(app.url(&format!("/projects/{id}"))).send().await.unwrap().text().await.unwrap();
        let csrf = csrf_of(&html);

        let r = client.post(app.url(&format!("/projects/{id}/branches"))).form(&[("csrf", "forged"), ("branches", "main\nevil")]).send().await.unwrap();
        assert_eq!(r.status(), 403);
        let r = client.post(app.url(&format!("/projects/{id}/branches"))).form(&[("csrf", csrf.as_str()), ("branches", "main\nrelease/*\n")]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let html = client.get(app.url(&format!("/projects/{id}"))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("release/*"), "the editor shows the saved selection");

        let r = client.post(app.url(&format!("/projects/{id}/sync"))).form(&[("csrf", "")]).send().await.unwrap();
        assert_eq!(r.status(), 403);
        let r = client.post(app.url(&format!("/projects/{id}/sync"))).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = client.post(app.url(&format!("/projects/{id}/branches"))).form(&[("csrf", csrf.as_str()), ("branches", "a..b")]).send().await.unwrap();
        assert_eq!(r.status(), 400);
    }
}

db_test! {
    async fn the_overview_lists_projects_that_sync_no_branch(db) {
        use hubsync::sync::intake::{signal, AutoSelect, SyncSignal};
        let (app, id) = app_with_project(&db).await;
        // HUBSYNC_AUTO_SELECT=none: a project with an empty selection.
        seed::repository(&app.app.db, 1, 101, "octo-org/unselected").await;
        let added = SyncSignal::RepositoriesAdded { installation_id: 1, repository_ids: vec![101] };
        signal(&app.app.db, AutoSelect::Nothing, added).await.unwrap();
        // A pattern that matches no branch.
        let r = app
            .client
            .put(app.url(&format!("/api/v1/projects/{id}/branches")))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "branches": ["release/*"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);

        let client = browser();
        login(&app, &client).await;
        let html = client.get(app.url("/")).send().await.unwrap().text().await.unwrap();
        for repo in ["octo-org/secret-plans", "octo-org/unselected"] {
            let row = html.split("<tr").find(|r| r.contains(repo)).unwrap_or_else(|| panic!("{repo} not listed: {html}"));
            assert!(row.contains("no branch selected"), "{repo}: {row}");
        }
        assert!(html.contains("release/*"), "the pattern is shown: {html}");
    }
}
