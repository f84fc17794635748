//! Who is looking, for routes that people signed in with GitHub may use too: the admin (the
//! admin token, or a session opened with it: sees and changes everything) or a GitHub user (sees
//! the projects of repositories GitHub lets them reach; changes them where they are an admin of
//! the installation's account). A project the viewer cannot see answers 404, as if absent; one
//! they may only read answers 403 to changes.
use std::collections::HashMap;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::{
    api::projects::find,
    auth::{self, Admin, SESSION_COOKIE},
    signin::access,
    ApiError, AppState,
};
use crate::store::{entities::user_repositories::Role, projects::ProjectRecord, sessions, users};

pub enum Viewer {
    Admin(Admin),
    User(UserViewer),
}

pub struct UserViewer {
    /// The session cookie's value (for CSRF tokens).
    pub session: String,
    pub user_id: i64,
    pub login: String,
}

impl FromRequest for Viewer {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match Admin::from_request(&req, &mut Payload::None).await {
                Ok(admin) => Ok(Viewer::Admin(admin)),
                Err(ApiError::Unauthorized(why)) => match user(&req).await? {
                    Some(u) => Ok(Viewer::User(u)),
                    None => Err(ApiError::Unauthorized(why)),
                },
                Err(e) => Err(e),
            }
        })
    }
}

/// The GitHub user whose live session the cookie names, with their access re-checked if stale.
async fn user(req: &HttpRequest) -> Result<Option<UserViewer>, ApiError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let state: &web::Data<AppState> = auth::state(req)?;
    let Some(session) = sessions::find_user(&state.db, cookie.value()).await? else {
        return Ok(None);
    };
    let Some(user_id) = session.user_id else {
        return Ok(None);
    };
    auth::same_origin(req, state, cookie.value())?;
    let login = access::ensure_fresh(state, user_id).await?;
    Ok(Some(UserViewer {
        session: cookie.value().to_owned(),
        user_id,
        login,
    }))
}

fn forbidden(p: &ProjectRecord) -> ApiError {
    ApiError::Forbidden(format!(
        "you can read {} but not change it: only admins of {} on GitHub may change selections \
         and start syncs",
        p.repository.full_name, p.installation.account_login
    ))
}

impl Viewer {
    /// The session's cookie value, when the viewer came with one.
    pub fn session(&self) -> Option<&str> {
        match self {
            Self::Admin(a) => a.session.as_deref(),
            Self::User(u) => Some(&u.session),
        }
    }

    pub fn csrf(&self) -> Option<String> {
        self.session().map(auth::csrf_token)
    }

    /// State-changing form posts must come from a page of this session.
    pub fn check_csrf(&self, presented: &str) -> Result<(), ApiError> {
        match self {
            Self::Admin(a) => auth::check_csrf(a, presented),
            Self::User(u) if auth::same_secret(presented, &auth::csrf_token(&u.session)) => Ok(()),
            Self::User(_) => Err(ApiError::Forbidden(
                "the form's CSRF token is missing or stale: reload the page".into(),
            )),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Self::Admin(_))
    }

    /// The GitHub user's login, for the page header.
    pub fn login(&self) -> Option<&str> {
        match self {
            Self::Admin(_) => None,
            Self::User(u) => Some(&u.login),
        }
    }

    /// The repositories a user may see, with their role; None: everything (the admin).
    pub async fn access(&self, state: &AppState) -> Result<Option<HashMap<i64, Role>>, ApiError> {
        match self {
            Self::Admin(_) => Ok(None),
            Self::User(u) => Ok(Some(users::access(&state.db, u.user_id).await?)),
        }
    }

    /// The viewer's role for this project; None: they cannot see it.
    pub async fn role(
        &self,
        state: &AppState,
        p: &ProjectRecord,
    ) -> Result<Option<Role>, ApiError> {
        match self {
            Self::Admin(_) => Ok(Some(Role::Admin)),
            Self::User(u) => Ok(users::role(&state.db, u.user_id, p.repository.id).await?),
        }
    }

    /// The project, if this viewer may see it (404 otherwise, the same as a missing one).
    pub async fn project(&self, state: &AppState, id: i64) -> Result<ProjectRecord, ApiError> {
        let p = find(state, id).await?;
        match self.role(state, &p).await? {
            Some(_) => Ok(p),
            None => Err(ApiError::NotFound(format!("no project with id {id}"))),
        }
    }

    /// The project, if this viewer may change it (404 when invisible, 403 when read-only).
    pub async fn writable_project(
        &self,
        state: &AppState,
        id: i64,
    ) -> Result<ProjectRecord, ApiError> {
        let p = find(state, id).await?;
        match self.role(state, &p).await? {
            Some(Role::Admin) => Ok(p),
            Some(Role::Member) => Err(forbidden(&p)),
            None => Err(ApiError::NotFound(format!("no project with id {id}"))),
        }
    }

    /// Keeps the projects this viewer may see.
    pub async fn visible(
        &self,
        state: &AppState,
        all: Vec<ProjectRecord>,
    ) -> Result<Vec<ProjectRecord>, ApiError> {
        Ok(match self.access(state).await? {
            None => all,
            Some(access) => all
                .into_iter()
                .filter(|p| access.contains_key(&p.repository.id))
                .collect(),
        })
    }

    /// The ids of the projects this viewer may see; None: every project.
    pub async fn visible_ids(
        &self,
        state: &AppState,
    ) -> Result<Option<std::collections::HashSet<i64>>, ApiError> {
        match self {
            Self::Admin(_) => Ok(None),
            Self::User(u) => Ok(Some(users::visible_projects(&state.db, u.user_id).await?)),
        }
    }
}
