//! What can stop a sync run, and whether another attempt may get further.
use sea_orm::DbErr;

use crate::github::GithubError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    #[error(transparent)]
    Github(#[from] GithubError),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("blob {sha} from GitHub does not match its sha: refusing corrupt content")]
    Corrupt { sha: String },
    #[error("the run's lease was lost to another worker")]
    LeaseLost,
}

impl RunError {
    /// Worth another attempt later: GitHub outages and rate limits, database hiccups.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Github(e) => e.is_transient(),
            Self::Db(_) | Self::Corrupt { .. } => true,
            Self::LeaseLost => false,
        }
    }
}
