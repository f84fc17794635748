//! Live progress over Server-Sent Events: snapshot, ordering, replay, keep-alive, fan-out.
use std::time::Duration;

use serde_json::json;

use crate::{
    db_test,
    support::{seed, sse::SseStream, TestApp, TestDb},
};

const TOKEN: &str = "sse-test-token-0123456789abcdef0123";
const WAIT: Duration = Duration::from_secs(10);

async fn app_with_project(db: &TestDb) -> (TestApp, i64) {
    seed::app_with_project(
        db,
        TOKEN,
        "octo-org/hello",
        &[("HUBSYNC_SSE_KEEPALIVE_SECS", "0.5")],
    )
    .await
}

async fn select(app: &TestApp, id: i64, branches: &[&str]) {
    let r = app
        .client
        .put(app.url(&format!("/api/v1/projects/{id}/branches")))
        .bearer_auth(TOKEN)
        .json(&json!({ "branches": branches }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn open(app: &TestApp, path: &str, last: Option<i64>) -> SseStream {
    SseStream::new(SseStream::connect(&app.client, &app.url(path), TOKEN, last).await)
}

db_test! {
    async fn a_stream_starts_with_a_snapshot_then_events_in_order(db) {
        let (app, id) = app_with_project(&db).await;
        let mut s = open(&app, &format!("/projects/{id}/events"), None).await;
        let snap = s.next(WAIT).await.unwrap();
        assert_eq!(snap.event, "snapshot");
        assert_eq!(snap.retry, Some(3000), "a retry hint comes first");
        assert_eq!(snap.json()["branches"][0]["name"], "main");
        assert_eq!(snap.json()["branches"][0]["state"], "pending");

        select(&app, id, &["main", "dev", "release/*"]).await;
        let queued = s.next(WAIT).await.unwrap();
        assert_eq!(queued.event, "queued");
        assert_eq!(queued.json()["branch"], "dev");
        assert_eq!(queued.json()["project_id"], id);
        let changed = s.next(WAIT).await.unwrap();
        assert_eq!(changed.event, "selection_changed");
        assert!(snap.id() < queued.id() && queued.id() < changed.id(), "{} {} {}", snap.id(), queued.id(), changed.id());
    }
}

db_test! {
    async fn reconnecting_with_last_event_id_replays_without_gap_or_duplicate(db) {
        let (app, id) = app_with_project(&db).await;
        for b in [vec!["main", "a"], vec!["main", "a", "b"], vec!["main", "c"]] {
            select(&app, id, &b).await;
        }
        // Everything so far, from the start: the install's queued event and three changes.
        let mut all = open(&app, &format!("/projects/{id}/events"), Some(0)).await;
        let mut ids = Vec::new();
        while let Some(ev) = all.next(Duration::from_millis(700)).await {
            ids.push((ev.id(), ev.event.clone()));
        }
        assert!(ids.len() >= 7, "{ids:?}");
        assert!(ids.windows(2).all(|w| w[0].0 < w[1].0), "ordered: {ids:?}");

        // Reconnect after the third event: exactly the rest, then live ones.
        let mut s = open(&app, &format!("/projects/{id}/events?last_event_id={}", ids[2].0), None).await;
        for expected in &ids[3..] {
            let ev = s.next(WAIT).await.unwrap();
            assert_eq!((ev.id(), &ev.event), (expected.0, &expected.1));
        }
        select(&app, id, &["main"]).await;
        let live = s.next(WAIT).await.unwrap();
        assert!(live.id() > ids.last().unwrap().0);
        assert_eq!(live.event, "selection_changed");
    }
}

db_test! {
    async fn idle_streams_get_keep_alive_comments(db) {
        let (app, id) = app_with_project(&db).await;
        let mut s = open(&app, &format!("/projects/{id}/events"), None).await;
        s.next(WAIT).await.unwrap();
        assert!(s.next(Duration::from_millis(1600)).await.is_none());
        assert!(s.comments_seen >= 2, "keep-alives seen: {}", s.comments_seen);
    }
}

db_test! {
    async fn bad_requests_get_clear_errors(db) {
        let (app, id) = app_with_project(&db).await;
        let r = app.get(&format!("/projects/{id}/events")).await;
        assert_eq!(r.status(), 401);
        let r = SseStream::connect(&app.client, &app.url("/projects/999/events"), TOKEN, None).await;
        assert_eq!(r.status(), 404);
        let r = app.client.get(app.url(&format!("/projects/{id}/events"))).bearer_auth(TOKEN).header("last-event-id", "abc").send().await.unwrap();
        assert_eq!(r.status(), 400);
    }
}

db_test! {
    async fn two_hundred_subscribers_all_receive_the_events(db) {
        let (app, id) = app_with_project(&db).await;
        let mut streams = Vec::new();
        for n in 0..200 {
            let path = if n % 2 == 0 { format!("/projects/{id}/events") } else { "/api/v1/events".to_string() };
            let mut s = open(&app, &path, None).await;
            assert_eq!(s.next(WAIT).await.unwrap().event, "snapshot");
            streams.push(s);
        }
        select(&app, id, &["main", "x1", "x2"]).await;
        let results = futures_util::future::join_all(streams.iter_mut().map(|s| async move {
            let a = s.expect("queued", WAIT).await;
            let b = s.expect("queued", WAIT).await;
            let c = s.expect("selection_changed", WAIT).await;
            (a.id(), b.id(), c.id())
        }))
        .await;
        let first = results[0];
        assert!(results.iter().all(|r| *r == first), "every subscriber saw the same events");
    }
}

db_test! {
    async fn old_events_are_pruned_and_recent_replay_still_works(db) {
        use hubsync::store::entities::sync_events;
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let (app, id) = app_with_project(&db).await;
        let conn = &app.app.db;
        let old = sync_events::ActiveModel {
            project_id: Set(id),
            kind: Set(sync_events::EventKind::Queued),
            data: Set(json!({ "branch": "main" })),
            created_at: Set(chrono::Utc::now() - chrono::Duration::days(8)),
            ..Default::default()
        }
        .insert(conn)
        .await
        .unwrap();
        let before = sync_events::Entity::find().all(conn).await.unwrap().len();
        let deleted = hubsync::progress::prune(conn, Duration::from_secs(7 * 86_400)).await.unwrap();
        assert_eq!(deleted, 1);
        assert_eq!(sync_events::Entity::find().all(conn).await.unwrap().len(), before - 1);
        // Replay still serves every kept event, in order, and nothing pruned.
        select(&app, id, &["main", "dev"]).await;
        let mut s = open(&app, &format!("/projects/{id}/events"), Some(0)).await;
        let mut seen = Vec::new();
        while let Some(ev) = s.next(Duration::from_millis(700)).await {
            seen.push(ev.id());
        }
        assert!(seen.len() >= 3, "{seen:?}");
        assert!(!seen.contains(&old.id));
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
    }
}
