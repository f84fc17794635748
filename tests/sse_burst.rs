//! Live progress under load: a burst of events from concurrent writers reaches a subscriber
//! complete and in order, a row that commits late is neither lost nor reordered, and the hub
//! is idle again afterwards.
use std::time::{Duration, Instant};

use hubsync::{
    progress,
    store::DatabaseUrl,
    store::{self, entities::sync_events},
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use crate::{
    db_test,
    support::{seed, spawn_app_with, sse::SseStream, test_config, TestApp, TestDb},
};

const TOKEN: &str = "sse-burst-token-0123456789abcdef0123";
const WAIT: Duration = Duration::from_secs(60);
const PROJECTS: i64 = 50;
const WRITERS: usize = 8;
const EVENTS: usize = 5000;

/// An app with `PROJECTS` projects (no GitHub credentials, so no run starts).
async fn app_with_projects(db: &TestDb) -> (TestApp, Vec<i64>) {
    let app = spawn_app_with(test_config(db, &[("HUBSYNC_ADMIN_TOKEN", TOKEN)])).await;
    let projects = seed::projects(&app.app.db, PROJECTS).await;
    (app, projects)
}

/// A connection of the test's own, as another process would have.
async fn writer_db(db: &TestDb) -> DatabaseConnection {
    store::connect(&DatabaseUrl::parse(&db.url).unwrap())
        .await
        .unwrap()
}

async fn open(app: &TestApp, path: &str, last: Option<i64>) -> SseStream {
    SseStream::new(SseStream::connect(&app.client, &app.url(path), TOKEN, last).await)
}

/// Reads events until `n` have arrived; returns their ids in arrival order.
async fn read_ids(s: &mut SseStream, n: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
        match s.next(WAIT).await {
            Some(ev) => ids.push(ev.id()),
            None => panic!("stream stalled after {} of {n} events", ids.len()),
        }
    }
    ids
}

db_test! {
    async fn a_burst_of_5000_events_reaches_a_subscriber_complete_and_in_order(db) {
        let (app, projects) = app_with_projects(&db).await;
        let mut all = open(&app, "/api/v1/events", None).await;
        let snap = all.next(WAIT).await.unwrap();
        assert_eq!(snap.event, "snapshot");
        let one = projects[7];
        let mut single = open(&app, &format!("/projects/{one}/events"), None).await;
        assert_eq!(single.next(WAIT).await.unwrap().event, "snapshot");

        // Concurrent writers, as other replicas would be: transactions of 1 to 9 events, every
        // fifth one rolled back, so ids commit out of order and some never commit at all.
        let conn = writer_db(&db).await;
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let conn = conn.clone();
                let projects = projects.clone();
                tokio::spawn(async move {
                    let mut written = 0;
                    let mut n = 0usize;
                    let quota = EVENTS / WRITERS;
                    while written < quota {
                        n += 1;
                        let size = (1 + (w + n) % 9).min(quota - written);
                        let rollback = n.is_multiple_of(5);
                        let txn = conn.begin().await.unwrap();
                        for k in 0..size {
                            let p = projects[(w * 31 + n * 7 + k) % projects.len()];
                            progress::record(&txn, p, &note(format!("writer={w} n={n} k={k} rolled_back={rollback}")))
                                .await
                                .unwrap();
                        }
                        if rollback {
                            txn.rollback().await.unwrap();
                        } else {
                            txn.commit().await.unwrap();
                            written += size;
                        }
                    }
                })
            })
            .collect();
        let received = read_ids(&mut all, EVENTS).await;
        for w in writers {
            w.await.unwrap();
        }

        let stored: Vec<sync_events::Model> = sync_events::Entity::find()
            .filter(sync_events::Column::Id.gt(snap.id()))
            .order_by_asc(sync_events::Column::Id)
            .all(&conn)
            .await
            .unwrap();
        assert_eq!(stored.len(), EVENTS, "every committed event is stored");
        assert!(stored.iter().all(|e| !e.data["branches"][0].as_str().unwrap().contains("rolled_back=true")));
        let expected: Vec<i64> = stored.iter().map(|e| e.id).collect();
        assert!(received.windows(2).all(|w| w[0] < w[1]), "in id order, no duplicate");
        assert_eq!(received, expected, "every committed event, nothing else");
        assert!(all.next(Duration::from_millis(300)).await.is_none(), "nothing after the burst");

        let mine: Vec<i64> = stored.iter().filter(|e| e.project_id == one).map(|e| e.id).collect();
        assert!(!mine.is_empty());
        assert_eq!(read_ids(&mut single, mine.len()).await, mine, "a project's stream gets its events");

        // Idle now: the tailer reads only on its fallback poll (4 a second at most), where a
        // busy loop reads thousands of times.
        let hub = &app.app.hub;
        let before = hub.reads();
        // Kept: an idle rate is measured over a stretch of time.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle_reads = hub.reads() - before;
        eprintln!("tailer reads over 2 s idle: {idle_reads}");
        assert!(idle_reads <= 10, "the tailer reads while nothing is written: {idle_reads} in 2 s");

        // Shutdown ends open streams and every task promptly.
        let t = Instant::now();
        app.stop().await;
        assert!(t.elapsed() < Duration::from_secs(2), "shutdown took {:?}", t.elapsed());
        assert!(all.next(WAIT).await.is_none(), "the stream ended");
    }
}

db_test! {
    async fn an_event_that_commits_late_is_delivered_in_order_and_a_rolled_back_one_is_skipped(db) {
        if db.engine == "sqlite" {
            eprintln!("skipped: SQLite has one writer at a time, so its ids commit in order");
            return;
        }
        let (app, projects) = app_with_projects(&db).await;
        let p = projects[0];
        let mut s = open(&app, "/api/v1/events", None).await;
        let snap = s.next(WAIT).await.unwrap();
        let conn = writer_db(&db).await;

        // A draws an id and stays open; B draws the next one and commits first.
        let a = conn.begin().await.unwrap();
        let late = progress::record(&a, p, &note("a".into())).await.unwrap();
        let early = progress::record(&conn, p, &note("b".into())).await.unwrap();
        assert!(late.id < early.id);
        assert!(s.next(Duration::from_millis(500)).await.is_none(), "B waits for A's id to settle");
        // A client resuming meanwhile must not skip A's id either.
        let mut resumed = open(&app, "/api/v1/events", Some(snap.id())).await;
        a.commit().await.unwrap();
        for stream in [&mut s, &mut resumed] {
            assert_eq!(read_ids(stream, 2).await, vec![late.id, early.id]);
        }

        // C draws an id, D commits after it, C rolls back: D arrives, C never does.
        let c = conn.begin().await.unwrap();
        let gone = progress::record(&c, p, &note("c".into())).await.unwrap();
        let after = progress::record(&conn, p, &note("d".into())).await.unwrap();
        assert!(gone.id < after.id);
        c.rollback().await.unwrap();
        let ev = s.next(WAIT).await.expect("D arrives once C has ended");
        assert_eq!(ev.id(), after.id);
        assert_eq!(ev.json()["branches"][0], "d");
        app.stop().await;
    }
}

/// An event whose only field is free text: no run to refer to.
fn note(text: String) -> progress::ProgressEvent {
    progress::ProgressEvent::SelectionChanged(progress::SelectionChange::Replaced {
        branches: vec![text],
    })
}

db_test! {
    async fn a_subscriber_that_falls_behind_the_hubs_buffer_gets_every_event_in_order(db) {
        // A buffer of 16: the tailer hands on a page of hundreds of rows at once, so every
        // subscriber falls behind it and catches up from the table.
        let config = test_config(&db, &[("HUBSYNC_ADMIN_TOKEN", TOKEN), ("HUBSYNC_SSE_BUFFER", "16")]);
        let app = spawn_app_with(config).await;
        let projects = seed::projects(&app.app.db, 5).await;
        let mut all = open(&app, "/api/v1/events", None).await;
        let snap = all.next(WAIT).await.unwrap();
        assert_eq!(snap.event, "snapshot");
        let one = projects[2];
        let mut single = open(&app, &format!("/projects/{one}/events"), None).await;
        assert_eq!(single.next(WAIT).await.unwrap().event, "snapshot");

        let conn = writer_db(&db).await;
        for t in 0..3 {
            let txn = conn.begin().await.unwrap();
            for k in 0..200 {
                let p = projects[(t * 200 + k) % projects.len()];
                progress::record(&txn, p, &note(format!("t={t} k={k}"))).await.unwrap();
            }
            txn.commit().await.unwrap();
        }
        let stored: Vec<sync_events::Model> = sync_events::Entity::find()
            .filter(sync_events::Column::Id.gt(snap.id()))
            .order_by_asc(sync_events::Column::Id)
            .all(&conn)
            .await
            .unwrap();
        assert_eq!(stored.len(), 600);
        let expected: Vec<i64> = stored.iter().map(|e| e.id).collect();
        assert_eq!(read_ids(&mut all, 600).await, expected, "every event once, in order");
        assert!(all.next(Duration::from_millis(300)).await.is_none(), "nothing after them");
        let mine: Vec<i64> = stored.iter().filter(|e| e.project_id == one).map(|e| e.id).collect();
        assert_eq!(read_ids(&mut single, mine.len()).await, mine, "the project's events, in order");
        app.stop().await;
    }
}
