//! What a signed-in user may see, kept current: the repositories GitHub lists for the user's
//! token (`GET /user/installations`, then each installation's repositories), with the user's
//! role (an active owner of the installation's organisation, or the user whose account it is, is
//! an admin), cached in `user_repositories` and rebuilt when older than `RECHECK` or when the
//! token is about to expire (refreshed first). A token GitHub refuses and cannot refresh signs the
//! user out everywhere.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use chrono::{Duration, Utc};

use crate::{
    github::{
        oauth::{OAuthClient, OAuthError, OrgRole, UserTokens},
        GithubError,
    },
    http::{ApiError, AppState},
    seal::Sealer,
    secret::Secret,
    store::{
        entities::{github_users, user_repositories::Role},
        users::{self, SealedTokens},
    },
};

/// The longest a user's cached access is trusted.
pub(crate) const RECHECK: Duration = Duration::minutes(10);
/// A token expiring sooner than this is refreshed before use.
const EXPIRY_MARGIN: Duration = Duration::minutes(5);
const SEAL_LABEL: &str = "github user tokens";

pub(crate) fn sealer(oauth: &OAuthClient) -> Sealer {
    Sealer::from_secret(SEAL_LABEL, oauth.client_secret())
}

pub(crate) fn sealed(sealer: &Sealer, t: &UserTokens) -> Result<SealedTokens, ApiError> {
    let seal = |s: &Secret| {
        sealer
            .seal(s)
            .map_err(|e| ApiError::Internal(e.to_string()))
    };
    Ok(SealedTokens {
        access: seal(&t.access)?,
        refresh: t.refresh.as_ref().map(seal).transpose()?,
        expires_at: t.expires_at,
        refresh_expires_at: t.refresh_expires_at,
    })
}

/// A user's session is over: say so, and why, without naming a token.
fn signed_out(why: &str) -> ApiError {
    ApiError::Unauthorized(format!(
        "your GitHub sign-in has ended ({why}): sign in again"
    ))
}

fn upstream(e: GithubError) -> ApiError {
    ApiError::Upstream(format!("cannot check your GitHub access now: {e}"))
}

fn stale(user: &github_users::Model) -> bool {
    let now = Utc::now();
    user.access_checked_at.is_none_or(|at| now - at >= RECHECK)
        || user
            .token_expires_at
            .is_some_and(|at| at - now < EXPIRY_MARGIN)
}

/// One re-check per user at a time in this process: a refresh token works once, so two requests
/// refreshing together would sign the user out.
fn user_lock(user_id: i64) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    locks.retain(|_, l| Arc::strong_count(l) > 1);
    locks.entry(user_id).or_default().clone()
}

/// The user's login once their access is current (re-checked with GitHub if it was stale);
/// `Unauthorized` when they were signed out.
pub(crate) async fn ensure_fresh(state: &AppState, user_id: i64) -> Result<String, ApiError> {
    let user = users::get(&state.db, user_id)
        .await?
        .ok_or_else(|| signed_out("signed out"))?;
    if !stale(&user) {
        return Ok(user.login);
    }
    let lock = user_lock(user_id);
    let _held = lock.lock().await;
    // Another request may have re-checked while this one waited.
    let user = users::get(&state.db, user_id)
        .await?
        .ok_or_else(|| signed_out("signed out"))?;
    if !stale(&user) {
        return Ok(user.login);
    }
    let Some(oauth) = state.github.oauth() else {
        users::sign_out(&state.db, user_id).await?;
        return Err(signed_out("Sign in with GitHub is no longer configured"));
    };
    let sealer = sealer(&oauth);
    let Ok(mut token) = sealer.open(&user.access_token) else {
        users::sign_out(&state.db, user_id).await?;
        return Err(signed_out("the stored token is unreadable"));
    };
    let mut refreshed = false;
    if user
        .token_expires_at
        .is_some_and(|at| at - Utc::now() < EXPIRY_MARGIN)
    {
        token = refresh(state, &oauth, &sealer, &user).await?;
        refreshed = true;
    }
    loop {
        match recheck(state, &oauth, &token, user.id, &user.login).await {
            Ok(()) => return Ok(user.login),
            Err(RecheckError::Unauthorized) if !refreshed => {
                token = refresh(state, &oauth, &sealer, &user).await?;
                refreshed = true;
            }
            Err(RecheckError::Unauthorized) => {
                users::sign_out(&state.db, user_id).await?;
                return Err(signed_out("GitHub no longer accepts your token"));
            }
            Err(RecheckError::Other(e)) => return Err(e),
        }
    }
}

/// A new token from the refresh token, stored; the user is signed out when there is none or
/// GitHub refuses it (revoked, expired, already used).
async fn refresh(
    state: &AppState,
    oauth: &OAuthClient,
    sealer: &Sealer,
    user: &github_users::Model,
) -> Result<Secret, ApiError> {
    let refresh_token = user
        .refresh_token
        .as_deref()
        .and_then(|r| sealer.open(r).ok())
        .filter(|_| user.refresh_expires_at.is_none_or(|at| at > Utc::now()));
    let Some(refresh_token) = refresh_token else {
        users::sign_out(&state.db, user.id).await?;
        return Err(signed_out("the token expired and cannot be refreshed"));
    };
    match oauth.refresh(&refresh_token).await {
        Ok(tokens) => {
            let stored = sealed(sealer, &tokens)?;
            if !users::refreshed(&state.db, user.id, &user.access_token, &stored).await? {
                // Another replica refreshed first: its token is the live one now.
                let now = users::get(&state.db, user.id)
                    .await?
                    .ok_or_else(|| signed_out("signed out"))?;
                return sealer
                    .open(&now.access_token)
                    .map_err(|_| signed_out("the stored token is unreadable"));
            }
            tracing::info!(user = %user.login, "GitHub user token refreshed");
            Ok(tokens.access)
        }
        Err(OAuthError::Refused { error, .. }) => {
            tracing::info!(user = %user.login, %error, "GitHub refused the refresh: signing out");
            users::sign_out(&state.db, user.id).await?;
            Err(signed_out("GitHub refused to refresh your token"))
        }
        Err(OAuthError::Github(e)) => Err(upstream(e)),
    }
}

pub(crate) enum RecheckError {
    /// GitHub refused the token (401).
    Unauthorized,
    Other(ApiError),
}

/// Rebuilds the user's list of repositories and roles from GitHub's answers.
pub(crate) async fn recheck(
    state: &AppState,
    oauth: &OAuthClient,
    token: &Secret,
    user_id: i64,
    login: &str,
) -> Result<(), RecheckError> {
    let fail = |e: GithubError| match e {
        GithubError::Unauthorized { .. } => RecheckError::Unauthorized,
        e => RecheckError::Other(upstream(e)),
    };
    let mut access: HashMap<i64, (i64, Role)> = HashMap::new();
    for inst in oauth.installations(token).await.map_err(fail)? {
        let role = match &inst.account {
            Some(a) if a.kind.as_deref() == Some("User") => {
                if a.id == user_id {
                    Role::Admin
                } else {
                    Role::Member
                }
            }
            Some(a) => match oauth.org_role(token, &a.login, login).await.map_err(fail)? {
                Some(OrgRole::Admin) => Role::Admin,
                _ => Role::Member,
            },
            None => Role::Member,
        };
        for repo in oauth
            .installation_repositories(token, inst.id)
            .await
            .map_err(fail)?
        {
            access.insert(repo, (inst.id, role));
        }
    }
    users::replace_access(&state.db, user_id, &access)
        .await
        .map_err(|e| RecheckError::Other(e.into()))
}
