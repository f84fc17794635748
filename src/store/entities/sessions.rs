use sea_orm::entity::prelude::*;

use super::stored_strings;

/// How a session was opened. NULL in the table (None): with the admin token at /login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text", rename_all = "snake_case")]
pub enum SessionKind {
    /// With the first run's one-time setup link: the first admin, before any admin token.
    SetupLink,
    /// By signing in with GitHub: a user (`user_id`) who sees what GitHub lets them reach.
    GithubUser,
}

stored_strings!(SessionKind {
    SetupLink => "setup_link",
    GithubUser => "github_user",
});

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
    pub kind: Option<SessionKind>,
    /// The GitHub user (`github_users.id`) of a session opened by signing in with GitHub.
    pub user_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
