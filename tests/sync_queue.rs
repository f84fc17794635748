//! The sync queue and intake: projects from installations, coalescing, leases, claims under
//! concurrency.
use std::collections::HashSet;

use chrono::Duration;
use hubsync::{
    git::{BranchName, Sha},
    store::{
        attempts::AttemptStatus,
        entities::{sync_events, sync_runs},
        runs::{self, RunCounts, Trigger},
        selections,
    },
    sync::intake::{signal, AutoSelect, SyncSignal},
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait};

use crate::{
    db_test,
    support::{seed, spawn_app},
};

fn sha(n: u8) -> Sha {
    Sha::parse(&format!("{:040x}", n)).unwrap()
}

fn main_branch() -> BranchName {
    BranchName::parse("main").unwrap()
}

/// An installation with one repository, its project and the default branch selected.
async fn installed(db: &DatabaseConnection) -> (i64, i64) {
    seed::installation(db, 1, "octo-org").await;
    seed::repository(db, 1, 100, "octo-org/hello").await;
    signal(
        db,
        AutoSelect::DefaultBranch,
        SyncSignal::RepositoriesAdded {
            installation_id: 1,
            repository_ids: vec![100],
        },
    )
    .await
    .unwrap();
    let project = selections::project_of_repository(db, 100)
        .await
        .unwrap()
        .unwrap();
    let sel = selections::selections(db, project.id).await.unwrap();
    assert_eq!(sel.len(), 1);
    (project.id, sel[0].id)
}

async fn runs_of(db: &DatabaseConnection, sel: i64) -> Vec<sync_runs::Model> {
    sync_runs::Entity::find()
        .filter(sync_runs::Column::ProjectSyncId.eq(sel))
        .all(db)
        .await
        .unwrap()
}

db_test! {
    async fn an_installed_repository_gets_a_project_its_default_branch_and_a_queued_run(db) {
        let app = spawn_app(&db).await;
        let conn = &app.app.db;
        let (project, sel) = installed(conn).await;
        let runs = runs_of(conn, sel).await;
        assert_eq!(runs.len(), 1);
        assert_eq!((runs[0].status.as_str(), runs[0].trigger.as_str()), ("queued", "install"));
        let events = sync_events::Entity::find().filter(sync_events::Column::ProjectId.eq(project)).all(conn).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "queued");
        assert_eq!(events[0].run_id, Some(runs[0].id));

        // A second delivery of the same signal changes nothing.
        signal(conn, AutoSelect::DefaultBranch, SyncSignal::RepositoriesAdded { installation_id: 1, repository_ids: vec![100] }).await.unwrap();
        assert_eq!(selections::selections(conn, project).await.unwrap().len(), 1);
        assert_eq!(runs_of(conn, sel).await.len(), 1);
    }
}

db_test! {
    async fn auto_select_none_creates_the_project_without_selecting(db) {
        let app = spawn_app(&db).await;
        let conn = &app.app.db;
        seed::installation(conn, 1, "octo-org").await;
        seed::repository(conn, 1, 100, "octo-org/hello").await;
        signal(conn, AutoSelect::Nothing, SyncSignal::RepositoriesAdded { installation_id: 1, repository_ids: vec![100] }).await.unwrap();
        let project = selections::project_of_repository(conn, 100).await.unwrap().unwrap();
        assert!(selections::selections(conn, project.id).await.unwrap().is_empty());
        assert_eq!(sync_runs::Entity::find().all(conn).await.unwrap().len(), 0);
    }
}

db_test! {
    async fn pushes_coalesce_into_the_queued_run_and_one_follow_up_beside_a_running_one(db) {
        let app = spawn_app(&db).await;
        let conn = &app.app.db;
        let (_, sel) = installed(conn).await;
        for n in 1..=20u8 {
            let push = SyncSignal::BranchPushed { repository_id: 100, branch: main_branch(), head: sha(n) };
            signal(conn, AutoSelect::DefaultBranch, push).await.unwrap();
        }
        let runs = runs_of(conn, sel).await;
        assert_eq!(runs.len(), 1, "20 pushes while queued are one run");
        assert_eq!(runs[0].target_sha.as_deref(), Some(sha(20).as_str()));

        let claimed = runs::claim(conn, "w1", Duration::seconds(60), Duration::zero()).await.unwrap().unwrap();
        for n in 21..=30u8 {
            let push = SyncSignal::BranchPushed { repository_id: 100, branch: main_branch(), head: sha(n) };
            signal(conn, AutoSelect::DefaultBranch, push).await.unwrap();
        }
        let runs = runs_of(conn, sel).await;
        assert_eq!(runs.len(), 2, "one running, one follow-up");
        let follow_up = runs.iter().find(|r| r.status == "queued").unwrap();
        assert_eq!(follow_up.target_sha.as_deref(), Some(sha(30).as_str()));
        // The follow-up waits for the running run of its branch.
        assert!(runs::claim(conn, "w2", Duration::seconds(60), Duration::zero()).await.unwrap().is_none());
        runs::finish(conn, claimed.id, "w1", runs::RunStatus::Succeeded, &RunCounts::default(), None).await.unwrap().unwrap();
        let next = runs::claim(conn, "w2", Duration::seconds(60), Duration::zero()).await.unwrap().unwrap();
        assert_eq!(next.id, follow_up.id);
    }
}

db_test! {
    async fn a_push_to_an_unselected_branch_queues_nothing_but_a_matching_pattern_does(db) {
        let app = spawn_app(&db).await;
        let conn = &app.app.db;
        let (project, _) = installed(conn).await;
        let before = sync_runs::Entity::find().all(conn).await.unwrap().len();
        let push = |b: &str, n| SyncSignal::BranchPushed { repository_id: 100, branch: BranchName::parse(b).unwrap(), head: sha(n) };
        signal(conn, AutoSelect::DefaultBranch, push("feature/x", 1)).await.unwrap();
        assert_eq!(sync_runs::Entity::find().all(conn).await.unwrap().len(), before);

        let wanted = [hubsync::git::Selector::parse("main").unwrap(), hubsync::git::Selector::parse("release/*").unwrap()];
        selections::set_selection(conn, project, &wanted).await.unwrap();
        signal(conn, AutoSelect::DefaultBranch, push("release/1.0", 2)).await.unwrap();
        let sels = selections::selections(conn, project).await.unwrap();
        let rel = sels.iter().find(|s| s.branch == "release/1.0").expect("pattern created the branch row");
        assert!(!rel.is_pattern && rel.enabled);
        assert_eq!(runs_of(conn, rel.id).await.len(), 1);
        signal(conn, AutoSelect::DefaultBranch, push("release/1.0/hotfix", 3)).await.unwrap();
        assert!(!selections::selections(conn, project).await.unwrap().iter().any(|s| s.branch == "release/1.0/hotfix"));
    }
}

db_test! {
    async fn a_deleted_branch_keeps_its_selection_and_drops_its_queued_run(db) {
        let app = spawn_app(&db).await;
        let conn = &app.app.db;
        let (project, sel) = installed(conn).await;
        signal(conn, AutoSelect::DefaultBranch, SyncSignal::BranchDeleted { repository_id: 100, branch: main_branch() }).await.unwrap();
        let row = selections::selections(conn, project).await.unwrap().into_iter().find(|s| s.id == sel).unwrap();
        assert!(row.deleted_at.is_some());
        assert_eq!(row.state, "deleted");
        assert!(runs_of(conn, sel).await.iter().all(|r| r.status == "superseded"));
        // Recreated: syncs again.
        signal(conn, AutoSelect::DefaultBranch, SyncSignal::BranchCreated { repository_id: 100, branch: main_branch(), head: Some(sha(9)) }).await.unwrap();
        let row = selections::selections(conn, project).await.unwrap().into_iter().find(|s| s.id == sel).unwrap();
        assert!(row.deleted_at.is_none());
        assert!(runs_of(conn, sel).await.iter().any(|r| r.status == "queued"));
    }
}

db_test! {
    async fn an_expired_lease_is_taken_over_and_the_old_holder_cannot_write(db) {
        let app = spawn_app(&db).await;
        let conn = &app.app.db;
        let (_, _) = installed(conn).await;
        let first = runs::claim(conn, "crashed", Duration::milliseconds(-1), Duration::zero()).await.unwrap().unwrap();
        assert_eq!(first.attempt, 1);
        let again = runs::claim(conn, "healthy", Duration::seconds(60), Duration::zero()).await.unwrap().expect("expired lease is claimable");
        assert_eq!((again.id, again.attempt, again.leased_by.as_deref()), (first.id, 2, Some("healthy")));
        assert!(!runs::renew_lease(conn, first.id, "crashed", Duration::seconds(60)).await.unwrap());
        assert!(runs::finish(conn, first.id, "crashed", runs::RunStatus::Succeeded, &RunCounts::default(), None).await.unwrap().is_none());
        assert!(runs::renew_lease(conn, first.id, "healthy", Duration::seconds(60)).await.unwrap());
    }
}

db_test! {
    async fn a_failed_attempt_is_retried_after_its_backoff(db) {
        let app = spawn_app(&db).await;
        let conn = &app.app.db;
        let (_, sel) = installed(conn).await;
        let run = runs::claim(conn, "w", Duration::seconds(60), Duration::zero()).await.unwrap().unwrap();
        let back = runs::retry_later(conn, run.id, "w", Duration::seconds(3600), AttemptStatus::Failed, &RunCounts::default(), "GitHub answered 502").await.unwrap().unwrap();
        assert_eq!(back.status, "queued");
        assert!(runs::claim(conn, "w", Duration::seconds(60), Duration::zero()).await.unwrap().is_none(), "not before its backoff");
        let run2 = runs_of(conn, sel).await.pop().unwrap();
        assert_eq!(run2.error.as_deref(), Some("GitHub answered 502"));
        let run = runs::claim(conn, "w", Duration::seconds(60), Duration::zero()).await.unwrap();
        assert!(run.is_none());
    }
}

db_test! {
    async fn concurrent_workers_never_run_one_branch_twice(db) {
        let app = spawn_app(&db).await;
        let conn = app.app.db.clone();
        seed::installation(&conn, 1, "octo-org").await;
        let repo_ids: Vec<i64> = (100..110).collect();
        for id in &repo_ids {
            seed::repository(&conn, 1, *id, &format!("octo-org/r{id}")).await;
        }
        signal(&conn, AutoSelect::DefaultBranch, SyncSignal::RepositoriesAdded { installation_id: 1, repository_ids: repo_ids.clone() }).await.unwrap();
        // 8 workers claim concurrently; each holds its claim, so every claim must be distinct.
        let mut tasks = Vec::new();
        for w in 0..8 {
            let conn = conn.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                for _ in 0..5 {
                    let txn = conn.begin().await.unwrap();
                    if let Some(run) = runs::claim(&txn, &format!("w{w}"), Duration::seconds(60), Duration::zero()).await.unwrap() {
                        mine.push(run.id);
                    }
                    txn.commit().await.unwrap();
                }
                mine
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let unique: HashSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), unique.len(), "a run was claimed twice: {all:?}");
        assert_eq!(unique.len(), 10, "every queued run was claimed once");
        let _ = Trigger::Manual;
    }
}

db_test! {
    async fn an_idle_branch_starts_at_once_and_a_busy_one_waits_out_the_debounce(db) {
        let app = spawn_app(&db).await;
        let conn = &app.app.db;
        let (_, sel) = installed(conn).await;
        let debounce = Duration::seconds(60);
        let first = runs::claim(conn, "w", Duration::seconds(60), debounce).await.unwrap();
        let first = first.expect("a run on an idle branch starts without waiting");

        // A push while the branch runs, or right after, waits out the debounce: a burst folds.
        runs::enqueue(conn, sel, Trigger::Push, Some(&sha(2))).await.unwrap();
        runs::finish(conn, first.id, "w", runs::RunStatus::Succeeded, &RunCounts::default(), None).await.unwrap();
        runs::enqueue(conn, sel, Trigger::Push, Some(&sha(3))).await.unwrap();
        assert!(runs::claim(conn, "w", Duration::seconds(60), debounce).await.unwrap().is_none());
        let next = runs::claim(conn, "w", Duration::seconds(60), Duration::zero()).await.unwrap();
        let next = next.expect("claimable once its debounce is over");
        assert_eq!(next.target_sha, Some(sha(3)), "both pushes in one run");
    }
}

db_test! {
    async fn a_suspended_installation_stops_and_resuming_catches_up(db) {
        use hubsync::store::entities::installations;
        use sea_orm::{ActiveModelTrait, Set};
        let app = spawn_app(&db).await;
        let conn = &app.app.db;
        let (_, sel) = installed(conn).await;
        signal(conn, AutoSelect::DefaultBranch, SyncSignal::InstallationStopped { installation_id: 1 }).await.unwrap();
        assert!(runs_of(conn, sel).await.iter().all(|r| r.status == "superseded"), "queued runs dropped");

        let mut inst: installations::ActiveModel = installations::Entity::find_by_id(1).one(conn).await.unwrap().unwrap().into();
        inst.suspended_at = Set(None);
        inst.update(conn).await.unwrap();
        signal(conn, AutoSelect::DefaultBranch, SyncSignal::InstallationResumed { installation_id: 1 }).await.unwrap();
        let runs = runs_of(conn, sel).await;
        assert!(runs.iter().any(|r| r.status == "queued" && r.trigger == "reconcile"), "{runs:?}");
    }
}
