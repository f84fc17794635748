//! The session cookie (issue 19, item 4): only hubsync's own pages can use it to change anything,
//! it is HttpOnly, SameSite=Strict and Secure behind https, and logging out or changing the admin
//! token ends it on the server, on every replica, whoever holds a copy.
use reqwest::{header, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    db_test,
    security::{
        browser::{csrf_of, login, no_redirects},
        child::ChildApp,
    },
    support::{seed, spawn_app_with, test_config, TestApp},
};

const TOKEN: &str = "sessions-test-admin-token-0123456789ab";
const EVIL: &str = "https://evil.example";

async fn page(base: &str, path: &str, cookie: &str) -> reqwest::Response {
    no_redirects()
        .get(format!("{base}{path}"))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

async fn selection(app: &TestApp, id: i64) -> Vec<String> {
    let v: serde_json::Value = app
        .client
        .get(app.url(&format!("/api/v1/projects/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["branches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["enabled"] == true)
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect()
}

db_test! {
    async fn only_hubsyncs_own_pages_can_change_things_with_the_session_cookie(db) {
        let (app, id) = seed::app_with_project(&db, TOKEN, "octo-org/crown-jewels", &[]).await;
        let (cookie, _) = login(&app.base, TOKEN).await;
        let html = page(&app.base, &format!("/projects/{id}"), &cookie).await.text().await.unwrap();
        let csrf = csrf_of(&html);
        let put = |headers: &[(&str, &str)], branch: &str| {
            let mut r = app.client.put(app.url(&format!("/api/v1/projects/{id}/branches")))
                .header(header::COOKIE, &cookie)
                .json(&json!({ "branches": ["main", branch] }));
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.send()
        };
        // What another site's page (or an old browser without Origin) can make a browser send.
        for (headers, why) in [
            (vec![("Origin", EVIL)], "another origin"),
            (vec![("Origin", "null")], "an opaque origin"),
            (vec![("Sec-Fetch-Site", "cross-site")], "cross-site"),
            (vec![("Sec-Fetch-Site", "same-site"), ("Origin", app.base.as_str())], "a sibling subdomain"),
            (vec![], "no origin and no token"),
            (vec![("X-CSRF-Token", "forged")], "a forged token"),
        ] {
            let r = put(&headers, "evil/*").await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{why}");
            let body: serde_json::Value = r.json().await.unwrap();
            assert!(body["error"].as_str().is_some(), "{why}");
        }
        assert!(!selection(&app, id).await.contains(&"evil/*".to_owned()), "nothing changed");
        // hubsync's own pages: the browser says so, or the page's token is sent.
        for (headers, branch) in [
            (vec![("Origin", app.base.as_str())], "a/*"),
            (vec![("Sec-Fetch-Site", "same-origin")], "b/*"),
            (vec![("X-CSRF-Token", csrf.as_str())], "c/*"),
        ] {
            let r = put(&headers, branch).await.unwrap();
            assert_eq!(r.status(), 200, "{headers:?}");
            assert!(selection(&app, id).await.contains(&branch.to_owned()));
        }
        // A form post from another site, with a token it somehow has, is still refused.
        let r = no_redirects().post(app.url(&format!("/projects/{id}/sync")))
            .header(header::COOKIE, &cookie).header("Origin", EVIL)
            .form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = no_redirects().post(app.url(&format!("/api/v1/projects/{id}/syncs")))
            .header(header::COOKIE, &cookie).header("Sec-Fetch-Site", "cross-site")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body("")
            .send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "a cross-site form to the API");
        let r = no_redirects().post(app.url("/logout"))
            .header(header::COOKIE, &cookie).header("Origin", EVIL)
            .form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "nor can another site log you out");
        assert_eq!(page(&app.base, "/", &cookie).await.status(), 200);
        let r = no_redirects().post(app.url(&format!("/projects/{id}/sync")))
            .header(header::COOKIE, &cookie).header("Origin", app.base.as_str())
            .form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "the page's own form");
        // Scripts with the bearer token are not browsers: no cookie to ride on.
        let r = app.client.put(app.url(&format!("/api/v1/projects/{id}/branches")))
            .bearer_auth(TOKEN).json(&json!({ "branches": ["main"] })).send().await.unwrap();
        assert_eq!(r.status(), 200);
        app.stop().await;
    }
}

db_test! {
    async fn the_cookie_is_http_only_strict_and_secure_when_users_come_over_https(db) {
        let public = "https://hubsync.example.test";
        let (app, _) = seed::app_with_project(&db, TOKEN, "octo-org/x", &[("HUBSYNC_PUBLIC_URL", public)]).await;
        let (_, set) = login(&app.base, TOKEN).await;
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(set.contains(part), "{part}: {set}");
        }
        app.stop().await;
        // Plain http: not Secure, and a client's X-Forwarded-Proto does not decide it.
        let other = crate::migrations::another(&db).await;
        let app = spawn_app_with(test_config(&other, &[("HUBSYNC_ADMIN_TOKEN", TOKEN)])).await;
        let r = no_redirects().post(app.url("/login"))
            .header("X-Forwarded-Proto", "https")
            .form(&[("token", TOKEN)]).send().await.unwrap();
        let set = r.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(set.contains("HttpOnly") && !set.contains("Secure"), "{set}");
        app.stop().await;
    }
}

db_test! {
    async fn logout_and_a_new_admin_token_end_sessions_on_every_replica(db) {
        let (a, _) = seed::app_with_project(&db, TOKEN, "octo-org/x", &[]).await;
        let b = ChildApp::start(&[
            ("DATABASE_URL", db.url.clone()),
            ("HUBSYNC_ADMIN_TOKEN", TOKEN.to_owned()),
            ("HUBSYNC_RECONCILE_SECS", "0".to_owned()),
        ]).await;
        let (cookie, _) = login(&a.base, TOKEN).await;
        assert_eq!(page(&b.base, "/api/v1/projects", &cookie).await.status(), 200, "any replica");
        let stolen = cookie.clone();

        // Logging out on one replica ends the session everywhere, the stolen copy included.
        let html = page(&a.base, "/", &cookie).await.text().await.unwrap();
        let r = no_redirects().post(a.url("/logout"))
            .header(header::COOKIE, &cookie)
            .form(&[("csrf", csrf_of(&html))]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(r.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
        assert_eq!(page(&b.base, "/api/v1/projects", &stolen).await.status(), 401);
        assert_eq!(page(&a.base, "/api/v1/projects", &stolen).await.status(), 401);
        let r = page(&a.base, "/", &stolen).await;
        assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/login"));

        // The table holds no cookie: a copy of the database logs nobody in.
        let (cookie, _) = login(&b.url(""), TOKEN).await;
        let value = cookie.split_once('=').unwrap().1;
        let rows: Vec<hubsync::store::entities::sessions::Model> =
            <hubsync::store::entities::sessions::Entity as sea_orm::EntityTrait>::find().all(&a.app.db).await.unwrap();
        assert!(rows.iter().all(|s| !format!("{s:?}").contains(value)));
        assert!(rows.iter().any(|s| s.secret_sha256 == hex::encode(Sha256::digest(value.as_bytes()))));
        assert_eq!(page(&a.base, "/api/v1/projects", &cookie).await.status(), 200);

        // A replica that starts with a new admin token ends every session of the old one, also
        // on replicas still running with the old token.
        a.stop().await;
        let renewed = spawn_app_with(test_config(&db, &[("HUBSYNC_ADMIN_TOKEN", "the-rotated-admin-token-0123456789abcdef")])).await;
        assert_eq!(page(&renewed.base, "/api/v1/projects", &cookie).await.status(), 401);
        assert_eq!(page(&b.base, "/api/v1/projects", &cookie).await.status(), 401);
        renewed.stop().await;
        b.stop().await;
    }
}
