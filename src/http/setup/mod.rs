//! Setting hubsync up from its own pages.
//!
//! - The first run's setup link (`GET /setup?token=`, link.rs) signs the operator's browser in as
//!   the first admin.
//! - The app-manifest flow: `GET /setup` renders a form that posts `app-manifest.json` (this
//!   instance's URL filled in) to GitHub with an unguessable, single-use `state`; GitHub sends the
//!   user back to `GET /setup/callback?code=&state=` (callback.rs), where the code is exchanged
//!   for the app's credentials, which are written to the credentials file and put to use without
//!   a restart. Once an app is configured both routes answer 404, so nobody can swap in their
//!   own app or learn which app this is; before that only an admin may start the flow.
//! - After installing the app GitHub sends the user to the app's setup URL,
//!   `GET /setup/installed` (installed.rs), which brings them back to the status page.
mod callback;
mod installed;
mod link;
pub mod reachable;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::{
    get,
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use maud::{html, Markup};
use serde::Deserialize;

use super::{
    auth::Admin,
    error::ApiError,
    pages::{layout, signed_in, PageError},
    AppState,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(setup)
        .service(callback::callback)
        .service(installed::installed);
}

const MANIFEST: &str = include_str!("../../../app-manifest.json");
const PLACEHOLDER: &str = "https://hubsync.example.com";
const STATE_TTL: Duration = Duration::from_secs(60 * 60);
/// Pending states at most: past it the oldest is dropped, so reloading /setup cannot grow memory.
pub const MAX_PENDING_STATES: usize = 32;

/// Setup states handed out and not yet used, with when they were issued. In memory: the flow is a
/// one-time admin action on one instance, and a restart only means starting it again.
#[derive(Clone)]
pub struct SetupStates {
    issued: Arc<Mutex<HashMap<String, Instant>>>,
    ttl: Duration,
    max: usize,
}

impl Default for SetupStates {
    fn default() -> Self {
        Self {
            issued: Default::default(),
            ttl: STATE_TTL,
            max: MAX_PENDING_STATES,
        }
    }
}

impl SetupStates {
    fn issue(&self) -> Result<String, ApiError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| ApiError::Internal(format!("no randomness for the setup state: {e}")))?;
        let state = hex::encode(bytes);
        let mut states = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        states.retain(|_, issued| issued.elapsed() < self.ttl);
        while states.len() >= self.max {
            let oldest = states
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(s, _)| s.clone());
            oldest.map(|s| states.remove(&s));
        }
        states.insert(state.clone(), Instant::now());
        Ok(state)
    }

    /// True once per issued, unexpired state.
    fn take(&self, state: &str) -> bool {
        let mut states = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        states
            .remove(state)
            .is_some_and(|issued| issued.elapsed() < self.ttl)
    }
}

/// Once an app is configured, /setup is gone.
fn closed() -> ApiError {
    ApiError::NotFound("no route for /setup: a GitHub App is configured".into())
}

#[derive(Deserialize)]
struct SetupQuery {
    /// The first run's one-time setup link.
    token: Option<String>,
    org: Option<String>,
    /// `personal`: create the app under the signed-in user's own account.
    account: Option<String>,
}

/// Who will own the app.
enum Owner {
    Organisation(String),
    Personal,
}

fn owner(q: &SetupQuery) -> Result<Option<Owner>, ApiError> {
    match q.org.as_deref().map(str::trim).filter(|o| !o.is_empty()) {
        Some(o) if o.len() <= 39 && o.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
            Ok(Some(Owner::Organisation(o.to_owned())))
        }
        Some(_) => Err(ApiError::BadRequest("org is not a GitHub login".into())),
        None if q.account.as_deref() == Some("personal") => Ok(Some(Owner::Personal)),
        None => Ok(None),
    }
}

#[get("/setup")]
async fn setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Result<Admin, ApiError>,
    query: web::Query<SetupQuery>,
) -> Result<HttpResponse, PageError> {
    let admin = signed_in(admin)?;
    if let Some(token) = &query.token {
        return Ok(link::open(&req, &state, admin.is_some(), token).await?);
    }
    if state.github.app().is_some() {
        return Err(closed().into());
    }
    // Only an admin may connect an app: whoever reached /setup first could otherwise connect
    // their own. /login says how to become one (the setup link, or the admin token).
    let Some(admin) = admin else {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .finish());
    };
    // A bad organisation is a form error: the page again, with the message at the field.
    let (owner, bad) = match owner(&query) {
        Ok(o) => (o, None),
        Err(e) => (
            None,
            Some((query.org.as_deref().unwrap_or(""), e.to_string())),
        ),
    };
    let create = match &owner {
        Some(o) => Some(create_form(&state, o)?),
        None => None,
    };
    let csrf = admin.session.as_deref().map(super::csrf::csrf_token);
    let body = html! {
        h1 { "Create hubsync's GitHub App" }
        p.step { "Step 1 of 3: create the app · 2: install it · 3: choose branches" }
        (reachable::warning(&state.public_url))
        @if let Some(form) = create { (form) }
        (choose_owner(owner.as_ref(), bad.as_ref().map(|(v, m)| (*v, m.as_str()))))
    };
    let status = if bad.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(html_page(
        status,
        "Create the GitHub App",
        csrf.as_deref(),
        body,
    ))
}

fn html_page(status: StatusCode, title: &str, csrf: Option<&str>, body: Markup) -> HttpResponse {
    layout::uncached(&mut HttpResponse::build(status))
        .body(layout::page(title, None, csrf, body).into_string())
}

/// The organisation form (the default), and the personal account as the other choice; `bad` is
/// a refused value with the reason.
fn choose_owner(current: Option<&Owner>, bad: Option<(&str, &str)>) -> Markup {
    let org = match (current, bad) {
        (_, Some((value, _))) => value,
        (Some(Owner::Organisation(o)), None) => o.as_str(),
        _ => "",
    };
    html! {
        form.owner method="get" action="/setup" {
            label for="org" { "Organisation that will own the app (you must be one of its owners)" }
            input #org name="org" value=(org) placeholder="organisation login" required
                autocapitalize="none" spellcheck="false"
                aria-describedby=[bad.map(|_| "org-error")];
            @if let Some((_, why)) = bad {
                p.error #org-error role="alert" { (why) }
            }
            button type="submit" { @if org.is_empty() { "Continue" } @else { "Use this organisation" } }
        }
        @if !matches!(current, Some(Owner::Personal)) {
            p { a href="/setup?account=personal" { "Create it under your personal account instead" } }
        } @else {
            p { "The app will belong to your personal account; it can still be installed on organisations." }
        }
    }
}

fn create_form(state: &AppState, owner: &Owner) -> Result<Markup, ApiError> {
    let public = state.public_url.as_str().trim_end_matches('/');
    let manifest = MANIFEST.replace(PLACEHOLDER, public);
    let setup_state = state.setup_states.issue()?;
    let web = state.config.github.web_url.as_str().trim_end_matches('/');
    let (action, who) = match owner {
        Owner::Organisation(org) => (
            format!("{web}/organizations/{org}/settings/apps/new?state={setup_state}"),
            html! { "the organisation " strong { (org) } },
        ),
        Owner::Personal => (
            format!("{web}/settings/apps/new?state={setup_state}"),
            html! { "your personal account" },
        ),
    };
    Ok(html! {
        p {
            "GitHub will create the app for " (who) ", with read-only access to contents and \
             metadata, sending webhooks to " code { (public) "/webhooks/github" } "."
        }
        form #create-app method="post" action=(action) {
            input type="hidden" name="manifest" value=(manifest);
            button type="submit" { "Create the GitHub App" }
        }
        p { "After GitHub creates the app, hubsync stores its credentials and sends you on to \
             install it; no restart is needed." }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_single_use_and_unguessable() {
        let states = SetupStates::default();
        let a = states.issue().unwrap();
        let b = states.issue().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(states.take(&a));
        assert!(!states.take(&a));
        assert!(!states.take("guess"));
        let bounded = SetupStates {
            max: 3,
            ..Default::default()
        };
        let first = bounded.issue().unwrap();
        let rest: Vec<String> = (0..3).map(|_| bounded.issue().unwrap()).collect();
        assert!(!bounded.take(&first), "the oldest went when a fourth came");
        assert!(rest.iter().all(|s| bounded.take(s)));
        let expiring = SetupStates {
            ttl: Duration::ZERO,
            ..Default::default()
        };
        let s = expiring.issue().unwrap();
        assert!(!expiring.take(&s), "expired");
    }
}
