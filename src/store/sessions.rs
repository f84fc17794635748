//! Browser sessions: opened at /login, looked up on every request that carries the cookie, ended
//! at logout or when the admin token changes. In the database, so every replica agrees at once.
//! The cookie's secret is never stored: only its SHA-256, which does not let anyone log in.
use chrono::{Duration, Utc};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, Set,
};
use sha2::{Digest, Sha256};

use super::entities::sessions::{self, SessionKind};
use crate::secret::Secret;

/// How a session is being opened.
#[derive(Debug, Clone, Copy)]
pub enum Opener<'a> {
    /// With the admin token at /login: `admin_token_id` names that token.
    AdminToken(&'a str),
    /// With the first run's setup link.
    SetupLink,
    /// By signing in with GitHub as the user `github_users.id`.
    GithubUser(i64),
}

/// Sessions are seen again at most this often, so that a page full of requests writes once.
const TOUCH_EVERY: Duration = Duration::minutes(1);
/// Ended sessions are kept this long (for a look at who was logged in), then deleted.
const KEEP_ENDED: Duration = Duration::days(1);

/// What a cookie must look like: 32 random bytes, hex.
const SECRET_HEX_LEN: usize = 64;

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Opens a session for the GitHub user `user_id` (signed in with GitHub).
pub(crate) async fn open_user(
    db: &DatabaseConnection,
    user_id: i64,
    lifetime: Duration,
) -> Result<Secret, DbErr> {
    open(db, Opener::GithubUser(user_id), lifetime).await
}

/// Opens a session; returns the secret the cookie carries. Sessions that ended long ago are
/// deleted on the way.
pub async fn open(
    db: &DatabaseConnection,
    by: Opener<'_>,
    lifetime: Duration,
) -> Result<Secret, DbErr> {
    let (admin_token_id, kind, user_id) = match by {
        Opener::AdminToken(id) => (Some(id.to_owned()), None, None),
        Opener::SetupLink => (None, Some(SessionKind::SetupLink), None),
        Opener::GithubUser(id) => (None, Some(SessionKind::GithubUser), Some(id)),
    };
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| DbErr::Custom(format!("no randomness: {e}")))?;
    let secret = hex::encode(bytes);
    let now = Utc::now();
    sessions::Entity::delete_many()
        .filter(sessions::Column::ExpiresAt.lt(now - KEEP_ENDED))
        .exec(db)
        .await?;
    sessions::ActiveModel {
        secret_sha256: Set(digest(&secret)),
        admin_token_id: Set(admin_token_id),
        kind: Set(kind),
        user_id: Set(user_id),
        created_at: Set(now),
        expires_at: Set(now + lifetime),
        last_seen_at: Set(now),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(Secret::new(secret))
}

/// The live session this cookie value opens, if any: not revoked, not expired, and opened with
/// the admin token in force (`admin_token_id`, None when unset) or with a setup link.
pub async fn find(
    db: &DatabaseConnection,
    cookie: &str,
    admin_token_id: Option<&str>,
) -> Result<Option<sessions::Model>, DbErr> {
    let session = live(db, cookie).await?;
    Ok(session.filter(|s| match s.kind {
        None => admin_token_id.is_some() && s.admin_token_id.as_deref() == admin_token_id,
        Some(SessionKind::SetupLink) => true,
        Some(SessionKind::GithubUser) => false,
    }))
}

/// The live session of a GitHub user this cookie value opens, if any.
pub(crate) async fn find_user(
    db: &DatabaseConnection,
    cookie: &str,
) -> Result<Option<sessions::Model>, DbErr> {
    let session = live(db, cookie).await?;
    Ok(session.filter(|s| s.kind == Some(SessionKind::GithubUser) && s.user_id.is_some()))
}

/// The session this cookie opens, not revoked nor expired, of either kind; seen now.
async fn live(db: &DatabaseConnection, cookie: &str) -> Result<Option<sessions::Model>, DbErr> {
    if cookie.len() != SECRET_HEX_LEN || !cookie.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let now = Utc::now();
    let Some(session) = sessions::Entity::find()
        .filter(sessions::Column::SecretSha256.eq(digest(cookie)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if session.revoked_at.is_some() || session.expires_at <= now {
        return Ok(None);
    }
    if now - session.last_seen_at > TOUCH_EVERY {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::LastSeenAt, Expr::value(now))
            .filter(sessions::Column::Id.eq(session.id))
            .exec(db)
            .await?;
    }
    Ok(Some(session))
}

/// Ends the session this cookie value opens (logout). Unknown values change nothing.
pub(crate) async fn revoke(db: &DatabaseConnection, cookie: &str) -> Result<(), DbErr> {
    sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(sessions::Column::SecretSha256.eq(digest(cookie)))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every session of the GitHub user `user_id`.
pub(crate) async fn revoke_user(db: &impl ConnectionTrait, user_id: i64) -> Result<(), DbErr> {
    sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every admin session opened with another token than `current` (all of them when the
/// token is unset): a changed token logs everyone out, for good, on every replica.
pub(crate) async fn revoke_other_tokens(
    db: &DatabaseConnection,
    current: Option<&str>,
) -> Result<u64, DbErr> {
    let mut q = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::AdminTokenId.is_not_null());
    if let Some(current) = current {
        q = q.filter(sessions::Column::AdminTokenId.ne(current));
    }
    Ok(q.exec(db).await?.rows_affected)
}
