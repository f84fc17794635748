//! Wait until synced: `GET /api/v1/projects/{id}/synced` answers 200 once a run synced the commit
//! or a head containing it, and 504 when the timeout passes.
use std::time::Duration;

use serde_json::Value;

use crate::{
    db_test,
    support::{
        fake_github::FakeGithub,
        synced::{self, ADMIN},
        webhooks::SECRET,
        TestApp,
    },
};

const WAIT: Duration = Duration::from_secs(60);

async fn ask(app: &TestApp, project: i64, query: &str) -> (u16, Value) {
    let r = app
        .client
        .get(app.url(&format!("/api/v1/projects/{project}/synced{query}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

db_test! {
    async fn synced_answers_for_synced_heads_and_the_commits_they_contain(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "ci");
        repo.write("a.txt", "1\n");
        let c1 = repo.commit("one");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        synced::install(&fake, &app, &repo).await;
        let project = hubsync::store::selections::project_of_repository(&app.app.db, repo.id)
            .await.unwrap().unwrap().id;

        let (status, body) = ask(&app, project, &format!("?branch=main&sha={c1}&timeout=0")).await;
        assert_eq!((status, body["synced"].as_bool(), body["commit_sha"].as_str()), (200, Some(true), Some(c1.as_str())));

        // Two commits in one push: the first is contained in the synced head.
        repo.write("a.txt", "2\n");
        let c2 = repo.commit("two");
        repo.write("a.txt", "3\n");
        let c3 = repo.commit("three");
        let push = repo.push("main");
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        // Asked before the run finished: the answer comes when it does.
        let (status, body) = ask(&app, project, &format!("?sha={c2}&timeout=30")).await;
        assert_eq!((status, body["commit_sha"].as_str()), (200, Some(c3.as_str())), "{body}");

        // A wait that starts before the push.
        repo.write("b.txt", "4\n");
        let c4 = repo.commit("four");
        let waiting = {
            let (client, url) = (app.client.clone(), app.url(&format!("/api/v1/projects/{project}/synced?sha={c4}&timeout=30")));
            tokio::spawn(async move { client.get(url).bearer_auth(ADMIN).send().await.unwrap().status().as_u16() })
        };
        // Kept: nothing says a request is parked; the window shows it does not answer at once.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished());
        let push = repo.push("main");
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        assert_eq!(tokio::time::timeout(Duration::from_secs(20), waiting).await.unwrap().unwrap(), 200);

        // Two pushes in a burst may become one run: the first push's head still counts, through
        // the second push's `before`.
        repo.write("c.txt", "5\n");
        let c5 = repo.commit("five");
        let p5 = repo.push("main");
        repo.write("c.txt", "6\n");
        let c6 = repo.commit("six");
        let p6 = repo.push("main");
        fake.push_event(&p5).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        fake.push_event(&p6).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        synced::wait_synced(&app.app, repo.id, "main", &c6, WAIT).await;
        let (status, body) = ask(&app, project, &format!("?sha={c5}&timeout=5")).await;
        assert_eq!(status, 200, "{body}");

        // A commit nobody pushed: 504 after the timeout, with a JSON reason.
        let t = std::time::Instant::now();
        let (status, body) = ask(&app, project, &format!("?sha={}&timeout=0.5", "ab".repeat(20))).await;
        assert_eq!((status, body["synced"].as_bool()), (504, Some(false)));
        assert!(body["error"].is_string() && t.elapsed() >= Duration::from_millis(500));

        // After a force push, the new head counts, and so does a commit a run once synced.
        repo.reset_hard(&c1);
        repo.write("x.txt", "x\n");
        let x = repo.commit("rewrite");
        let push = repo.force_push("main");
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        assert_eq!(ask(&app, project, &format!("?sha={x}&timeout=30")).await.0, 200);
        assert_eq!(ask(&app, project, &format!("?sha={c6}&timeout=0")).await.0, 200);

        // Bad requests.
        for q in ["".to_owned(), "?sha=zzz".into(), format!("?sha={c1}&timeout=-1"), format!("?sha={c1}&bogus=1")] {
            assert_eq!(ask(&app, project, &q).await.0, 400, "{q}");
        }
        assert_eq!(ask(&app, project, &format!("?sha={c1}&branch=nope")).await.0, 404);
        assert_eq!(ask(&app, project + 99, &format!("?sha={c1}")).await.0, 404);
        app.stop().await;
    }
}
