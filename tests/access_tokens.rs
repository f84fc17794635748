//! API tokens (issue 21, item 3): minted by an admin, shown once, stored hashed; `read` and
//! `write` scopes; a token limited to one project sees nothing else; revoked or expired tokens
//! get 401 at once, on every replica.
use chrono::Utc;
use hubsync::store::entities::api_tokens;
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{
    db_test,
    support::{seed, spawn_app_with, test_config, TestApp},
};

const ADMIN: &str = "access-test-admin-token-0123456789abcdef";

async fn mint(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A new token: (id, token).
async fn token(app: &TestApp, body: Value) -> (i64, String) {
    let r = mint(app, body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    (
        v["id"].as_i64().unwrap(),
        v["token"].as_str().unwrap().to_owned(),
    )
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    bearer: &str,
) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, path: &str, bearer: &str) -> reqwest::Response {
    call(app, reqwest::Method::GET, path, bearer).await
}

db_test! {
    async fn an_admin_mints_a_token_shown_once_stored_hashed_and_revoked_at_once(db) {
        let (app, id) = seed::app_with_project(&db, ADMIN, "octo-org/widgets", &[]).await;
        let r = mint(&app, json!({"name": "code search", "scope": "read"})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let v: Value = r.json().await.unwrap();
        let secret = v["token"].as_str().unwrap().to_owned();
        let token_id = v["id"].as_i64().unwrap();
        assert!(secret.starts_with("hs_") && secret.len() == 67, "{secret}");
        assert_eq!((v["name"].as_str(), v["scope"].as_str()), (Some("code search"), Some("read")));

        // Stored as its SHA-256 only.
        let row = api_tokens::Entity::find_by_id(token_id).one(&app.app.db).await.unwrap().unwrap();
        assert_eq!(row.secret_sha256, hex::encode(Sha256::digest(secret.as_bytes())));
        assert!(row.last_used_at.is_none());

        assert_eq!(get(&app, "/api/v1/projects", &secret).await.status(), 200);
        assert_eq!(get(&app, &format!("/api/v1/projects/{id}"), &secret).await.status(), 200);

        // The list shows it with its last use, never the token.
        let r = get(&app, "/api/v1/tokens", ADMIN).await;
        let text = r.text().await.unwrap();
        assert!(!text.contains(&secret[3..]), "the list never shows a token");
        let list: Value = serde_json::from_str(&text).unwrap();
        let listed = &list["tokens"][0];
        assert_eq!(listed["id"], token_id);
        assert!(listed["created_at"].is_string() && listed["last_used_at"].is_string(), "{listed}");
        assert!(listed["expires_at"].is_null());

        // A second app on the same database (another replica) sees the revocation at once.
        let other = spawn_app_with(test_config(&db, &[("HUBSYNC_ADMIN_TOKEN", ADMIN)])).await;
        assert_eq!(get(&other, "/api/v1/projects", &secret).await.status(), 200);
        let r = call(&app, reqwest::Method::DELETE, &format!("/api/v1/tokens/{token_id}"), ADMIN).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        for a in [&app, &other] {
            let r = get(a, "/api/v1/projects", &secret).await;
            assert_eq!(r.status(), 401);
            let body: Value = r.json().await.unwrap();
            assert!(body["error"].as_str().unwrap().contains("revoked"), "{body}");
        }
        let r = call(&app, reqwest::Method::DELETE, &format!("/api/v1/tokens/{token_id}"), ADMIN).await;
        assert_eq!(r.status(), 404);
        let list: Value = get(&app, "/api/v1/tokens", ADMIN).await.json().await.unwrap();
        assert_eq!(list["tokens"], json!([]));
        // A made-up token of the right shape is simply wrong.
        let guess = format!("hs_{}", "0".repeat(64));
        assert_eq!(get(&app, "/api/v1/projects", &guess).await.status(), 401);
        other.stop().await;
        app.stop().await;
    }
}

db_test! {
    async fn read_tokens_read_write_tokens_also_sync_and_neither_mints(db) {
        let (app, id) = seed::app_with_project(&db, ADMIN, "octo-org/widgets", &[]).await;
        let (_, read) = token(&app, json!({"name": "reader", "scope": "read"})).await;
        let (_, write) = token(&app, json!({"name": "writer", "scope": "write"})).await;
        for path in [
            "/api/v1/projects".to_owned(),
            format!("/api/v1/projects/{id}"),
            format!("/api/v1/projects/{id}/syncs"),
            "/api/v1/changes".to_owned(),
        ] {
            assert_eq!(get(&app, &path, &read).await.status(), 200, "{path}");
        }
        // Files of an unsynced branch: 404 for the branch, not 401/403 for the token.
        let r = get(&app, &format!("/api/v1/projects/{id}/files"), &read).await;
        assert!(![401, 403].contains(&r.status().as_u16()), "{}", r.status());
        let sync = |bearer: &str| {
            app.client
                .post(app.url(&format!("/api/v1/projects/{id}/syncs")))
                .bearer_auth(bearer.to_owned())
                .send()
        };
        let r = sync(&read).await.unwrap();
        assert_eq!(r.status(), 403);
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("scope is read"), "{body}");
        let r = app.client.put(app.url(&format!("/api/v1/projects/{id}/branches")))
            .bearer_auth(&read).json(&json!({"branches": ["main"]})).send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(sync(&write).await.unwrap().status(), 202);
        let r = app.client.put(app.url(&format!("/api/v1/projects/{id}/branches")))
            .bearer_auth(&write).json(&json!({"branches": ["main", "dev"]})).send().await.unwrap();
        assert_eq!(r.status(), 200);
        // Only admins mint, list and revoke tokens.
        for bearer in [&read, &write] {
            let r = app.client.post(app.url("/api/v1/tokens")).bearer_auth(bearer)
                .json(&json!({"name": "mine", "scope": "write"})).send().await.unwrap();
            assert_eq!(r.status(), 403);
            assert_eq!(get(&app, "/api/v1/tokens", bearer).await.status(), 403);
            assert_eq!(call(&app, reqwest::Method::DELETE, "/api/v1/tokens/1", bearer).await.status(), 403);
        }
        app.stop().await;
    }
}

db_test! {
    async fn a_project_token_sees_only_its_project_and_others_are_404(db) {
        let app = spawn_app_with(test_config(&db, &[("HUBSYNC_ADMIN_TOKEN", ADMIN)])).await;
        let ids = seed::projects(&app.app.db, 2).await;
        let (mine, theirs) = (ids[0], ids[1]);
        let (_, limited) = token(&app, json!({"name": "one", "scope": "write", "project_id": mine})).await;
        let list: Value = get(&app, "/api/v1/projects", &limited).await.json().await.unwrap();
        let listed: Vec<i64> = list["projects"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
        assert_eq!(listed, vec![mine]);
        let all: Value = get(&app, "/api/v1/projects", ADMIN).await.json().await.unwrap();
        assert_eq!(all["projects"].as_array().unwrap().len(), 2);
        assert_eq!(get(&app, &format!("/api/v1/projects/{mine}"), &limited).await.status(), 200);
        for path in [
            format!("/api/v1/projects/{theirs}"),
            format!("/api/v1/projects/{theirs}/syncs"),
            format!("/api/v1/projects/{theirs}/files"),
            format!("/api/v1/projects/{theirs}/files/README.md"),
            format!("/api/v1/projects/{theirs}/synced?sha={}&timeout=0", "a".repeat(40)),
            format!("/api/v1/projects/{theirs}/compare/{}...{}", "a".repeat(40), "b".repeat(40)),
            format!("/api/v1/changes?project_id={theirs}"),
            format!("/projects/{theirs}/events"),
        ] {
            let r = get(&app, &path, &limited).await;
            assert_eq!(r.status(), 404, "{path}");
            let body: Value = r.json().await.unwrap();
            assert!(body["error"].as_str().unwrap().contains(&format!("no project with id {theirs}")), "{path}: {body}");
        }
        // Writing to another project: 404 too, and nothing is queued there.
        let r = app.client.post(app.url(&format!("/api/v1/projects/{theirs}/syncs"))).bearer_auth(&limited).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(app.client.post(app.url(&format!("/api/v1/projects/{mine}/syncs"))).bearer_auth(&limited).send().await.unwrap().status(), 202);
        let history: Value = get(&app, &format!("/api/v1/projects/{theirs}/syncs"), ADMIN).await.json().await.unwrap();
        let manual = history["runs"].as_array().unwrap().iter().filter(|r| r["trigger"] == "manual").count();
        assert_eq!(manual, 0, "nothing was queued for the other project: {history}");
        // Minting a token for a project that does not exist is refused.
        let r = mint(&app, json!({"name": "x", "scope": "read", "project_id": 999999})).await;
        assert_eq!(r.status(), 400);
        app.stop().await;
    }
}

db_test! {
    async fn the_change_feed_of_a_project_token_holds_its_project_only(db) {
        use crate::support::{fake_github::FakeGithub, synced};
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let a = fake.create_repo(inst, "alpha");
        a.write("a.txt", "a\n");
        a.commit("a");
        a.push("main");
        let b = fake.create_repo(inst, "beta");
        b.write("b.txt", "b\n");
        b.commit("b");
        b.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        synced::install(&fake, &app, &a).await;
        synced::wait_synced(&app.app, b.id, "main", &b.head("main").unwrap(), std::time::Duration::from_secs(60)).await;
        let project = hubsync::store::selections::project_of_repository(&app.app.db, a.id).await.unwrap().unwrap().id;
        let r = app.client.post(app.url("/api/v1/tokens")).bearer_auth(synced::ADMIN)
            .json(&json!({"name": "alpha only", "scope": "read", "project_id": project})).send().await.unwrap();
        let limited = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        let feed = |bearer: String| {
            let app = &app;
            async move {
                let v: Value = app.client.get(app.url("/api/v1/changes")).bearer_auth(bearer).send().await.unwrap().json().await.unwrap();
                v["changes"].as_array().unwrap().iter().map(|c| c["project_id"].as_i64().unwrap()).collect::<Vec<i64>>()
            }
        };
        let everything = feed(synced::ADMIN.to_owned()).await;
        assert!(everything.iter().any(|p| *p != project), "the feed holds both projects: {everything:?}");
        let own = feed(limited).await;
        assert!(!own.is_empty() && own.iter().all(|p| *p == project), "{own:?}");
        app.stop().await;
    }
}

db_test! {
    async fn expired_tokens_get_401_and_last_use_is_written_at_most_once_a_minute(db) {
        let (app, _) = seed::app_with_project(&db, ADMIN, "octo-org/widgets", &[]).await;
        let (id, secret) = token(&app, json!({"name": "short", "scope": "read", "expires_in_days": 1})).await;
        let listed: Value = get(&app, "/api/v1/tokens", ADMIN).await.json().await.unwrap();
        assert!(listed["tokens"][0]["expires_at"].is_string());
        assert_eq!(get(&app, "/api/v1/projects", &secret).await.status(), 200);
        let row = api_tokens::Entity::find_by_id(id).one(&app.app.db).await.unwrap().unwrap();
        let first = row.last_used_at.expect("used");
        // Used again within the minute: no write.
        assert_eq!(get(&app, "/api/v1/projects", &secret).await.status(), 200);
        let row = api_tokens::Entity::find_by_id(id).one(&app.app.db).await.unwrap().unwrap();
        assert_eq!(row.last_used_at, Some(first));
        // Last used two minutes ago: written again.
        let mut active = row.into_active_model();
        active.last_used_at = Set(Some(Utc::now() - chrono::Duration::minutes(2)));
        let row = active.update(&app.app.db).await.unwrap();
        assert_eq!(get(&app, "/api/v1/projects", &secret).await.status(), 200);
        let after = api_tokens::Entity::find_by_id(id).one(&app.app.db).await.unwrap().unwrap();
        assert!(after.last_used_at > row.last_used_at);
        // Past its expiry: 401, saying so.
        let mut active = after.into_active_model();
        active.expires_at = Set(Some(Utc::now() - chrono::Duration::seconds(1)));
        active.update(&app.app.db).await.unwrap();
        let r = get(&app, "/api/v1/projects", &secret).await;
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("expired"), "{body}");
        let listed: Value = get(&app, "/api/v1/tokens", ADMIN).await.json().await.unwrap();
        assert_eq!(listed["tokens"][0]["expired"], true);
        app.stop().await;
    }
}

db_test! {
    async fn bad_token_requests_get_a_clear_400(db) {
        let (app, _) = seed::app_with_project(&db, ADMIN, "octo-org/widgets", &[]).await;
        for (body, needle) in [
            (json!({"name": "x", "scope": "admin"}), "unknown variant"),
            (json!({"name": "", "scope": "read"}), "name"),
            (json!({"name": "x".repeat(101), "scope": "read"}), "name"),
            (json!({"name": "x", "scope": "read", "expires_in_days": 0}), "expires_in_days"),
            (json!({"name": "x", "scope": "read", "expires_in_days": 100000}), "expires_in_days"),
            (json!({"name": "x", "scope": "read", "extra": 1}), "unknown field"),
            (json!({"scope": "read"}), "name"),
        ] {
            let r = mint(&app, body.clone()).await;
            assert_eq!(r.status(), 400, "{body}");
            let v: Value = r.json().await.unwrap();
            assert!(v["error"].as_str().unwrap().contains(needle), "{body}: {v}");
        }
        let r = app.client.post(app.url("/api/v1/tokens")).bearer_auth(ADMIN).body("{").header("content-type", "application/json").send().await.unwrap();
        assert_eq!(r.status(), 400);
        // Without credentials, and with a wrong admin token: 401.
        let r = app.client.post(app.url("/api/v1/tokens")).json(&json!({"name": "x", "scope": "read"})).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = app.client.get(app.url("/api/v1/tokens")).bearer_auth("not-the-admin-token").send().await.unwrap();
        assert_eq!(r.status(), 401);
        app.stop().await;
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

db_test! {
    async fn the_tokens_screen_creates_shows_once_and_revokes(db) {
        let (app, _) = seed::app_with_project(&db, ADMIN, "octo-org/widgets", &[]).await;
        let client = browser();
        let r = client.get(app.url("/tokens")).send().await.unwrap();
        assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/login"));
        let r = client.post(app.url("/login")).form(&[("token", ADMIN)]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        // The admin's header links to the screen (a member signed in with GitHub's does not).
        let home = client.get(app.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(home.contains(r#"href="/tokens""#), "{home}");
        let html = client.get(app.url("/tokens")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("octo-org/widgets") && html.contains("No API tokens yet"), "{html}");
        let csrf = csrf_of(&html);
        let form = |csrf: &str, name: &str| {
            vec![("csrf", csrf.to_owned()), ("name", name.to_owned()), ("scope", "write".to_owned()),
                 ("project_id", String::new()), ("expires_in_days", String::new())]
        };
        let r = client.post(app.url("/tokens")).form(&form("stale", "ci")).send().await.unwrap();
        assert_eq!(r.status(), 403, "a form without this session's CSRF token");
        let r = client.post(app.url("/tokens")).form(&form(&csrf, "ci")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let html = r.text().await.unwrap();
        let at = html.find("id=\"new-token\"").expect("the new token is shown");
        let token = html[at..].split("value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        assert!(token.starts_with("hs_") && html.contains("data-copy=\"new-token\""), "{html}");
        assert_eq!(get(&app, "/api/v1/projects", &token).await.status(), 200);
        // Shown once: the screen lists it without the token.
        let html = client.get(app.url("/tokens")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains(">ci<") && !html.contains(&token[3..]), "{html}");
        let list: Value = get(&app, "/api/v1/tokens", ADMIN).await.json().await.unwrap();
        let id = list["tokens"][0]["id"].as_i64().unwrap();
        assert!(html.contains(&format!("/tokens/{id}/revoke")));
        let r = client.post(app.url("/tokens")).form(&form(&csrf, " ")).send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("name must be"));
        let r = client.post(app.url(&format!("/tokens/{id}/revoke"))).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(get(&app, "/api/v1/projects", &token).await.status(), 401, "revoked at once");

        // The session mints through the API too, from hubsync's own pages only.
        let body = json!({"name": "script", "scope": "read"});
        let r = client.post(app.url("/api/v1/tokens")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 403, "no Origin, no CSRF header: refused");
        let r = client.post(app.url("/api/v1/tokens")).header("Origin", "https://evil.example").json(&body).send().await.unwrap();
        assert_eq!(r.status(), 403);
        let r = client.post(app.url("/api/v1/tokens")).header("Origin", app.base.as_str()).json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        app.stop().await;
    }
}
