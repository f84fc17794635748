//! The run page and the project page's retries, waits, form errors and "Use this data" panel,
//! over HTTP. Runs are driven through the store as a worker would (the test app has no GitHub
//! App, so its own workers claim nothing).
use chrono::Duration;
use hubsync::{
    git::{BranchName, Sha},
    progress::{self, ProgressEvent},
    store::{
        attempts::AttemptStatus,
        head_commits::{self, CommitInfo},
        runs::{self, RunCounts, RunStatus},
        selections,
    },
};
use reqwest::{redirect::Policy, StatusCode};
use sea_orm::DatabaseConnection;

use crate::{
    db_test,
    support::{seed, TestApp},
};

const TOKEN: &str = "run-page-test-token-0123456789abcdef0";
const WORKER: &str = "test-worker";
const FROM: &str = "1111111111111111111111111111111111111111";
const TO: &str = "2222222222222222222222222222222222222222";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

async fn logged_in(app: &TestApp) -> reqwest::Client {
    let client = browser();
    let r = client
        .post(app.url("/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    client
}

async fn html(client: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = client
        .get(app.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        ct.as_deref().is_some_and(|c| c.starts_with("text/html")),
        "{path}: {ct:?}"
    );
    (status, r.text().await.unwrap())
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// Claims the branch's queued run as a worker would; its id.
async fn claim(db: &DatabaseConnection) -> hubsync::store::entities::sync_runs::Model {
    runs::claim(db, WORKER, Duration::minutes(5), Duration::zero())
        .await
        .unwrap()
        .expect("a claimable run")
}

fn counts() -> RunCounts {
    RunCounts {
        from_sha: Some(Sha::parse(FROM).unwrap()),
        target_sha: Some(Sha::parse(TO).unwrap()),
        files_total: Some(10),
        files_changed: Some(3),
        files_fetched: 3,
        bytes_fetched: 300,
        api_requests: 4,
    }
}

/// The seeded project's install run: fails once (retried at once), then fails for good.
async fn failed_run(db: &DatabaseConnection, project_id: i64) -> i64 {
    let run = claim(db).await;
    let id = run.id;
    let progress = ProgressEvent::Progress {
        run_id: id,
        branch: BranchName::parse("main").unwrap(),
        done: 3,
        total: 10,
    };
    progress::record(db, project_id, &progress).await.unwrap();
    let c = counts();
    runs::retry_later(
        db,
        id,
        WORKER,
        Duration::zero(),
        AttemptStatus::Failed,
        &c,
        "GitHub answered 502 Bad Gateway",
    )
    .await
    .unwrap()
    .unwrap();
    let again = claim(db).await;
    assert_eq!((again.id, again.attempt), (id, 2));
    runs::finish(
        db,
        id,
        WORKER,
        RunStatus::Failed,
        &RunCounts::default(),
        Some("GitHub answered 404 for the tree"),
    )
    .await
    .unwrap()
    .unwrap();
    id
}

db_test! {
    async fn the_run_page_shows_its_timeline_commit_and_a_retry_that_queues_a_run(db) {
        let (app, id) = seed::app_with_project(&db, TOKEN, "octo-org/widgets", &[]).await;
        let store = &app.app.db;
        let info = CommitInfo {
            message: "Fix the <widget> & gears\n\nLonger explanation.".into(),
            author_name: Some("Mona Lisa".into()),
            author_login: Some("mona".into()),
            committed_at: Some(chrono::Utc::now() - Duration::minutes(3)),
        };
        head_commits::record(store, 100, &Sha::parse(TO).unwrap(), &info).await.unwrap();
        let run = failed_run(store, id).await;
        let client = logged_in(&app).await;

        let (status, page) = html(&client, &app, &format!("/projects/{id}/runs/{run}")).await;
        assert_eq!(status, 200);
        for expected in [
            "Queued (install)",
            "Attempt 1/5 started",
            "Fetched 3 of 10 files",
            "GitHub answered 502 Bad Gateway",
            "Retrying 2/5 in 0 s",
            "Attempt 2/5 started",
            "GitHub answered 404 for the tree",
            "Finished: ",
            "Fix the &lt;widget&gt; &amp; gears",
            "Longer explanation.",
            "Mona Lisa",
            "@mona",
            &format!("href=\"https://github.com/octo-org/widgets/compare/{FROM}...{TO}\""),
            "<time class=\"ago\" datetime=\"",
            "id=\"retry\"",
        ] {
            assert!(page.contains(expected), "missing {expected:?} in {page}");
        }
        assert!(!page.contains("<widget>"), "escaped");
        // Hovering a relative time shows the exact one.
        assert!(page.contains(" UTC\">"), "{page}");
        // The project page links the run.
        let (_, project) = html(&client, &app, &format!("/projects/{id}")).await;
        assert!(project.contains(&format!("href=\"/projects/{id}/runs/{run}\"")), "{project}");

        // Retry: refused without a session or with a forged token; with both, a new run.
        let retry = app.url(&format!("/projects/{id}/runs/{run}/retry"));
        let anonymous = browser();
        let r = anonymous.post(&retry).form(&[("csrf", "x")]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/login");
        let r = client.post(&retry).form(&[("csrf", "forged")]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let sel = selections::project_of_repository(store, 100).await.unwrap().unwrap();
        let ids: Vec<i64> = hubsync::store::projects::load(store, sel.id).await.unwrap().unwrap()
            .selections.iter().map(|s| s.id).collect();
        assert_eq!(runs::history(store, &ids, 10).await.unwrap().len(), 1, "nothing queued yet");
        let r = client.post(&retry).form(&[("csrf", csrf_of(&page).as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let history = runs::history(store, &ids, 10).await.unwrap();
        assert_eq!(history.len(), 2, "{history:?}");
        let new = &history[0];
        assert_eq!((new.status, new.trigger), (RunStatus::Queued, runs::Trigger::Manual));
        assert_eq!(r.headers()["location"].to_str().unwrap(), format!("/projects/{id}/runs/{}", new.id));

        // The new run fails and waits out its backoff: both pages say so.
        let b = claim(store).await;
        runs::retry_later(store, b.id, WORKER, Duration::minutes(8), AttemptStatus::Failed, &counts(), "GitHub rate limit: retry after 480 s")
            .await
            .unwrap()
            .unwrap();
        let (_, project) = html(&client, &app, &format!("/projects/{id}")).await;
        let row = project.split("<tr").find(|r| r.contains("data-branch=\"main\"")).unwrap();
        assert!(row.contains("retrying 2/5 <time class=\"until\""), "{row}");
        assert!(row.contains(">in 7 min") || row.contains(">in 8 min"), "{row}");
        assert!(row.contains("GitHub rate limit"), "{row}");
        let (_, b_page) = html(&client, &app, &format!("/projects/{id}/runs/{}", b.id)).await;
        assert!(b_page.contains("Retrying 2/5 <time class=\"until\""), "{b_page}");
        assert!(!b_page.contains("id=\"retry\""), "no Retry on a run that did not fail");
        let r = client.post(app.url(&format!("/projects/{id}/runs/{}/retry", b.id)))
            .form(&[("csrf", csrf_of(&page).as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT);
        app.stop().await;
    }
}

db_test! {
    async fn unknown_runs_and_pages_are_html_404s(db) {
        use hubsync::sync::intake::{signal, AutoSelect, SyncSignal};
        let (app, id) = seed::app_with_project(&db, TOKEN, "octo-org/widgets", &[]).await;
        let store = &app.app.db;
        seed::repository(store, 1, 101, "octo-org/other").await;
        let added = SyncSignal::RepositoriesAdded { installation_id: 1, repository_ids: vec![101] };
        signal(store, AutoSelect::DefaultBranch, added).await.unwrap();
        let other = selections::project_of_repository(store, 101).await.unwrap().unwrap().id;
        let run = failed_run(store, id).await;
        let client = logged_in(&app).await;
        for path in [
            format!("/projects/{id}/runs/999999"),
            format!("/projects/{other}/runs/{run}"),
            format!("/projects/{id}/runs/not-a-number"),
            "/projects/999999".to_string(),
            "/projects/x/runs/1".to_string(),
            "/no/such/page".to_string(),
        ] {
            let (status, page) = html(&client, &app, &path).await;
            assert_eq!(status, 404, "{path}");
            assert!(page.contains("<h1>Not Found</h1>") || page.contains("<h1>Not found</h1>"), "{path}: {page}");
            assert!(!page.contains("{\"error\""), "{path}");
        }
        // The API keeps answering JSON.
        let r = app.client.get(app.url("/no/such/route")).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert!(r.json::<serde_json::Value>().await.unwrap()["error"].is_string());
        app.stop().await;
    }
}

db_test! {
    async fn form_errors_are_messages_on_the_page_never_json(db) {
        let (app, id) = seed::app_with_project(&db, TOKEN, "octo-org/widgets", &[]).await;
        let client = logged_in(&app).await;
        let (_, page) = html(&client, &app, &format!("/projects/{id}")).await;
        let csrf = csrf_of(&page);
        let post = |path: String, form: Vec<(&'static str, String)>| {
            let client = client.clone();
            let url = app.url(&path);
            async move {
                let r = client.post(url).form(&form).send().await.unwrap();
                let status = r.status();
                let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
                (status, ct, r.text().await.unwrap())
            }
        };
        // A bad branch name: the page again, the message beside the editor, what was typed kept.
        let (status, ct, body) = post(format!("/projects/{id}/branches"), vec![("csrf", csrf.clone()), ("branches", "main\na..b".into())]).await;
        assert_eq!(status, 400);
        assert!(ct.starts_with("text/html"), "{ct}");
        assert!(body.contains("id=\"branches-error\"") && body.contains("role=\"alert\""), "{body}");
        assert!(body.contains("main\na..b</textarea>"), "{body}");
        // A form missing a field.
        let (status, ct, body) = post(format!("/projects/{id}/branches"), vec![("csrf", csrf.clone())]).await;
        assert_eq!(status, 400);
        assert!(ct.starts_with("text/html") && body.contains("the form could not be read"), "{ct} {body}");
        // Sync now on a project whose installation is suspended: 409, said beside the button.
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let inst = hubsync::store::entities::installations::Entity::find_by_id(1).one(&app.app.db).await.unwrap().unwrap();
        let mut am: hubsync::store::entities::installations::ActiveModel = inst.into();
        am.suspended_at = Set(Some(chrono::Utc::now()));
        am.update(&app.app.db).await.unwrap();
        let (status, ct, body) = post(format!("/projects/{id}/sync"), vec![("csrf", csrf.clone())]).await;
        assert_eq!(status, 409);
        assert!(ct.starts_with("text/html") && body.contains("form-error") && body.contains("suspended"), "{body}");
        // Login with a wrong token, and the setup form with a bad organisation.
        let r = browser().post(app.url("/login")).form(&[("token", "wrong")]).send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.text().await.unwrap().contains("role=\"alert\""));
        let r = client.get(app.url("/setup?org=bad%20org")).send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let body = r.text().await.unwrap();
        assert!(body.contains("id=\"org-error\"") && body.contains("value=\"bad org\""), "{body}");
        app.stop().await;
    }
}

db_test! {
    async fn the_project_page_offers_copyable_commands_for_the_data(db) {
        let (app, id) = seed::app_with_project(&db, TOKEN, "octo-org/widgets", &[("HUBSYNC_PUBLIC_URL", "https://sync.example.org")]).await;
        let client = logged_in(&app).await;
        let (_, page) = html(&client, &app, &format!("/projects/{id}")).await;
        for expected in [
            "Use this data",
            &format!("'https://sync.example.org/api/v1/projects/{id}/files?branch=main'"),
            &format!("'https://sync.example.org/api/v1/changes?project_id={id}&amp;wait=30'"),
            &format!("/api/v1/projects/{id}/synced?branch=main&amp;sha=COMMIT_SHA"),
            "Authorization: Bearer $HUBSYNC_TOKEN",
            // The copy button needs the script: hidden until it runs.
            &format!("data-copy=\"cmd-files-{id}\" hidden"),
        ] {
            assert!(page.contains(expected), "missing {expected:?}: {page}");
        }
        // Static files: the icon is linked and served.
        assert!(page.contains("rel=\"icon\" href=\"/static/favicon.svg\""));
        let r = app.get("/static/favicon.svg").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/svg+xml");
        assert!(r.text().await.unwrap().starts_with("<svg"));
        let css = app.get("/static/style.css").await.text().await.unwrap();
        assert!(css.contains("@media (prefers-color-scheme: dark)") && css.contains(":focus-visible"));
        app.stop().await;
    }
}
