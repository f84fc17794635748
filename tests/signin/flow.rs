//! The flow's refusals (state, PKCE, a denied authorisation), token refresh, signing out a user
//! whose token GitHub revoked, the login page's button, and a log with no secret in it.
use reqwest::{header, Method, StatusCode};
use sea_orm::EntityTrait;

use super::{age_access, browser, call, location, sign_in, to_callback, visible, world};
use crate::{
    db_test,
    security::child::ChildApp,
    support::{
        fake_github::{route, FakeGithub, TEST_CLIENT_SECRET},
        spawn_app,
    },
};

fn session_set(r: &reqwest::Response) -> bool {
    r.headers().get_all(header::SET_COOKIE).iter().any(|c| {
        c.to_str().unwrap().starts_with("hubsync_session=")
            && !c.to_str().unwrap().starts_with("hubsync_session=;")
    })
}

db_test! {
    async fn a_forged_state_or_a_wrong_verifier_is_refused_with_a_page(db) {
        let w = world(&db).await;
        // The state in the callback is not the one this browser started with.
        let b = browser();
        let callback = to_callback(&w, &b, "alice").await;
        let mut forged = url::Url::parse(&callback).unwrap();
        let code = forged.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
        forged.query_pairs_mut().clear().append_pair("code", &code).append_pair("state", "forged-state");
        let r = b.get(forged).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(!session_set(&r));
        let html = r.text().await.unwrap();
        assert!(html.contains("Sign-in failed") && html.contains("state does not match"), "{html}");

        // A callback without the flow's cookie (another browser) is refused the same way.
        let callback = to_callback(&w, &browser(), "alice").await;
        let r = reqwest::Client::new().get(&callback).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.unwrap().contains("state does not match"));

        // The right state with another verifier: GitHub refuses the code (PKCE).
        let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        w.fake.approve_as("alice");
        let r = plain.get(w.app.url("/login/github")).send().await.unwrap();
        let flow = r.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
        assert!(flow.starts_with("hubsync_oauth="), "{flow}");
        let set = r.headers()[header::SET_COOKIE].to_str().unwrap().to_ascii_lowercase();
        assert!(set.contains("httponly") && set.contains("samesite=lax") && set.contains("path=/login/github"), "{set}");
        let r = plain.get(location(&r)).send().await.unwrap();
        let callback = location(&r);
        let (state, _) = flow.trim_start_matches("hubsync_oauth=").split_once('.').unwrap();
        let wrong = format!("hubsync_oauth={state}.{}", "x".repeat(43));
        let r = plain.get(&callback).header(header::COOKIE, wrong).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(!session_set(&r));
        let html = r.text().await.unwrap();
        assert!(html.contains("GitHub refused the sign-in code (bad_verification_code)"), "{html}");
        assert_eq!(w.fake.requests(route::USER), 0, "nobody was identified");

        // The user said no on GitHub.
        let r = browser().get(w.app.url("/login/github/callback?error=access_denied&error_description=x&state=s")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.unwrap().contains("GitHub did not sign you in (access_denied)"));
    }
}

db_test! {
    async fn an_expiring_token_is_refreshed_and_a_revoked_one_signs_the_user_out(db) {
        let w = world(&db).await;
        // A token that expires within hubsync's margin is refreshed before it is used.
        w.fake.set_user_token_expiry(Some(60));
        let bob = sign_in(&w, "bob").await;
        w.fake.set_user_token_expiry(Some(28_800));
        assert_eq!(w.fake.user_token_refreshes(), 0);
        assert_eq!(visible(&w, &bob).await, ["octo-org/widgets"]);
        assert_eq!(w.fake.user_token_refreshes(), 1);
        assert_eq!(visible(&w, &bob).await, ["octo-org/widgets"]);
        assert_eq!(w.fake.user_token_refreshes(), 1, "the new token lasts");

        // GitHub stops taking the token (401): refreshed once, then the re-check goes through.
        w.fake.expire_user_tokens();
        age_access(&w, 11).await;
        assert_eq!(visible(&w, &bob).await, ["octo-org/widgets"]);
        assert_eq!(w.fake.user_token_refreshes(), 2);

        // bob revokes the app on GitHub: the refresh fails and he is signed out everywhere.
        w.fake.revoke_user("bob");
        age_access(&w, 11).await;
        let (status, body) = call(&w, &bob, Method::GET, "/api/v1/projects", None).await;
        assert_eq!(status, 401);
        assert!(body["error"].as_str().unwrap().contains("sign in again"), "{body}");
        let r = bob.get(w.app.url("/")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/login");
        let sessions = hubsync::store::entities::sessions::Entity::find().all(&w.app.app.db).await.unwrap();
        assert!(sessions.iter().all(|s| s.revoked_at.is_some()));
    }
}

db_test! {
    async fn the_login_page_offers_github_only_when_the_client_is_set(db) {
        let plain = spawn_app(&db).await;
        let html = plain.get("/login").await.text().await.unwrap();
        assert!(!html.contains("Sign in with GitHub"));
        let r = plain.get("/login/github").await;
        assert_eq!(r.status(), 404);
        assert!(r.text().await.unwrap().contains("not configured"));
        plain.stop().await;
        let w = world(&db).await;
        let html = w.app.get("/login").await.text().await.unwrap();
        assert!(html.contains("Sign in with GitHub") && html.contains("href=\"/login/github\""), "{html}");
        // Logging out ends a GitHub session on the server.
        let alice = sign_in(&w, "alice").await;
        let page = alice.get(w.app.url("/")).send().await.unwrap().text().await.unwrap();
        let csrf = crate::security::browser::csrf_of(&page);
        let r = alice.post(w.app.url("/logout")).header(header::ORIGIN, &w.app.base).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (status, _) = call(&w, &alice, Method::GET, "/api/v1/projects", None).await;
        assert_eq!(status, 401);
    }
}

db_test! {
    async fn signing_in_and_refreshing_log_no_token_code_or_secret(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        fake.create_repo(inst, "widgets");
        fake.add_user("alice");
        fake.set_membership("octo-org", "alice", "admin");
        fake.grant("alice", inst, &[500_000]);
        fake.set_user_token_expiry(Some(60));
        let mut env = fake.oauth_env();
        env.extend([
            ("DATABASE_URL", db.url.clone()),
            ("RUST_LOG", "trace".to_owned()),
            ("HUBSYNC_RECONCILE_SECS", "0".to_owned()),
        ]);
        let app = ChildApp::start(&env).await;
        fake.approve_as("alice");
        let b = browser();
        let r = b.get(app.url("/login/github")).send().await.unwrap();
        let authorize = location(&r);
        let state = url::Url::parse(&authorize).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
        let r = b.get(&authorize).send().await.unwrap();
        let callback = location(&r);
        let code = url::Url::parse(&callback).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
        let r = b.get(&callback).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let session = r.headers().get_all(header::SET_COOKIE).iter()
            .map(|c| c.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("hubsync_session=")).unwrap();
        let session = session.split(';').next().unwrap().trim_start_matches("hubsync_session=").to_owned();
        // The token expires within the margin: this request refreshes it.
        let r = b.get(app.url("/api/v1/projects")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(fake.user_token_refreshes(), 1);
        let log = app.stop().await;
        assert!(log.contains("signed in with GitHub") && log.contains("token refreshed"), "the events are logged");
        for (what, needle) in [
            ("a user token", "ghu_"),
            ("a refresh token", "ghr_"),
            ("the client secret", TEST_CLIENT_SECRET),
            ("the code", code.as_str()),
            ("the state", state.as_str()),
            ("the session", session.as_str()),
        ] {
            assert!(!log.contains(needle), "{what} is in the log: {}", log.lines().find(|l| l.contains(needle)).unwrap_or_default());
        }
    }
}
