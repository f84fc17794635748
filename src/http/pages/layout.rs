//! The frame every page shares, and small formatting helpers. Pages build their body with maud's
//! `html!` (which escapes every value) and hand it to `page`; `respond` sends it.
use actix_web::{
    http::{header, StatusCode},
    HttpResponse, HttpResponseBuilder,
};
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};

/// A page only admins reach (or nobody signed in): `page_for` with `admin` set.
pub fn page(title: &str, events_url: Option<&str>, csrf: Option<&str>, body: Markup) -> Markup {
    page_for(title, events_url, csrf, true, body)
}

/// `events_url`: the event stream app.js follows (None: a static page). `csrf`: the session's
/// CSRF token, for the logout form (None: no session, no logout). `admin`: the caller may open
/// the tokens screen, so the header links to it (a member signed in with GitHub may not).
pub(crate) fn page_for(
    title: &str,
    events_url: Option<&str>,
    csrf: Option<&str>,
    admin: bool,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · hubsync" }
                link rel="icon" href="/static/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/static/style.css";
            }
            body data-events=[events_url] {
                a.skip href="#main" { "Skip to content" }
                header {
                    a.brand href="/" { "hubsync" }
                    @if events_url.is_some() {
                        // Shown by the script: without JavaScript there are no live updates.
                        span #live.live title="live updates" hidden { "○ connecting" }
                    }
                    @if let Some(csrf) = csrf {
                        @if admin { a.nav href="/tokens" { "API tokens" } }
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main #main { (body) }
                script src="/static/app.js" defer {}
            }
        }
    }
}

/// A page as an HTML response with `status`.
pub(crate) fn respond(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// An HTML answer no cache may keep (a one-time link, a token shown once, a sign-in step).
pub(crate) fn uncached(res: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    res.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
}

/// A page that only says something (an error, a refusal), with a way back.
pub fn message(title: &str, text: &str, back: (&str, &str)) -> Markup {
    let body = html! {
        h1 { (title) }
        p.error role="alert" { (text) }
        p { a href=(back.0) { (back.1) } }
    };
    page(title, None, None, body)
}

/// "2026-12-03 14:05:09 UTC": what a relative time shows on hover.
pub(crate) fn absolute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// "3 min ago" in a `<time>` with the exact time on hover, rendered on the server so the page
/// reads right without JavaScript (app.js keeps it current with the same wording).
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
            html! {
                time.ago datetime=(t.to_rfc3339()) data-ts=(t.to_rfc3339()) title=(absolute(t)) { (text) }
            }
        }
    }
}

/// "in 8 s" until `t`, kept counting by app.js (`data-until`); "now" once it has passed.
pub fn until(t: DateTime<Utc>) -> Markup {
    let secs = (t - Utc::now()).num_seconds();
    let text = if secs <= 0 {
        "now".to_owned()
    } else {
        format!("in {}", seconds(secs))
    };
    html! { time.until datetime=(t.to_rfc3339()) data-until=(t.to_rfc3339()) title=(absolute(t)) { (text) } }
}

/// "8 s", "4 min 10 s", "2 h 5 min" (same wording as app.js).
pub fn seconds(s: i64) -> String {
    match s {
        ..=59 => format!("{} s", s.max(0)),
        60..=3599 if s % 60 == 0 => format!("{} min", s / 60),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// A run's or attempt's length: "850 ms" under ten seconds, else as `seconds`.
pub fn duration(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    if ms < 10_000 {
        format!("{ms} ms")
    } else {
        seconds(ms / 1000)
    }
}

/// Where a branch row's commit links point (app.js appends the sha).
pub(crate) fn commit_base(repo_url: &str) -> String {
    format!("{repo_url}/commit/")
}

pub fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_lengths_read_well() {
        let m = message("<b>", "a \"quote\" & <script>", ("/x?a=1&b=2", "back"));
        let s = m.into_string();
        assert!(
            s.contains("&lt;b&gt;") && s.contains("&lt;script&gt;"),
            "{s}"
        );
        assert!(s.contains("href=\"/x?a=1&amp;b=2\""), "{s}");
        assert!(!s.contains("<script>"), "{s}");
        assert_eq!(seconds(8), "8 s");
        assert_eq!(seconds(120), "2 min");
        assert_eq!(seconds(250), "4 min 10 s");
        assert_eq!(seconds(7500), "2 h 5 min");
        assert_eq!(duration(chrono::Duration::milliseconds(850)), "850 ms");
        assert_eq!(duration(chrono::Duration::seconds(75)), "1 min 15 s");
    }
}
