//! The frame every page shares, and small formatting helpers.
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};

/// `csrf`: the session's CSRF token, for the logout form (None: no session, no logout).
pub fn page(title: &str, events_url: Option<&str>, csrf: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · hubsync" }
                link rel="stylesheet" href="/static/style.css";
            }
            body data-events=[events_url] {
                header {
                    a.brand href="/" { "hubsync" }
                    @if events_url.is_some() {
                        // Shown by the script: without JavaScript there are no live updates.
                        span #live.live title="live updates" hidden { "○ connecting" }
                    }
                    @if let Some(csrf) = csrf {
                        a.nav href="/tokens" { "API tokens" }
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
                script src="/static/app.js" defer {}
            }
        }
    }
}

/// "3 min ago", rendered on the server so the page reads right without JavaScript (app.js keeps
/// it current with the same wording).
pub fn ago(t: Option<DateTime<Utc>>) -> Markup {
    match t {
        None => html! { span.ago { "never" } },
        Some(t) => {
            let secs = (Utc::now() - t).num_seconds().max(0);
            let text = match secs {
                0..=9 => "just now".to_owned(),
                10..=59 => format!("{secs} s ago"),
                60..=3599 => format!("{} min ago", secs / 60),
                3600..=86_399 => format!("{} h ago", secs / 3600),
                _ => format!("{} d ago", secs / 86_400),
            };
            html! { span.ago data-ts=(t.to_rfc3339()) title=(t.to_rfc3339()) { (text) } }
        }
    }
}

/// Where a branch row's commit links point (app.js appends the sha).
pub(crate) fn commit_base(repo_url: &str) -> String {
    format!("{repo_url}/commit/")
}

pub fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}
