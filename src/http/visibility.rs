//! What a `Caller` may see and change, project by project. The admin sees and changes
//! everything; an API token is limited to its scope and, optionally, one project; a user signed
//! in with GitHub sees the projects of the repositories GitHub lets them reach (cached in
//! `user_repositories`, re-checked when stale) and changes those whose installation account they
//! administer. A project the caller cannot see answers 404, as if absent; one they may only read
//! answers 403 to changes.
use std::collections::{HashMap, HashSet};

use super::{
    auth::{no_project, Caller, TokenCaller},
    csrf, ApiError, AppState,
};
use crate::ids::RepositoryId;
use crate::store::{
    entities::user_repositories::Role,
    projects::ProjectRecord,
    scope::{self, Scope},
    scoped,
    tokens::TokenScope,
    users,
};

fn forbidden(p: &ProjectRecord) -> ApiError {
    ApiError::Forbidden(format!(
        "you can read {} but not change it: only admins of {} on GitHub may change selections \
         and start syncs",
        p.repository.full_name, p.installation.account_login
    ))
}

impl Caller {
    /// The session's cookie value, when the caller came with one.
    pub fn session(&self) -> Option<&str> {
        match self {
            Self::Admin(a) => a.session.as_deref(),
            Self::User(u) => Some(&u.session),
            Self::Token(_) => None,
        }
    }

    /// The CSRF token the session's forms carry.
    pub fn csrf(&self) -> Option<String> {
        self.session().map(csrf::csrf_token)
    }

    /// State-changing form posts must come from a page of this session.
    pub(crate) fn check_csrf(&self, presented: &str) -> Result<(), ApiError> {
        match self {
            Self::Admin(a) => csrf::check_csrf(a.session.as_deref(), presented),
            Self::User(u) => csrf::check_csrf(Some(&u.session), presented),
            // Bearer callers are not browsers: no ambient credentials to forge.
            Self::Token(_) => Ok(()),
        }
    }

    pub(crate) fn is_admin(&self) -> bool {
        matches!(self, Self::Admin(_))
    }

    /// The GitHub user's login, for the page header.
    pub fn login(&self) -> Option<&str> {
        match self {
            Self::User(u) => Some(&u.login),
            _ => None,
        }
    }

    /// The installations this caller's reads may touch (store::scope): all for the admin and
    /// unlimited tokens; a limited token's project's; the ones GitHub lets a user reach.
    pub async fn scope(&self, state: &AppState) -> Result<Scope, ApiError> {
        Ok(match self {
            Self::Admin(_)
            | Self::Token(TokenCaller {
                project_id: None, ..
            }) => Scope::All,
            Self::Token(TokenCaller {
                project_id: Some(p),
                ..
            }) => scope::of_project(&state.db, *p).await?,
            Self::User(u) => scope::of_user(&state.db, u.user_id).await?,
        })
    }

    /// Every project within this caller's scope, before `visible` narrows it further.
    pub async fn projects(&self, state: &AppState) -> Result<Vec<ProjectRecord>, ApiError> {
        Ok(scoped::projects(&state.db, &self.scope(state).await?).await?)
    }

    /// The repositories a user may see, with their role; None: no per-repository limit.
    async fn access(&self, state: &AppState) -> Result<Option<HashMap<i64, Role>>, ApiError> {
        match self {
            Self::User(u) => Ok(Some(users::access(&state.db, u.user_id).await?)),
            _ => Ok(None),
        }
    }

    /// The caller's role for this project; None: they cannot see it. A `write` token, like the
    /// admin, may change what it sees; a `read` token only reads.
    pub async fn role(
        &self,
        state: &AppState,
        p: &ProjectRecord,
    ) -> Result<Option<Role>, ApiError> {
        match self {
            Self::Admin(_) => Ok(Some(Role::Admin)),
            Self::Token(_) if !self.sees(p.project.id) => Ok(None),
            Self::Token(t) => Ok(Some(match t.scope {
                TokenScope::Write => Role::Admin,
                TokenScope::Read => Role::Member,
            })),
            Self::User(u) => {
                Ok(users::role(&state.db, u.user_id, RepositoryId(p.repository.id)).await?)
            }
        }
    }

    /// May this caller change the project (selections, syncs)?
    pub(crate) async fn can_change(
        &self,
        state: &AppState,
        p: &ProjectRecord,
    ) -> Result<bool, ApiError> {
        Ok(self.role(state, p).await? == Some(Role::Admin))
    }

    /// The project, if this caller may see it (404 otherwise, the same as a missing one).
    pub async fn project(&self, state: &AppState, id: i64) -> Result<ProjectRecord, ApiError> {
        if !self.sees(id) {
            return Err(no_project(id));
        }
        let p = scoped::project(&state.db, &self.scope(state).await?, id)
            .await?
            .ok_or_else(|| no_project(id))?;
        match self.role(state, &p).await? {
            Some(_) => Ok(p),
            None => Err(no_project(id)),
        }
    }

    /// The project, if this caller may change it (404 when invisible, 403 when read-only).
    pub(crate) async fn writable_project(
        &self,
        state: &AppState,
        id: i64,
    ) -> Result<ProjectRecord, ApiError> {
        self.require_write()?;
        let p = self.project(state, id).await?;
        match self.role(state, &p).await? {
            Some(Role::Admin) => Ok(p),
            _ => Err(forbidden(&p)),
        }
    }

    /// Keeps the projects this caller may see.
    pub async fn visible(
        &self,
        state: &AppState,
        all: Vec<ProjectRecord>,
    ) -> Result<Vec<ProjectRecord>, ApiError> {
        let access = self.access(state).await?;
        Ok(all
            .into_iter()
            .filter(|p| self.sees(p.project.id))
            .filter(|p| {
                access
                    .as_ref()
                    .is_none_or(|a| a.contains_key(&p.repository.id))
            })
            .collect())
    }

    /// The ids of the projects a user may see; None: no per-user limit (a token's own limit is
    /// `only_project`).
    pub(crate) async fn visible_ids(
        &self,
        state: &AppState,
    ) -> Result<Option<HashSet<i64>>, ApiError> {
        match self {
            Self::User(u) => Ok(Some(users::visible_projects(&state.db, u.user_id).await?)),
            _ => Ok(None),
        }
    }

    /// The change feed's project: a token's own (`narrow`); a user reads one project they can
    /// see at a time.
    pub(crate) async fn feed_project(
        &self,
        state: &AppState,
        asked: Option<i64>,
    ) -> Result<Option<i64>, ApiError> {
        let project_id = self.narrow(asked)?;
        if let Self::User(_) = self {
            let Some(id) = project_id else {
                return Err(ApiError::BadRequest(
                    "pass project_id: a user signed in with GitHub reads one project's feed at a \
                     time"
                        .into(),
                ));
            };
            self.project(state, id).await?;
        }
        Ok(project_id)
    }
}
