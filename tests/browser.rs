//! The status page in a real browser (headless Chromium over WebDriver) against a running hubsync
//! and the fake GitHub: log in, open a project, push, and watch the page follow the sync live;
//! restart the server; then the overview.
//!
//! SQLite only: the page and its event stream read the same rows on both engines, and tests/sse.rs
//! checks the stream itself on PostgreSQL too.
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::support::{
    browser::{dom_until, Browser},
    fake_github::{route, FakeGithub, FakeRepo, Fault, Push},
    spawn_app_with, synced,
    webhooks::SECRET,
    TestApp, TestDb,
};

/// Files changed by the push; with 150 ms per blob and 2 requests in flight the run takes about
/// 3 s, long enough to see several progress events (at most one per 250 ms).
const FILES: usize = 40;
const BLOB_LATENCY: Duration = Duration::from_millis(150);
const WAIT: Duration = Duration::from_secs(60);

/// What the branch row shows, read in the page.
const ROW: &str = r#"
    const row = document.querySelector(`tr[data-branch="main"]`);
    const bar = row.querySelector("progress.bar");
    const link = row.querySelector(".sha a");
    return {
        value: bar.value, max: bar.max, visible: !bar.hidden && bar.offsetParent !== null,
        count: row.querySelector(".count").textContent.trim(),
        state: row.querySelector(".state").textContent.trim(),
        sha: link ? link.textContent.trim() : null,
        href: link ? link.getAttribute("href") : null,
        ago: row.querySelector(".ago").textContent.trim(),
        live: document.getElementById("live").className,
        run: [...document.querySelectorAll("table.runs tbody tr")[0].cells].map((c) => c.textContent.trim()),
        same_page: window.__hubsync_test_marker === true,
    };
"#;

/// Installs a recorder of ROW's value after every change to the document: `__hubsync_rows`.
const RECORD: &str = r#"
    const row = () => (function () { ROW_BODY })();
    window.__hubsync_rows = [row()];
    new MutationObserver(() => {
        const r = row();
        const rows = window.__hubsync_rows;
        if (JSON.stringify(r) !== JSON.stringify(rows[rows.length - 1])) rows.push(r);
    }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
"#;

fn write_all(repo: &FakeRepo, version: &str) {
    for i in 0..FILES {
        repo.write(
            &format!("src/file{i:02}.txt"),
            format!("{version} of file {i}\n"),
        );
    }
}

async fn row(c: &Client) -> Value {
    c.execute(ROW, vec![]).await.expect("row readable")
}

/// Waits until `js` (a function body returning a boolean) is true in the page.
async fn until(c: &Client, what: &str, js: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    if !dom_until(c, js, deadline).await {
        panic!("waited {WAIT:?} for {what}; row: {}", row(c).await);
    }
}

/// Marks the page (the mark survives only if it is never reloaded) and records script errors.
async fn watch(c: &Client) {
    c.execute(
        "window.__hubsync_test_marker = true; window.__hubsync_errors = []; \
         window.addEventListener('error', (e) => window.__hubsync_errors.push(String(e.message)));",
        vec![],
    )
    .await
    .unwrap();
}

async fn assert_no_script_errors(c: &Client) {
    let errors = c
        .execute("return window.__hubsync_errors", vec![])
        .await
        .unwrap();
    assert_eq!(errors, json!([]), "the page's script threw");
}

async fn push(fake: &FakeGithub, app: &TestApp, push: &Push) {
    let r = fake
        .push_event(push)
        .send(&app.client, &app.url("/webhooks/github"), SECRET)
        .await;
    assert_eq!(r.status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_pages_follow_pushes_live_and_survive_a_restart() {
    let Some(browser) =
        Browser::start("browser::status_pages_follow_pushes_live_and_survive_a_restart").await
    else {
        return;
    };
    let c = &browser.client;
    let db = TestDb::sqlite().await;
    let fake = FakeGithub::start().await;
    let inst = fake.add_installation("octo-org");
    let repo = fake.create_repo(inst, "widgets");
    write_all(&repo, "v1");
    repo.commit("first");
    repo.push("main");
    let extra = [("HUBSYNC_GITHUB_CONCURRENCY", "2")];
    let app = synced::start(&fake, &db, &extra).await;
    let sel = synced::install(&fake, &app, &repo).await;
    let first = sel.last_synced_sha.clone().expect("synced");

    // Log in with the admin token, as a person would.
    c.goto(&app.url("/login")).await.unwrap();
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
    c.find(Locator::LinkText("octo-org/widgets"))
        .await
        .expect("the overview links the project")
        .click()
        .await
        .unwrap();
    let project_path = format!("/projects/{}", sel.project_id);
    until(
        c,
        "the project page",
        &format!("return location.pathname === '{project_path}'"),
    )
    .await;
    until(
        c,
        "the live indicator",
        "return document.getElementById('live').classList.contains('on')",
    )
    .await;
    let before = row(c).await;
    assert_eq!(before["sha"], json!(&first[..7]), "{before}");
    assert_eq!(
        before["visible"],
        json!(false),
        "no bar while idle: {before}"
    );
    watch(c).await;

    // A push changing every file, with slow blob answers so the run can be watched.
    write_all(&repo, "v2");
    repo.commit("second");
    let second = repo.push("main");
    // The page records its row on every change it makes, so no value in between is missed.
    c.execute(&RECORD.replace("ROW_BODY", ROW), vec![])
        .await
        .expect("the recorder installs");
    fake.inject(route::BLOB, Fault::Latency(BLOB_LATENCY), FILES as u32);
    push(&fake, &app, &second).await;

    let deadline = tokio::time::Instant::now() + WAIT;
    let synced = format!(
        "return (function () {{ {ROW} }})().sha === '{}'",
        &second.after[..7]
    );
    let moving = format!(
        "const r = (function () {{ {ROW} }})(); return r.visible && r.value > 0 && r.value < r.max"
    );
    let mut mid_run = None;
    if dom_until(
        c,
        &format!("return (function () {{ {moving} }})() || (function () {{ {synced} }})()"),
        deadline,
    )
    .await
        && c.execute(&moving, vec![]).await.ok() == Some(json!(true))
    {
        mid_run = Some(browser.screenshot("status-page-progress.png").await);
    }
    if !dom_until(c, &synced, deadline).await {
        panic!("never synced; last row {}", row(c).await);
    }
    let last = row(c).await;
    let rows = c
        .execute("return window.__hubsync_rows", vec![])
        .await
        .expect("the recorded rows");
    let mut seen: Vec<(f64, f64)> = Vec::new();
    let mut states = Vec::new();
    for r in rows.as_array().expect("a list of rows") {
        if !states.contains(&r["state"]) {
            states.push(r["state"].clone());
        }
        let (v, m) = (r["value"].as_f64().unwrap(), r["max"].as_f64().unwrap());
        if r["visible"] == json!(true) && v > 0.0 && v < m && seen.last() != Some(&(v, m)) {
            seen.push((v, m));
        }
    }
    eprintln!("progress seen: {seen:?}; states: {states:?}; final row: {last}");
    assert!(seen.len() >= 2, "the bar moved at least twice: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0) && seen.iter().all(|(_, m)| *m == FILES as f64),
        "the bar only moves forward, out of {FILES} files: {seen:?}"
    );
    assert!(states.contains(&json!("syncing")), "{states:?}");
    assert_eq!(last["state"], json!("synced"), "{last}");
    assert_eq!(
        last["href"],
        json!(format!(
            "{}/octo-org/widgets/commit/{}",
            fake.url.trim_end_matches('/'),
            second.after
        ))
    );
    assert_eq!(last["same_page"], json!(true), "updated without reloading");
    assert_eq!(last["count"], json!(""), "{last}");
    assert!(
        last["ago"].as_str().unwrap().starts_with("just now"),
        "{last}"
    );
    // The history gained the push's run: #2, push, succeeded, every file changed.
    let run = &last["run"];
    assert_eq!(
        (&run[0], &run[2], &run[3]),
        (&json!("2"), &json!("push"), &json!("succeeded")),
        "{run}"
    );
    assert_eq!(
        run[4],
        json!(format!("{} → {}", &first[..7], &second.after[..7])),
        "from → to, as stored rows show it: {run}"
    );
    assert_eq!(run[5], json!(format!("{FILES} / {FILES}")), "{run}");
    assert!(run[8].as_str().unwrap().ends_with(" ms"), "duration: {run}");
    let shot = browser.screenshot("status-page.png").await;
    println!("screenshot: {}", shot.display());
    if let Some(mid) = mid_run {
        println!("screenshot mid-run: {}", mid.display());
    }
    until(
        c,
        "the bar to go away",
        "return document.querySelector('progress.bar').hidden",
    )
    .await;
    // "When" keeps counting.
    c.execute(
        "document.querySelector('tr[data-branch=\"main\"] .ago').dataset.ts = new Date(Date.now() - 125000).toISOString()",
        vec![],
    )
    .await
    .unwrap();
    until(c, "the time since to tick", "return document.querySelector('tr[data-branch=\"main\"] .ago').textContent === '2 min ago'").await;

    // The server restarts on the same address: the page notices, reconnects by itself and keeps
    // following pushes (still without a reload).
    let addr = app.app.addr;
    app.stop().await;
    until(
        c,
        "the page to notice",
        "return !document.getElementById('live').classList.contains('on')",
    )
    .await;
    let mut config = synced::config(&fake, &db, &extra);
    config.bind = addr;
    let app = spawn_app_with(config).await;
    until(
        c,
        "the page to reconnect",
        "return document.getElementById('live').classList.contains('on')",
    )
    .await;
    repo.write("README.md", "after the restart\n");
    repo.commit("third");
    let third = repo.push("main");
    push(&fake, &app, &third).await;
    until(c, "the sha after the restart", &format!(
        "return document.querySelector('tr[data-branch=\"main\"] .sha a').textContent.trim() === '{}'",
        &third.after[..7]
    ))
    .await;
    assert_eq!(
        row(c).await["same_page"],
        json!(true),
        "reconnected without reloading"
    );
    // A selection changed elsewhere (the API) is announced, not silently missed.
    let r = app
        .client
        .put(app.url(&format!("/api/v1/projects/{}/branches", sel.project_id)))
        .bearer_auth(synced::ADMIN)
        .json(&json!({ "branches": ["main", "release/*"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    until(
        c,
        "the selection notice",
        "const n = document.getElementById('stale'); \
         return !!n && n.textContent.includes('selection changed') && window.__hubsync_test_marker === true",
    )
    .await;
    assert_no_script_errors(c).await;

    // The overview follows pushes too, linking the new commit.
    c.find(Locator::Css("header a.brand"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(c, "the overview", "return location.pathname === '/' && document.getElementById('live').classList.contains('on')").await;
    watch(c).await;
    repo.write("README.md", "seen from the overview\n");
    repo.commit("fourth");
    let fourth = repo.push("main");
    push(&fake, &app, &fourth).await;
    let link = format!(
        "{}/octo-org/widgets/commit/{}",
        fake.url.trim_end_matches('/'),
        fourth.after
    );
    until(c, "the overview's new commit link", &format!(
        "const a = document.querySelector('tr[data-branch=\"main\"] .sha a'); \
         return a.getAttribute('href') === '{link}' && a.textContent.trim() === '{}' && window.__hubsync_test_marker === true",
        &fourth.after[..7]
    ))
    .await;
    assert_no_script_errors(c).await;
    let shot = browser.screenshot("status-overview.png").await;
    println!("screenshot: {}", shot.display());

    browser.close().await;
    app.stop().await;
}
