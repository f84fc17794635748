//! Reading projects with what they are about: repository, installation and branch selections.
use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::entities::{installations, project_syncs, projects, repositories};

#[derive(Debug, Clone)]
pub struct ProjectRecord {
    pub project: projects::Model,
    pub repository: repositories::Model,
    pub installation: installations::Model,
    pub selections: Vec<project_syncs::Model>,
}

impl ProjectRecord {
    /// The ids of its branch selections, patterns left out (they hold no manifest of their own).
    pub(crate) fn branch_ids(&self) -> Vec<i64> {
        self.selections
            .iter()
            .filter(|s| !s.is_pattern)
            .map(|s| s.id)
            .collect()
    }

    /// Why syncing is off for this project, if it is.
    pub(crate) fn stopped_because(&self) -> Option<&'static str> {
        if self.installation.deleted_at.is_some() {
            Some("the app was uninstalled")
        } else if self.installation.suspended_at.is_some() {
            Some("the installation is suspended")
        } else if self.repository.removed_at.is_some() {
            Some("the repository was removed from the installation")
        } else {
            None
        }
    }
}

pub(crate) async fn load_all(db: &impl ConnectionTrait) -> Result<Vec<ProjectRecord>, DbErr> {
    let projects = projects::Entity::find()
        .order_by_asc(projects::Column::Id)
        .all(db)
        .await?;
    assemble(db, projects).await
}

pub async fn load(db: &impl ConnectionTrait, id: i64) -> Result<Option<ProjectRecord>, DbErr> {
    let projects = projects::Entity::find_by_id(id).all(db).await?;
    Ok(assemble(db, projects).await?.pop())
}

async fn assemble(
    db: &impl ConnectionTrait,
    projects: Vec<projects::Model>,
) -> Result<Vec<ProjectRecord>, DbErr> {
    let repo_ids: Vec<i64> = projects.iter().map(|p| p.repository_id).collect();
    let repos: HashMap<i64, repositories::Model> = repositories::Entity::find()
        .filter(repositories::Column::Id.is_in(repo_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let inst_ids: Vec<i64> = repos.values().map(|r| r.installation_id).collect();
    let insts: HashMap<i64, installations::Model> = installations::Entity::find()
        .filter(installations::Column::Id.is_in(inst_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let project_ids: Vec<i64> = projects.iter().map(|p| p.id).collect();
    let mut sels: HashMap<i64, Vec<project_syncs::Model>> = HashMap::new();
    for s in project_syncs::Entity::find()
        .filter(project_syncs::Column::ProjectId.is_in(project_ids))
        .order_by_asc(project_syncs::Column::Id)
        .all(db)
        .await?
    {
        sels.entry(s.project_id).or_default().push(s);
    }
    Ok(projects
        .into_iter()
        .filter_map(|project| {
            let repository = repos.get(&project.repository_id)?.clone();
            let installation = insts.get(&repository.installation_id)?.clone();
            let selections = sels.remove(&project.id).unwrap_or_default();
            Some(ProjectRecord {
                project,
                repository,
                installation,
                selections,
            })
        })
        .collect())
}
