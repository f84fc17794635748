//! The feed's cursor under concurrent writers and retention: a reader following `next_cursor`
//! gets every committed change once, in order, even while transactions commit out of id order;
//! a cursor older than the retention gets 410 with the oldest valid cursor.
use std::time::Duration;

use chrono::Utc;
use hubsync::git::{BranchName, Sha};
use hubsync::ids::{ProjectId, RunId};
use hubsync::store::{
    self,
    changes::{self, RunInfo},
    entities::{changes as rows, files},
    manifests::Entry,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;

use crate::{
    changes_feed::{feed, get},
    db_test,
    support::{fake_github::FakeGithub, synced, TestApp},
};

fn entry(path: &str, sha: &str) -> Entry {
    Entry {
        path: path.into(),
        sha: sha.into(),
        mode: "100644".into(),
        size: Some(1),
    }
}

fn file(path: &str, sha: &str) -> files::Model {
    files::Model {
        project_sync_id: 1,
        path: path.into(),
        blob_sha: sha.into(),
        mode: "100644".into(),
        size: Some(1),
    }
}

/// Appends `n` added paths as run `run` in its own transaction, holding it open `hold` first.
async fn write(app: &TestApp, run: i64, n: usize, hold: Duration, commit: bool) {
    let txn = store::begin_write(&app.app.db).await.unwrap();
    let new: Vec<Entry> = (0..n)
        .map(|i| {
            entry(
                &format!("r{run}/f{i}"),
                &format!("{:040x}", run * 100 + i as i64),
            )
        })
        .collect();
    let info = RunInfo {
        project_id: ProjectId(1),
        project_sync_id: 1,
        run_id: RunId(run),
        repository: "o/r",
        branch: &BranchName::parse("main").unwrap(),
        commit_sha: &Sha::parse("0123456789012345678901234567890123456789").unwrap(),
    };
    changes::append(&txn, &info, &[], &new).await.unwrap();
    // The fault under test, not a wait: a writer slow to commit.
    tokio::time::sleep(hold).await;
    if commit {
        txn.commit().await.unwrap()
    } else {
        txn.rollback().await.unwrap()
    }
}

async fn all_ids(app: &TestApp) -> Vec<i64> {
    rows::Entity::find()
        .select_only()
        .column(rows::Column::Id)
        .order_by_asc(rows::Column::Id)
        .into_tuple()
        .all(&app.app.db)
        .await
        .unwrap()
}

db_test! {
    async fn a_reader_following_next_cursor_never_skips_or_repeats_under_concurrent_writers(db) {
        let fake = FakeGithub::start().await;
        let app = std::sync::Arc::new(synced::start(&fake, &db, &[]).await);
        let mut writers = Vec::new();
        for w in 0..6i64 {
            let app = app.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..8i64 {
                    let run = w * 100 + i;
                    // Uneven hold times, so later ids often commit first; every 5th rolls back.
                    let hold = Duration::from_millis(((w * 7 + i * 13) % 25) as u64);
                    write(&app, run, 1 + (i as usize % 3), hold, (w + i) % 5 != 0).await;
                }
            }));
        }
        let mut seen: Vec<i64> = Vec::new();
        let mut after = "0".to_owned();
        let read = |after: String| { let app = app.clone(); async move { feed(&app, &format!("?after={after}&limit=3")).await } };
        while writers.iter().any(|w| !w.is_finished()) {
            let page: Value = read(after.clone()).await;
            seen.extend(page["changes"].as_array().unwrap().iter().map(|c| c["cursor"].as_str().unwrap().parse::<i64>().unwrap()));
            after = page["next_cursor"].as_str().unwrap().to_owned();
        }
        for w in writers { w.await.unwrap(); }
        loop {
            let page = read(after.clone()).await;
            let n = page["changes"].as_array().unwrap().len();
            seen.extend(page["changes"].as_array().unwrap().iter().map(|c| c["cursor"].as_str().unwrap().parse::<i64>().unwrap()));
            after = page["next_cursor"].as_str().unwrap().to_owned();
            if n == 0 { break; }
        }
        let committed = all_ids(&app).await;
        assert!(committed.len() > 40, "{} rows committed", committed.len());
        assert_eq!(seen, committed, "the reader saw every committed change once, in order");
        match std::sync::Arc::try_unwrap(app) { Ok(app) => app.stop().await, Err(_) => panic!("app still shared") }
    }
}

db_test! {
    async fn a_cursor_older_than_the_retention_gets_410_with_the_oldest_valid_cursor(db) {
        let fake = FakeGithub::start().await;
        let app = synced::start(&fake, &db, &[("HUBSYNC_CHANGES_RETENTION_DAYS", "30")]).await;
        let old: Vec<files::Model> = vec![file("gone.txt", &"1".repeat(40))];
        write(&app, 1, 3, Duration::ZERO, true).await;
        write(&app, 2, 2, Duration::ZERO, true).await;
        let ids = all_ids(&app).await;
        assert_eq!(ids.len(), 5);
        // Run 1's rows are 40 days old, run 2's are fresh.
        rows::Entity::update_many()
            .col_expr(rows::Column::CreatedAt, sea_orm::sea_query::Expr::value(Utc::now() - chrono::Duration::days(40)))
            .filter(rows::Column::RunId.eq(1))
            .exec(&app.app.db).await.unwrap();
        assert_eq!(changes::prune(&app.app.db, Duration::from_secs(30 * 86_400)).await.unwrap(), 3);
        let oldest = ids[2].to_string();

        for q in ["?after=0".to_owned(), format!("?after={}", ids[1])] {
            let r = get(&app, &q).await;
            assert_eq!(r.status(), 410, "{q}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["oldest_cursor"], oldest.as_str());
            assert!(body["error"].as_str().unwrap().contains("resync"));
        }
        let r = app.client.get(app.url("/api/v1/changes")).bearer_auth(synced::ADMIN)
            .header("accept", "text/event-stream").header("last-event-id", "0").send().await.unwrap();
        assert_eq!(r.status(), 410);
        // From the oldest valid cursor, or with no cursor: what retention kept.
        let kept = feed(&app, &format!("?after={oldest}")).await;
        assert_eq!(kept["changes"].as_array().unwrap().len(), 2);
        assert_eq!(feed(&app, "").await, kept);
        // A deletion names the old blob.
        let txn = store::begin_write(&app.app.db).await.unwrap();
        let info = RunInfo { project_id: ProjectId(1), project_sync_id: 1, run_id: RunId(3), repository: "o/r", branch: &BranchName::parse("main").unwrap(), commit_sha: &Sha::parse("0123456789012345678901234567890123456789").unwrap() };
        changes::append(&txn, &info, &old, &[]).await.unwrap();
        txn.commit().await.unwrap();
        let page = feed(&app, &format!("?after={}", kept["next_cursor"].as_str().unwrap())).await;
        assert_eq!(page["changes"][0]["change"], "deleted");
        assert_eq!(page["changes"][0]["previous_blob_sha"], "1".repeat(40).as_str());
        app.stop().await;
    }
}
