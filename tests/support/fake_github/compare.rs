//! `GET /repos/{owner}/{repo}/compare/{base}...{head}`, computed with git from the bare repository
//! as GitHub documents it: `status` ahead, behind, diverged or identical; `files` (the diff from
//! the merge base to head, renames detected) capped at 300 entries and listed only on the first
//! page; `commits` paged by `per_page`/`page`, or the first 250 without paging parameters; 404 for
//! a sha GitHub does not have, or histories without a common ancestor.
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    repos::{git_bare, resolve},
    routes::{not_found, visible, Data},
    server::github_error,
};

/// GitHub lists at most this many files of a comparison.
const MAX_FILES: usize = 300;
/// Commits listed without paging parameters.
const UNPAGED_COMMITS: usize = 250;

#[derive(Deserialize)]
pub(crate) struct CompareQuery {
    per_page: Option<usize>,
    page: Option<usize>,
}

pub(crate) async fn compare(
    state: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    q: web::Query<CompareQuery>,
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
    let merge_base = git_bare(&bare, &["merge-base", &base, &head])
        .await
        .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
        .unwrap_or_default();
    if merge_base.is_empty() {
        return github_error(
            actix_web::http::StatusCode::NOT_FOUND,
            &format!("No common ancestor between {base_rev} and {head_rev}."),
        );
    }
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
    let status = match (ahead, behind) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let full = format!("{owner}/{name}");
    let base_url = state.base();
    let paged = q.per_page.is_some() || q.page.is_some();
    let (per_page, page) = if paged {
        (
            q.per_page.unwrap_or(30).clamp(1, 100),
            q.page.unwrap_or(1).max(1),
        )
    } else {
        (UNPAGED_COMMITS, 1)
    };
    let commits: Vec<Value> = git_bare(
        &bare,
        &["rev-list", "--reverse", &format!("{base}..{head}")],
    )
    .await
    .map(|o| {
        String::from_utf8_lossy(&o)
            .lines()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|sha| commit_json(base_url, &full, sha))
            .collect()
    })
    .unwrap_or_default();
    let files = if page == 1 {
        let mut files = diff_files(&bare, &merge_base, &head, base_url, &full).await;
        files.truncate(MAX_FILES);
        files
    } else {
        Vec::new()
    };
    let mut resp = HttpResponse::Ok();
    if paged && (page as u64) * (per_page as u64) < ahead {
        let next = format!(
            "<{base_url}/repos/{full}/compare/{basehead}?per_page={per_page}&page={}>; rel=\"next\"",
            page + 1
        );
        resp.insert_header(("Link", next));
    }
    resp.json(json!({
        "url": format!("{base_url}/repos/{full}/compare/{basehead}"),
        "html_url": format!("{base_url}/{full}/compare/{basehead}"),
        "permalink_url": format!("{base_url}/{full}/compare/{owner}:{base}...{owner}:{head}"),
        "diff_url": format!("{base_url}/{full}/compare/{basehead}.diff"),
        "patch_url": format!("{base_url}/{full}/compare/{basehead}.patch"),
        "status": status, "ahead_by": ahead, "behind_by": behind,
        "total_commits": ahead,
        "base_commit": commit_json(base_url, &full, &base),
        "merge_base_commit": commit_json(base_url, &full, &merge_base),
        "commits": commits, "files": files,
    }))
}

fn commit_json(base_url: &str, full: &str, sha: &str) -> Value {
    json!({
        "sha": sha, "node_id": format!("C_{sha}"),
        "url": format!("{base_url}/repos/{full}/commits/{sha}"),
        "html_url": format!("{base_url}/{full}/commit/{sha}"),
    })
}

/// The diff entries from `from` to `to`: `git diff --raw` for status, paths and shas, `--numstat`
/// for the line counts (binary files count 0, as GitHub shows them).
async fn diff_files(
    bare: &std::path::Path,
    from: &str,
    to: &str,
    base_url: &str,
    full: &str,
) -> Vec<Value> {
    let args = |kind: &'static str| ["diff", kind, "-z", "-M", "--no-abbrev", from, to];
    let raw = git_bare(bare, &args("--raw")).await.unwrap_or_default();
    let numstat = git_bare(bare, &args("--numstat")).await.unwrap_or_default();
    let lines = parse_numstat(&numstat);
    let mut files = parse_raw_diff(&raw);
    for (file, (added, deleted)) in files.iter_mut().zip(lines) {
        let path = file["filename"].as_str().unwrap_or_default().to_owned();
        file["additions"] = json!(added);
        file["deletions"] = json!(deleted);
        file["changes"] = json!(added + deleted);
        file["blob_url"] = json!(format!("{base_url}/{full}/blob/{to}/{path}"));
        file["raw_url"] = json!(format!("{base_url}/{full}/raw/{to}/{path}"));
        file["contents_url"] = json!(format!("{base_url}/repos/{full}/contents/{path}?ref={to}"));
    }
    files
}

/// `git diff --numstat -z`: per file "added<TAB>deleted<TAB>path\0", or for a rename
/// "added<TAB>deleted<TAB>\0from\0to\0"; binary files show "-".
fn parse_numstat(raw: &[u8]) -> Vec<(u64, u64)> {
    let fields: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < fields.len() {
        let f = String::from_utf8_lossy(fields[i]);
        let mut parts = f.splitn(3, '\t');
        let (Some(a), Some(d), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            i += 1;
            continue;
        };
        out.push((a.parse().unwrap_or(0), d.parse().unwrap_or(0)));
        // A rename's paths follow in the next two fields.
        i += if path.is_empty() { 3 } else { 1 };
    }
    out
}

/// `git diff --raw -z` records as GitHub's compare `files`: status, filename, previous_filename
/// and sha (the blob after the change; before it, for a removal).
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
        let mut file = json!({ "status": status });
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
