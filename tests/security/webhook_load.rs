//! The public webhook endpoint under hostile load (issue 19, item 2): declared sizes refused
//! before reading, nothing sized from a client's number, one memory budget for every body in
//! flight, a deadline per body and per request head.
use std::time::Duration;

use crate::{
    db_test,
    security::raw::{self, answer, closed, connect, send, webhook_head},
    support::{
        signing::github_signature,
        spawn_app_with,
        webhooks::{fixture, new_delivery_id, webhook_config, SECRET},
    },
};

/// Long enough for any answer on a loaded machine; the tests wait on the answer, not on this.
const PATIENCE: Duration = Duration::from_secs(30);

/// A signed push of exactly `size` bytes: the fixture, padded with JSON whitespace.
fn push_of(size: usize) -> Vec<u8> {
    let mut body = fixture("push");
    assert!(body.len() <= size);
    body.resize(size, b' ');
    body
}

db_test! {
    async fn a_declared_oversized_body_is_refused_before_a_byte_of_it_is_sent(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        let mut s = connect(&app.base).await;
        // 1 GiB declared; not one byte of it follows.
        let head = webhook_head(1 << 30, &new_delivery_id(), "sha256=00");
        assert!(send(&mut s, head.as_bytes()).await);
        let a = answer(&mut s, PATIENCE).await.expect("an answer without the body");
        assert_eq!(a.status, 413, "{a:?}");
        assert!(a.body.contains("26214400"), "{}", a.body);
        assert_eq!(a.header("connection"), Some("close"), "the unread body is not waited for");
        // And the process did not reserve anything for it: a real delivery still goes through.
        app.deliver_fixture("push", "push").await;
        app.stop().await;
    }
}

db_test! {
    async fn a_body_that_trickles_in_gets_408_and_its_connection_closes(db) {
        let app = spawn_app_with(webhook_config(&db, &[("HUBSYNC_BODY_TIMEOUT_SECS", "0.5")])).await;
        let body = push_of(20_000);
        let mut slow = connect(&app.base).await;
        let head = webhook_head(body.len(), &new_delivery_id(), &github_signature(SECRET, &body));
        assert!(send(&mut slow, head.as_bytes()).await);
        assert!(send(&mut slow, &body[..100]).await);
        // Nothing more is sent: hubsync answers by itself once the body's time is up.
        let a = answer(&mut slow, PATIENCE).await.expect("an answer to the slow sender");
        assert_eq!(a.status, 408, "{a:?}");
        assert!(a.body.contains("did not arrive within 0.5 s"), "{}", a.body);
        assert_eq!(a.header("connection"), Some("close"));
        // A sender that keeps the deadline is not affected by it.
        app.deliver_fixture("push", "push").await;
        app.stop().await;
    }
}

db_test! {
    async fn bodies_in_memory_are_bounded_across_connections_by_bytes_received(db) {
        let limit = 64 * 1024;
        let app = spawn_app_with(webhook_config(&db, &[
            ("HUBSYNC_WEBHOOK_MAX_BYTES", "65536"),
            ("HUBSYNC_BODY_MEMORY_BYTES", "100000"),
            // The held bodies wait on this test, not on their deadline.
            ("HUBSYNC_BODY_TIMEOUT_SECS", "600"),
        ])).await;

        // Twenty connections declare the largest body and send one byte each: declarations
        // reserve nothing, so a real delivery is accepted beside them.
        let mut declared = Vec::new();
        for _ in 0..20 {
            let mut s = connect(&app.base).await;
            assert!(send(&mut s, webhook_head(limit, &new_delivery_id(), "sha256=00").as_bytes()).await);
            assert!(send(&mut s, b"{").await);
            declared.push(s);
        }
        app.deliver_fixture("push", "push").await;

        // One sender holds 60 KB of a real, signed 64 KB delivery, half-sent.
        let big = push_of(limit);
        let delivery = new_delivery_id();
        let mut holder = connect(&app.base).await;
        let head = webhook_head(big.len(), &delivery, &github_signature(SECRET, &big));
        assert!(send(&mut holder, head.as_bytes()).await);
        assert!(send(&mut holder, &big[..60_000]).await);

        // Another sends 50 KB at once: once the holder's bytes are in, the budget (100 KB) cannot
        // take them, and the second sender is told to come back later.
        let probe = push_of(50_000);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let busy = loop {
            assert!(tokio::time::Instant::now() < deadline, "the budget never refused a body");
            let mut s = connect(&app.base).await;
            let head = webhook_head(probe.len(), &new_delivery_id(), "sha256=00");
            assert!(send(&mut s, head.as_bytes()).await);
            send(&mut s, &probe).await;
            let a = answer(&mut s, PATIENCE).await.expect("an answer to the probe");
            match a.status {
                401 => tokio::task::yield_now().await, // the holder's bytes are not all in yet
                _ => break a,
            }
        };
        assert_eq!(busy.status, 503, "{busy:?}");
        let retry: u64 = busy.header("retry-after").expect("Retry-After").parse().unwrap();
        assert!(retry >= 1, "{busy:?}");
        assert!(busy.body.contains("HUBSYNC_BODY_MEMORY_BYTES"), "{}", busy.body);

        // The holder finishes and is stored; its bytes go back to the budget.
        assert!(send(&mut holder, &big[60_000..]).await);
        let a = answer(&mut holder, PATIENCE).await.expect("the holder's answer");
        assert_eq!(a.status, 202, "{a:?}");
        assert!(app.delivery(&delivery).await.is_some());
        let mut s = connect(&app.base).await;
        let head = webhook_head(probe.len(), &new_delivery_id(), "sha256=00");
        assert!(send(&mut s, head.as_bytes()).await);
        assert!(send(&mut s, &probe).await);
        let a = answer(&mut s, PATIENCE).await.expect("an answer");
        assert_eq!(a.status, 401, "room again: read whole, then refused for its signature");
        drop(declared);
        app.stop().await;
    }
}

db_test! {
    async fn a_request_head_trickled_on_a_kept_alive_connection_is_cut_off(db) {
        let mut config = webhook_config(&db, &[]);
        config.http.head_timeout = Duration::from_millis(300);
        let app = spawn_app_with(config).await;
        let mut s = connect(&app.base).await;
        // A first request, answered; the connection is kept alive for the next one.
        assert!(send(&mut s, b"GET /healthz HTTP/1.1\r\nHost: hubsync\r\n\r\n").await);
        let a = answer(&mut s, PATIENCE).await.expect("healthz answers");
        assert_eq!(a.status, 200);
        // The next head comes a byte at a time, each well within the keep-alive timeout.
        let head = format!("GET /healthz HTTP/1.1\r\nHost: hubsync\r\nX-Slow: {}", "a".repeat(10_000));
        let mut cut_off = false;
        let started = tokio::time::Instant::now();
        for b in head.bytes().take_while(|_| started.elapsed() < PATIENCE) {
            if !send(&mut s, &[b]).await || closed(&mut s).await {
                cut_off = true;
                break;
            }
            // The fault under test, not a wait: a client trickling its head.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(cut_off, "a head that never ends must not hold its connection");
        // A first head that never ends gets actix's own 408.
        let mut first = connect(&app.base).await;
        assert!(send(&mut first, b"GET /healthz HTTP/1.1\r\nHost: hub").await);
        let a = answer(&mut first, PATIENCE).await.expect("an answer to the stalled head");
        assert_eq!(a.status, 408, "{a:?}");
        let _ = raw::closed(&mut first).await;
        app.stop().await;
    }
}
