//! Installations and repositories changed while hubsync was not listening: compare
//! `GET /app/installations` and each installation's `GET /installation/repositories` with what
//! is stored, and replay each difference as the webhook GitHub would have sent (installation
//! created, deleted, suspend, unsuspend; repositories added, removed; repository edited) through
//! the webhook layer's own handler. Nothing is deleted: removed repositories and stopped
//! installations keep their data.
use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::Value;

use super::{leased, pause_for, HealError, Healing};
use crate::{
    github::{AppInstallation, GithubApp, Repository as GithubRepository},
    store::{
        self,
        entities::{installations, repositories},
        passes::{Finished, PassKind},
    },
    webhook::{
        events::{
            Account, Event, Installation, InstallationAction, InstallationEvent, InstallationRef,
            InstallationRepositoriesEvent, RepoSummary, RepositoriesAction, Repository,
            RepositoryAction, RepositoryEvent,
        },
        handle::handle,
    },
};

/// One pass; None when another replica holds the lease or a rate-limit pause is on.
pub async fn pass(h: &Healing, app: &Arc<GithubApp>) -> Result<Option<Finished>, DbErr> {
    leased(h, PassKind::Installations, |_| async move {
        match reconcile(h, app).await {
            Ok((changes, skipped)) => Finished {
                outcome: if skipped == 0 {
                    format!("{changes} installation changes applied")
                } else {
                    format!("{changes} installation changes applied; {skipped} installations could not be listed")
                },
                actions: changes as i64,
                ..Default::default()
            },
            Err(e) => {
                let not_before = match &e {
                    HealError::Github(g) => pause_for(g),
                    _ => None,
                };
                Finished {
                    outcome: "failed".into(),
                    error: Some(e.to_string()),
                    not_before,
                    ..Default::default()
                }
            }
        }
    })
    .await
}

/// One installation, now: the app's setup URL brought its installer back, and the page should
/// show its repositories without waiting for the webhook or the next pass. An id GitHub does not
/// know as an installation of this app changes nothing (the setup URL's id can be forged).
pub(crate) async fn reconcile_one(
    h: &Healing,
    app: &Arc<GithubApp>,
    installation_id: i64,
) -> Result<usize, HealError> {
    let Some(inst) = app.get_installation(installation_id).await? else {
        tracing::info!(
            installation = installation_id,
            "the setup URL named an installation GitHub does not know"
        );
        return Ok(0);
    };
    let stored = installations::Entity::find_by_id(inst.id)
        .one(&h.db)
        .await?;
    let known = stored.filter(|k| k.deleted_at.is_none());
    if inst.suspended_at.is_some() {
        return Ok(0);
    }
    let repos = app.installation(inst.id).list_repositories().await?;
    let facts = webhook_installation(&inst);
    let Some(_) = known else {
        let summaries = repos.iter().map(summary).collect();
        let mut events = vec![installation_event(
            InstallationAction::Created,
            facts,
            Some(summaries),
        )];
        events.extend(repos.iter().map(|r| edited(inst.id, r)));
        apply(h, events).await?;
        return Ok(repos.len());
    };
    let (events, changes) = repository_changes(h, inst.id, facts, &repos).await?;
    apply(h, events).await?;
    Ok(changes)
}

/// Returns the changes applied and the installations whose repositories could not be listed.
async fn reconcile(h: &Healing, app: &Arc<GithubApp>) -> Result<(usize, usize), HealError> {
    // The whole list first: an installation is only taken as deleted from a complete one.
    let listed = app.list_installations().await?;
    let stored: HashMap<i64, installations::Model> = installations::Entity::find()
        .all(&h.db)
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let mut changes = 0;
    let mut skipped = 0;
    for inst in &listed {
        let known = stored.get(&inst.id).filter(|k| k.deleted_at.is_none());
        let facts = webhook_installation(inst);
        if inst.suspended_at.is_some() {
            // GitHub gives no token for a suspended installation: its repositories wait.
            if known.is_none_or(|k| k.suspended_at.is_none()) {
                apply(
                    h,
                    vec![installation_event(InstallationAction::Suspend, facts, None)],
                )
                .await?;
                tracing::info!(
                    installation = inst.id,
                    "installation suspended while hubsync was away"
                );
                changes += 1;
            }
            continue;
        }
        let repos = match app.installation(inst.id).list_repositories().await {
            Ok(r) => r,
            Err(e) if pause_for(&e).is_some() => return Err(e.into()),
            Err(e) => {
                tracing::warn!(installation = inst.id, error = %e, "listing the installation's repositories failed");
                skipped += 1;
                continue;
            }
        };
        let mut events = Vec::new();
        let Some(known) = known else {
            let summaries = repos.iter().map(summary).collect();
            events.push(installation_event(
                InstallationAction::Created,
                facts,
                Some(summaries),
            ));
            // The listing names each default branch, which installation events leave out.
            events.extend(repos.iter().map(|r| edited(inst.id, r)));
            tracing::info!(
                installation = inst.id,
                repositories = repos.len(),
                "installation created while hubsync was away"
            );
            apply(h, events).await?;
            changes += 1;
            continue;
        };
        if known.suspended_at.is_some() {
            events.push(installation_event(
                InstallationAction::Unsuspend,
                facts.clone(),
                None,
            ));
            tracing::info!(
                installation = inst.id,
                "installation unsuspended while hubsync was away"
            );
        }
        changes += events.len();
        let (repo_events, repo_changes) = repository_changes(h, inst.id, facts, &repos).await?;
        events.extend(repo_events);
        changes += repo_changes;
        apply(h, events).await?;
    }
    let on_github: HashSet<i64> = listed.iter().map(|i| i.id).collect();
    for gone in stored
        .values()
        .filter(|s| s.deleted_at.is_none() && !on_github.contains(&s.id))
    {
        let facts = stored_installation(gone);
        apply(
            h,
            vec![installation_event(InstallationAction::Deleted, facts, None)],
        )
        .await?;
        tracing::info!(
            installation = gone.id,
            "installation deleted while hubsync was away"
        );
        changes += 1;
    }
    Ok((changes, skipped))
}

/// Repositories added to, removed from, or changed in an installation, as events.
async fn repository_changes(
    h: &Healing,
    installation_id: i64,
    facts: Installation,
    repos: &[GithubRepository],
) -> Result<(Vec<Event>, usize), DbErr> {
    let stored: HashMap<i64, repositories::Model> = repositories::Entity::find()
        .filter(repositories::Column::InstallationId.eq(installation_id))
        .filter(repositories::Column::RemovedAt.is_null())
        .all(&h.db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let listed: HashSet<i64> = repos.iter().map(|r| r.id).collect();
    let added: Vec<&GithubRepository> = repos
        .iter()
        .filter(|r| !stored.contains_key(&r.id))
        .collect();
    let removed: Vec<RepoSummary> = stored
        .values()
        .filter(|r| !listed.contains(&r.id))
        .map(|r| RepoSummary {
            id: r.id,
            full_name: Some(r.full_name.clone()),
            private: Some(r.private),
        })
        .collect();
    let changed: Vec<&GithubRepository> = repos
        .iter()
        .filter(|r| {
            stored.get(&r.id).is_some_and(|s| {
                s.full_name != r.full_name.to_string()
                    || s.default_branch != r.default_branch.as_str()
                    || s.archived != r.archived
                    || s.private != r.private
            })
        })
        .collect();
    let mut events = Vec::new();
    if !added.is_empty() {
        tracing::info!(
            installation = installation_id,
            repositories = added.len(),
            "repositories added while hubsync was away"
        );
        events.push(Event::InstallationRepositories(
            InstallationRepositoriesEvent {
                action: RepositoriesAction::Added,
                installation: facts.clone(),
                repositories_added: added.iter().map(|r| summary(r)).collect(),
                repositories_removed: Vec::new(),
            },
        ));
    }
    if !removed.is_empty() {
        tracing::info!(
            installation = installation_id,
            repositories = removed.len(),
            "repositories removed while hubsync was away"
        );
        events.push(Event::InstallationRepositories(
            InstallationRepositoriesEvent {
                action: RepositoriesAction::Removed,
                installation: facts,
                repositories_added: Vec::new(),
                repositories_removed: removed.clone(),
            },
        ));
    }
    events.extend(
        added
            .iter()
            .chain(&changed)
            .map(|r| edited(installation_id, r)),
    );
    let n = added.len() + removed.len() + changed.len();
    Ok((events, n))
}

/// Handles the events in one transaction, as the webhook processor would, then wakes the sync
/// layer.
async fn apply(h: &Healing, events: Vec<Event>) -> Result<(), HealError> {
    if events.is_empty() {
        return Ok(());
    }
    let txn = store::begin_write(&h.db).await?;
    for event in events {
        handle(&txn, h.auto_select, event).await?;
    }
    txn.commit().await?;
    h.nudge.nudge();
    Ok(())
}

fn installation_event(
    action: InstallationAction,
    installation: Installation,
    repositories: Option<Vec<RepoSummary>>,
) -> Event {
    Event::Installation(InstallationEvent {
        action,
        installation,
        repositories,
    })
}

fn webhook_installation(i: &AppInstallation) -> Installation {
    Installation {
        id: i.id,
        account: i.account.as_ref().map(|a| Account {
            login: a.login.clone(),
            id: a.id,
            kind: a.kind.clone(),
        }),
        repository_selection: i.repository_selection.clone(),
        suspended_at: i.suspended_at.clone().map(Value::String),
    }
}

fn stored_installation(i: &installations::Model) -> Installation {
    Installation {
        id: i.id,
        account: Some(Account {
            login: i.account_login.clone(),
            id: i.account_id,
            kind: Some(i.account_type.clone()),
        }),
        repository_selection: i.repository_selection.clone(),
        suspended_at: i.suspended_at.map(|t| Value::String(t.to_rfc3339())),
    }
}

fn summary(r: &GithubRepository) -> RepoSummary {
    RepoSummary {
        id: r.id,
        full_name: Some(r.full_name.to_string()),
        private: Some(r.private),
    }
}

/// `repository edited` with the repository as GitHub lists it now (name, default branch...).
fn edited(installation_id: i64, r: &GithubRepository) -> Event {
    Event::Repository(RepositoryEvent {
        action: RepositoryAction::Edited,
        repository: Repository {
            id: r.id,
            full_name: r.full_name.to_string(),
            private: r.private,
            default_branch: Some(r.default_branch.as_str().to_owned()),
            archived: r.archived,
        },
        installation: Some(InstallationRef {
            id: installation_id,
        }),
    })
}
