//! `GET /setup/installed`: the app's setup URL. GitHub sends the user here after they install
//! the app (`?installation_id=&setup_action=install`), or after asking an organisation's owners to
//! approve it (`setup_action=request`). The installation is looked at at once (through the
//! self-healing task: handlers never call GitHub), and the user goes on to the status page.
//!
//! The session cookie is SameSite=Strict, so this request, which comes from github.com, carries
//! none: answering with a redirect would show the installer a login form. A page that moves on
//! by itself makes the next request come from hubsync's own page, which does carry it.
use actix_web::{get, web, HttpResponse};
use maud::{html, PreEscaped};
use serde::Deserialize;

use crate::http::{
    error::ApiError,
    pages::{layout, PageError},
    AppState,
};

#[derive(Deserialize)]
struct InstalledQuery {
    installation_id: Option<String>,
    setup_action: Option<String>,
}

#[get("/setup/installed")]
pub(super) async fn installed(
    state: web::Data<AppState>,
    q: web::Query<InstalledQuery>,
) -> Result<HttpResponse, PageError> {
    let installation = match q.installation_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| ApiError::BadRequest("installation_id is not an id".into()))?,
        ),
    };
    let requested = q.setup_action.as_deref() == Some("request");
    if let (Some(id), false) = (installation, requested) {
        // Whatever the id: GitHub is asked about it as an installation of this app, and an
        // unknown one changes nothing.
        if !state.install_requests.request(id) {
            tracing::info!(
                installation = id,
                "setup URL: too many installations waiting to be looked at; the next pass will"
            );
        }
    }
    let next = match installation {
        Some(id) if !requested => format!("/?installation={id}"),
        _ => "/".to_owned(),
    };
    let body = html! {
        @if requested {
            h1 { "Installation requested" }
            p { "GitHub sent your request to the organisation's owners. Once one of them \
                 approves it, its repositories appear on the status page." }
        } @else {
            h1 { "Installed" }
            p { "hubsync is fetching the installation's repositories from GitHub." }
        }
        p { a #continue href=(next) { "Continue to the status page" } }
    };
    let refresh = format!("<meta http-equiv=\"refresh\" content=\"0; url={next}\">");
    let page = layout::page("Installed", None, None, body).into_string();
    // The refresh goes in the head: same page, no script (the policy allows none inline).
    let page = page.replacen("</head>", &format!("{}</head>", PreEscaped(refresh).0), 1);
    Ok(layout::uncached(&mut HttpResponse::Ok()).body(page))
}
