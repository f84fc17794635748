use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::stored_strings;

/// What a token may do: `read` every GET of the API; `write` also change selections and start
/// syncs. Neither may mint or revoke tokens (admins do).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    Read,
    Write,
}

stored_strings!(TokenScope {
    Read => "read",
    Write => "write",
});

/// An API token. The token is never stored: only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// Hex SHA-256 of the token.
    pub secret_sha256: String,
    pub scope: TokenScope,
    /// The one project the token may see; None: every project.
    pub project_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    /// Updated at most once a minute, so a busy client does not write per request.
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
