//! Rows a test needs before the code under test runs: an installation and its repositories.
use chrono::Utc;
use hubsync::store::entities::{installations, repositories};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

pub async fn installation(db: &impl ConnectionTrait, id: i64, login: &str) -> installations::Model {
    installations::ActiveModel {
        id: Set(id),
        account_login: Set(login.into()),
        account_id: Set(id * 10),
        account_type: Set("Organization".into()),
        repository_selection: Set(Some("selected".into())),
        suspended_at: Set(None),
        deleted_at: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .unwrap()
}

pub async fn repository(
    db: &impl ConnectionTrait,
    installation_id: i64,
    id: i64,
    full_name: &str,
) -> repositories::Model {
    repositories::ActiveModel {
        id: Set(id),
        installation_id: Set(installation_id),
        full_name: Set(full_name.into()),
        default_branch: Set("main".into()),
        private: Set(true),
        archived: Set(false),
        removed_at: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .unwrap()
}

/// Installation 1 with repository 100 (`full_name`), made a project through the sync intake as
/// an installation delivery would. Returns the project id.
pub async fn project(db: &impl ConnectionTrait, full_name: &str) -> i64 {
    use hubsync::sync::intake::{signal, AutoSelect, SyncSignal};
    installation(db, 1, "octo-org").await;
    repository(db, 1, 100, full_name).await;
    let added = SyncSignal::RepositoriesAdded {
        installation_id: 1,
        repository_ids: vec![100],
    };
    signal(db, AutoSelect::DefaultBranch, added).await.unwrap();
    hubsync::store::selections::project_of_repository(db, 100)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// A test app with the admin token `token` (plus `vars`) and one seeded project.
pub async fn app_with_project(
    db: &super::TestDb,
    token: &str,
    full_name: &str,
    vars: &[(&str, &str)],
) -> (super::TestApp, i64) {
    let mut all = vec![("HUBSYNC_ADMIN_TOKEN", token)];
    all.extend_from_slice(vars);
    let app = super::spawn_app_with(super::test_config(db, &all)).await;
    let id = project(&app.app.db, full_name).await;
    (app, id)
}

/// Installation 1 with `n` repositories (ids 100, 101, ...) made projects through the sync
/// intake. Returns the project ids.
pub async fn projects(db: &impl ConnectionTrait, n: i64) -> Vec<i64> {
    use hubsync::sync::intake::{signal, AutoSelect, SyncSignal};
    installation(db, 1, "big-org").await;
    let ids: Vec<i64> = (0..n).map(|i| 100 + i).collect();
    for id in &ids {
        repository(db, 1, *id, &format!("big-org/repo-{id}")).await;
    }
    let added = SyncSignal::RepositoriesAdded {
        installation_id: 1,
        repository_ids: ids.clone(),
    };
    signal(db, AutoSelect::DefaultBranch, added).await.unwrap();
    let mut projects = Vec::new();
    for id in ids {
        let p = hubsync::store::selections::project_of_repository(db, id)
            .await
            .unwrap()
            .unwrap();
        projects.push(p.id);
    }
    projects
}
