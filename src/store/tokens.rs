//! API tokens: minted by an admin, looked up on every request that presents one (no cache, so a
//! revocation holds on every replica at once), revoked by an admin. The token is `hs_` and 32
//! random bytes in hex; only its SHA-256 is stored.
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};

use super::entities::api_tokens;
pub use super::entities::api_tokens::{Model as ApiToken, TokenScope};
use crate::secret::Secret;

/// What every token starts with, so a leaked one is recognisable (and secret scanners can match it).
pub const PREFIX: &str = "hs_";
const SECRET_HEX_LEN: usize = 64;
/// Last-used times are written at most this often, so a busy client does not write per request.
const TOUCH_EVERY: Duration = Duration::minutes(1);

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// True when `presented` has a token's shape (cheap to check before any lookup).
pub(crate) fn looks_like_token(presented: &str) -> bool {
    presented.strip_prefix(PREFIX).is_some_and(|hex| {
        hex.len() == SECRET_HEX_LEN && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

pub struct NewToken<'a> {
    pub name: &'a str,
    pub scope: TokenScope,
    pub project_id: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Stores a new token; returns its row and the token itself (shown to its creator once).
pub async fn create(
    db: &DatabaseConnection,
    new: NewToken<'_>,
) -> Result<(ApiToken, Secret), DbErr> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| DbErr::Custom(format!("no randomness: {e}")))?;
    let token = format!("{PREFIX}{}", hex::encode(bytes));
    let row = api_tokens::ActiveModel {
        name: Set(new.name.to_owned()),
        secret_sha256: Set(digest(&token)),
        scope: Set(new.scope),
        project_id: Set(new.project_id),
        created_at: Set(Utc::now()),
        expires_at: Set(new.expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((row, Secret::new(token)))
}

/// Why a presented token does not open the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Unknown,
    Revoked,
    Expired,
}

/// The token `presented` names, if it is live; its last-used time is brought up to date (at
/// most once a minute).
pub(crate) async fn find_live(
    db: &DatabaseConnection,
    presented: &str,
) -> Result<Result<ApiToken, Refused>, DbErr> {
    if !looks_like_token(presented) {
        return Ok(Err(Refused::Unknown));
    }
    let wanted = digest(presented);
    let Some(token) = api_tokens::Entity::find()
        .filter(api_tokens::Column::SecretSha256.eq(wanted.as_str()))
        .one(db)
        .await?
    else {
        return Ok(Err(Refused::Unknown));
    };
    // The lookup matched on the digest already; compare again in constant time so that no code
    // path depends on how much of it matched.
    if !crate::secret::same(&token.secret_sha256, &wanted) {
        return Ok(Err(Refused::Unknown));
    }
    let now = Utc::now();
    if token.revoked_at.is_some() {
        return Ok(Err(Refused::Revoked));
    }
    if token.expires_at.is_some_and(|e| e <= now) {
        return Ok(Err(Refused::Expired));
    }
    if token.last_used_at.is_none_or(|t| now - t > TOUCH_EVERY) {
        api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::LastUsedAt, Expr::value(now))
            .filter(api_tokens::Column::Id.eq(token.id))
            .exec(db)
            .await?;
    }
    Ok(Ok(token))
}

/// Is the token with this id neither revoked nor expired? (An open event stream asks; nothing
/// is touched.)
pub async fn is_live(db: &DatabaseConnection, id: i64) -> Result<bool, DbErr> {
    let token = api_tokens::Entity::find_by_id(id).one(db).await?;
    let now = Utc::now();
    Ok(token.is_some_and(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now)))
}

/// Tokens not revoked (expired ones included, marked by their expiry), newest first.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<ApiToken>, DbErr> {
    api_tokens::Entity::find()
        .filter(api_tokens::Column::RevokedAt.is_null())
        .order_by_desc(api_tokens::Column::Id)
        .all(db)
        .await
}

pub(crate) async fn count_unrevoked(db: &DatabaseConnection) -> Result<u64, DbErr> {
    api_tokens::Entity::find()
        .filter(api_tokens::Column::RevokedAt.is_null())
        .count(db)
        .await
}

/// Revokes the token; false when there is no unrevoked token with this id.
pub async fn revoke(db: &DatabaseConnection, id: i64) -> Result<bool, DbErr> {
    let done = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(api_tokens::Column::Id.eq(id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_a_recognisable_shape() {
        assert!(looks_like_token(&format!("hs_{}", "ab".repeat(32))));
        assert!(!looks_like_token(&"ab".repeat(32)));
        assert!(!looks_like_token(&format!("hs_{}", "zz".repeat(32))));
        assert!(!looks_like_token("hs_short"));
    }
}
