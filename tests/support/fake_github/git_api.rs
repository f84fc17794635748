//! The git data endpoints: trees, blobs, tarballs (302 to codeload), compare; read from the bare
//! repositories with the git CLI. Branches are in `branches.rs`.
use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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

pub(crate) async fn compare(
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
