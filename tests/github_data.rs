//! What the sync layer reads through the client: repository lists past one page, trees (and the
//! truncated-tree fallback), blobs, comparisons, and tarballs streamed in small chunks.
use futures_util::StreamExt;
use hubsync::{
    git::Sha,
    github::{CompareStatus, EntryKind, GithubError},
};

use crate::{
    github_client::{main_branch, name, setup},
    support::{
        fake_github::{route, FakeGithub},
        init_test_tracing,
    },
};

#[tokio::test]
async fn repositories_are_listed_past_the_first_page_of_100() {
    init_test_tracing();
    let fake = FakeGithub::start().await;
    let inst = fake.add_installation("big-org");
    let mut ids = Vec::new();
    for i in 0..150 {
        ids.push(fake.create_repo(inst, &format!("repo-{i:03}")).id);
    }
    let gh = fake.app_client().installation(inst);
    let repos = gh.list_repositories().await.unwrap();
    let mut got: Vec<i64> = repos.iter().map(|r| r.id).collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    assert_eq!(fake.requests(route::INSTALLATION_REPOS), 2);
    assert_eq!(repos[0].default_branch.as_str(), "main");
    assert!(repos[0].private);
}

#[tokio::test]
async fn branches_are_listed_past_the_first_page_with_their_heads() {
    let (fake, inst, repo) = setup().await;
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo.work)
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    for i in 0..130 {
        git(&["branch", &format!("topic/{i:03}")]);
    }
    git(&[
        "push",
        "-q",
        "origin",
        "refs/heads/topic/*:refs/heads/topic/*",
    ]);
    let gh = fake.app_client().installation(inst);
    let branches = gh.list_branches(&name(&repo)).await.unwrap();
    assert_eq!(branches.len(), 131, "main and 130 topics");
    assert_eq!(
        fake.requests(route::BRANCHES),
        2,
        "100 a page, following Link"
    );
    let head = repo.head("main").unwrap();
    assert!(branches.iter().all(|b| b.commit.as_str() == head));
    assert_eq!(branches[0].name.as_str(), "main");
    assert_eq!(branches[130].name.as_str(), "topic/129");
}

#[tokio::test]
async fn a_truncated_tree_is_walked_subtree_by_subtree() {
    let (fake, inst, repo) = setup().await;
    for d in ["a", "a/b", "a/b/c", "d", "e/f"] {
        for f in 0..3 {
            repo.write(&format!("{d}/file{f}.txt"), format!("{d} {f}\n"));
        }
    }
    let commit = repo.commit("nested");
    repo.push("main");
    let gh = fake.app_client().installation(inst);
    let head = gh.branch_head(&name(&repo), &main_branch()).await.unwrap();
    assert_eq!(head.commit.as_str(), commit);
    let full = gh.tree(&name(&repo), &head.tree).await.unwrap();
    assert_eq!(fake.requests(route::TREE), 1);

    fake.truncate_trees(true);
    let walked = gh.tree(&name(&repo), &head.tree).await.unwrap();
    let mut full_sorted = full.clone();
    full_sorted.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(walked, full_sorted);
    let trees = full.iter().filter(|e| e.kind == EntryKind::Tree).count();
    assert_eq!(trees, 7, "a, a/b, a/b/c, d, e, e/f, src");
    // One truncated recursive call, then the root and every subtree once.
    assert_eq!(fake.requests(route::TREE), 1 + 1 + 1 + trees as u64);
    let blobs = walked.iter().filter(|e| e.kind == EntryKind::Blob).count();
    assert_eq!(blobs, 2 + 15);
}

#[tokio::test]
async fn blobs_come_back_as_raw_bytes() {
    let (fake, inst, repo) = setup().await;
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    repo.write("bin/data.bin", &binary);
    repo.commit("binary");
    repo.push("main");
    let gh = fake.app_client().installation(inst);
    let head = gh.branch_head(&name(&repo), &main_branch()).await.unwrap();
    let tree = gh.tree(&name(&repo), &head.commit).await.unwrap();
    let entry = tree.iter().find(|e| e.path == "bin/data.bin").unwrap();
    assert_eq!(entry.size, Some(70_000));
    assert_eq!(entry.mode, "100644");
    let bytes = gh.blob(&name(&repo), &entry.sha).await.unwrap();
    assert_eq!(&bytes[..], &binary[..]);
    assert_eq!(fake.requests(route::BLOB), 1);
    let missing = Sha::parse(&"ab".repeat(20)).unwrap();
    let err = gh.blob(&name(&repo), &missing).await.unwrap_err();
    assert!(matches!(err, GithubError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn compare_reports_ahead_and_diverged_after_a_force_push() {
    let (fake, inst, repo) = setup().await;
    let base = repo.head("main").unwrap();
    repo.write("README.md", "changed\n")
        .write("new.txt", "new\n");
    repo.remove("src/lib.rs");
    let ahead = repo.commit("second");
    repo.push("main");
    let gh = fake.app_client().installation(inst);
    let sha = |s: &str| Sha::parse(s).unwrap();
    let cmp = gh
        .compare(&name(&repo), &sha(&base), &sha(&ahead))
        .await
        .unwrap();
    assert_eq!(cmp.status, CompareStatus::Ahead);
    assert_eq!((cmp.ahead_by, cmp.behind_by), (1, 0));
    let mut files: Vec<(String, String)> = cmp
        .files
        .iter()
        .map(|f| (f.path.clone(), f.status.as_str().to_owned()))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            ("README.md".into(), "modified".into()),
            ("new.txt".into(), "added".into()),
            ("src/lib.rs".into(), "removed".into())
        ]
    );
    // Rewrite history: a sibling of `ahead` replaces it.
    repo.reset_hard(&base);
    repo.write("other.txt", "other\n");
    let rewritten = repo.commit("rewritten");
    let push = repo.force_push("main");
    assert!(push.forced);
    let cmp = gh
        .compare(&name(&repo), &sha(&ahead), &sha(&rewritten))
        .await
        .unwrap();
    assert_eq!(cmp.status, CompareStatus::Diverged);
    assert_eq!(cmp.merge_base.as_str(), base);
}

#[tokio::test]
async fn a_tarball_of_5000_files_streams_in_small_chunks() {
    let (fake, inst, repo) = setup().await;
    // ~1 KiB of incompressible bytes per file: a ~5 MiB archive.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..5000 {
        let content: Vec<u8> = (0..1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        repo.write(&format!("d{:02}/f{i:04}.bin", i % 50), content);
    }
    let commit = repo.commit("5000 files");
    repo.push("main");
    let gh = fake.app_client().installation(inst);
    let mut stream = gh
        .tarball(&name(&repo), &Sha::parse(&commit).unwrap())
        .await
        .unwrap();
    // Feed the stream to `tar -tz` as it arrives: the archive is checked without ever being
    // held whole, here or in the client.
    let mut tar = tokio::process::Command::new("tar")
        .args(["-tzf", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = tar.stdin.take().unwrap();
    // Read the listing while feeding the archive, or a full stdout pipe stalls tar.
    let mut stdout = tar.stdout.take().unwrap();
    let listing = tokio::spawn(async move {
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut out)
            .await
            .map(|_| out)
    });
    let (mut total, mut largest, mut chunks) = (0usize, 0usize, 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        total += chunk.len();
        largest = largest.max(chunk.len());
        chunks += 1;
        tokio::io::AsyncWriteExt::write_all(&mut stdin, &chunk)
            .await
            .unwrap();
    }
    drop(stdin);
    assert!(tar.wait().await.unwrap().success());
    let listing = listing.await.unwrap().unwrap();
    let files = listing.lines().filter(|l| l.ends_with(".bin")).count();
    assert_eq!(files, 5000);
    let prefix = format!("octo-org-widgets-{}/", &commit[..7]);
    assert!(
        listing.lines().all(|l| l.starts_with(&prefix)),
        "GitHub's archive prefix"
    );
    eprintln!("tarball: {total} bytes in {chunks} chunks, largest {largest} bytes");
    assert!(total > 5_000_000, "{total} bytes");
    assert!(largest <= 64 * 1024, "largest chunk {largest} bytes");
    assert!(chunks > 10, "{chunks} chunks");
    assert_eq!(fake.requests(route::TARBALL), 1);
    assert_eq!(fake.requests(route::CODELOAD), 1, "the 302 was followed");

    // The same archive as an AsyncRead, for untarring as it arrives.
    let stream = gh
        .tarball(&name(&repo), &Sha::parse(&commit).unwrap())
        .await
        .unwrap();
    let mut reader = hubsync::github::stream_reader(stream);
    let mut counted = tokio::io::sink();
    let copied = tokio::io::copy(&mut reader, &mut counted).await.unwrap();
    assert_eq!(copied as usize, total);
}
