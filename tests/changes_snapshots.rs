//! Reading a branch as synced at an earlier commit (`?at=SHA`) and comparing two synced commits,
//! from stored data alone.
use std::{collections::BTreeMap, time::Duration};

use serde_json::Value;

use crate::{
    db_test,
    support::{
        fake_github::FakeGithub,
        synced::{self, ADMIN},
        webhooks::SECRET,
    },
};

const WAIT: Duration = Duration::from_secs(60);

fn listing(v: &Value) -> BTreeMap<String, (String, String, Option<i64>)> {
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                (
                    f["mode"].as_str().unwrap().to_owned(),
                    f["sha"].as_str().unwrap().to_owned(),
                    f["size"].as_i64(),
                ),
            )
        })
        .collect()
}

db_test! {
    async fn snapshots_at_any_synced_commit_and_compare_between_two(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "history");
        repo.write("a.txt", "a1\n").write("b.txt", "b\n").write("docs/old.md", "# doc\n").write("run.sh", "echo\n");
        let c1 = repo.commit("one");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        synced::install(&fake, &app, &repo).await;
        let project = hubsync::store::selections::project_of_repository(&app.app.db, repo.id).await.unwrap().unwrap().id;
        let mut shas = vec![c1.clone()];
        let steps: Vec<Box<dyn Fn()>> = vec![
            Box::new(|| { repo.write("a.txt", "a2\n").remove("b.txt").remove("docs/old.md"); repo.write("docs/new.md", "# doc\n"); }),
            Box::new(|| { repo.write("e.txt", "e\n"); std::process::Command::new("chmod").arg("+x").arg(repo.work.join("run.sh")).status().unwrap(); }),
        ];
        for step in steps {
            step();
            let sha = repo.commit("step");
            let push = repo.push("main");
            fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
            synced::wait_synced(&app.app, repo.id, "main", &sha, WAIT).await;
            shas.push(sha);
        }
        let api = |path: String| app.client.get(app.url(&path)).bearer_auth(ADMIN).send();
        fake.reset_counts();
        for sha in &shas {
            let r: Value = api(format!("/api/v1/projects/{project}/files?at={sha}")).await.unwrap().json().await.unwrap();
            assert!(listing(&r) == synced::ls_tree(&repo, sha), "tree at {sha}: {r}");
        }
        let old = api(format!("/api/v1/projects/{project}/files/a.txt?at={c1}")).await.unwrap();
        assert_eq!(old.status(), 200);
        assert_eq!(old.bytes().await.unwrap().as_ref(), b"a1\n");
        assert_eq!(api(format!("/api/v1/projects/{project}/files/e.txt?at={c1}")).await.unwrap().status(), 404);

        let cmp: Value = api(format!("/api/v1/projects/{project}/compare/{}...{}?branch=main", shas[0], shas[2])).await.unwrap().json().await.unwrap();
        let kinds: Vec<(String, String)> = cmp["changes"].as_array().unwrap().iter()
            .map(|c| (c["change"].as_str().unwrap().to_owned(), c["path"].as_str().unwrap().to_owned())).collect();
        assert_eq!(kinds, vec![
            ("modified".to_owned(), "a.txt".to_owned()), ("deleted".into(), "b.txt".into()),
            ("renamed".into(), "docs/new.md".into()), ("added".into(), "e.txt".into()), ("modified".into(), "run.sh".into()),
        ]);
        assert_eq!(cmp["changes"][2]["previous_path"], "docs/old.md");
        let back: Value = api(format!("/api/v1/projects/{project}/compare/{}...{}", shas[2], shas[0])).await.unwrap().json().await.unwrap();
        assert_eq!(back["changes"].as_array().unwrap().len(), 5);
        assert_eq!(fake.total_requests(), 0, "read from stored data alone");

        // Bad and unknown commits.
        assert_eq!(api(format!("/api/v1/projects/{project}/files?at=nope")).await.unwrap().status(), 400);
        assert_eq!(api(format!("/api/v1/projects/{project}/files?at={}", "ab".repeat(20))).await.unwrap().status(), 404);
        assert_eq!(api(format!("/api/v1/projects/{project}/compare/{c1}")).await.unwrap().status(), 400);

        // Past the retention: 410.
        use hubsync::store::entities::changes as rows;
        use sea_orm::{EntityTrait, sea_query::Expr};
        rows::Entity::update_many().col_expr(rows::Column::CreatedAt, Expr::value(chrono::Utc::now() - chrono::Duration::days(400)))
            .exec(&app.app.db).await.unwrap();
        hubsync::store::changes::prune(&app.app.db, Duration::from_secs(86_400)).await.unwrap();
        assert_eq!(api(format!("/api/v1/projects/{project}/files?at={c1}")).await.unwrap().status(), 410);
        assert_eq!(api(format!("/api/v1/projects/{project}/files?at={}", shas[2])).await.unwrap().status(), 200, "the head needs no history");
        app.stop().await;
    }
}
