//! The branch endpoints: one branch with its commit, and the paged list of branches; read from
//! the bare repositories with the git CLI.
use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use serde_json::{json, Value};

use super::{
    repos::{git_bare, resolve},
    routes::{link_header, visible, Data, Page},
    server::github_error,
};

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

pub(crate) async fn branch(
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

/// `GET /repos/{owner}/{repo}/branches`: GitHub's "short branch" objects in name order, paged
/// with `per_page`/`page` and a `Link` header.
pub(crate) async fn branches(
    state: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<Page>,
) -> HttpResponse {
    let (owner, name) = path.into_inner();
    let (_, bare) = match visible(&state, &req, &owner, &name) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(out) = git_bare(
        &bare,
        &[
            "for-each-ref",
            "--sort=refname",
            "--format=%(refname:strip=2)%00%(objectname)",
            "refs/heads",
        ],
    )
    .await
    else {
        return github_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error");
    };
    let text = String::from_utf8_lossy(&out);
    let all: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('\0')).collect();
    let (per_page, page, range) = q.slice(&all);
    let full = format!("{owner}/{name}");
    let base = state.base();
    let listed: Vec<Value> = all[range]
        .iter()
        .map(|(branch, sha)| {
            json!({
                "name": branch,
                "commit": { "sha": sha, "url": format!("{base}/repos/{full}/commits/{sha}") },
                "protected": false,
            })
        })
        .collect();
    let mut res = HttpResponse::Ok();
    let path = format!("/repos/{full}/branches");
    if let Some(links) = link_header(&state, &path, per_page, page, all.len()) {
        res.insert_header((header::LINK, links));
    }
    res.json(listed)
}
