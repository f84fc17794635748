use sea_orm::entity::prelude::*;

/// A GitHub user who signed in. The tokens are sealed (`crate::seal`): reading the table does not
/// give anyone the user's GitHub access.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "github_users")]
pub struct Model {
    /// GitHub's user id (logins can change).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub login: String,
    /// The sealed user-to-server token.
    pub access_token: String,
    /// The sealed refresh token; None for tokens that do not expire.
    pub refresh_token: Option<String>,
    pub token_expires_at: Option<DateTimeUtc>,
    pub refresh_expires_at: Option<DateTimeUtc>,
    /// When `user_repositories` was last rebuilt from GitHub's lists for this user.
    pub access_checked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
