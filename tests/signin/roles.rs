//! What an owner, a member and an outsider see and may change, on pages and the API; the admin
//! token still sees everything; visibility follows GitHub within the re-check interval.
use reqwest::{header, Method, StatusCode};
use sea_orm::EntityTrait;
use serde_json::json;

use super::{age_access, call, sign_in, visible, world, TOKEN};
use crate::{db_test, security::browser::csrf_of, support::fake_github::route};

db_test! {
    async fn an_owner_changes_a_member_reads_an_outsider_sees_nothing(db) {
        let w = world(&db).await;
        let [widgets, gadgets] = w.projects;

        // alice owns octo-org: both projects, and she may change them.
        let alice = sign_in(&w, "alice").await;
        assert_eq!(visible(&w, &alice).await, ["octo-org/gadgets", "octo-org/widgets"]);
        let (status, body) = call(&w, &alice, Method::PUT, &format!("/api/v1/projects/{widgets}/branches"),
            Some(json!({ "branches": ["main", "dev"] }))).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = call(&w, &alice, Method::POST, &format!("/api/v1/projects/{gadgets}/syncs"), None).await;
        assert_eq!(status, 202, "{body}");
        let page = alice.get(w.app.url(&format!("/projects/{widgets}"))).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Sync now") && !page.contains("You can read"), "{page}");
        let home = alice.get(w.app.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(home.contains("Signed in with GitHub as") && home.contains("octo-org/gadgets"));
        // The tokens screen is the hubsync admin's: no link to a page that would answer 403.
        assert!(!home.contains(r#"href="/tokens""#) && !page.contains(r#"href="/tokens""#), "{home}");

        // bob is a member reaching widgets only: he reads it, changes nothing, never sees gadgets.
        let bob = sign_in(&w, "bob").await;
        assert_eq!(visible(&w, &bob).await, ["octo-org/widgets"]);
        let (status, _) = call(&w, &bob, Method::GET, &format!("/api/v1/projects/{widgets}"), None).await;
        assert_eq!(status, 200);
        let (status, _) = call(&w, &bob, Method::GET, &format!("/api/v1/projects/{widgets}/syncs"), None).await;
        assert_eq!(status, 200);
        for path in [format!("/api/v1/projects/{gadgets}"), format!("/api/v1/projects/{gadgets}/syncs"),
                     format!("/api/v1/projects/{gadgets}/files")] {
            let (status, body) = call(&w, &bob, Method::GET, &path, None).await;
            assert_eq!(status, 404, "{path}: {body}");
        }
        let (status, body) = call(&w, &bob, Method::PUT, &format!("/api/v1/projects/{widgets}/branches"),
            Some(json!({ "branches": ["evil"] }))).await;
        assert_eq!(status, 403);
        assert!(body["error"].as_str().unwrap().contains("only admins of octo-org"), "{body}");
        let (status, body) = call(&w, &bob, Method::POST, &format!("/api/v1/projects/{widgets}/syncs"), None).await;
        assert_eq!(status, 403, "{body}");
        let (status, _) = call(&w, &bob, Method::POST, &format!("/api/v1/projects/{gadgets}/syncs"), None).await;
        assert_eq!(status, 404, "invisible stays invisible, also to writes");
        let page = bob.get(w.app.url(&format!("/projects/{widgets}"))).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("You can read") && !page.contains("Sync now"), "{page}");
        let csrf = csrf_of(&page);
        let r = bob.post(w.app.url(&format!("/projects/{widgets}/sync"))).header(header::ORIGIN, &w.app.base)
            .form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let html = r.text().await.unwrap();
        assert!(html.contains("<h1>Forbidden</h1>") && html.contains("only admins of"), "{html}");
        assert_eq!(bob.get(w.app.url(&format!("/projects/{gadgets}"))).send().await.unwrap().status(), 404);
        let (status, _) = call(&w, &bob, Method::GET, "/api/v1/changes", None).await;
        assert_eq!(status, 400, "a user's feed names its project");
        let (status, _) = call(&w, &bob, Method::GET, &format!("/api/v1/changes?project_id={gadgets}"), None).await;
        assert_eq!(status, 404);

        // eve reaches nothing.
        let eve = sign_in(&w, "eve").await;
        assert!(visible(&w, &eve).await.is_empty());
        let (status, _) = call(&w, &eve, Method::GET, &format!("/api/v1/projects/{widgets}"), None).await;
        assert_eq!(status, 404);
        let home = eve.get(w.app.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(home.contains("No project you can see yet") && !home.contains("octo-org/widgets"), "{home}");

        // The admin token is still the break-glass key to everything.
        let r = w.app.client.get(w.app.url("/api/v1/projects")).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["projects"].as_array().unwrap().len(), 2);

        // The token never reaches the browser and is sealed at rest.
        let users = hubsync::store::entities::github_users::Entity::find().all(&w.app.app.db).await.unwrap();
        assert_eq!(users.len(), 3);
        assert!(users.iter().all(|u| !u.access_token.contains("ghu_") && u.refresh_token.as_deref().is_some_and(|r| !r.contains("ghr_"))));
        assert!(!home.contains("ghu_"));
    }
}

db_test! {
    async fn the_owner_of_a_personal_installation_is_its_admin(db) {
        let w = world(&db).await;
        let carol_inst = w.fake.add_installation("carol");
        let repo = w.fake.create_repo(carol_inst, "notes").id;
        w.fake.add_user("carol");
        w.fake.grant("carol", carol_inst, &[repo]);
        w.fake.grant("bob", carol_inst, &[repo]);
        let db = &w.app.app.db;
        crate::support::seed::installation(db, carol_inst, "carol").await;
        crate::support::seed::repository(db, carol_inst, repo, "carol/notes").await;
        use hubsync::sync::intake::{signal, AutoSelect, SyncSignal};
        signal(db, AutoSelect::DefaultBranch, SyncSignal::RepositoriesAdded { installation_id: carol_inst, repository_ids: vec![repo] }).await.unwrap();
        let notes = hubsync::store::selections::project_of_repository(db, repo).await.unwrap().unwrap().id;
        let carol = sign_in(&w, "carol").await;
        assert_eq!(visible(&w, &carol).await, ["carol/notes"]);
        let (status, body) = call(&w, &carol, Method::POST, &format!("/api/v1/projects/{notes}/syncs"), None).await;
        assert_eq!(status, 202, "{body}");
        // bob reaches carol's repository as a collaborator: he reads it.
        let bob = sign_in(&w, "bob").await;
        assert_eq!(visible(&w, &bob).await, ["carol/notes", "octo-org/widgets"]);
        let (status, _) = call(&w, &bob, Method::POST, &format!("/api/v1/projects/{notes}/syncs"), None).await;
        assert_eq!(status, 403);
    }
}

db_test! {
    async fn visibility_follows_github_within_ten_minutes(db) {
        let w = world(&db).await;
        let [widgets, _] = w.projects;
        let bob = sign_in(&w, "bob").await;
        assert_eq!(visible(&w, &bob).await, ["octo-org/widgets"]);
        w.fake.ungrant("bob", w.inst, w.repos[0]);
        // Checked moments ago: the cache answers, GitHub is not asked again.
        let asked = w.fake.requests(route::USER_INSTALLATIONS);
        assert_eq!(visible(&w, &bob).await, ["octo-org/widgets"]);
        assert_eq!(w.fake.requests(route::USER_INSTALLATIONS), asked);
        // Older than ten minutes: the next request re-checks, and widgets is gone.
        age_access(&w, 11).await;
        let (status, _) = call(&w, &bob, Method::GET, &format!("/api/v1/projects/{widgets}"), None).await;
        assert_eq!(status, 404);
        assert_eq!(w.fake.requests(route::USER_INSTALLATIONS), asked + 1);
        assert!(visible(&w, &bob).await.is_empty());
        // The live stream of every project carries only what the user sees.
        let r = bob.get(w.app.url("/api/v1/events")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
}

db_test! {
    async fn a_thousand_repositories_are_read_a_hundred_at_a_time(db) {
        let w = world(&db).await;
        let ids = w.fake.add_listed_repos(w.inst, "r", 1000);
        w.fake.grant("alice", w.inst, &ids);
        let before = w.fake.requests(route::USER_INSTALLATION_REPOS);
        let _alice = sign_in(&w, "alice").await;
        // 1,002 repositories at 100 a page.
        assert_eq!(w.fake.requests(route::USER_INSTALLATION_REPOS) - before, 11);
        let rows = hubsync::store::entities::user_repositories::Entity::find().all(&w.app.app.db).await.unwrap();
        assert_eq!(rows.len(), 1002);
    }
}
