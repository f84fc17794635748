//! hubsync's GitHub client against the fake GitHub: tokens, retries, rate limits, pagination,
//! trees, blobs, tarballs. No database involved.
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hubsync::{
    git::{BranchName, Sha},
    github::{CompareStatus, EntryKind, GithubError, RepoName},
};

use crate::support::{
    fake_github::{route, FakeGithub, FakeRepo, Fault},
    init_test_tracing,
};

fn name(repo: &FakeRepo) -> RepoName {
    RepoName::parse(&repo.full_name()).unwrap()
}

fn main_branch() -> BranchName {
    BranchName::parse("main").unwrap()
}

/// A fake with one installation and one repository with a commit on main.
async fn setup() -> (FakeGithub, i64, FakeRepo) {
    init_test_tracing();
    let fake = FakeGithub::start().await;
    let inst = fake.add_installation("octo-org");
    let repo = fake.create_repo(inst, "widgets");
    repo.write("README.md", "hello\n")
        .write("src/lib.rs", "pub fn f() {}\n");
    repo.commit("first");
    repo.push("main");
    (fake, inst, repo)
}

#[tokio::test]
async fn a_token_is_reused_within_its_lifetime() {
    let (fake, inst, repo) = setup().await;
    let gh = fake.app_client().installation(inst);
    for _ in 0..10 {
        let head = gh.branch_head(&name(&repo), &main_branch()).await.unwrap();
        assert_eq!(head.commit.as_str(), repo.head("main").unwrap());
    }
    assert_eq!(fake.requests(route::ACCESS_TOKENS), 1);
    assert_eq!(fake.requests(route::BRANCH), 10);
    assert_eq!(
        gh.requests_made(),
        10,
        "token requests are not the caller's"
    );
}

#[tokio::test]
async fn a_token_is_refreshed_five_minutes_before_expiry() {
    let (fake, inst, repo) = setup().await;
    // Tokens that enter the 5-minute refresh window two seconds after they are issued.
    fake.set_token_lifetime(Duration::from_secs(5 * 60 + 2));
    let gh = fake.app_client().installation(inst);
    gh.repository(&name(&repo)).await.unwrap();
    gh.repository(&name(&repo)).await.unwrap();
    assert_eq!(fake.requests(route::ACCESS_TOKENS), 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    gh.repository(&name(&repo)).await.unwrap();
    assert_eq!(fake.requests(route::ACCESS_TOKENS), 2);
    assert_eq!(
        fake.requests(route::REPO),
        3,
        "no request failed for lack of a token"
    );
}

#[tokio::test]
async fn fifty_concurrent_callers_share_one_token_request() {
    let (fake, inst, repo) = setup().await;
    // A slow token endpoint widens the window in which callers pile up.
    fake.inject(
        route::ACCESS_TOKENS,
        Fault::Latency(Duration::from_millis(300)),
        1,
    );
    let app = fake.app_client();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let gh = app.installation(inst);
            let repo = name(&repo);
            tokio::spawn(async move { gh.repository(&repo).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(fake.requests(route::ACCESS_TOKENS), 1);
    assert_eq!(fake.requests(route::REPO), 50);
}

#[tokio::test]
async fn a_refused_token_is_dropped_and_fetched_again_once() {
    let (fake, inst, repo) = setup().await;
    let gh = fake.app_client().installation(inst);
    gh.repository(&name(&repo)).await.unwrap();
    fake.revoke_tokens();
    gh.repository(&name(&repo)).await.unwrap();
    assert_eq!(fake.requests(route::ACCESS_TOKENS), 2);
    assert_eq!(fake.requests(route::REPO), 3);
}

#[tokio::test]
async fn the_fake_rejects_a_bad_jwt_and_a_bad_token_like_github() {
    let (fake, inst, _repo) = setup().await;
    let http = reqwest::Client::new();
    let res = http
        .post(format!(
            "{}/app/installations/{inst}/access_tokens",
            fake.url
        ))
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "401");
    assert!(body["message"].is_string() && body["documentation_url"].is_string());
    // A JWT signed with the right key but for another app.
    let claims = serde_json::json!({ "iat": now() - 60, "exp": now() + 540, "iss": "1" });
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(
            crate::support::fake_github::TEST_APP_KEY.as_bytes(),
        )
        .unwrap(),
    )
    .unwrap();
    let res = http
        .post(format!(
            "{}/app/installations/{inst}/access_tokens",
            fake.url
        ))
        .bearer_auth(jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = http
        .get(format!("{}/installation/repositories", fake.url))
        .bearer_auth("ghs_made_up")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["message"],
        "Bad credentials"
    );
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn three_consecutive_502s_are_retried_through() {
    let (fake, inst, repo) = setup().await;
    fake.inject(route::BRANCH, Fault::Status(502), 3);
    let gh = fake.app_client().installation(inst);
    let head = gh.branch_head(&name(&repo), &main_branch()).await.unwrap();
    assert_eq!(head.commit.as_str(), repo.head("main").unwrap());
    assert_eq!(fake.requests(route::BRANCH), 4);
    assert_eq!(gh.requests_made(), 4, "retries count as requests made");
}

#[tokio::test]
async fn server_errors_give_up_after_the_attempt_limit() {
    let (fake, inst, repo) = setup().await;
    fake.inject(route::BRANCH, Fault::Status(500), 100);
    let gh = fake.app_client().installation(inst);
    let err = gh
        .branch_head(&name(&repo), &main_branch())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GithubError::Status { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(
        fake.requests(route::BRANCH),
        5,
        "max_attempts in the test policy"
    );
}

#[tokio::test]
async fn a_secondary_rate_limit_is_waited_out() {
    let (fake, inst, repo) = setup().await;
    fake.inject(route::REPO, Fault::SecondaryRateLimit { retry_after: 1 }, 1);
    let gh = fake.app_client().installation(inst);
    let started = Instant::now();
    gh.repository(&name(&repo)).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after honoured"
    );
    assert_eq!(fake.requests(route::REPO), 2);

    fake.inject(route::REPO, Fault::TooManyRequests { retry_after: 1 }, 1);
    gh.repository(&name(&repo)).await.unwrap();
    assert_eq!(fake.requests(route::REPO), 4);
}

#[tokio::test]
async fn a_rate_limit_longer_than_allowed_fails_with_when_to_come_back() {
    let (fake, inst, repo) = setup().await;
    fake.inject(
        route::REPO,
        Fault::SecondaryRateLimit { retry_after: 3600 },
        1,
    );
    let gh = fake.app_client().installation(inst);
    let err = gh.repository(&name(&repo)).await.unwrap_err();
    match err {
        GithubError::RateLimited { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(3600)))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fake.requests(route::REPO),
        1,
        "no request burnt while limited"
    );
}

#[tokio::test]
async fn an_exhausted_quota_pauses_the_installation_until_reset() {
    let (fake, inst, repo) = setup().await;
    fake.inject(route::REPO, Fault::PrimaryExhausted { reset_in: 1 }, 1);
    let gh = fake.app_client().installation(inst);
    let started = Instant::now();
    gh.repository(&name(&repo)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(fake.requests(route::REPO), 2);
}

#[tokio::test]
async fn a_404_is_not_retried() {
    let (fake, inst, repo) = setup().await;
    let gh = fake.app_client().installation(inst);
    let err = gh
        .branch_head(&name(&repo), &BranchName::parse("nope").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, GithubError::NotFound { .. }), "{err:?}");
    assert_eq!(fake.requests(route::BRANCH), 1);

    // A repository the installation cannot see is a 404 too, as on GitHub.
    let other_inst = fake.add_installation("other-org");
    let hidden = fake.create_repo(other_inst, "secret");
    let err = gh.repository(&name(&hidden)).await.unwrap_err();
    assert!(matches!(err, GithubError::NotFound { .. }), "{err:?}");
    fake.remove_from_installation(inst, repo.id);
    let err = gh.repository_by_id(repo.id).await.unwrap_err();
    assert!(matches!(err, GithubError::NotFound { .. }), "{err:?}");
}

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
        .map(|f| (f.path.clone(), f.status.clone()))
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
async fn requests_per_installation_are_capped() {
    let (fake, inst, repo) = setup().await;
    let mut options = fake.options();
    options.concurrency = 3;
    let app = fake.app_client_with(options);
    let gh = app.installation(inst);
    gh.repository(&name(&repo)).await.unwrap(); // the token, out of the way
    fake.set_latency(Duration::from_millis(50));
    let calls = (0..20).map(|_| {
        let gh = gh.clone();
        let repo = name(&repo);
        async move { gh.repository(&repo).await }
    });
    for r in futures_util::future::join_all(calls).await {
        r.unwrap();
    }
    assert!(fake.max_in_flight() <= 3, "{}", fake.max_in_flight());
    assert!(fake.max_in_flight() >= 2, "requests do run in parallel");
    assert_eq!(gh.requests_made(), 21, "clones share the counter");
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
    assert!(largest <= 512 * 1024, "largest chunk {largest} bytes");
    assert!(chunks > 10, "{chunks} chunks");
    assert_eq!(fake.requests(route::TARBALL), 1);
    assert_eq!(fake.requests(route::CODELOAD), 1, "the 302 was followed");
}
