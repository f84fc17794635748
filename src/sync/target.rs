//! The branch a run syncs, as the worker looked it up for the run.
use crate::{
    git::BranchName,
    github::RepoName,
    store::{entities::project_syncs, scope::Scope},
};

/// What the run needs to know about its branch.
pub struct Target {
    pub project_id: i64,
    /// The run's transactions are scoped to it (store::scope).
    pub installation_id: i64,
    pub selection: project_syncs::Model,
    pub repo: RepoName,
    pub branch: BranchName,
}

impl Target {
    /// The installation the worker processes: its run's writes may touch no other.
    pub fn scope(&self) -> Scope {
        Scope::installation(self.installation_id)
    }
}
