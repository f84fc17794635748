//! The project page's "Use this data" panel: copyable curl commands for the files API, the change
//! feed and wait-until-synced, against this instance's public URL. The copy buttons are app.js's
//! (shown only when it runs); without JavaScript the commands are plain selectable text.
use maud::{html, Markup};

use crate::store::projects::ProjectRecord;

/// One command per line of the panel: (id, what it does, the command).
fn commands(
    public_url: &str,
    p: &ProjectRecord,
    branch: &str,
) -> Vec<(String, &'static str, String)> {
    let base = public_url.trim_end_matches('/');
    let id = p.project.id;
    let b: String = url::form_urlencoded::byte_serialize(branch.as_bytes()).collect();
    let curl = |path: String| {
        let url = format!("{base}{path}").replace('\'', "%27");
        format!("curl -H \"Authorization: Bearer $HUBSYNC_TOKEN\" '{url}'")
    };
    vec![
        (
            format!("cmd-files-{id}"),
            "Every file of the branch, with its sha and size",
            curl(format!("/api/v1/projects/{id}/files?branch={b}")),
        ),
        (
            format!("cmd-file-{id}"),
            "One file's content",
            curl(format!("/api/v1/projects/{id}/files/README.md?branch={b}")),
        ),
        (
            format!("cmd-changes-{id}"),
            "The change feed: what changed, in order (pass the last cursor as after=)",
            curl(format!("/api/v1/changes?project_id={id}&wait=30")),
        ),
        (
            format!("cmd-synced-{id}"),
            "Wait until a commit is synced (up to 30 s)",
            curl(format!(
                "/api/v1/projects/{id}/synced?branch={b}&sha=COMMIT_SHA&timeout=30"
            )),
        ),
    ]
}

pub fn panel(public_url: &str, p: &ProjectRecord) -> Markup {
    let branch = p
        .selections
        .iter()
        .find(|s| !s.is_pattern && s.enabled && s.branch == p.repository.default_branch)
        .or_else(|| p.selections.iter().find(|s| !s.is_pattern && s.enabled))
        .map_or(p.repository.default_branch.as_str(), |s| s.branch.as_str());
    html! {
        section.use-data aria-labelledby="use-data" {
            h2 #use-data { "Use this data" }
            p {
                "Set " code { "HUBSYNC_TOKEN" } " to the admin token (" code { "HUBSYNC_ADMIN_TOKEN" } "), then:"
            }
            @for (id, what, cmd) in commands(public_url, p, branch) {
                div.command {
                    p.what { (what) }
                    div.copyable {
                        pre id=(id) { code { (cmd) } }
                        button.copy type="button" data-copy=(id) hidden { "Copy" }
                    }
                }
            }
        }
    }
}
