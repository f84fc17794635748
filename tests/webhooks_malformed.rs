//! Malformed input: each case gets its 4xx and a JSON reason, nothing is stored, nothing panics,
//! and the service keeps serving.
use hubsync::store::entities::deliveries;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::Value;

use crate::{
    db_test,
    support::{
        spawn_app_with,
        webhooks::{fixture, new_delivery_id, webhook_config},
    },
};

fn replace(body: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1).into_bytes()
}

db_test! {
    async fn malformed_deliveries_get_a_4xx_and_the_service_keeps_serving(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        let push = fixture("push");
        let created = fixture("installation.created");
        let huge_branch = format!("refs/heads/{}", "b".repeat(2 * 1024 * 1024));
        let mut invalid_utf8 = push.clone();
        invalid_utf8.splice(10..10, [0xff, 0xfe, 0xc3]);
        let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
            ("truncated JSON", "push", push[..push.len() / 2].to_vec(), 400, "not valid JSON"),
            ("empty body", "push", Vec::new(), 400, "not valid JSON"),
            ("not an object", "push", b"[1,2,3]".to_vec(), 400, "push payload"),
            ("installation id as a string", "installation", replace(&created, "\"id\": 42,", "\"id\": \"42\","), 400, "installation payload"),
            ("after as a number", "push", replace(&push, "\"after\": \"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c\"", "\"after\": 12"), 400, "push payload"),
            ("after not a sha", "push", replace(&push, "\"after\": \"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c\"", "\"after\": \"HEAD\""), 400, "git object id"),
            ("action as an object", "star", br#"{"action":{"x":1}}"#.to_vec(), 400, "star payload"),
            ("huge branch name", "push", replace(&push, "\"refs/heads/main\"", &format!("\"{huge_branch}\"")), 400, "branch name"),
            ("invalid UTF-8", "push", invalid_utf8, 400, "UTF-8"),
            ("26 MiB body", "push", vec![b' '; 26 * 1024 * 1024], 413, "larger than"),
        ];
        for (what, event, body, status, needle) in cases {
            let r = app.deliver(event, &new_delivery_id(), &body).await;
            assert_eq!(r.status().as_u16(), status, "{what}");
            let v: Value = r.json().await.unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
            let error = v["error"].as_str().unwrap_or_default();
            assert!(error.contains(needle), "{what}: {error}");
            assert!(error.len() < 1000, "{what}: the reason stays short");
            assert_eq!(app.get("/healthz").await.status(), 200, "still serving after {what}");
        }
        assert_eq!(deliveries::Entity::find().count(&app.app.db).await.unwrap(), 0);

        // A huge header is refused too.
        let r = app.deliver("push", &"d".repeat(64 * 1024), &push).await;
        assert!(r.status().is_client_error(), "{}", r.status());

        // Huge strings in fields hubsync does not read are GitHub's to send: accepted.
        let long_message = replace(&push, "\"Update README\"", &format!("\"{}\"", "m".repeat(5 * 1024 * 1024)));
        let id = new_delivery_id();
        assert_eq!(app.deliver("push", &id, &long_message).await.status(), 202);
        assert_eq!(app.delivery(&id).await.unwrap().payload.len(), long_message.len());
        app.stop().await;
    }
}
