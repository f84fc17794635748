//! The fake's endpoints called with a user-to-server token: `GET /user`, `GET /user/installations`,
//! `GET /user/installations/{installation_id}/repositories` (404 for an installation the user
//! cannot reach) and `GET /orgs/{org}/memberships/{username}` (404 for a non-member). A token the
//! fake did not issue, that expired or was revoked answers 401 "Bad credentials".
use std::collections::BTreeSet;

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use serde_json::{json, Value};

use super::{
    routes::{account_json, link_header, not_found, repo_json, Data, Page},
    server::{github_error, State},
};

/// The user a live user token belongs to.
fn require_user(state: &State, req: &HttpRequest) -> Result<String, HttpResponse> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("token "))
        })
        .ok_or_else(|| github_error(StatusCode::UNAUTHORIZED, "Requires authentication"))?;
    state
        .oauth
        .lock()
        .unwrap()
        .tokens
        .get(token.trim())
        .cloned()
        .ok_or_else(|| github_error(StatusCode::UNAUTHORIZED, "Bad credentials"))
}

fn user_json(base: &str, id: i64, login: &str) -> Value {
    json!({
        "login": login, "id": id, "node_id": format!("U_{id}"),
        "avatar_url": format!("{base}/avatars/{login}"),
        "url": format!("{base}/users/{login}"), "html_url": format!("{base}/{login}"),
        "type": "User", "site_admin": false, "name": login,
    })
}

pub(crate) async fn user(state: Data, req: HttpRequest) -> HttpResponse {
    let login = match require_user(&state, &req) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let id = state.oauth.lock().unwrap().users[&login].id;
    HttpResponse::Ok().json(user_json(state.base(), id, &login))
}

/// The user's installations (as `GET /user/installations` lists them): account type `User` when
/// the account is a user the fake knows.
fn installation_json(state: &State, id: i64) -> Value {
    let mut v = super::webhooks::installation_json(state, id);
    let login = v["account"]["login"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if let Some(u) = state.oauth.lock().unwrap().users.get(&login) {
        v["account"] = user_json(state.base(), u.id, &login);
        v["target_type"] = json!("User");
    }
    v
}

pub(crate) async fn installations(
    state: Data,
    req: HttpRequest,
    q: web::Query<Page>,
) -> HttpResponse {
    let login = match require_user(&state, &req) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let ids: Vec<i64> = {
        let known = state
            .inner()
            .installations
            .keys()
            .copied()
            .collect::<BTreeSet<_>>();
        let oauth = state.oauth.lock().unwrap();
        oauth.users[&login]
            .access
            .keys()
            .copied()
            .filter(|i| known.contains(i))
            .collect()
    };
    let (per_page, page, range) = q.slice(&ids);
    let list: Vec<Value> = ids[range]
        .iter()
        .map(|i| installation_json(&state, *i))
        .collect();
    let mut res = HttpResponse::Ok();
    if let Some(links) = link_header(&state, "/user/installations", per_page, page, ids.len()) {
        res.insert_header((header::LINK, links));
    }
    res.json(json!({ "total_count": ids.len(), "installations": list }))
}

pub(crate) async fn installation_repos(
    state: Data,
    req: HttpRequest,
    path: web::Path<i64>,
    q: web::Query<Page>,
) -> HttpResponse {
    let login = match require_user(&state, &req) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let installation = path.into_inner();
    let reachable: Option<Vec<i64>> = {
        let installed = state
            .inner()
            .installations
            .get(&installation)
            .map(|i| i.repos.clone());
        let oauth = state.oauth.lock().unwrap();
        match (installed, oauth.users[&login].access.get(&installation)) {
            // Only repositories the installation still has and the user may reach.
            (Some(repos), Some(mine)) => Some(mine.intersection(&repos).copied().collect()),
            _ => None,
        }
    };
    let Some(ids) = reachable else {
        return not_found();
    };
    let (per_page, page, range) = q.slice(&ids);
    let repos: Vec<Value> = ids[range].iter().map(|id| repo_json(&state, *id)).collect();
    let mut res = HttpResponse::Ok();
    let path = format!("/user/installations/{installation}/repositories");
    if let Some(links) = link_header(&state, &path, per_page, page, ids.len()) {
        res.insert_header((header::LINK, links));
    }
    res.json(json!({
        "total_count": ids.len(),
        "repository_selection": "selected",
        "repositories": repos,
    }))
}

pub(crate) async fn membership(
    state: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    if let Err(r) = require_user(&state, &req) {
        return r;
    }
    let (org, username) = path.into_inner();
    let role = state
        .oauth
        .lock()
        .unwrap()
        .memberships
        .get(&(org.clone(), username.clone()))
        .cloned();
    let Some(role) = role else {
        return not_found();
    };
    let base = state.base();
    let org_id = state
        .inner()
        .installations
        .values()
        .find(|i| i.account_login == org)
        .map_or(1, |i| i.account_id);
    let user_id = state
        .oauth
        .lock()
        .unwrap()
        .users
        .get(&username)
        .map_or(1, |u| u.id);
    HttpResponse::Ok().json(json!({
        "url": format!("{base}/orgs/{org}/memberships/{username}"),
        "state": "active",
        "role": role,
        "organization_url": format!("{base}/orgs/{org}"),
        "organization": account_json(base, &org, org_id),
        "user": user_json(base, user_id, &username),
    }))
}
