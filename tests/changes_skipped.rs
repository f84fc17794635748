//! Why a path has no content: `"skipped"` on manifest entries, LFS pointers flagged, counts per
//! reason on the status page.
use serde_json::Value;

use crate::{
    db_test,
    support::{
        fake_github::FakeGithub,
        synced::{self, ADMIN},
    },
};

const POINTER: &str = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n";

db_test! {
    async fn manifest_entries_say_why_they_have_no_content(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "kinds");
        repo.write("README.md", "hello\n");
        repo.write("big.iso", vec![7u8; 5000]);
        repo.write("model.bin", POINTER);
        repo.write("notes.txt", "version https://git-lfs.github.com/spec/v1 is a spec\n");
        std::os::unix::fs::symlink("README.md", repo.work.join("link")).unwrap();
        let git = |args: &[&str]| {
            assert!(std::process::Command::new("git").arg("-C").arg(&repo.work).args(args).status().unwrap().success());
        };
        git(&["add", "-A"]);
        git(&["update-index", "--add", "--cacheinfo", "160000,1111111111111111111111111111111111111111,vendor/lib"]);
        // Committed directly: `repo.commit` runs `git add -A`, which drops the gitlink (no
        // directory for it in the work tree).
        git(&["commit", "-q", "-m", "every kind"]);
        repo.push("main");
        let app = synced::start(&fake, &db, &[("HUBSYNC_MAX_FILE_SIZE", "1000")]).await;
        synced::install(&fake, &app, &repo).await;
        let project = hubsync::store::selections::project_of_repository(&app.app.db, repo.id).await.unwrap().unwrap().id;
        let api = |path: String| app.client.get(app.url(&path)).bearer_auth(ADMIN).send();

        let manifest: Value = api(format!("/api/v1/projects/{project}/files")).await.unwrap().json().await.unwrap();
        let skipped: Vec<(String, Value)> = manifest["files"].as_array().unwrap().iter()
            .map(|f| (f["path"].as_str().unwrap().to_owned(), f["skipped"].clone())).collect();
        assert_eq!(skipped, vec![
            ("README.md".into(), Value::Null), ("big.iso".into(), "too_large".into()),
            ("link".into(), "symlink".into()), ("model.bin".into(), "lfs_pointer".into()),
            ("notes.txt".into(), Value::Null), ("vendor/lib".into(), "submodule".into()),
        ]);

        // A pointer is not passed off as the file.
        let r = api(format!("/api/v1/projects/{project}/files/model.bin")).await.unwrap();
        assert_eq!(r.status(), 404);
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("LFS"), "{body}");
        assert_eq!(api(format!("/api/v1/projects/{project}/files/notes.txt")).await.unwrap().status(), 200);

        // The status page counts them per reason.
        let page = api(format!("/projects/{project}")).await.unwrap().text().await.unwrap();
        assert!(page.contains("Files without content"), "{page}");
        for reason in ["too_large", "lfs_pointer", "submodule", "symlink"] {
            assert!(page.contains(&format!("<td data-skipped=\"{reason}\">1</td>")), "{reason} counted once");
        }
        app.stop().await;
    }
}

db_test! {
    async fn blobs_stored_before_the_flag_existed_are_flagged_by_its_migration(db) {
        use hubsync::store::{entities::blobs, MigrationSet};
        use migration::{Migrator, MigratorTrait};
        use sea_orm::{ConnectionTrait, EntityTrait, Statement};
        let conn = crate::migrations::connect(&db).await;
        let before = Migrator::migrations().iter().position(|m| m.name().contains("blobs_lfs_pointer")).unwrap();
        crate::migrations::migrate(&conn, &MigrationSet::real().first(before), false).await.unwrap();
        let backend = conn.get_database_backend();
        let now = chrono::Utc::now();
        for (sha, content) in [("a".repeat(40), POINTER.as_bytes().to_vec()), ("b".repeat(40), b"plain\n".to_vec())] {
            let sql = match backend {
                sea_orm::DbBackend::Postgres => "INSERT INTO blobs (sha, size, \"binary\", content, created_at) VALUES ($1, $2, $3, $4, $5)",
                _ => "INSERT INTO blobs (sha, size, \"binary\", content, created_at) VALUES (?, ?, ?, ?, ?)",
            };
            let size = content.len() as i64;
            conn.execute_raw(Statement::from_sql_and_values(backend, sql, [sha.into(), size.into(), false.into(), content.into(), now.into()])).await.unwrap();
        }
        crate::migrations::migrate(&conn, &MigrationSet::real(), false).await.unwrap();
        let mut flags: Vec<(String, bool)> = blobs::Entity::find().all(&conn).await.unwrap().into_iter().map(|b| (b.sha, b.lfs_pointer)).collect();
        flags.sort();
        assert_eq!(flags, vec![("a".repeat(40), true), ("b".repeat(40), false)]);
    }
}
