//! hubsync's GitHub client against the fake GitHub: app JWTs, installation tokens, retries, rate
//! limits, the per-installation cap, request counting. No database involved.
use std::time::{Duration, Instant};

use hubsync::{
    git::BranchName,
    github::{GithubError, RepoName},
};

use crate::support::{
    fake_github::{route, FakeGithub, FakeRepo, Fault},
    init_test_tracing,
};

pub(crate) fn name(repo: &FakeRepo) -> RepoName {
    RepoName::parse(&repo.full_name()).unwrap()
}

pub(crate) fn main_branch() -> BranchName {
    BranchName::parse("main").unwrap()
}

/// A fake with one installation and one repository with a commit on main.
pub(crate) async fn setup() -> (FakeGithub, i64, FakeRepo) {
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
    let gh = fake.app_client().installation(inst);
    // Tokens issued already inside the 5-minute refresh window are replaced at every use, so
    // the window is tested without waiting for a clock to reach it.
    fake.set_token_lifetime(Duration::from_secs(5 * 60 - 10));
    gh.repository(&name(&repo)).await.unwrap();
    gh.repository(&name(&repo)).await.unwrap();
    assert_eq!(fake.requests(route::ACCESS_TOKENS), 2);
    // A token with more than the window left is kept; the one in the window is replaced once.
    fake.set_token_lifetime(Duration::from_secs(60 * 60));
    for _ in 0..3 {
        gh.repository(&name(&repo)).await.unwrap();
    }
    assert_eq!(fake.requests(route::ACCESS_TOKENS), 3);
    assert_eq!(
        fake.requests(route::REPO),
        5,
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
async fn a_server_error_that_is_not_json_says_what_came_back() {
    let (fake, inst, repo) = setup().await;
    // A proxy's HTML error page, with a control character and a token-shaped string in it.
    let page = format!(
        "<html><head><title>502 Bad Gateway</title></head>\n<body>\u{7}upstream \
         ghs_16C7e42F292c6912E7710c838347Ae178B4a failed</body></html>{}",
        "x".repeat(5000)
    );
    let fault = Fault::Raw {
        status: 502,
        content_type: "text/html",
        body: page,
    };
    fake.inject(route::BRANCH, fault, 10);
    let gh = fake.app_client().installation(inst);
    let err = gh
        .branch_head(&name(&repo), &main_branch())
        .await
        .unwrap_err();
    assert!(err.is_transient());
    let text = err.to_string();
    assert!(!text.trim_end().ends_with(':'), "{text}");
    for part in ["502", "text/html", "<title>502 Bad Gateway</title>"] {
        assert!(text.contains(part), "{part:?} missing: {text}");
    }
    assert!(
        !text.contains("ghs_16C7"),
        "a token-shaped string is not repeated: {text}"
    );
    assert!(!text.contains('\u{7}') && !text.contains('\n'), "{text:?}");
    assert!(text.len() < 500, "bounded: {} bytes", text.len());

    let empty = Fault::Raw {
        status: 503,
        content_type: "text/plain",
        body: String::new(),
    };
    fake.inject(route::REPO, empty, 10);
    let text = gh.repository(&name(&repo)).await.unwrap_err().to_string();
    assert!(
        text.contains("503") && text.contains("empty body"),
        "{text}"
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
    fake.inject(route::REPO, Fault::Status(422), 1);
    let err = gh.repository(&name(&repo)).await.unwrap_err();
    assert!(
        matches!(err, GithubError::Status { status: 422, .. }),
        "{err:?}"
    );
    assert_eq!(fake.requests(route::REPO), 1, "422 is not retried either");

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
