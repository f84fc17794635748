//! The change feed (`GET /api/v1/changes`) driven through the fake GitHub: add, modify, delete,
//! rename, force push and restart, checked against what each run synced.
use std::time::Duration;

use serde_json::Value;

use crate::{
    db_test,
    support::{
        fake_github::{FakeGithub, FakeRepo},
        spawn_app_with,
        sse::SseStream,
        synced::{self, ADMIN},
        webhooks::SECRET,
        TestApp,
    },
};

const WAIT: Duration = Duration::from_secs(60);

pub async fn get(app: &TestApp, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/changes{query}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
}

pub async fn feed(app: &TestApp, query: &str) -> Value {
    let r = get(app, query).await;
    assert_eq!(r.status(), 200, "GET /api/v1/changes{query}");
    r.json().await.unwrap()
}

/// (change, path, previous_path) of each entry.
fn summary(page: &Value) -> Vec<(String, String, Option<String>)> {
    page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap().to_owned(),
                c["path"].as_str().unwrap().to_owned(),
                c["previous_path"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn c(kind: &str, path: &str, prev: Option<&str>) -> (String, String, Option<String>) {
    (kind.into(), path.into(), prev.map(str::to_owned))
}

async fn push_and_wait(fake: &FakeGithub, app: &TestApp, repo: &FakeRepo, force: bool) -> String {
    let push = if force {
        repo.force_push("main")
    } else {
        repo.push("main")
    };
    let r = fake
        .push_event(&push)
        .send(&app.client, &app.url("/webhooks/github"), SECRET)
        .await;
    assert_eq!(r.status(), 202);
    synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
    push.after
}

/// Every change that names a blob can be read: the blob is stored with its content.
async fn assert_readable(app: &TestApp, page: &Value) {
    for ch in page["changes"].as_array().unwrap() {
        if let Some(sha) = ch["blob_sha"].as_str() {
            let blob = hubsync::store::manifests::blob(&app.app.db, sha)
                .await
                .unwrap();
            assert!(
                blob.and_then(|b| b.content).is_some(),
                "content of {ch} is stored"
            );
        }
    }
}

db_test! {
    async fn the_feed_follows_adds_modifies_deletes_renames_force_pushes_and_restarts(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "feed");
        repo.write("a.txt", "a1\n").write("b.txt", "b\n").write("docs/old.md", "# doc\n");
        let first = repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        synced::install(&fake, &app, &repo).await;
        let project = hubsync::store::selections::project_of_repository(&app.app.db, repo.id)
            .await.unwrap().unwrap().id;

        // The first sync: every file added, at the synced commit.
        let page = feed(&app, "").await;
        assert_eq!(summary(&page), vec![c("added", "a.txt", None), c("added", "b.txt", None), c("added", "docs/old.md", None)]);
        let e = &page["changes"][0];
        assert_eq!(e["commit_sha"], first.as_str());
        assert_eq!((e["project_id"].as_i64(), e["branch"].as_str()), (Some(project), Some("main")));
        assert_eq!(e["repository"], repo.full_name().as_str());
        assert_eq!(e["size"], 3);
        assert!(e["previous_path"].is_null() && e.get("previous_blob_sha").is_none());
        assert_readable(&app, &page).await;
        let cursor1 = page["next_cursor"].as_str().unwrap().to_owned();
        assert_eq!(cursor1, page["changes"][2]["cursor"].as_str().unwrap());

        // Nothing new: the same cursor back, and nothing repeats.
        let empty = feed(&app, &format!("?after={cursor1}")).await;
        assert_eq!(summary(&empty), vec![]);
        assert_eq!(empty["next_cursor"], cursor1.as_str());

        // Modify, delete, rename, add in one push.
        let old_a = synced::ls_tree(&repo, "main")["a.txt"].1.clone();
        repo.write("a.txt", "a2\n").remove("b.txt").remove("docs/old.md");
        repo.write("docs/new.md", "# doc\n").write("d.txt", "d\n");
        let second = repo.commit("change everything");
        push_and_wait(&fake, &app, &repo, false).await;
        let page = feed(&app, &format!("?after={cursor1}")).await;
        assert_eq!(summary(&page), vec![
            c("modified", "a.txt", None), c("deleted", "b.txt", None), c("added", "d.txt", None),
            c("renamed", "docs/new.md", Some("docs/old.md")),
        ]);
        let modified = &page["changes"][0];
        assert_eq!(modified["previous_blob_sha"], old_a.as_str());
        assert_eq!(modified["blob_sha"], synced::ls_tree(&repo, "main")["a.txt"].1.as_str());
        assert!(page["changes"][1].get("blob_sha").is_none(), "a deletion has no new blob");
        let renamed = &page["changes"][3];
        assert_eq!(renamed["blob_sha"], renamed["previous_blob_sha"]);
        assert!(page["changes"].as_array().unwrap().iter().all(|c| c["commit_sha"] == second.as_str()));
        assert_readable(&app, &page).await;
        let cursor2 = page["next_cursor"].as_str().unwrap().to_owned();

        // A long poll returns as soon as the next run commits, with its change.
        let poll = {
            let (client, url) = (app.client.clone(), app.url(&format!("/api/v1/changes?after={cursor2}&wait=30")));
            tokio::spawn(async move { client.get(url).bearer_auth(ADMIN).send().await.unwrap().json::<Value>().await.unwrap() })
        };
        // Kept: nothing says a request is parked; the window shows it does not answer at once.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!poll.is_finished(), "the long poll waits while nothing changed");
        repo.write("e.txt", "e\n");
        repo.commit("one more");
        push_and_wait(&fake, &app, &repo, false).await;
        let polled = tokio::time::timeout(Duration::from_secs(10), poll).await.expect("woken by the run").unwrap();
        assert_eq!(summary(&polled), vec![c("added", "e.txt", None)]);
        let cursor3 = polled["next_cursor"].as_str().unwrap().to_owned();

        // Force push back to the first commit: the true difference of the two synced trees.
        repo.reset_hard(&first);
        push_and_wait(&fake, &app, &repo, true).await;
        let page = feed(&app, &format!("?after={cursor3}")).await;
        assert_eq!(summary(&page), vec![
            c("modified", "a.txt", None), c("added", "b.txt", None), c("deleted", "d.txt", None),
            c("renamed", "docs/old.md", Some("docs/new.md")), c("deleted", "e.txt", None),
        ]);
        assert_readable(&app, &page).await;

        // Paging one at a time gives the same sequence as one read, each change once.
        let all = feed(&app, "?limit=1000").await;
        let all_cursors: Vec<String> = all["changes"].as_array().unwrap().iter().map(|c| c["cursor"].as_str().unwrap().to_owned()).collect();
        assert_eq!(all_cursors.len(), 3 + 4 + 1 + 5);
        let mut paged = Vec::new();
        let mut after = "0".to_owned();
        loop {
            let p = feed(&app, &format!("?after={after}&limit=2")).await;
            let n = p["changes"].as_array().unwrap().len();
            paged.extend(p["changes"].as_array().unwrap().iter().map(|c| c["cursor"].as_str().unwrap().to_owned()));
            after = p["next_cursor"].as_str().unwrap().to_owned();
            if n == 0 { break; }
        }
        assert_eq!(paged, all_cursors);

        // Another project's filter sees nothing but moves past these rows.
        let other = feed(&app, &format!("?project_id={}", project + 1000)).await;
        assert_eq!(summary(&other), vec![]);
        assert_eq!(other["next_cursor"], all["next_cursor"]);
        assert_eq!(feed(&app, &format!("?project_id={project}")).await["changes"].as_array().unwrap().len(), 13);

        // A restart changes nothing: the same rows, the same cursors, and the feed goes on.
        let url = db.url.clone();
        app.stop().await;
        let app = spawn_app_with(synced::config(&fake, &db, &[])).await;
        assert_eq!(db.url, url);
        assert_eq!(feed(&app, "?limit=1000").await, all);
        repo.write("f.txt", "f\n");
        repo.commit("after the restart");
        push_and_wait(&fake, &app, &repo, false).await;
        let page = feed(&app, &format!("?after={}", all["next_cursor"].as_str().unwrap())).await;
        assert_eq!(summary(&page), vec![c("added", "f.txt", None)]);

        // The same feed as a stream, resumed from a cursor with Last-Event-ID.
        let resp = app.client.get(app.url("/api/v1/changes")).bearer_auth(ADMIN)
            .header("accept", "text/event-stream").header("last-event-id", all_cursors[10].as_str())
            .send().await.unwrap();
        let mut stream = SseStream::new(resp);
        let mut got = Vec::new();
        for _ in 0..3 {
            let ev = stream.expect("change", Duration::from_secs(10)).await;
            assert_eq!(ev.id.clone().unwrap(), ev.json()["cursor"].as_str().unwrap());
            got.push(ev.json()["path"].as_str().unwrap().to_owned());
        }
        assert_eq!(got, vec!["docs/old.md", "e.txt", "f.txt"]);
        repo.write("g.txt", "g\n");
        repo.commit("live");
        push_and_wait(&fake, &app, &repo, false).await;
        let ev = stream.expect("change", Duration::from_secs(10)).await;
        assert_eq!(ev.json()["path"], "g.txt");
        app.stop().await;
        fake.stop().await;
    }
}

db_test! {
    async fn bad_feed_requests_get_a_json_4xx(db) {
        let fake = FakeGithub::start().await;
        let app = synced::start(&fake, &db, &[]).await;
        for q in ["?after=abc", "?after=-1", "?limit=0", "?wait=-1", "?wait=abc", "?nonsense=1", "?after=1.5"] {
            let r = get(&app, q).await;
            assert_eq!(r.status(), 400, "{q}");
            let body: Value = r.json().await.unwrap();
            assert!(body["error"].is_string(), "{q}: {body}");
        }
        let r = app.client.get(app.url("/api/v1/changes")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        // Limits are capped, not refused; an empty feed answers at once with cursor 0.
        let page = feed(&app, "?limit=100000&wait=0").await;
        assert_eq!(page, serde_json::json!({ "changes": [], "next_cursor": "0" }));
        app.stop().await;
    }
}
