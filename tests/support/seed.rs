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
