//! What each event means for hubsync's state: installations and repositories are recorded here,
//! everything sync-related is handed to `sync::intake::signal` in the same transaction.
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::Value;

use super::events::{
    Event, Installation, InstallationAction, InstallationEvent, InstallationRepositoriesEvent,
    PushEvent, PushedRef, RefEvent, RepoSummary, RepositoriesAction, Repository, RepositoryAction,
    RepositoryEvent,
};
use crate::{
    git::{BranchName, Sha},
    store::{
        commits, head_commits,
        installations::{self, InstallationFacts},
        repositories::{self, RepositoryFacts},
    },
    sync::intake::{signal, AutoSelect, SyncSignal},
};

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("installation {0} is not known (its installation event has not been processed)")]
    UnknownInstallation(i64),
    #[error("the stored payload no longer parses: {0}")]
    Unreadable(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// How a delivery ended when handling succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Processed,
    /// Nothing to do; the reason is kept with the delivery.
    Ignored(&'static str),
}

/// `auto_select` decides what a newly visible repository starts syncing.
pub async fn handle(
    db: &impl ConnectionTrait,
    auto_select: AutoSelect,
    event: Event,
) -> Result<Outcome, HandleError> {
    let now = Utc::now();
    match event {
        // The stored delivery is the record.
        Event::Ping | Event::AppAuthorization(_) => Ok(Outcome::Processed),
        Event::Installation(e) => installation(db, auto_select, e, now).await,
        Event::InstallationRepositories(e) => {
            installation_repositories(db, auto_select, e, now).await
        }
        Event::Repository(e) => repository(db, auto_select, e, now).await,
        Event::Push(e) => push(db, auto_select, e, now).await,
        Event::Create(e) => created_or_deleted(db, auto_select, e, true, now).await,
        Event::Delete(e) => created_or_deleted(db, auto_select, e, false, now).await,
        Event::Unhandled => Ok(Outcome::Ignored("event not handled")),
    }
}

/// GitHub sends timestamps as ISO 8601 strings (older payloads: epoch seconds).
fn timestamp(v: &Option<Value>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(DateTime::parse_from_rfc3339(s).map_or(now, |t| t.into())),
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .and_then(|s| DateTime::from_timestamp(s, 0))
                .unwrap_or(now),
        ),
        Some(_) => Some(now),
    }
}

fn installation_facts(i: &Installation, now: DateTime<Utc>) -> InstallationFacts {
    let (login, account_id, kind) = match &i.account {
        Some(a) => (
            a.login.clone(),
            a.id,
            a.kind.clone().unwrap_or_else(|| "Enterprise".into()),
        ),
        None => (String::new(), 0, String::new()),
    };
    InstallationFacts {
        id: i.id,
        account_login: login,
        account_id,
        account_type: kind,
        repository_selection: i.repository_selection.clone(),
        suspended_at: timestamp(&i.suspended_at, now),
    }
}

fn summary_facts(installation_id: i64, r: &RepoSummary) -> RepositoryFacts {
    RepositoryFacts {
        id: r.id,
        installation_id,
        full_name: r.full_name.clone().unwrap_or_default(),
        private: r.private.unwrap_or(true),
        default_branch: None,
        archived: None,
    }
}

fn repository_facts(installation_id: i64, r: &Repository) -> RepositoryFacts {
    RepositoryFacts {
        id: r.id,
        installation_id,
        full_name: r.full_name.clone(),
        private: r.private,
        default_branch: r.default_branch.clone().filter(|b| !b.is_empty()),
        archived: Some(r.archived),
    }
}

async fn installation(
    db: &impl ConnectionTrait,
    auto_select: AutoSelect,
    e: InstallationEvent,
    now: DateTime<Utc>,
) -> Result<Outcome, HandleError> {
    let id = e.installation.id;
    if e.action == InstallationAction::Other {
        return Ok(Outcome::Ignored("installation action not handled"));
    }
    // Every installation event carries the whole installation: record it first, so an action
    // on an installation whose `created` was missed still applies.
    installations::upsert(db, installation_facts(&e.installation, now), now).await?;
    match e.action {
        InstallationAction::Created => {
            let repos = e.repositories.unwrap_or_default();
            for r in &repos {
                repositories::upsert_visible(db, &summary_facts(id, r), now).await?;
            }
            let repository_ids = repos.iter().map(|r| r.id).collect();
            signal(
                db,
                auto_select,
                SyncSignal::RepositoriesAdded {
                    installation_id: id,
                    repository_ids,
                },
            )
            .await?;
        }
        InstallationAction::Deleted => {
            installations::mark_deleted(db, id, now).await?;
            repositories::mark_installation_removed(db, id, now).await?;
            signal(
                db,
                auto_select,
                SyncSignal::InstallationStopped {
                    installation_id: id,
                },
            )
            .await?;
        }
        InstallationAction::Suspend => {
            let at = timestamp(&e.installation.suspended_at, now).unwrap_or(now);
            installations::set_suspended(db, id, Some(at), now).await?;
            signal(
                db,
                auto_select,
                SyncSignal::InstallationStopped {
                    installation_id: id,
                },
            )
            .await?;
        }
        InstallationAction::Unsuspend => {
            installations::set_suspended(db, id, None, now).await?;
            signal(
                db,
                auto_select,
                SyncSignal::InstallationResumed {
                    installation_id: id,
                },
            )
            .await?;
        }
        InstallationAction::NewPermissionsAccepted | InstallationAction::Other => {}
    }
    Ok(Outcome::Processed)
}

async fn installation_repositories(
    db: &impl ConnectionTrait,
    auto_select: AutoSelect,
    e: InstallationRepositoriesEvent,
    now: DateTime<Utc>,
) -> Result<Outcome, HandleError> {
    let id = e.installation.id;
    if e.action == RepositoriesAction::Other {
        return Ok(Outcome::Ignored(
            "installation_repositories action not handled",
        ));
    }
    // The payload carries the full installation: record it even if `created` was missed.
    installations::upsert(db, installation_facts(&e.installation, now), now).await?;
    match e.action {
        RepositoriesAction::Added => {
            for r in &e.repositories_added {
                repositories::upsert_visible(db, &summary_facts(id, r), now).await?;
            }
            let repository_ids = e.repositories_added.iter().map(|r| r.id).collect();
            signal(
                db,
                auto_select,
                SyncSignal::RepositoriesAdded {
                    installation_id: id,
                    repository_ids,
                },
            )
            .await?;
        }
        RepositoriesAction::Removed => {
            let ids: Vec<i64> = e.repositories_removed.iter().map(|r| r.id).collect();
            repositories::mark_removed(db, &ids, now).await?;
            signal(
                db,
                auto_select,
                SyncSignal::RepositoriesRemoved {
                    installation_id: id,
                    repository_ids: ids,
                },
            )
            .await?;
        }
        RepositoriesAction::Other => {
            return Ok(Outcome::Ignored(
                "installation_repositories action not handled",
            ))
        }
    }
    Ok(Outcome::Processed)
}

async fn require_installation(db: &impl ConnectionTrait, id: i64) -> Result<(), HandleError> {
    if installations::exists(db, id).await? {
        Ok(())
    } else {
        Err(HandleError::UnknownInstallation(id))
    }
}

/// The installation a repository-scoped event came through; None for events sent to a plain
/// repository webhook rather than to the app.
async fn known_installation(
    db: &impl ConnectionTrait,
    installation: Option<i64>,
) -> Result<Option<i64>, HandleError> {
    match installation {
        Some(id) => require_installation(db, id).await.map(|()| Some(id)),
        None => Ok(None),
    }
}

async fn repository(
    db: &impl ConnectionTrait,
    auto_select: AutoSelect,
    e: RepositoryEvent,
    now: DateTime<Utc>,
) -> Result<Outcome, HandleError> {
    let Some(inst) = known_installation(db, e.installation.map(|i| i.id)).await? else {
        return Ok(Outcome::Ignored("no installation in the payload"));
    };
    let facts = repository_facts(inst, &e.repository);
    let before = repositories::find(db, facts.id).await?;
    match e.action {
        RepositoryAction::Deleted => {
            if before.is_none() {
                repositories::upsert_seen(db, &facts, now).await?;
            }
            repositories::mark_removed(db, &[facts.id], now).await?;
            signal(
                db,
                auto_select,
                SyncSignal::RepositoriesRemoved {
                    installation_id: inst,
                    repository_ids: vec![facts.id],
                },
            )
            .await?;
        }
        RepositoryAction::Other => return Ok(Outcome::Ignored("repository action not handled")),
        // Renamed, transferred, edited, (un)archived, created, privatized, publicized: the
        // payload carries the repository as it is now.
        _ => {
            repositories::upsert_seen(db, &facts, now).await?;
            let old_branch = before.map(|r| r.default_branch);
            if let Some(new) = &facts.default_branch {
                if old_branch.as_deref() != Some(new.as_str()) {
                    if let Ok(branch) = BranchName::parse(new) {
                        let repository_id = facts.id;
                        signal(
                            db,
                            auto_select,
                            SyncSignal::DefaultBranchChanged {
                                repository_id,
                                branch,
                            },
                        )
                        .await?;
                    }
                }
            }
        }
    }
    Ok(Outcome::Processed)
}

async fn push(
    db: &impl ConnectionTrait,
    auto_select: AutoSelect,
    e: PushEvent,
    now: DateTime<Utc>,
) -> Result<Outcome, HandleError> {
    let PushedRef::Branch(branch) = e.git_ref else {
        return Ok(Outcome::Ignored("not a branch"));
    };
    let Some(inst) = known_installation(db, e.installation.map(|i| i.id)).await? else {
        return Ok(Outcome::Ignored("no installation in the payload"));
    };
    let repository_id = e.repository.id;
    repositories::upsert_seen(db, &repository_facts(inst, &e.repository), now).await?;
    if let Some(head) = e.head_commit.as_ref().filter(|h| h.id == e.after.as_str()) {
        head_commits::record(db, repository_id, &e.after, &head.info()).await?;
    }
    let s = if e.deleted || e.after.is_zero() {
        SyncSignal::BranchDeleted {
            repository_id,
            branch,
        }
    } else if e.created {
        // The push that creates a branch: its run is labelled `create`, whichever of GitHub's
        // `push` and `create` deliveries comes first.
        SyncSignal::BranchCreated {
            repository_id,
            branch,
            head: Some(e.after),
        }
    } else {
        let commits = e.commits.into_iter().map(|c| c.id);
        let (before, forced) = (e.before.as_deref(), e.forced);
        commits::record_push(
            db,
            repository_id,
            &branch,
            &e.after,
            before,
            forced,
            commits,
        )
        .await?;
        SyncSignal::BranchPushed {
            repository_id,
            branch,
            head: e.after,
        }
    };
    signal(db, auto_select, s).await?;
    Ok(Outcome::Processed)
}

async fn created_or_deleted(
    db: &impl ConnectionTrait,
    auto_select: AutoSelect,
    e: RefEvent,
    created: bool,
    now: DateTime<Utc>,
) -> Result<Outcome, HandleError> {
    let Some(branch) = e.branch else {
        return Ok(Outcome::Ignored("tags are not synced"));
    };
    let Some(inst) = known_installation(db, e.installation.map(|i| i.id)).await? else {
        return Ok(Outcome::Ignored("no installation in the payload"));
    };
    let repository_id = e.repository.id;
    repositories::upsert_seen(db, &repository_facts(inst, &e.repository), now).await?;
    let s = if created {
        // The create event carries no sha: the sync layer resolves the head itself.
        SyncSignal::BranchCreated {
            repository_id,
            branch,
            head: None::<Sha>,
        }
    } else {
        SyncSignal::BranchDeleted {
            repository_id,
            branch,
        }
    };
    signal(db, auto_select, s).await?;
    Ok(Outcome::Processed)
}
