//! Sign in with GitHub (issue 21, item 2): the web flow against the fake GitHub, what each kind
//! of user sees and may change, token refresh, re-checked visibility, and refusals.
mod flow;
mod roles;

use chrono::Utc;
use hubsync::store::entities::github_users;
use reqwest::{header, redirect::Policy, StatusCode};
use sea_orm::{sea_query::Expr, EntityTrait};
use serde_json::Value;

use crate::support::{fake_github::FakeGithub, seed, spawn_app_with, test_config, TestApp, TestDb};

pub const TOKEN: &str = "admin-token-for-signin-tests-0123456789";

/// GitHub with octo-org's installation (repositories widgets and gadgets) and three users:
/// alice (an owner, reaches both), bob (a member, reaches widgets), eve (reaches nothing). hubsync
/// knows the installation and has a project per repository.
pub struct World {
    pub fake: FakeGithub,
    pub app: TestApp,
    pub inst: i64,
    /// Repository ids: widgets, gadgets.
    pub repos: [i64; 2],
    /// Their project ids.
    pub projects: [i64; 2],
}

pub async fn world(db: &TestDb) -> World {
    world_with(db, &[]).await
}

/// `world` with these settings too.
pub async fn world_with(db: &TestDb, vars: &[(&str, &str)]) -> World {
    let fake = FakeGithub::start().await;
    let inst = fake.add_installation("octo-org");
    let a = fake.create_repo(inst, "widgets").id;
    let b = fake.create_repo(inst, "gadgets").id;
    fake.add_user("alice");
    fake.set_membership("octo-org", "alice", "admin");
    fake.grant("alice", inst, &[a, b]);
    fake.add_user("bob");
    fake.set_membership("octo-org", "bob", "member");
    fake.grant("bob", inst, &[a]);
    fake.add_user("eve");
    let mut env: Vec<(&str, String)> = fake.oauth_env();
    env.push(("HUBSYNC_ADMIN_TOKEN", TOKEN.into()));
    env.extend(vars.iter().map(|(k, v)| (*k, v.to_string())));
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(test_config(db, &vars)).await;
    let db = &app.app.db;
    seed::installation(db, inst, "octo-org").await;
    seed::repository(db, inst, a, "octo-org/widgets").await;
    seed::repository(db, inst, b, "octo-org/gadgets").await;
    use hubsync::sync::intake::{signal, AutoSelect, SyncSignal};
    let added = SyncSignal::RepositoriesAdded {
        installation_id: inst,
        repository_ids: vec![a, b],
    };
    signal(db, AutoSelect::DefaultBranch, added).await.unwrap();
    let mut projects = [0; 2];
    for (i, repo) in [a, b].iter().enumerate() {
        projects[i] = hubsync::store::selections::project_of_repository(db, *repo)
            .await
            .unwrap()
            .unwrap()
            .id;
    }
    World {
        fake,
        app,
        inst,
        repos: [a, b],
        projects,
    }
}

/// A browser: keeps cookies, does not follow redirects (each step is checked).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

/// Starts a sign-in: hubsync's redirect to GitHub (checked), then GitHub's redirect back.
/// Returns the callback URL GitHub sent the browser to.
pub async fn to_callback(w: &World, b: &reqwest::Client, login: &str) -> String {
    w.fake.approve_as(login);
    let r = b.get(w.app.url("/login/github")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let authorize = url::Url::parse(&location(&r)).unwrap();
    assert!(authorize
        .as_str()
        .starts_with(&format!("{}/login/oauth/authorize?", w.fake.url)));
    let q: std::collections::HashMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], hubsync_test_client_id());
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], w.app.url("/login/github/callback"));
    assert!(
        q["state"].len() >= 43 && q["code_challenge"].len() == 43,
        "{q:?}"
    );
    let r = b.get(authorize).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    location(&r)
}

fn hubsync_test_client_id() -> &'static str {
    crate::support::fake_github::TEST_CLIENT_ID
}

/// Signs `login` in through the whole flow; the returned browser holds the session.
pub async fn sign_in(w: &World, login: &str) -> reqwest::Client {
    let b = browser();
    let callback = to_callback(w, &b, login).await;
    let r = b.get(callback).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("Signed in as {login}")), "{html}");
    b
}

/// A JSON call as the browser (its session cookie; a same-origin Origin for writes).
pub async fn call(
    w: &World,
    b: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = b
        .request(method, w.app.url(path))
        .header(header::ORIGIN, &w.app.base);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The full names of the projects the browser's user sees.
pub async fn visible(w: &World, b: &reqwest::Client) -> Vec<String> {
    let (status, body) = call(w, b, reqwest::Method::GET, "/api/v1/projects", None).await;
    assert_eq!(status, 200, "{body}");
    let mut names: Vec<String> = body["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["repository"]["full_name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Every user's cached access is as old as `minutes` (times relative to now).
pub async fn age_access(w: &World, minutes: i64) {
    github_users::Entity::update_many()
        .col_expr(
            github_users::Column::AccessCheckedAt,
            Expr::value(Some(Utc::now() - chrono::Duration::minutes(minutes))),
        )
        .exec(&w.app.app.db)
        .await
        .unwrap();
}
