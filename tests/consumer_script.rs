//! The README's consumer (curl + jq keeping a directory in step with the change feed), run as it
//! is printed against a live hubsync fed by the fake GitHub: after adds, a modify, a delete and a
//! rename, the directory holds exactly the branch's files.
use std::{collections::BTreeMap, path::Path, process::Command, time::Duration};

use crate::{
    db_test,
    outbox_webhooks::push_and_wait,
    support::{fake_github::FakeGithub, synced},
};

/// The script block that follows "Keeping a directory in step with the feed" in README.md.
fn readme_script() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("Keeping a directory in step with the feed")
        .expect("the consumer section");
    let rest = &readme[start..];
    let open = rest.find("```sh\n").expect("its script") + "```sh\n".len();
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].to_owned()
}

fn files_under(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    out
}

async fn converges(out: &Path, want: &BTreeMap<String, String>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let have = files_under(out);
        if &have == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the directory never matched: {have:?} != {want:?}"
        );
        // Kept: another process (the script) writes the directory, and says nothing when done.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn expected(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect()
}

db_test! {
    async fn the_readme_consumer_keeps_a_directory_in_step_with_the_feed(db) {
        if Command::new("jq").arg("--version").output().is_err() || Command::new("curl").arg("--version").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "CI needs jq and curl for this test");
            eprintln!("SKIPPED: jq or curl is not installed");
            return;
        }
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "docs");
        repo.write("README.md", "# docs\n").write("guide/intro.md", "intro\n").write("guide/old.md", "old\n");
        repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        synced::install(&fake, &app, &repo).await;

        let work = tempfile::tempdir().unwrap();
        let mut child = tokio::process::Command::new("bash")
            .arg("-c")
            .arg(readme_script())
            .current_dir(work.path())
            .env("API", app.url("/api/v1"))
            .env("HUBSYNC_ADMIN_TOKEN", synced::ADMIN)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let out = work.path().join("out");
        converges(&out, &expected(&[("README.md", "# docs\n"), ("guide/intro.md", "intro\n"), ("guide/old.md", "old\n")])).await;

        // Modify, delete, rename and add: the script follows.
        repo.write("README.md", "# docs v2\n").remove("guide/intro.md").remove("guide/old.md");
        repo.write("guide/new.md", "old\n").write("api/ref.md", "ref\n");
        repo.commit("reorganise");
        push_and_wait(&fake, &app, &repo).await;
        converges(&out, &expected(&[("README.md", "# docs v2\n"), ("guide/new.md", "old\n"), ("api/ref.md", "ref\n")])).await;
        let cursor = std::fs::read_to_string(work.path().join(".cursor")).unwrap();
        assert!(cursor.trim().parse::<i64>().unwrap() > 0, "{cursor}");
        assert!(child.try_wait().unwrap().is_none(), "the consumer keeps following");
        child.kill().await.unwrap();
        app.stop().await;
        fake.stop().await;
    }
}
