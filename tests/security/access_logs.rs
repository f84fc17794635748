//! API tokens never reach the log (issue 21, item 3): at RUST_LOG=trace the real binary logs that
//! tokens were created, used wrongly and revoked, never a token itself.
use serde_json::{json, Value};

use crate::{db_test, security::child::ChildApp};

const ADMIN: &str = "SECRET-admin-token-marker-access-0123456789";

db_test! {
    async fn api_tokens_never_reach_the_log_even_at_trace(db) {
        let app = ChildApp::start(&[
            ("DATABASE_URL", db.url.clone()),
            ("RUST_LOG", "trace".to_owned()),
            ("HUBSYNC_ADMIN_TOKEN", ADMIN.to_owned()),
        ]).await;
        let http = reqwest::Client::new();
        let r = http.post(app.url("/api/v1/tokens")).bearer_auth(ADMIN)
            .json(&json!({"name": "SECRET-name-is-fine-to-log", "scope": "read"})).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        let token = v["token"].as_str().unwrap().to_owned();
        let id = v["id"].as_i64().unwrap();
        assert_eq!(http.get(app.url("/api/v1/projects")).bearer_auth(&token).send().await.unwrap().status(), 200);
        let r = http.post(app.url("/api/v1/projects/1/syncs")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 403);
        let wrong = format!("hs_{}", "e".repeat(64));
        assert_eq!(http.get(app.url("/api/v1/projects")).bearer_auth(&wrong).send().await.unwrap().status(), 401);
        let r = http.delete(app.url(&format!("/api/v1/tokens/{id}"))).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(http.get(app.url("/api/v1/projects")).bearer_auth(&token).send().await.unwrap().status(), 401);
        let log = app.stop().await;
        assert!(log.contains("API token created") && log.contains("API token revoked"), "what happened is logged");
        assert!(log.contains("API token: wrong token"), "a wrong token is logged as such");
        for (what, needle) in [
            ("the token", &token[3..]),
            ("the wrong token", &wrong[3..]),
            ("the admin token", ADMIN),
        ] {
            assert!(!log.contains(needle), "{what} is in the log: {}", log.lines().find(|l| l.contains(needle)).unwrap_or_default());
        }
    }
}
