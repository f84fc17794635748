//! `hubsync replay`: signs a payload file with the configured secret and posts it.
use crate::{
    db_test,
    support::{
        hubsync_bin, spawn_app_with,
        webhooks::{webhook_config, SECRET},
    },
};

async fn run(args: Vec<String>, secret: Option<&'static str>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let mut cmd = hubsync_bin();
        cmd.arg("replay").args(args);
        if let Some(s) = secret {
            cmd.env("GITHUB_WEBHOOK_SECRET", s);
        }
        cmd.output().expect("hubsync runs")
    })
    .await
    .unwrap()
}

db_test! {
    async fn replay_signs_and_posts_a_payload_file(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        let file = format!("{}/fixtures/webhooks/installation.created.json", env!("CARGO_MANIFEST_DIR"));
        let args = |delivery: &str| vec![
            "--event".into(), "installation".into(), file.clone(),
            "--url".into(), app.base.clone(), "--delivery".into(), delivery.into(),
        ];
        let out = run(args("11111111-2222-4333-8444-555555555555"), Some(SECRET)).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("accepted"));
        let d = app.processed("11111111-2222-4333-8444-555555555555").await;
        assert_eq!(d.status, "processed");

        // The same delivery id again is a redelivery: acknowledged, nothing more.
        let out = run(args("11111111-2222-4333-8444-555555555555"), Some(SECRET)).await;
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("duplicate"));

        // Without --delivery a new id is made up each time.
        let mut no_id = args("x");
        no_id.truncate(5);
        for _ in 0..2 {
            let out = run(no_id.clone(), Some(SECRET)).await;
            assert!(String::from_utf8_lossy(&out.stdout).starts_with("accepted"), "{out:?}");
        }

        // Each mistake is one line and a non-zero exit.
        for (args, secret, needle) in [
            (args("y"), None, "GITHUB_WEBHOOK_SECRET"),
            (args("y"), Some("a-wrong-secret-of-hubsync"), "401"),
            (args("y"), Some("short"), "at least 20"),
            (vec!["--event".into(), "push".into(), "/no/such/file.json".into(), "--url".into(), app.base.clone()], Some(SECRET), "cannot read"),
            (vec!["--event".into(), "Push!".into(), file.clone(), "--url".into(), app.base.clone()], Some(SECRET), "--event"),
        ] {
            let out = run(args, secret).await;
            assert_eq!(out.status.code(), Some(1), "{needle}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(stderr.contains(needle), "{stderr}");
        }
        app.stop().await;
    }
}
