//! The webhook deliveries GitHub would send, built from the fake's real repositories and signed
//! like GitHub signs them (`X-Hub-Signature-256`).
use serde_json::{json, Value};

use super::{
    auth::mint,
    repos::{git, Push},
    routes::{account_json, repo_json},
    server::State,
};
use crate::support::signing::github_signature;

/// One delivery: the event name, a fresh delivery id, and the exact body bytes.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    pub event: String,
    pub delivery_id: String,
    pub body: Vec<u8>,
    pub app_id: u64,
}

impl WebhookDelivery {
    fn new(event: &str, app_id: u64, payload: Value) -> Self {
        let hex = mint("");
        let delivery_id = format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        );
        Self {
            event: event.to_owned(),
            delivery_id,
            body: serde_json::to_vec(&payload).expect("payload serialises"),
            app_id,
        }
    }

    pub fn payload(&self) -> Value {
        serde_json::from_slice(&self.body).expect("payload is JSON")
    }

    /// The headers GitHub sends with this delivery, signed with `secret`.
    pub fn headers(&self, secret: &str) -> Vec<(&'static str, String)> {
        vec![
            ("content-type", "application/json".into()),
            ("user-agent", "GitHub-Hookshot/fake".into()),
            ("x-github-event", self.event.clone()),
            ("x-github-delivery", self.delivery_id.clone()),
            ("x-github-hook-id", "1".into()),
            (
                "x-github-hook-installation-target-type",
                "integration".into(),
            ),
            (
                "x-github-hook-installation-target-id",
                self.app_id.to_string(),
            ),
            ("x-hub-signature-256", github_signature(secret, &self.body)),
        ]
    }

    /// POSTs the delivery to `url` as GitHub would.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        url: &str,
        secret: &str,
    ) -> reqwest::Response {
        let mut req = client.post(url).body(self.body.clone());
        for (k, v) in self.headers(secret) {
            req = req.header(k, v);
        }
        req.send().await.expect("webhook delivered")
    }
}

fn installation_ref(id: i64) -> Value {
    json!({ "id": id, "node_id": format!("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{id}") })
}

fn sender(state: &State) -> Value {
    account_json(state.base(), "mona", 583231)
}

fn commit_json(state: &State, full: &str, bare: &std::path::Path, sha: &str) -> Value {
    let info = git(
        bare,
        &[
            "show",
            "-s",
            "--format=%T%x00%an%x00%ae%x00%cn%x00%ce%x00%aI%x00%B",
            sha,
        ],
    );
    let f: Vec<&str> = info.splitn(7, '\0').collect();
    let changes = git(
        bare,
        &[
            "diff-tree",
            "--no-commit-id",
            "--name-status",
            "-r",
            "--root",
            "-z",
            sha,
        ],
    );
    let fields: Vec<&str> = changes.split('\0').filter(|s| !s.is_empty()).collect();
    let (mut added, mut removed, mut modified) = (vec![], vec![], vec![]);
    for pair in fields.chunks(2) {
        if let [status, path] = pair {
            match *status {
                "A" => added.push(*path),
                "D" => removed.push(*path),
                _ => modified.push(*path),
            }
        }
    }
    json!({
        "id": sha, "tree_id": f[0], "distinct": true, "message": f[6].trim_end(),
        "timestamp": f[5], "url": format!("{}/{full}/commit/{sha}", state.base()),
        "author": { "name": f[1], "email": f[2], "username": "mona" },
        "committer": { "name": f[3], "email": f[4], "username": "mona" },
        "added": added, "removed": removed, "modified": modified,
    })
}

pub(crate) fn push(state: &State, p: &Push) -> WebhookDelivery {
    let (bare, full, installation, default_branch) = {
        let inner = state.inner();
        let r = inner.repos.get(&p.repo_id).expect("known repository");
        (
            r.bare.clone(),
            r.full_name(),
            r.installation,
            r.default_branch.clone(),
        )
    };
    let commits: Vec<Value> = if p.deleted {
        vec![]
    } else {
        let range = if p.created {
            // A new branch lists the commits not on the default branch.
            let default = format!("refs/heads/{default_branch}");
            if p.branch == default_branch {
                p.after.clone()
            } else {
                format!("{default}..{}", p.after)
            }
        } else {
            format!("{}..{}", p.before, p.after)
        };
        git(&bare, &["rev-list", "--reverse", &range])
            .lines()
            .map(|sha| commit_json(state, &full, &bare, sha))
            .collect()
    };
    let head_commit = if p.deleted {
        Value::Null
    } else {
        commit_json(state, &full, &bare, &p.after)
    };
    let payload = json!({
        "ref": format!("refs/heads/{}", p.branch),
        "before": p.before, "after": p.after,
        "repository": repo_json(state, p.repo_id),
        "pusher": { "name": "mona", "email": "mona@example.com" },
        "installation": installation_ref(installation),
        "sender": sender(state),
        "created": p.created, "deleted": p.deleted, "forced": p.forced,
        "base_ref": null,
        "compare": format!("{}/{full}/compare/{}...{}", state.base(), &p.before[..12], &p.after[..12]),
        "commits": commits,
        "head_commit": head_commit,
    });
    WebhookDelivery::new("push", state.app_id, payload)
}

/// `create` (a branch created) or `delete` (a branch deleted), from the push that did it.
pub(crate) fn branch_event(state: &State, p: &Push) -> WebhookDelivery {
    let (installation, default_branch) = {
        let inner = state.inner();
        let r = inner.repos.get(&p.repo_id).expect("known repository");
        (r.installation, r.default_branch.clone())
    };
    let mut payload = json!({
        "ref": p.branch, "ref_type": "branch", "pusher_type": "user",
        "repository": repo_json(state, p.repo_id),
        "installation": installation_ref(installation),
        "sender": sender(state),
    });
    let event = if p.deleted {
        "delete"
    } else {
        payload["master_branch"] = json!(default_branch);
        payload["description"] = Value::Null;
        "create"
    };
    WebhookDelivery::new(event, state.app_id, payload)
}

fn repo_brief(state: &State, id: i64) -> Value {
    let r = repo_json(state, id);
    json!({ "id": r["id"], "node_id": r["node_id"], "name": r["name"],
            "full_name": r["full_name"], "private": r["private"] })
}

pub(crate) fn installation_json(state: &State, id: i64) -> Value {
    let base = state.base();
    let inner = state.inner();
    let i = inner.installations.get(&id).expect("known installation");
    json!({
        "id": id, "client_id": "Iv1.fakeclientid",
        "account": account_json(base, &i.account_login, i.account_id),
        "repository_selection": "selected",
        "access_tokens_url": format!("{base}/app/installations/{id}/access_tokens"),
        "repositories_url": format!("{base}/installation/repositories"),
        "html_url": format!("{base}/organizations/{}/settings/installations/{id}", i.account_login),
        "app_id": state.app_id, "app_slug": state.app_slug,
        "target_id": i.account_id, "target_type": "Organization",
        "permissions": { "contents": "read", "metadata": "read" },
        "events": ["push", "create", "delete", "repository"],
        "created_at": "2026-11-26T00:00:00Z", "updated_at": "2026-11-26T00:00:00Z",
        "single_file_name": null, "has_multiple_single_files": false, "single_file_paths": [],
        "suspended_by": if i.suspended_at.is_some() { sender(state) } else { Value::Null },
        "suspended_at": i.suspended_at,
    })
}

/// `installation` with `action` created, deleted, suspend, unsuspend or new_permissions_accepted.
pub(crate) fn installation(state: &State, id: i64, action: &str) -> WebhookDelivery {
    let mut payload = json!({
        "action": action,
        "installation": installation_json(state, id),
        "requester": null,
        "sender": sender(state),
    });
    if matches!(action, "created" | "deleted") {
        let ids: Vec<i64> = state.inner().installations[&id]
            .repos
            .iter()
            .copied()
            .collect();
        payload["repositories"] = ids.iter().map(|r| repo_brief(state, *r)).collect();
    }
    if action == "suspend" {
        payload["installation"]["suspended_at"] = json!("2026-11-26T00:00:00Z");
        payload["installation"]["suspended_by"] = sender(state);
    }
    WebhookDelivery::new("installation", state.app_id, payload)
}

/// `installation_repositories` with `action` added or removed.
pub(crate) fn installation_repositories(
    state: &State,
    id: i64,
    action: &str,
    repos: &[i64],
) -> WebhookDelivery {
    let list: Vec<Value> = repos.iter().map(|r| repo_brief(state, *r)).collect();
    let (added, removed) = if action == "added" {
        (list, vec![])
    } else {
        (vec![], list)
    };
    let payload = json!({
        "action": action,
        "installation": installation_json(state, id),
        "repository_selection": "selected",
        "repositories_added": added,
        "repositories_removed": removed,
        "requester": null,
        "sender": sender(state),
    });
    WebhookDelivery::new("installation_repositories", state.app_id, payload)
}
