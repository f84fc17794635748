//! `GET /metrics`: Prometheus text after real syncs, the token on the main listener, and the
//! separate unauthenticated listener.
use std::{collections::BTreeMap, time::Duration};

use crate::{
    db_test,
    support::{
        fake_github::{route, FakeGithub},
        synced::{self, ADMIN},
        wait,
        webhooks::SECRET,
        TestApp,
    },
};

const TOKEN: &str = "metrics-test-token-0123456789abcdefgh";
const WAIT: Duration = Duration::from_secs(60);

/// Every sample of a scrape: `name{labels}` → value.
fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample is `series value`");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

async fn scrape(app: &TestApp) -> (String, BTreeMap<String, f64>) {
    let r = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = r.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

/// Scrapes until `ok` holds, again after each run's end (counted), progress event and webhook
/// pass (the delivery queue).
async fn scrape_until(
    app: &TestApp,
    what: &str,
    ok: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> (String, BTreeMap<String, f64>) {
    let activity = &app.app.activity;
    let mut signals = (
        (activity.runs.watch(), activity.webhooks.watch()),
        app.app.hub.subscribe(),
    );
    wait::within(WAIT, what, &mut signals, async || {
        let (text, samples) = scrape(app).await;
        ok(&samples).then_some((text, samples))
    })
    .await
}

fn get(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

db_test! {
    async fn a_push_sync_moves_the_counters_and_a_pending_push_shows_as_lag(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "measured");
        repo.write("a.txt", "1\n");
        repo.commit("one");
        repo.push("main");
        // No redelivery pass: it would ask the fake to resend the forged delivery.
        let token = [("HUBSYNC_METRICS_TOKEN", TOKEN), ("HUBSYNC_REDELIVERY_SECS", "0")];
        let app = synced::start(&fake, &db, &token).await;
        let sel = synced::install(&fake, &app, &repo).await;
        let project = sel.project_id;
        let (_, before) = scrape_until(&app, "the install's run is counted", |s| {
            get(s, r#"hubsync_sync_runs_total{outcome="succeeded"}"#) == 1.0
        })
        .await;
        assert_eq!(get(&before, r#"hubsync_webhook_deliveries_total{event="installation",outcome="accepted"}"#), 1.0);

        repo.write("b.txt", "2\n");
        repo.commit("two");
        let push = repo.push("main");
        let delivery = fake.push_event(&push);
        let r = delivery.send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        assert_eq!(r.status(), 202);
        // The same delivery again, and one with a forged signature.
        let r = delivery.send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        assert_eq!(r.status(), 200);
        let r = fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), "not-the-secret-at-all").await;
        assert_eq!(r.status(), 401);
        synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
        let (text, after) = scrape_until(&app, "the push's run is counted", |s| {
            get(s, r#"hubsync_sync_runs_total{outcome="succeeded"}"#) == 2.0
        })
        .await;
        assert_eq!(get(&after, r#"hubsync_webhook_deliveries_total{event="push",outcome="accepted"}"#), 1.0);
        assert_eq!(get(&after, r#"hubsync_webhook_deliveries_total{event="push",outcome="duplicate"}"#), 1.0);
        assert_eq!(get(&after, r#"hubsync_webhook_deliveries_total{event="push",outcome="unauthorized"}"#), 1.0);
        assert_eq!(get(&after, r#"hubsync_sync_run_duration_seconds_count{outcome="succeeded"}"#), 2.0);
        assert!(get(&after, r#"hubsync_sync_run_duration_seconds_sum{outcome="succeeded"}"#) > 0.0);
        // GitHub requests by route template: the push cost one branch, one tree, one blob.
        let series = |route: &str| format!(r#"hubsync_github_requests_total{{route="{route}",status="200"}}"#);
        for (r, n) in [(route::BRANCH, 1.0), (route::TREE, 1.0), (route::BLOB, 1.0)] {
            assert_eq!(get(&after, &series(r)) - get(&before, &series(r)), n, "{r}\n{text}");
        }
        for line in text.lines().filter(|l| l.starts_with("hubsync_github_requests_total")) {
            assert!(!line.contains("measured") && !line.contains(&push.after), "a raw URL in {line}");
        }
        let remaining = get(&after, &format!(r#"hubsync_github_rate_limit_remaining{{installation="{inst}"}}"#));
        assert!(remaining > 0.0 && remaining < 5000.0, "{text}");
        assert_eq!(get(&after, "hubsync_sync_lag_max_seconds"), 0.0);
        assert_eq!(get(&after, "hubsync_delivery_queue_depth"), 0.0);
        app.stop().await;

        // Stored, not processed: the delivery queue shows it.
        let held = [token[0], token[1], ("HUBSYNC_WEBHOOK_PROCESSING", "off"), ("HUBSYNC_SYNC_WORKERS", "0")];
        let app = synced::start(&fake, &db, &held).await;
        repo.write("c.txt", "3\n");
        repo.commit("three");
        let push = repo.push("main");
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        let (_, s) = scrape(&app).await;
        assert_eq!(get(&s, "hubsync_delivery_queue_depth"), 1.0);
        assert_eq!(get(&s, "hubsync_sync_lag_max_seconds"), 0.0);
        app.stop().await;

        // Processed, no worker to run it: the push is queued and its age is the project's lag.
        let queued = [token[0], token[1], ("HUBSYNC_SYNC_WORKERS", "0")];
        let app = synced::start(&fake, &db, &queued).await;
        let lag = format!(r#"hubsync_sync_lag_seconds{{project="{project}"}}"#);
        let (_, s) = scrape_until(&app, "the queued push shows as lag", |s| {
            get(s, "hubsync_delivery_queue_depth") == 0.0 && s.contains_key(&lag)
        })
        .await;
        assert_eq!(get(&s, "hubsync_sync_queue_depth"), 1.0);
        let first = get(&s, &lag);
        assert!(first >= 0.0 && get(&s, "hubsync_sync_lag_max_seconds") == first);
        // The lag is wall time: it grows only as time passes (millisecond resolution).
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(get(&scrape(&app).await.1, &lag) > first, "the lag grows while the push waits");
        app.stop().await;

        // A worker syncs it: the lag is gone.
        let app = synced::start(&fake, &db, &token).await;
        synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
        let (text, s) = scrape_until(&app, "the lag clears", |s| {
            get(s, "hubsync_sync_lag_max_seconds") == 0.0
        })
        .await;
        assert!(!s.contains_key(&lag), "{text}");
        assert_eq!(get(&s, "hubsync_sync_queue_depth"), 0.0);
        app.stop().await;
    }
}

db_test! {
    async fn the_main_listener_needs_the_metrics_token(db) {
        let fake = FakeGithub::start().await;
        // No token, no separate listener: /metrics is not there.
        let app = synced::start(&fake, &db, &[]).await;
        let r = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert!(r.json::<serde_json::Value>().await.unwrap()["error"].is_string());
        app.stop().await;

        let app = synced::start(&fake, &db, &[("HUBSYNC_METRICS_TOKEN", TOKEN)]).await;
        let ask = |token: Option<&'static str>| {
            let mut r = app.client.get(app.url("/metrics"));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            async move { r.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(ask(None).await, 401);
        assert_eq!(ask(Some("metrics-test-token-0123456789abcdefgX")).await, 401);
        assert_eq!(ask(Some(ADMIN)).await, 401, "the admin token is not the metrics token");
        assert_eq!(ask(Some(TOKEN)).await, 200);
        // A fresh app: the gauges, and the run counters at 0 (families with labels appear with
        // their first sample; the push test sees those).
        let (text, samples) = scrape(&app).await;
        for series in [
            "hubsync_delivery_queue_depth", "hubsync_sync_queue_depth",
            r#"hubsync_sync_runs_total{outcome="failed"}"#, "hubsync_sync_lag_max_seconds",
            "hubsync_sse_subscribers",
        ] {
            assert_eq!(samples.get(series), Some(&0.0), "{series}:\n{text}");
        }
        app.stop().await;
    }
}

db_test! {
    async fn a_separate_listener_serves_metrics_without_a_token(db) {
        let fake = FakeGithub::start().await;
        let extra = [("HUBSYNC_METRICS_BIND", "127.0.0.1:0"), ("HUBSYNC_SSE_KEEPALIVE_SECS", "0.2")];
        let app = synced::start(&fake, &db, &extra).await;
        let addr = app.app.metrics_addr.expect("the metrics listener is bound");
        assert_ne!(addr, app.app.addr);
        let r = app.client.get(format!("http://{addr}/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("hubsync_sse_subscribers 0"));
        // Only /metrics there; and the main listener has none without a token.
        let r = app.client.get(format!("http://{addr}/api/v1/projects")).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(app.get("/metrics").await.status(), 404);

        // An open event stream counts while it is open.
        let stream = app.client.get(app.url("/api/v1/events")).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(stream.status(), 200);
        let metrics = format!("http://{addr}/metrics");
        let count = |client: reqwest::Client, url: String| async move {
            let text = client.get(url).send().await.unwrap().text().await.unwrap();
            parse(&text).get("hubsync_sse_subscribers").copied().unwrap_or(-1.0)
        };
        assert_eq!(count(app.client.clone(), metrics.clone()).await, 1.0);
        drop(stream);
        let deadline = tokio::time::Instant::now() + WAIT;
        while count(app.client.clone(), metrics.clone()).await != 0.0 {
            assert!(tokio::time::Instant::now() < deadline, "the closed stream is still counted");
            // Kept: the server finds the stream closed at its next keep-alive write; nothing tells.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        app.stop().await;
    }
}
