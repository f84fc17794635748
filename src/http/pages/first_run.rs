//! The first-run checklist: create the app, install it, choose branches. `/` shows it while any
//! step is left, to admins with links to each step, and to anonymous visitors of an instance
//! that is not set up yet with how to sign in, so nobody meets a login form that cannot work.
use actix_web::HttpResponse;
use maud::{html, Markup};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::layout::page as frame;
use crate::{
    http::{ApiError, AppState},
    store::entities::{installations, project_syncs},
};

/// How far setting up has come.
pub struct Progress {
    pub app: bool,
    pub installations: u64,
    pub selections: u64,
}

impl Progress {
    pub async fn load(state: &AppState) -> Result<Self, ApiError> {
        let installations = installations::Entity::find()
            .filter(installations::Column::DeletedAt.is_null())
            .count(&state.db)
            .await?;
        let selections = project_syncs::Entity::find()
            .filter(project_syncs::Column::Enabled.eq(true))
            .count(&state.db)
            .await?;
        Ok(Self {
            app: state.github.app().is_some(),
            installations,
            selections,
        })
    }

    /// Installed somewhere: past this there are repository names to protect, and anonymous
    /// visitors are sent to log in as usual.
    pub fn configured(&self) -> bool {
        self.installations > 0
    }

    pub fn done(&self) -> bool {
        self.app && self.configured() && self.selections > 0
    }
}

fn install_link(state: &AppState) -> String {
    match state.github.app_page() {
        Some(page) => format!("{}/installations/new", page.trim_end_matches('/')),
        // An app configured through the environment: its page is under the owner's settings.
        None => format!(
            "{}/settings/apps",
            state.config.github.web_url.as_str().trim_end_matches('/')
        ),
    }
}

fn step(done: bool, title: &str, detail: Markup) -> Markup {
    html! {
        li class=(if done { "done" } else { "todo" }) {
            span.mark aria-hidden="true" { (if done { "✓" } else { "○" }) }
            " " strong { (title) } @if done { " — done" }
            div.detail { (detail) }
        }
    }
}

/// The checklist for a signed-in admin; `first_project` links the branch step.
pub fn checklist(state: &AppState, p: &Progress, first_project: Option<i64>) -> Markup {
    html! {
        section.first-run {
            h2 { "Set up hubsync" }
            ol.checklist {
                (step(p.app, "Create the GitHub App", html! {
                    @if !p.app { a href="/setup" { "Create it from hubsync" } " (an organisation's app by default)." }
                }))
                (step(p.installations > 0, "Install it", html! {
                    @if p.app && p.installations == 0 {
                        a href=(install_link(state)) { "Install the app on GitHub" }
                        " and pick the repositories; GitHub brings you back here."
                    } @else if !p.app { "After the app exists." }
                }))
                (step(p.selections > 0, "Choose branches", html! {
                    @if p.installations > 0 && p.selections == 0 {
                        @if let Some(id) = first_project {
                            a href=(format!("/projects/{id}")) { "Choose which branches to sync" }
                        } @else { "The installation's repositories appear below as GitHub lists them." }
                    } @else if p.installations == 0 { "After installing: each repository's default branch is selected unless HUBSYNC_AUTO_SELECT=none." }
                }))
            }
        }
    }
}

/// `/` for an anonymous visitor while the instance is not set up.
pub fn anonymous(state: &AppState, p: &Progress) -> HttpResponse {
    let has_token = state.config.admin_token.is_some();
    let body = html! {
        h1 { "Welcome to hubsync" }
        p { "This instance is not set up yet. Sign in as its admin, then follow the checklist." }
        (sign_in_help(has_token))
        ol.checklist {
            (step(p.app, "Create the GitHub App", html! {}))
            (step(p.installations > 0, "Install it on your organisation", html! {}))
            (step(p.selections > 0, "Choose branches", html! {}))
        }
    };
    super::layout::uncached(&mut HttpResponse::Ok())
        .body(frame("Welcome", None, None, body).into_string())
}

/// How to become the admin: the setup link hubsync printed, or the admin token.
pub(crate) fn sign_in_help(has_token: bool) -> Markup {
    html! {
        div.notice {
            p {
                "Open the one-time setup link " code { "hubsync serve" } " printed when it started ("
                code { "http://…/setup?token=…" } "). It works once, for an hour; restart hubsync for a new \
                 one while no admin has signed in."
            }
            @if has_token {
                p { "Or " a href="/login" { "log in with the admin token" } " (" code { "HUBSYNC_ADMIN_TOKEN" } ")." }
            } @else {
                p { "For lasting access set " code { "HUBSYNC_ADMIN_TOKEN" } " (at least 32 characters) and restart." }
            }
        }
    }
}
