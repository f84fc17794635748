//! The run page and the project page in a real browser (headless Chromium): a run that failed, its
//! Retry button, a retried run's timeline; every page at 1280 and 390 px without sideways
//! scrolling, in light and dark mode, with screenshots under target/browser/.
//!
//! SQLite only, like tests/browser.rs: the pages read the same rows on both engines.
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::support::{
    browser::{dom_until, Browser},
    fake_github::{route, FakeGithub, Fault},
    synced, wait,
    webhooks::SECRET,
    TestApp, TestDb,
};

const WAIT: Duration = Duration::from_secs(60);

/// Waits until `js` (a function body returning a boolean) is true in the page.
async fn until(c: &Client, what: &str, js: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    if !dom_until(c, js, deadline).await {
        panic!("waited {WAIT:?} for {what}; page: {:?}", main_text(c).await);
    }
}

/// `until` for a page that is not updated in place (the run page): reloaded after each progress
/// event the app publishes.
async fn reloaded_until(c: &Client, app: &TestApp, what: &str, js: &str) {
    let mut events = app.app.hub.subscribe();
    wait::until_true(what, &mut events, async || {
        c.refresh().await.unwrap();
        c.execute(js, vec![]).await.ok() == Some(json!(true))
    })
    .await
}

async fn main_text(c: &Client) -> Result<Value, fantoccini::error::CmdError> {
    c.execute("return document.querySelector('main').innerText", vec![])
        .await
}

/// Screenshots the page at 1280 px and at 390 px (a phone), checking that neither scrolls sideways.
async fn both_widths(browser: &Browser, name: &str) {
    browser.viewport(1280, 900, false).await;
    browser
        .assert_no_horizontal_overflow(&format!("{name} at 1280 px"))
        .await;
    let wide = browser.screenshot(&format!("{name}-1280.png")).await;
    browser.viewport(390, 844, true).await;
    browser
        .assert_no_horizontal_overflow(&format!("{name} at 390 px"))
        .await;
    let narrow = browser.screenshot(&format!("{name}-390.png")).await;
    println!("screenshots: {} {}", wide.display(), narrow.display());
    browser.viewport(1280, 900, false).await;
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_pages_show_failures_retries_and_fit_a_phone() {
    let Some(browser) =
        Browser::start("browser_pages::run_pages_show_failures_retries_and_fit_a_phone").await
    else {
        return;
    };
    let c = &browser.client;
    let db = TestDb::sqlite().await;
    let fake = FakeGithub::start().await;
    let inst = fake.add_installation("octo-org");
    let repo = fake.create_repo(inst, "widgets");
    repo.write("README.md", "v1\n");
    repo.commit("first");
    repo.push("main");
    let app = synced::start(&fake, &db, &[]).await;
    let sel = synced::install(&fake, &app, &repo).await;

    // The login page, the first page anyone sees, fits a phone too.
    c.goto(&app.url("/login")).await.unwrap();
    both_widths(&browser, "login").await;
    c.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(synced::ADMIN)
        .await
        .unwrap();
    c.find(Locator::Css("form.login button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        c,
        "the overview",
        "return location.pathname === '/' && !!document.querySelector('tr[data-branch]')",
    )
    .await;
    both_widths(&browser, "overview").await;

    // A push GitHub then refuses to describe (422, final): the run fails for good.
    fake.inject(
        route::BRANCH,
        Fault::Raw {
            status: 422,
            content_type: "application/json",
            body: r#"{"message":"Validation Failed"}"#.into(),
        },
        1,
    );
    repo.write("README.md", "v2\n");
    repo.commit("Make the widgets <faster> & smaller");
    let second = repo.push("main");
    let r = fake
        .push_event(&second)
        .send(&app.client, &app.url("/webhooks/github"), SECRET)
        .await;
    assert_eq!(r.status(), 202);
    let project = format!("/projects/{}", sel.project_id);
    c.goto(&app.url(&project)).await.unwrap();
    reloaded_until(c, &app, "the failed run", "const s = document.querySelector('table.runs tbody tr .state'); return !!s && s.textContent.trim() === 'failed'").await;
    let run_link = c
        .find(Locator::Css("table.runs tbody tr td.run a"))
        .await
        .unwrap();
    let failed_run = run_link.text().await.unwrap();
    run_link.click().await.unwrap();
    until(
        c,
        "the run page",
        &format!("return location.pathname === '{project}/runs/{failed_run}'"),
    )
    .await;
    assert_eq!(text(c, "h1 .state").await, "failed");
    assert_eq!(
        text(c, "section.commit .message").await,
        "Make the widgets <faster> & smaller",
        "the push's own words, escaped once"
    );
    let compare = c
        .find(Locator::Css("section.commit a[href*='/compare/']"))
        .await
        .expect("a compare link");
    let href = compare.attr("href").await.unwrap().unwrap();
    assert!(href.ends_with(&format!("...{}", second.after)), "{href}");
    let timeline = text(c, "ol.timeline").await;
    assert!(
        timeline.contains("Queued (push)") && timeline.contains("422"),
        "{timeline}"
    );
    let hover = c
        .find(Locator::Css("ol.timeline time.ago"))
        .await
        .unwrap()
        .attr("title")
        .await
        .unwrap()
        .unwrap();
    assert!(hover.ends_with(" UTC"), "the exact time on hover: {hover}");
    both_widths(&browser, "run-failed").await;

    // Retry, with the keyboard: the next run meets a rate limit (retried), then succeeds.
    fake.inject(
        route::BRANCH,
        Fault::SecondaryRateLimit { retry_after: 0 },
        6,
    );
    let retry = c
        .find(Locator::Css("form.retry button#retry"))
        .await
        .expect("a Retry button");
    retry.send_keys("\u{e007}").await.unwrap(); // Enter
    until(c, "the new run's page", &format!("return location.pathname.startsWith('{project}/runs/') && location.pathname !== '{project}/runs/{failed_run}'")).await;
    reloaded_until(c, &app, "the retried run to succeed", "const s = document.querySelector('h1 .state'); return !!s && s.textContent.trim() === 'succeeded'").await;
    let timeline = text(c, "ol.timeline").await;
    for expected in [
        "Queued (manual)",
        "Attempt 1/5 started",
        "rate limit",
        "Retrying 2/5 in",
        "Attempt 2/5 started",
        "Attempt 2 succeeded",
        "Finished: succeeded",
    ] {
        assert!(
            timeline.contains(expected),
            "missing {expected:?}: {timeline}"
        );
    }
    both_widths(&browser, "run-retried").await;

    // The project page: the history, the retried run's attempts, "Use this data" with a copy
    // button the script shows (and that answers when pressed).
    c.goto(&app.url(&project)).await.unwrap();
    until(
        c,
        "the live project page",
        "return document.getElementById('live').classList.contains('on')",
    )
    .await;
    let copy = c.find(Locator::Css("button.copy")).await.unwrap();
    assert!(
        copy.is_displayed().await.unwrap(),
        "the script shows the copy buttons"
    );
    copy.click().await.unwrap();
    until(c, "the copy button to answer", "const t = document.querySelector('button.copy').textContent; return t === 'Copied' || t === 'Press Ctrl+C'").await;
    let attempts = text(c, "table.runs tbody tr:first-child td.error").await;
    assert!(attempts.contains("2 attempts"), "{attempts}");
    both_widths(&browser, "project").await;

    // Dark mode follows the system setting.
    browser.color_scheme(true).await;
    let colours: Value = c
        .execute("return { dark: matchMedia('(prefers-color-scheme: dark)').matches, bg: getComputedStyle(document.body).backgroundColor }", vec![])
        .await
        .unwrap();
    assert_eq!(
        colours,
        json!({ "dark": true, "bg": "rgb(13, 17, 23)" }),
        "dark background"
    );
    both_widths(&browser, "project-dark").await;
    browser.color_scheme(false).await;
    let bg = c
        .execute(
            "return getComputedStyle(document.body).backgroundColor",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bg, json!("rgb(246, 248, 250)"), "light again");

    // Keyboard: every control can take the focus, and shows it.
    let focus: Value = c
        .execute(
            "const b = document.getElementById('sync-now'); b.focus(); \
             return { focused: document.activeElement === b, tag: b.tagName };",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(focus, json!({ "focused": true, "tag": "BUTTON" }));

    let icon = c
        .execute(
            "return document.querySelector('link[rel=icon]').href",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        icon.as_str().unwrap().ends_with("/static/favicon.svg"),
        "{icon}"
    );
    browser.close().await;
    app.stop().await;
}
