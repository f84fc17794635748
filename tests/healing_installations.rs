//! Installations and repositories that changed while hubsync was stopped are right once it
//! starts, with no webhook: it compares GitHub's lists with what it stored.
use std::time::Duration;

use hubsync::store::{
    entities::{deliveries, installations, repositories},
    manifests,
    passes::{self, PassKind},
    selections,
};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};

use crate::{
    db_test,
    support::{
        fake_github::{FakeGithub, FakeRepo},
        synced, wait, TestApp,
    },
};

const WAIT: Duration = Duration::from_secs(60);
const RECONCILE: &[(&str, &str)] = &[("HUBSYNC_RECONCILE_SECS", "3600")];

fn repo_with_a_commit(fake: &FakeGithub, inst: i64, name: &str) -> FakeRepo {
    let repo = fake.create_repo(inst, name);
    repo.write("README.md", format!("# {name}\n"));
    repo.commit("start");
    repo.push("main");
    repo
}

/// Checks after each self-healing pass (the installations pass, or the reconcile it asked for).
async fn wait_for<T>(app: &TestApp, what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    let mut passes = app.app.activity.healing.watch();
    wait::until(what, &mut passes, check).await
}

async fn repository(db: &DatabaseConnection, id: i64) -> repositories::Model {
    repositories::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

async fn installation(db: &DatabaseConnection, id: i64) -> installations::Model {
    installations::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

/// The installations pass once it has finished with at least `actions` changes in total.
async fn finished_pass(
    app: &TestApp,
    actions: i64,
) -> hubsync::store::entities::background_passes::Model {
    wait_for(app, "the installations pass", async || {
        passes::load(&app.app.db, PassKind::Installations)
            .await
            .unwrap()
            .filter(|p| p.leased_by.is_none() && p.actions_total >= actions)
    })
    .await
}

db_test! {
    async fn installations_and_repositories_changed_while_hubsync_was_stopped_are_right_after_it_starts(db) {
        let fake = FakeGithub::start().await;
        let org = fake.add_installation("octo-org");
        let kept = repo_with_a_commit(&fake, org, "kept");
        let gone = repo_with_a_commit(&fake, org, "gone");
        let other = fake.add_installation("other-org");
        let bee = repo_with_a_commit(&fake, other, "bee");
        let app = synced::start(&fake, &db, &[]).await;
        synced::install(&fake, &app, &kept).await;
        let head = gone.head("main").unwrap();
        synced::wait_synced(&app.app, gone.id, "main", &head, WAIT).await;
        synced::install(&fake, &app, &bee).await;
        app.stop().await;

        // While hubsync is stopped: a repository added, one removed, an installation suspended,
        // and a new installation.
        let added = repo_with_a_commit(&fake, org, "added");
        fake.remove_from_installation(org, gone.id);
        fake.suspend_installation(other);
        let new_org = fake.add_installation("new-org");
        let sea = repo_with_a_commit(&fake, new_org, "sea");

        let app = synced::start(&fake, &db, RECONCILE).await;
        let db_conn = &app.app.db;
        let webhooks_before = deliveries::Entity::find().count(db_conn).await.unwrap();
        synced::wait_synced(&app.app, added.id, "main", &added.head("main").unwrap(), WAIT).await;
        synced::wait_synced(&app.app, sea.id, "main", &sea.head("main").unwrap(), WAIT).await;
        let removed = wait_for(&app, "the removed repository is marked", async || {
            let r = repository(db_conn, gone.id).await;
            r.removed_at.is_some().then_some(r)
        })
        .await;
        assert_eq!(removed.installation_id, org);
        wait_for(&app, "the installation is suspended", async || {
            installation(db_conn, other).await.suspended_at.map(|_| ())
        })
        .await;
        // Data kept: the removed repository's and the suspended installation's manifests.
        for r in [&gone, &bee] {
            let sel = synced::selection(db_conn, r.id, "main").await.unwrap();
            assert_eq!(manifests::manifest(db_conn, sel.id).await.unwrap().len(), 1, "{} keeps its files", r.name);
        }
        assert!(repository(db_conn, kept.id).await.removed_at.is_none());
        let project = selections::project_of_repository(db_conn, sea.id).await.unwrap();
        assert!(project.is_some());
        assert_eq!(installation(db_conn, new_org).await.account_login, "new-org");
        assert_eq!(deliveries::Entity::find().count(db_conn).await.unwrap(), webhooks_before, "no webhook");
        let pass = finished_pass(&app, 4).await;
        assert_eq!(pass.actions_total, 4, "{:?}", pass.last_outcome);
        app.stop().await;

        // Unsuspended while stopped, with a push meanwhile: syncing resumes at the new head. And
        // the new installation is uninstalled again: deleted, its data kept.
        fake.unsuspend_installation(other);
        fake.delete_installation(new_org);
        bee.write("b.txt", "b\n");
        bee.commit("while suspended");
        let push = bee.push("main");
        let app = synced::start(&fake, &db, RECONCILE).await;
        let db_conn = &app.app.db;
        synced::wait_synced(&app.app, bee.id, "main", &push.after, WAIT).await;
        assert!(installation(db_conn, other).await.suspended_at.is_none());
        wait_for(&app, "the uninstalled installation is deleted", async || {
            installation(db_conn, new_org).await.deleted_at.map(|_| ())
        })
        .await;
        assert!(repository(db_conn, sea.id).await.removed_at.is_some());
        let sel = synced::selection(db_conn, sea.id, "main").await.unwrap();
        assert_eq!(manifests::manifest(db_conn, sel.id).await.unwrap().len(), 1, "sea keeps its files");
        // Nothing else changed: the pass applied two changes.
        let pass = finished_pass(&app, 6).await;
        assert_eq!(pass.actions_total, 6, "{:?}", pass.last_outcome);
        app.stop().await;
    }
}
