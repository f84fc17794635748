//! Every handled event and action, fed from fixtures/webhooks through the real endpoint, and
//! what each one changes in hubsync's state.
use hubsync::store::entities::{deliveries, installations, repositories};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::{
    db_test,
    support::{spawn_app_with, webhooks::webhook_config},
};

async fn repo(db: &DatabaseConnection, id: i64) -> repositories::Model {
    repositories::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("repository {id} is stored"))
}

async fn installation(db: &DatabaseConnection) -> installations::Model {
    installations::Entity::find_by_id(42)
        .one(db)
        .await
        .unwrap()
        .expect("installation 42 is stored")
}

db_test! {
    async fn installation_lifecycle(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        let conn = &app.app.db;

        let d = app.apply("installation", "installation.created", "processed").await;
        assert_eq!((d.event.as_str(), d.action.as_deref(), d.installation_id, d.hook_id), ("installation", Some("created"), Some(42), Some(512345678)));
        assert_eq!(d.headers["x-github-event"], "installation");
        let i = installation(conn).await;
        assert_eq!((i.account_login.as_str(), i.account_id, i.account_type.as_str()), ("octo-org", 9919, "Organization"));
        assert_eq!(i.repository_selection.as_deref(), Some("selected"));
        assert_eq!((i.suspended_at, i.deleted_at), (None, None));
        let hello = repo(conn, 1296269).await;
        assert_eq!((hello.installation_id, hello.full_name.as_str(), hello.private), (42, "octo-org/hello-world", true));
        let docs = repo(conn, 1296270).await;
        assert_eq!((docs.full_name.as_str(), docs.private, docs.removed_at), ("octo-org/docs", false, None));

        app.apply("installation", "installation.new_permissions_accepted", "processed").await;
        assert_eq!(installation(conn).await.account_login, "octo-org");

        app.apply("installation", "installation.suspend", "processed").await;
        let suspended = installation(conn).await.suspended_at.expect("suspended");
        assert_eq!(suspended.to_rfc3339(), "2026-11-26T09:30:00+00:00");
        app.apply("installation", "installation.unsuspend", "processed").await;
        assert_eq!(installation(conn).await.suspended_at, None);

        app.apply("installation", "installation.deleted", "processed").await;
        assert!(installation(conn).await.deleted_at.is_some());
        assert!(repo(conn, 1296269).await.removed_at.is_some(), "kept, marked removed");
        assert!(repo(conn, 1296270).await.removed_at.is_some());

        // Installing again brings everything back.
        app.apply("installation", "installation.created", "processed").await;
        assert_eq!(installation(conn).await.deleted_at, None);
        assert_eq!(repo(conn, 1296269).await.removed_at, None);
        app.stop().await;
    }
}

db_test! {
    async fn installation_events_apply_even_when_created_was_missed(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        let conn = &app.app.db;
        app.apply("installation", "installation.suspend", "processed").await;
        assert!(installation(conn).await.suspended_at.is_some());
        app.apply("installation_repositories", "installation_repositories.removed", "processed").await;
        assert_eq!(installation(conn).await.account_login, "octo-org");
        app.apply("installation", "installation.deleted", "processed").await;
        assert!(installation(conn).await.deleted_at.is_some());
        app.stop().await;
    }
}

db_test! {
    async fn repositories_added_and_removed(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        let conn = &app.app.db;
        app.apply("installation", "installation.created", "processed").await;
        app.apply("installation_repositories", "installation_repositories.added", "processed").await;
        let api = repo(conn, 1296271).await;
        assert_eq!((api.installation_id, api.full_name.as_str(), api.removed_at), (42, "octo-org/api", None));

        app.apply("installation_repositories", "installation_repositories.removed", "processed").await;
        let docs = repo(conn, 1296270).await;
        assert!(docs.removed_at.is_some(), "the removed repository is kept and marked");
        assert_eq!(repo(conn, 1296269).await.removed_at, None, "the others are untouched");
        app.stop().await;
    }
}

db_test! {
    async fn repository_events_follow_the_repository_by_id(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        let conn = &app.app.db;
        app.apply("installation", "installation.created", "processed").await;

        app.apply("repository", "repository.renamed", "processed").await;
        let r = repo(conn, 1296269).await;
        assert_eq!(r.full_name, "octo-org/hello-universe");
        assert_eq!(r.default_branch, "main", "the full repository object fills in the default branch");

        app.apply("repository", "repository.edited", "processed").await;
        assert_eq!(repo(conn, 1296269).await.default_branch, "trunk");

        app.apply("repository", "repository.archived", "processed").await;
        assert!(repo(conn, 1296269).await.archived);
        app.apply("repository", "repository.unarchived", "processed").await;
        assert!(!repo(conn, 1296269).await.archived);

        app.apply("repository", "repository.transferred", "processed").await;
        let r = repo(conn, 1296269).await;
        assert_eq!((r.id, r.full_name.as_str()), (1296269, "octo-labs/hello-world"));

        app.apply("repository", "repository.deleted", "processed").await;
        let docs = repo(conn, 1296270).await;
        assert!(docs.removed_at.is_some(), "deleted on GitHub: kept here, marked removed");
        app.stop().await;
    }
}

db_test! {
    async fn branch_events_are_processed_and_tag_events_ignored(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        app.apply("installation", "installation.created", "processed").await;
        for (event, name, status) in [
            ("push", "push", "processed"),
            ("push", "push.forced", "processed"),
            ("push", "push.branch_deleted", "processed"),
            ("push", "push.tag", "ignored"),
            ("create", "create.branch", "processed"),
            ("create", "create.tag", "ignored"),
            ("delete", "delete.branch", "processed"),
            ("delete", "delete.tag", "ignored"),
        ] {
            let d = app.apply(event, name, status).await;
            assert_eq!(d.installation_id, Some(42), "{name}");
        }
        let d = app.apply("push", "push", "processed").await;
        assert_eq!(d.action, None, "push has no action");
        app.stop().await;
    }
}

db_test! {
    async fn ping_authorization_and_unhandled_events_are_recorded(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        let ping = app.apply("ping", "ping", "processed").await;
        assert_eq!(ping.installation_id, None);
        let revoked = app.apply("github_app_authorization", "github_app_authorization.revoked", "processed").await;
        assert_eq!(revoked.action.as_deref(), Some("revoked"));
        // Events hubsync does not act on are accepted and stored as ignored straight away.
        let id = app.deliver_fixture("star", "star.created").await;
        let star = app.delivery(&id).await.unwrap();
        assert_eq!((star.status.as_str(), star.action.as_deref(), star.attempts), ("ignored", Some("created"), 0));
        let payload: serde_json::Value = serde_json::from_str(&star.payload).unwrap();
        assert_eq!(payload["repository"]["id"], 1296269, "the exact payload is kept");
        let all = deliveries::Entity::find().filter(deliveries::Column::Status.eq("received")).all(&app.app.db).await.unwrap();
        assert!(all.is_empty(), "nothing left waiting: {all:?}");
        app.stop().await;
    }
}
