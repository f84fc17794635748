use sea_orm::entity::prelude::*;

/// A browser session. The cookie holds a random secret; only its SHA-256 is stored here.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Hex SHA-256 of the cookie's secret.
    pub secret_sha256: String,
    /// Which admin token opened the session (a fingerprint, not the token): a session opened
    /// with another token than the one in force is not accepted.
    pub admin_token_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// The GitHub user (`github_users.id`) of a session opened by signing in with GitHub.
    pub user_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
