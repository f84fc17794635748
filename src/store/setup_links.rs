//! The first run's one-time setup link. While no admin exists, `hubsync serve` issues one and
//! prints it; opening it signs that browser in as the first admin. A link works once, within
//! `LIFETIME`, on any replica (the row is shared); using one retires every other outstanding link.
use chrono::{Duration, Utc};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use sha2::{Digest, Sha256};

use super::entities::{
    sessions::{self, SessionKind},
    setup_links,
};
use crate::secret::Secret;

/// Long enough to open the link from the terminal, short enough that an old log is no key.
pub(crate) const LIFETIME: Duration = Duration::hours(1);
const SECRET_HEX_LEN: usize = 64;

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// True while a first admin signed in with a setup link has a live session.
pub(crate) async fn first_admin_signed_in(db: &DatabaseConnection) -> Result<bool, DbErr> {
    let n = sessions::Entity::find()
        .filter(sessions::Column::Kind.eq(SessionKind::SetupLink))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(Utc::now()))
        .count(db)
        .await?;
    Ok(n > 0)
}

/// A new link token; links that are used or expired are deleted on the way.
pub async fn issue(db: &DatabaseConnection) -> Result<Secret, DbErr> {
    let now = Utc::now();
    setup_links::Entity::delete_many()
        .filter(
            Condition::any()
                .add(setup_links::Column::UsedAt.is_not_null())
                .add(setup_links::Column::ExpiresAt.lt(now)),
        )
        .exec(db)
        .await?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| DbErr::Custom(format!("no randomness: {e}")))?;
    let secret = hex::encode(bytes);
    setup_links::ActiveModel {
        secret_sha256: Set(digest(&secret)),
        created_at: Set(now),
        expires_at: Set(now + LIFETIME),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(Secret::new(secret))
}

/// Spends the link: true once per issued, unexpired link (one UPDATE decides, so two replicas
/// cannot both accept it). Every other outstanding link is retired with it.
pub(crate) async fn redeem(db: &DatabaseConnection, presented: &str) -> Result<bool, DbErr> {
    if presented.len() != SECRET_HEX_LEN || !presented.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let now = Utc::now();
    let spent = setup_links::Entity::update_many()
        .col_expr(setup_links::Column::UsedAt, Expr::value(now))
        .filter(setup_links::Column::SecretSha256.eq(digest(presented)))
        .filter(setup_links::Column::UsedAt.is_null())
        .filter(setup_links::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if spent.rows_affected != 1 {
        return Ok(false);
    }
    setup_links::Entity::update_many()
        .col_expr(setup_links::Column::UsedAt, Expr::value(now))
        .filter(setup_links::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(true)
}
