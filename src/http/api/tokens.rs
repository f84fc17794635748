//! `/api/v1/tokens`: API tokens for downstream tools, minted, listed and revoked by an admin. A
//! token is shown once, in the answer that creates it; the list never shows one.
use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::openapi::ErrorBody;
use crate::{
    http::{auth::Admin, ApiError, AppState},
    store::{
        projects,
        tokens::{self, ApiToken, NewToken, TokenScope},
    },
};

/// Unrevoked tokens at most: minting is an admin action, but still bounded.
pub(crate) const MAX_TOKENS: u64 = 500;
const MAX_NAME: usize = 100;
const MAX_DAYS: u32 = 3650;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    pub scope: TokenScope,
    pub project_id: Option<i64>,
    pub expires_in_days: Option<u32>,
}

/// A token as listed: everything but the token.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenView {
    pub id: i64,
    pub name: String,
    pub scope: TokenScope,
    pub project_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub expired: bool,
}

/// A new token: the listed fields and, this once, the token itself.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// `hs_...`: shown only in this answer; hubsync keeps its hash.
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TokenList {
    pub tokens: Vec<TokenView>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        Self {
            expired: t.expires_at.is_some_and(|e| e <= Utc::now()),
            id: t.id,
            name: t.name,
            scope: t.scope,
            project_id: t.project_id,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
        }
    }
}

/// Checks the request and mints the token; shared with the tokens page.
pub async fn mint(
    state: &AppState,
    req: &CreateToken,
) -> Result<(ApiToken, crate::secret::Secret), ApiError> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "name must be 1 to {MAX_NAME} printable characters"
        )));
    }
    let expires_at = match req.expires_in_days {
        None => None,
        Some(d) if (1..=MAX_DAYS).contains(&d) => {
            Some(Utc::now() + chrono::Duration::days(i64::from(d)))
        }
        Some(_) => {
            return Err(ApiError::BadRequest(format!(
                "expires_in_days must be from 1 to {MAX_DAYS} (leave it out for no expiry)"
            )))
        }
    };
    if let Some(id) = req.project_id {
        if projects::load(&state.db, id).await?.is_none() {
            return Err(ApiError::BadRequest(format!("no project with id {id}")));
        }
    }
    if tokens::count_unrevoked(&state.db).await? >= MAX_TOKENS {
        return Err(ApiError::Conflict(format!(
            "there are {MAX_TOKENS} tokens already: revoke some first"
        )));
    }
    let minted = tokens::create(
        &state.db,
        NewToken {
            name,
            scope: req.scope,
            project_id: req.project_id,
            expires_at,
        },
    )
    .await?;
    tracing::info!(token_id = minted.0.id, scope = %req.scope, "API token created");
    Ok(minted)
}

/// Mints an API token (admins only); the token is in this answer alone.
#[utoipa::path(
    tag = "tokens",
    request_body = CreateToken,
    responses(
        (status = 201, body = CreatedToken),
        (status = 400, description = "A bad name, scope, expiry or project", body = ErrorBody),
        (status = 403, description = "Not an admin (API tokens cannot mint tokens)", body = ErrorBody),
        (status = 409, description = "Too many unrevoked tokens", body = ErrorBody),
    )
)]
#[post("/tokens")]
async fn create(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    let (row, token) = mint(&state, &body).await?;
    let created = CreatedToken {
        view: TokenView::from(row),
        token: token.expose().to_owned(),
    };
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(created))
}

/// Every token with its last use (never the token).
#[utoipa::path(
    tag = "tokens",
    responses(
        (status = 200, body = TokenList),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
#[get("/tokens")]
async fn list(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tokens: Vec<TokenView> = tokens::list(&state.db)
        .await?
        .into_iter()
        .map(TokenView::from)
        .collect();
    Ok(HttpResponse::Ok().json(TokenList { tokens }))
}

/// Revokes a token at once: its next request gets 401.
#[utoipa::path(
    tag = "tokens",
    params(("id" = i64, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No unrevoked token with this id", body = ErrorBody),
    )
)]
#[delete("/tokens/{id}")]
async fn revoke(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if !tokens::revoke(&state.db, *id).await? {
        return Err(ApiError::NotFound(format!(
            "no unrevoked token with id {id}"
        )));
    }
    tracing::info!(token_id = *id, "API token revoked");
    Ok(HttpResponse::NoContent().finish())
}
