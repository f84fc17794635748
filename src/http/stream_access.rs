//! What a long-lived event stream was opened with (`Grant`), and whether its caller still has
//! it. Each stream re-checks on its own keep-alive period (`recheck`), so access ends a stream
//! within one period: a revoked or expired API token, a closed session, or a GitHub user whose
//! access re-check (every 10 minutes, `signin::access`) no longer reaches the stream's projects.
use std::{collections::HashSet, sync::Arc, time::Duration};

use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};

use super::{
    auth::{self, Admin, Caller},
    signin::access,
    ApiError, AppState,
};
use crate::store::{scope::Scope, sessions, tokens, users};

/// A stream's caller and what it may read: the scope for table reads, the project it follows
/// (None: every project it sees), and a GitHub user's visible projects when it opened.
pub(crate) struct Grant {
    caller: Caller,
    pub scope: Scope,
    pub project: Option<i64>,
    pub visible: Option<Arc<HashSet<i64>>>,
}

impl Grant {
    pub async fn new(
        state: &AppState,
        caller: Caller,
        project: Option<i64>,
        visible: Option<HashSet<i64>>,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            scope: caller.scope(state).await?,
            caller,
            project,
            visible: visible.map(Arc::new),
        })
    }

    /// Is this project's event for this stream?
    pub fn shows(&self, project_id: i64) -> bool {
        self.project.is_none_or(|p| p == project_id)
            && self
                .visible
                .as_ref()
                .is_none_or(|v| v.contains(&project_id))
    }

    /// Does the caller still have this grant? Errors count as no (the client reconnects, and
    /// the request then says why).
    pub async fn holds(&self, state: &AppState) -> bool {
        match self.check(state).await {
            Ok(holds) => holds,
            Err(e) => {
                tracing::info!(error = %e, "ending an event stream: its access cannot be re-checked");
                false
            }
        }
    }

    async fn check(&self, state: &AppState) -> Result<bool, ApiError> {
        match &self.caller {
            Caller::Admin(Admin { session: None }) => Ok(true),
            Caller::Admin(Admin {
                session: Some(cookie),
            }) => {
                let token_id = state.config.admin_token.as_ref().map(auth::token_id);
                Ok(sessions::find(&state.db, cookie, token_id.as_deref())
                    .await?
                    .is_some())
            }
            Caller::Token(t) => Ok(tokens::is_live(&state.db, t.id).await?),
            Caller::User(u) => {
                if sessions::find_user(&state.db, &u.session).await?.is_none() {
                    return Ok(false);
                }
                match access::ensure_fresh(state, u.user_id).await {
                    Ok(_) => {}
                    Err(ApiError::Unauthorized(_)) => return Ok(false),
                    Err(e) => return Err(e),
                }
                let now = users::visible_projects(&state.db, u.user_id).await?;
                Ok(self.project.is_none_or(|p| now.contains(&p))
                    && self.visible.as_ref().is_none_or(|v| v.is_subset(&now)))
            }
        }
    }
}

/// Ticks once per `period`, the first a period from now.
pub(crate) fn recheck(period: Duration) -> Interval {
    let mut every = interval_at(Instant::now() + period, period);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    every
}
