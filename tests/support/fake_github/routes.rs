//! The endpoints, answering with GitHub's JSON shapes, status codes and headers.
use std::collections::HashMap;

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    auth::{issue_installation_token, mint, require_app, require_installation},
    branches, compare, git_api,
    server::{github_error, State},
};

pub(crate) type Data = web::Data<State>;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/app/installations/{installation_id}/access_tokens",
        web::post().to(access_token),
    )
    .route(
        "/installation/repositories",
        web::get().to(installation_repos),
    )
    .route("/repositories/{repository_id}", web::get().to(repo_by_id))
    .route("/repos/{owner}/{repo}", web::get().to(repo))
    .route(
        "/repos/{owner}/{repo}/branches",
        web::get().to(branches::branches),
    )
    .route(
        "/repos/{owner}/{repo}/branches/{branch:.*}",
        web::get().to(branches::branch),
    )
    .route(
        "/repos/{owner}/{repo}/git/trees/{tree_sha}",
        web::get().to(git_api::tree),
    )
    .route(
        "/repos/{owner}/{repo}/git/blobs/{file_sha}",
        web::get().to(git_api::blob),
    )
    .route(
        "/repos/{owner}/{repo}/tarball/{ref:.*}",
        web::get().to(git_api::tarball),
    )
    .route(
        "/repos/{owner}/{repo}/compare/{basehead}",
        web::get().to(compare::compare),
    )
    .route(
        "/_codeload/{owner}/{repo}/legacy.tar.gz/{sha}",
        web::get().to(git_api::codeload),
    )
    .route(
        "/app-manifests/{code}/conversions",
        web::post().to(conversion),
    )
    .configure(super::hooks::configure)
    .configure(super::oauth::configure)
    .route("/settings/apps/new", web::post().to(new_app))
    .route(
        "/organizations/{org}/settings/apps/new",
        web::post().to(new_app),
    )
    .route(
        "/apps/{slug}/installations/new",
        web::get().to(install_page),
    )
    .default_service(web::to(|| async {
        github_error(StatusCode::NOT_FOUND, "Not Found")
    }));
}

pub(crate) fn not_found() -> HttpResponse {
    github_error(StatusCode::NOT_FOUND, "Not Found")
}

pub(crate) fn account_json(base: &str, login: &str, id: i64) -> Value {
    json!({
        "login": login, "id": id, "node_id": format!("O_{id}"),
        "avatar_url": format!("{base}/avatars/{login}"),
        "url": format!("{base}/users/{login}"), "html_url": format!("{base}/{login}"),
        "type": "Organization", "site_admin": false,
    })
}

pub(crate) fn repo_json(state: &State, id: i64) -> Value {
    let inner = state.inner();
    let Some(r) = inner.repos.get(&id) else {
        return Value::Null;
    };
    let base = state.base();
    let owner_id = inner
        .installations
        .get(&r.installation)
        .map(|i| i.account_id)
        .unwrap_or(1);
    let full = r.full_name();
    json!({
        "id": r.id, "node_id": format!("R_{}", r.id), "name": r.name, "full_name": full,
        "private": r.private, "owner": account_json(base, &r.owner, owner_id),
        "html_url": format!("{base}/{full}"), "description": null, "fork": false,
        "url": format!("{base}/repos/{full}"),
        "git_url": format!("git://fake/{full}.git"), "clone_url": format!("{base}/{full}.git"),
        "size": 0, "language": null, "archived": false, "disabled": false,
        "visibility": if r.private { "private" } else { "public" },
        "default_branch": r.default_branch,
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        "pushed_at": "2026-01-01T00:00:00Z",
    })
}

/// The repository `owner/name`, if the calling installation can see it (404 otherwise, as GitHub
/// does not reveal private repositories).
pub(crate) fn visible(
    state: &State,
    req: &HttpRequest,
    owner: &str,
    name: &str,
) -> Result<(i64, std::path::PathBuf), HttpResponse> {
    let installation = require_installation(state, req)?;
    let inner = state.inner();
    let repo = inner
        .repos
        .values()
        .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
        .ok_or_else(not_found)?;
    let allowed = inner
        .installations
        .get(&installation)
        .is_some_and(|i| i.repos.contains(&repo.id));
    if allowed {
        Ok((repo.id, repo.bare.clone()))
    } else {
        Err(not_found())
    }
}

async fn access_token(state: Data, req: HttpRequest, path: web::Path<i64>) -> HttpResponse {
    if let Err(r) = require_app(&state, &req) {
        return r;
    }
    let id = path.into_inner();
    match state.inner().installations.get(&id) {
        None => return not_found(),
        Some(i) if i.suspended_at.is_some() => {
            return github_error(
                StatusCode::FORBIDDEN,
                "This installation has been suspended",
            )
        }
        Some(_) => {}
    }
    let (token, expires_at) = issue_installation_token(&state, id);
    let expires: chrono::DateTime<chrono::Utc> = expires_at.into();
    HttpResponse::Created().json(json!({
        "token": token,
        "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "permissions": { "contents": "read", "metadata": "read" },
        "repository_selection": "selected",
    }))
}

#[derive(Deserialize)]
pub(crate) struct Page {
    per_page: Option<usize>,
    page: Option<usize>,
}

impl Page {
    /// GitHub's paging: `per_page` 30 unless given, at most 100; pages count from 1.
    pub(crate) fn slice<T>(&self, all: &[T]) -> (usize, usize, std::ops::Range<usize>) {
        let per_page = self.per_page.unwrap_or(30).clamp(1, 100);
        let page = self.page.unwrap_or(1).max(1);
        let start = ((page - 1) * per_page).min(all.len());
        let end = (start + per_page).min(all.len());
        (per_page, page, start..end)
    }
}

/// GitHub's `Link` header for page `page` of `last` under `path` (prev, next, last, first), or
/// None when everything fits on one page.
pub(crate) fn link_header(
    state: &State,
    path: &str,
    per_page: usize,
    page: usize,
    total: usize,
) -> Option<String> {
    let last = total.div_ceil(per_page).max(1);
    let link = |p: usize, rel: &str| {
        format!(
            "<{}{path}?per_page={per_page}&page={p}>; rel=\"{rel}\"",
            state.base()
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
    }
    (!links.is_empty()).then(|| links.join(", "))
}

async fn installation_repos(state: Data, req: HttpRequest, q: web::Query<Page>) -> HttpResponse {
    let installation = match require_installation(&state, &req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let ids: Vec<i64> = state
        .inner()
        .installations
        .get(&installation)
        .map(|i| i.repos.iter().copied().collect())
        .unwrap_or_default();
    let (per_page, page, range) = q.slice(&ids);
    let repos: Vec<Value> = ids[range].iter().map(|id| repo_json(&state, *id)).collect();
    let mut res = HttpResponse::Ok();
    if let Some(links) = link_header(
        &state,
        "/installation/repositories",
        per_page,
        page,
        ids.len(),
    ) {
        res.insert_header((header::LINK, links));
    }
    res.json(json!({
        "total_count": ids.len(),
        "repository_selection": "selected",
        "repositories": repos,
    }))
}

async fn repo_by_id(state: Data, req: HttpRequest, path: web::Path<i64>) -> HttpResponse {
    let installation = match require_installation(&state, &req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let id = path.into_inner();
    let allowed = state
        .inner()
        .installations
        .get(&installation)
        .is_some_and(|i| i.repos.contains(&id));
    if !allowed {
        return not_found();
    }
    HttpResponse::Ok().json(repo_json(&state, id))
}

async fn repo(state: Data, req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (owner, name) = path.into_inner();
    match visible(&state, &req, &owner, &name) {
        Ok((id, _)) => HttpResponse::Ok().json(repo_json(&state, id)),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct StateQuery {
    state: Option<String>,
}

/// github.com/settings/apps/new: GitHub shows a form; on submit it creates the app and sends the
/// user to the manifest's `redirect_url` with a one-time code and the state it was given.
async fn new_app(
    state: Data,
    q: web::Query<StateQuery>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let Some(manifest) = form
        .get("manifest")
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
    else {
        return HttpResponse::UnprocessableEntity().body("Invalid GitHub App configuration");
    };
    let Some(redirect) = manifest["redirect_url"].as_str().map(str::to_owned) else {
        return HttpResponse::UnprocessableEntity().body("redirect_url is required");
    };
    let code = mint("");
    {
        let mut inner = state.inner();
        inner.manifest_codes.insert(code.clone(), manifest.clone());
        inner.last_manifest = Some(manifest);
    }
    let mut location = format!("{redirect}?code={code}");
    if let Some(s) = &q.state {
        location.push_str(&format!(
            "&state={}",
            url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
        ));
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .finish()
}

async fn conversion(state: Data, path: web::Path<String>) -> HttpResponse {
    let Some(manifest) = state.inner().manifest_codes.remove(&path.into_inner()) else {
        return not_found();
    };
    let base = state.base();
    let slug = state.app_slug.clone();
    let webhook_secret = state
        .inner()
        .manifest_webhook_secret
        .clone()
        .unwrap_or_else(|| Some(mint("whsec_")));
    HttpResponse::Created().json(json!({
        "id": state.app_id, "slug": slug, "node_id": format!("A_{}", state.app_id),
        "owner": account_json(base, "octo-org", 1),
        "name": manifest["name"], "description": manifest["description"],
        "external_url": manifest["url"],
        "html_url": format!("{base}/apps/{slug}"),
        "created_at": "2026-11-26T00:00:00Z", "updated_at": "2026-11-26T00:00:00Z",
        "permissions": manifest["default_permissions"], "events": manifest["default_events"],
        "client_id": "Iv1.fakeclientid", "client_secret": mint(""),
        "webhook_secret": webhook_secret, "pem": state.private_pem,
    }))
}

async fn install_page(path: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html")
        .body(format!("<h1>Install {}</h1>", path.into_inner()))
}
