//! Long-lived event streams end when their access does: an API token's streams soon after it is
//! revoked or expires, a GitHub user's when the 10-minute re-check finds they lost the project.
//! Each stream re-checks on its keep-alive period (short here); the tests wait on the stream
//! ending, and show the streams that keep their access still carry events.
use hubsync::store::entities::api_tokens;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::{
    db_test,
    signin::{age_access, sign_in, world_with},
    support::{seed, sse::SseStream, wait::LIMIT, TestApp},
};

const ADMIN: &str = "rls-streams-admin-token-0123456789abcdef";
const KEEP_ALIVE: (&str, &str) = ("HUBSYNC_SSE_KEEPALIVE_SECS", "0.2");

async fn token(app: &TestApp, project_id: Option<i64>) -> (i64, String) {
    let r = app.client.post(app.url("/api/v1/tokens")).bearer_auth(ADMIN)
        .json(&json!({"name": "tool", "scope": "read", "project_id": project_id, "expires_in_days": 1}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    (
        v["id"].as_i64().unwrap(),
        v["token"].as_str().unwrap().to_owned(),
    )
}

async fn open(app: &TestApp, path: &str, token: &str) -> SseStream {
    SseStream::new(SseStream::connect(&app.client, &app.url(path), token, None).await)
}

/// Selects `branches` as the admin: one `queued` event per new branch.
async fn select(app: &TestApp, id: i64, branches: &[&str]) {
    let r = app
        .client
        .put(app.url(&format!("/api/v1/projects/{id}/branches")))
        .bearer_auth(ADMIN)
        .json(&json!({ "branches": branches }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

db_test! {
    async fn a_tokens_streams_end_when_it_is_revoked_or_expires(db) {
        let (app, id) = seed::app_with_project(&db, ADMIN, "octo-org/hello", &[KEEP_ALIVE]).await;
        let (revoked, all) = token(&app, None).await;
        let (expiring, own) = token(&app, Some(id)).await;
        let mut everything = open(&app, "/api/v1/events", &all).await;
        let mut feed = open(&app, "/api/v1/changes", &all).await;
        let mut project = open(&app, &format!("/projects/{id}/events"), &own).await;
        assert_eq!(everything.next(LIMIT).await.unwrap().event, "snapshot");
        assert_eq!(project.next(LIMIT).await.unwrap().event, "snapshot");

        let r = app.client.delete(app.url(&format!("/api/v1/tokens/{revoked}"))).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(r.status(), 204);
        assert!(everything.ended(LIMIT).await, "the revoked token's event stream ends");
        assert!(feed.ended(LIMIT).await, "the revoked token's change stream ends");
        // The other token's stream lives on, and carries what happens.
        select(&app, id, &["main", "dev"]).await;
        assert_eq!(project.expect("queued", LIMIT).await.json()["branch"], "dev");
        let r = SseStream::connect(&app.client, &app.url("/api/v1/events"), &all, None).await;
        assert_eq!(r.status(), 401, "reconnecting with the revoked token");

        // Expired (an hour ago, relative to now): its stream ends too.
        api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::ExpiresAt, Expr::value(Some(chrono::Utc::now() - chrono::Duration::hours(1))))
            .filter(api_tokens::Column::Id.eq(expiring))
            .exec(&app.app.db).await.unwrap();
        assert!(project.ended(LIMIT).await, "the expired token's stream ends");
        app.stop().await;
    }
}

db_test! {
    async fn a_users_stream_ends_when_the_recheck_finds_they_lost_the_project(db) {
        let w = world_with(&db, &[KEEP_ALIVE]).await;
        let (widgets, gadgets) = (w.projects[0], w.projects[1]);
        let bob = sign_in(&w, "bob").await;
        let alice = sign_in(&w, "alice").await;
        let stream = |b: &reqwest::Client, path: String| {
            let req = b.get(w.app.url(&path)).header("accept", "text/event-stream");
            async move { SseStream::new(req.send().await.unwrap()) }
        };
        let mut bobs = stream(&bob, format!("/projects/{widgets}/events")).await;
        let mut alices = stream(&alice, "/api/v1/events".into()).await;
        assert_eq!(bobs.next(LIMIT).await.unwrap().event, "snapshot");
        let snap = alices.next(LIMIT).await.unwrap();
        assert_eq!(snap.json()["projects"].as_array().unwrap().len(), 2);

        // GitHub takes widgets from bob; hubsync learns it at the next re-check (made due now).
        w.fake.ungrant("bob", w.inst, w.repos[0]);
        age_access(&w, 11).await;
        assert!(bobs.ended(LIMIT).await, "bob's stream ends");
        let r = bob.get(w.app.url(&format!("/projects/{widgets}/events"))).send().await.unwrap();
        assert_eq!(r.status(), 404, "bob reconnecting: widgets is not his to see now");
        // alice kept her access: her stream stays open and carries gadgets' events.
        let r = w.app.client.put(w.app.url(&format!("/api/v1/projects/{gadgets}/branches")))
            .bearer_auth(crate::signin::TOKEN)
            .json(&json!({ "branches": ["main", "dev"] })).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let queued = alices.expect("queued", LIMIT).await;
        assert_eq!(queued.json()["project_id"], gadgets);
        w.app.stop().await;
    }
}
