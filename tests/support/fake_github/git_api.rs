//! The git data endpoints: trees, blobs, tarballs (302 to codeload); read from the bare
//! repositories with the git CLI. Branches are in `branches.rs`, compare in `compare.rs`.
use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    auth::mint,
    repos::{git_bare, resolve},
    routes::{not_found, visible, Data},
    server::github_error,
};

#[derive(Deserialize)]
pub(crate) struct TreeQuery {
    recursive: Option<String>,
}

pub(crate) async fn tree(
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
    if recursive {
        *state.recursive_trees.lock().unwrap() += 1;
    }
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
    let mut entries: Vec<TreeEntry> = out
        .split(|b| *b == 0)
        .filter(|l| !l.is_empty())
        .filter_map(|line| {
            // Paths are bytes in git; GitHub shows them as text.
            let tab = line.iter().position(|b| *b == b'\t')?;
            let meta = std::str::from_utf8(&line[..tab]).ok()?;
            let path = String::from_utf8_lossy(&line[tab + 1..]);
            let mut parts = meta.split_whitespace();
            let (mode, kind, sha, size) =
                (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            let (size, url) = match kind {
                "blob" => (
                    Some(size.parse::<u64>().ok()?),
                    Some(format!("{base}/repos/{full}/git/blobs/{sha}")),
                ),
                "tree" => (None, Some(format!("{base}/repos/{full}/git/trees/{sha}"))),
                _ => (None, None),
            };
            Some(TreeEntry {
                path,
                mode,
                kind,
                sha,
                size,
                url,
            })
        })
        .collect();
    let truncated = recursive && state.inner().truncate_trees;
    if truncated {
        entries.truncate(entries.len() / 2);
    }
    HttpResponse::Ok().json(TreeListing {
        url: format!("{base}/repos/{full}/git/trees/{tree_sha}"),
        sha: &tree_sha,
        tree: entries,
        truncated,
    })
}

/// One entry as GitHub lists it: typed rather than a `Value` per entry, which made listing a
/// 50,000-file tree a large share of a 1-file push's time in the sync bench.
#[derive(Serialize)]
struct TreeEntry<'a> {
    path: std::borrow::Cow<'a, str>,
    mode: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    sha: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Serialize)]
struct TreeListing<'a> {
    sha: &'a str,
    url: String,
    tree: Vec<TreeEntry<'a>>,
    truncated: bool,
}

pub(crate) async fn blob(
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

pub(crate) async fn tarball(
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
pub(crate) struct DownloadQuery {
    token: Option<String>,
}

pub(crate) async fn codeload(
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
