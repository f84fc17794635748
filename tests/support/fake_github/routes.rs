//! The endpoints, answering with GitHub's JSON shapes, status codes and headers.
use std::collections::HashMap;

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    auth::{issue_installation_token, mint, require_app, require_installation},
    repos::{git_bare, resolve},
    server::{github_error, State},
};

type Data = web::Data<State>;

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
        "/repos/{owner}/{repo}/branches/{branch:.*}",
        web::get().to(branch),
    )
    .route(
        "/repos/{owner}/{repo}/git/trees/{tree_sha}",
        web::get().to(tree),
    )
    .route(
        "/repos/{owner}/{repo}/git/blobs/{file_sha}",
        web::get().to(blob),
    )
    .route(
        "/repos/{owner}/{repo}/tarball/{ref:.*}",
        web::get().to(tarball),
    )
    .route(
        "/repos/{owner}/{repo}/compare/{basehead}",
        web::get().to(compare),
    )
    .route(
        "/_codeload/{owner}/{repo}/legacy.tar.gz/{sha}",
        web::get().to(codeload),
    )
    .route(
        "/app-manifests/{code}/conversions",
        web::post().to(conversion),
    )
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

fn not_found() -> HttpResponse {
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
fn visible(
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
    if !state.inner().installations.contains_key(&id) {
        return not_found();
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
struct Page {
    per_page: Option<usize>,
    page: Option<usize>,
}

async fn installation_repos(state: Data, req: HttpRequest, q: web::Query<Page>) -> HttpResponse {
    let installation = match require_installation(&state, &req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let per_page = q.per_page.unwrap_or(30).clamp(1, 100);
    let page = q.page.unwrap_or(1).max(1);
    let ids: Vec<i64> = state
        .inner()
        .installations
        .get(&installation)
        .map(|i| i.repos.iter().copied().collect())
        .unwrap_or_default();
    let last = ids.len().div_ceil(per_page).max(1);
    let repos: Vec<Value> = ids
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|id| repo_json(&state, *id))
        .collect();
    let link = |p: usize, rel: &str| {
        format!(
            "<{}/installation/repositories?per_page={per_page}&page={p}>; rel=\"{rel}\"",
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
    let mut res = HttpResponse::Ok();
    if !links.is_empty() {
        res.insert_header((header::LINK, links.join(", ")));
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

/// A commit as the branches and commits endpoints show it.
async fn commit_json(base: &str, full: &str, bare: &std::path::Path, sha: &str) -> Option<Value> {
    let out = git_bare(
        bare,
        &[
            "show",
            "-s",
            "--format=%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B",
            sha,
        ],
    )
    .await?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let f: Vec<&str> = text.splitn(9, '\0').collect();
    if f.len() < 9 {
        return None;
    }
    let parents: Vec<Value> = f[1]
        .split_whitespace()
        .map(|p| json!({ "sha": p, "url": format!("{base}/repos/{full}/commits/{p}") }))
        .collect();
    Some(json!({
        "sha": sha, "node_id": format!("C_{sha}"),
        "commit": {
            "author": { "name": f[2], "email": f[3], "date": f[4] },
            "committer": { "name": f[5], "email": f[6], "date": f[7] },
            "message": f[8].trim_end(),
            "tree": { "sha": f[0], "url": format!("{base}/repos/{full}/git/trees/{}", f[0]) },
            "url": format!("{base}/repos/{full}/git/commits/{sha}"),
            "comment_count": 0,
        },
        "url": format!("{base}/repos/{full}/commits/{sha}"),
        "html_url": format!("{base}/{full}/commit/{sha}"),
        "parents": parents,
    }))
}

async fn branch(
    state: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (owner, name, branch) = path.into_inner();
    let (_, bare) = match visible(&state, &req, &owner, &name) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(sha) = resolve(&bare, &format!("refs/heads/{branch}"), "commit").await else {
        return github_error(StatusCode::NOT_FOUND, "Branch not found");
    };
    let full = format!("{owner}/{name}");
    let base = state.base();
    let Some(commit) = commit_json(base, &full, &bare, &sha).await else {
        return github_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error");
    };
    HttpResponse::Ok().json(json!({
        "name": branch,
        "commit": commit,
        "_links": {
            "self": format!("{base}/repos/{full}/branches/{branch}"),
            "html": format!("{base}/{full}/tree/{branch}"),
        },
        "protected": false,
        "protection_url": format!("{base}/repos/{full}/branches/{branch}/protection"),
    }))
}

#[derive(Deserialize)]
struct TreeQuery {
    recursive: Option<String>,
}

async fn tree(
    state: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    q: web::Query<TreeQuery>,
) -> HttpResponse {
    let (owner, name, rev) = path.into_inner();
    let (_, bare) = match visible(&state, &req, &owner, &name) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(tree_sha) = resolve(&bare, &rev, "tree").await else {
        return not_found();
    };
    // GitHub treats any value of `recursive` as true.
    let recursive = q.recursive.is_some();
    let mut args = vec!["ls-tree", "-z", "--long"];
    if recursive {
        args.extend(["-r", "-t"]);
    }
    args.push(&tree_sha);
    let Some(out) = git_bare(&bare, &args).await else {
        return github_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error");
    };
    let full = format!("{owner}/{name}");
    let base = state.base();
    let mut entries: Vec<Value> = out
        .split(|b| *b == 0)
        .filter(|l| !l.is_empty())
        .filter_map(|line| {
            let line = String::from_utf8_lossy(line);
            let (meta, path) = line.split_once('\t')?;
            let mut parts = meta.split_whitespace();
            let (mode, kind, sha, size) =
                (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            let mut e = json!({ "path": path, "mode": mode, "type": kind, "sha": sha });
            match kind {
                "blob" => {
                    e["size"] = json!(size.parse::<u64>().ok()?);
                    e["url"] = json!(format!("{base}/repos/{full}/git/blobs/{sha}"));
                }
                "tree" => e["url"] = json!(format!("{base}/repos/{full}/git/trees/{sha}")),
                _ => {}
            }
            Some(e)
        })
        .collect();
    let truncated = recursive && state.inner().truncate_trees;
    if truncated {
        entries.truncate(entries.len() / 2);
    }
    HttpResponse::Ok().json(json!({
        "sha": tree_sha,
        "url": format!("{base}/repos/{full}/git/trees/{tree_sha}"),
        "tree": entries,
        "truncated": truncated,
    }))
}

async fn blob(
    state: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (owner, name, sha) = path.into_inner();
    let (_, bare) = match visible(&state, &req, &owner, &name) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let is_blob = git_bare(&bare, &["cat-file", "-t", &sha])
        .await
        .is_some_and(|t| t.trim_ascii() == b"blob");
    if !is_blob || sha.starts_with('-') {
        return not_found();
    }
    let Some(bytes) = git_bare(&bare, &["cat-file", "blob", &sha]).await else {
        return not_found();
    };
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("application/vnd.github.raw") {
        return HttpResponse::Ok()
            .content_type("application/vnd.github.raw")
            .body(bytes);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    // GitHub wraps the base64 at 60 characters.
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    HttpResponse::Ok().json(json!({
        "sha": sha, "node_id": format!("B_{sha}"), "size": bytes.len(),
        "url": format!("{}/repos/{owner}/{name}/git/blobs/{sha}", state.base()),
        "content": wrapped.join("\n") + "\n", "encoding": "base64",
    }))
}

async fn tarball(
    state: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (owner, name, rev) = path.into_inner();
    let (_, bare) = match visible(&state, &req, &owner, &name) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(sha) = resolve(&bare, &rev, "commit").await else {
        return not_found();
    };
    let token = mint("");
    state.inner().download_tokens.insert(token.clone());
    // codeload.github.com/{owner}/{repo}/legacy.tar.gz/{ref}?token=..., on this same server.
    let location = format!(
        "{}/_codeload/{owner}/{name}/legacy.tar.gz/{sha}?token={token}",
        state.base()
    );
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .finish()
}

#[derive(Deserialize)]
struct DownloadQuery {
    token: Option<String>,
}

async fn codeload(
    state: Data,
    path: web::Path<(String, String, String)>,
    q: web::Query<DownloadQuery>,
) -> HttpResponse {
    let (owner, name, sha) = path.into_inner();
    let valid = q
        .token
        .as_ref()
        .is_some_and(|t| state.inner().download_tokens.contains(t));
    if !valid {
        return HttpResponse::NotFound().body("404: Not Found");
    }
    let bare = {
        let inner = state.inner();
        match inner
            .repos
            .values()
            .find(|r| r.owner == owner && r.name == name)
        {
            Some(r) => r.bare.clone(),
            None => return HttpResponse::NotFound().body("404: Not Found"),
        }
    };
    if resolve(&bare, &sha, "commit").await.is_none() {
        return HttpResponse::NotFound().body("404: Not Found");
    }
    let prefix = format!("{owner}-{name}-{}/", &sha[..7.min(sha.len())]);
    let child = tokio::process::Command::new("git")
        .arg("--git-dir")
        .arg(&bare)
        .args([
            "archive",
            "--format=tar.gz",
            &format!("--prefix={prefix}"),
            &sha,
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let Ok(mut child) = child else {
        return HttpResponse::InternalServerError().finish();
    };
    let stdout = child.stdout.take().expect("piped stdout");
    // Reap the process once it is done writing.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    HttpResponse::Ok()
        .content_type("application/x-gzip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename={owner}-{name}-{}.tar.gz",
                &sha[..7.min(sha.len())]
            ),
        ))
        .streaming(tokio_util::io::ReaderStream::new(stdout))
}

async fn compare(
    state: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (owner, name, basehead) = path.into_inner();
    let (_, bare) = match visible(&state, &req, &owner, &name) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some((base_rev, head_rev)) = basehead.split_once("...") else {
        return not_found();
    };
    let (Some(base), Some(head)) = (
        resolve(&bare, base_rev, "commit").await,
        resolve(&bare, head_rev, "commit").await,
    ) else {
        return not_found();
    };
    let count = |range: String| {
        let bare = bare.clone();
        async move {
            git_bare(&bare, &["rev-list", "--count", &range])
                .await
                .and_then(|o| String::from_utf8_lossy(&o).trim().parse::<u64>().ok())
                .unwrap_or(0)
        }
    };
    let ahead = count(format!("{base}..{head}")).await;
    let behind = count(format!("{head}..{base}")).await;
    let merge_base = git_bare(&bare, &["merge-base", &base, &head])
        .await
        .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
        .unwrap_or_default();
    let status = match (ahead, behind) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let raw = git_bare(
        &bare,
        &[
            "diff",
            "--raw",
            "-z",
            "-M",
            "--no-abbrev",
            &merge_base,
            &head,
        ],
    )
    .await
    .unwrap_or_default();
    let files = parse_raw_diff(&raw);
    let full = format!("{owner}/{name}");
    let base_url = state.base();
    let commits: Vec<Value> = git_bare(&bare, &["rev-list", "--reverse", &format!("{base}..{head}")])
        .await
        .map(|o| {
            String::from_utf8_lossy(&o)
                .lines()
                .map(|sha| json!({ "sha": sha, "url": format!("{base_url}/repos/{full}/commits/{sha}") }))
                .collect()
        })
        .unwrap_or_default();
    HttpResponse::Ok().json(json!({
        "url": format!("{base_url}/repos/{full}/compare/{basehead}"),
        "status": status, "ahead_by": ahead, "behind_by": behind,
        "total_commits": ahead,
        "base_commit": { "sha": base }, "merge_base_commit": { "sha": merge_base },
        "commits": commits, "files": files,
    }))
}

/// `git diff --raw -z` records as GitHub's compare `files`.
fn parse_raw_diff(raw: &[u8]) -> Vec<Value> {
    let fields: Vec<String> = raw
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let mut files = Vec::new();
    let mut i = 0;
    while i < fields.len() {
        let meta = &fields[i];
        if !meta.starts_with(':') {
            i += 1;
            continue;
        }
        let parts: Vec<&str> = meta[1..].split_whitespace().collect();
        let (old_sha, new_sha, letter) = (parts[2], parts[3], parts[4]);
        let status = match &letter[..1] {
            "A" => "added",
            "D" => "removed",
            "R" => "renamed",
            "C" => "copied",
            "T" => "changed",
            _ => "modified",
        };
        let mut file = json!({ "status": status, "additions": 0, "deletions": 0, "changes": 0 });
        if matches!(&letter[..1], "R" | "C") {
            file["previous_filename"] = json!(fields[i + 1]);
            file["filename"] = json!(fields[i + 2]);
            i += 3;
        } else {
            file["filename"] = json!(fields[i + 1]);
            i += 2;
        }
        file["sha"] = json!(if status == "removed" {
            old_sha
        } else {
            new_sha
        });
        files.push(file);
    }
    files
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
    HttpResponse::Created().json(json!({
        "id": state.app_id, "slug": slug, "node_id": format!("A_{}", state.app_id),
        "owner": account_json(base, "octo-org", 1),
        "name": manifest["name"], "description": manifest["description"],
        "external_url": manifest["url"],
        "html_url": format!("{base}/apps/{slug}"),
        "created_at": "2026-11-26T00:00:00Z", "updated_at": "2026-11-26T00:00:00Z",
        "permissions": manifest["default_permissions"], "events": manifest["default_events"],
        "client_id": "Iv1.fakeclientid", "client_secret": mint(""),
        "webhook_secret": mint("whsec_"), "pem": state.private_pem,
    }))
}

async fn install_page(path: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html")
        .body(format!("<h1>Install {}</h1>", path.into_inner()))
}
