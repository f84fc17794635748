//! Scale-out on PostgreSQL, with two real `hubsync serve` processes on one database: every
//! delivery is processed once whichever replica received it (copies went to both), every push
//! is covered by exactly one run, runs of one branch never overlap, a replica killed with
//! SIGKILL mid-run loses nothing (the other takes the lease over), and an event stream on one
//! replica shows the runs the other executed.
use std::{
    collections::{BTreeSet, HashMap},
    time::Duration,
};

use hubsync::{
    store::DatabaseUrl,
    store::{
        self,
        entities::{deliveries, sync_events, sync_runs},
    },
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use crate::support::{
    fake_github::{route, FakeGithub, FakeRepo, Fault},
    replica::{Replica, ADMIN},
    sse::SseStream,
    synced::{self, assert_manifest_matches},
    wait::{self, Observed, Watcher},
    webhooks::SECRET,
    TestDb,
};

const WAIT: Duration = Duration::from_secs(90);
const REPOS: usize = 5;
const PUSHES: usize = 200;
const MAX: i64 = 10 * 1024 * 1024;

async fn stream(client: &reqwest::Client, replica: &Replica) -> (SseStream, i64) {
    let r = SseStream::connect(client, &replica.url("/api/v1/events"), ADMIN, None).await;
    let mut s = SseStream::new(r);
    let snap = s.next(WAIT).await.expect("a snapshot");
    assert_eq!(snap.event, "snapshot");
    (s, snap.id())
}

/// Reads `s` until it has shown a `succeeded` event for each of `runs`; returns every event's
/// (id, kind, run id) seen on the way.
async fn until_succeeded(s: &mut SseStream, runs: &BTreeSet<i64>) -> Vec<(i64, String, i64)> {
    let mut left = runs.clone();
    let mut seen = Vec::new();
    while !left.is_empty() {
        let ev = s
            .next(WAIT)
            .await
            .unwrap_or_else(|| panic!("no event for runs {left:?}"));
        let run = ev.json()["run_id"].as_i64().unwrap_or(-1);
        if ev.event == "succeeded" {
            left.remove(&run);
        }
        seen.push((ev.id(), ev.event.clone(), run));
    }
    seen
}

/// Waits until no run is queued or running and no delivery waits, looking again after each
/// progress event (the last runs' ends; the deliveries were processed before the runs they queued).
async fn wait_idle(watch: &Watcher) {
    let mut events = watch.events();
    wait::until_true("the replicas are idle", &mut events, async || {
        let busy = sync_runs::Entity::find()
            .filter(sync_runs::Column::Status.is_in(["queued", "running"]))
            .count(&watch.db)
            .await
            .unwrap();
        let waiting = deliveries::Entity::find()
            .filter(deliveries::Column::Status.eq("received"))
            .count(&watch.db)
            .await
            .unwrap();
        busy == 0 && waiting == 0
    })
    .await
}

fn repos(fake: &FakeGithub, inst: i64) -> Vec<FakeRepo> {
    (0..REPOS)
        .map(|i| {
            let repo = fake.create_repo(inst, &format!("svc-{i}"));
            for f in 0..40 {
                repo.write(&format!("f{f}.txt"), format!("{i} {f}\n"));
            }
            repo.commit("start");
            repo.push("main");
            repo
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_database_split_the_work() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!(
            "SKIPPED: replicas::two_replicas_on_one_postgres_database_split_the_work needs \
             TEST_DATABASE_URL (replicas share a PostgreSQL database)"
        );
        return;
    };
    let fake = FakeGithub::start().await;
    let inst = fake.add_installation("scale-org");
    let repos = repos(&fake, inst);
    let env = [
        ("HUBSYNC_SYNC_LEASE_SECS", "3"),
        ("HUBSYNC_TARBALL_THRESHOLD", "1000"),
    ];
    let a = Replica::start("a", &fake, &db.url, &env).await;
    let b = Replica::start("b", &fake, &db.url, &env).await;
    let conn = store::connect(&DatabaseUrl::parse(&db.url).unwrap())
        .await
        .unwrap();
    let watch = Watcher::start(&conn).await;
    let client = reqwest::Client::new();

    let r = fake
        .installation_event(inst, "created")
        .send(&client, &a.url("/webhooks/github"), SECRET)
        .await;
    assert_eq!(r.status(), 202);
    for repo in &repos {
        let head = repo.head("main").unwrap();
        synced::wait_synced(&watch, repo.id, "main", &head, WAIT).await;
    }
    wait_idle(&watch).await;
    let (mut on_a, from) = stream(&client, &a).await;
    let before: BTreeSet<i64> = all_runs(&conn).await.iter().map(|r| r.id).collect();

    // 200 pushes, sent to a and b in turn; every fourth also to the other one at the same time.
    // Two pushes in a row go to one branch (through different replicas), so some fold into the
    // run the first one queued.
    let mut pushed: Vec<Vec<String>> = vec![Vec::new(); REPOS];
    let mut answers: HashMap<String, Vec<u16>> = HashMap::new();
    for i in 0..PUSHES {
        let k = (i / 2) % REPOS;
        let repo = &repos[k];
        repo.write(&format!("f{}.txt", i % 40), format!("push {i}\n"));
        repo.commit(&format!("push {i}"));
        let push = repo.push("main");
        let delivery = fake.push_event(&push);
        let (first, other) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let (to_first, to_other) = (first.url("/webhooks/github"), other.url("/webhooks/github"));
        let mut got = if i % 4 == 0 {
            let (x, y) = tokio::join!(
                delivery.send(&client, &to_first, SECRET),
                delivery.send(&client, &to_other, SECRET)
            );
            vec![x.status().as_u16(), y.status().as_u16()]
        } else {
            vec![delivery
                .send(&client, &to_first, SECRET)
                .await
                .status()
                .as_u16()]
        };
        got.sort();
        answers.insert(delivery.delivery_id.clone(), got);
        pushed[k].push(push.after.clone());
    }
    for (k, repo) in repos.iter().enumerate() {
        let head = pushed[k].last().unwrap();
        synced::wait_synced(&watch, repo.id, "main", head, WAIT).await;
    }
    wait_idle(&watch).await;

    // Each delivery stored once (one 202; its copy got 200) and processed once.
    for (id, got) in &answers {
        let expected: &[u16] = if got.len() == 2 { &[200, 202] } else { &[202] };
        assert_eq!(got, expected, "answers to delivery {id}");
        let d = deliveries::Entity::find()
            .filter(deliveries::Column::DeliveryId.eq(id.as_str()))
            .all(&conn)
            .await
            .unwrap();
        assert_eq!(d.len(), 1, "delivery {id} stored once");
        assert_eq!(
            (d[0].status.as_str(), d[0].attempts),
            ("processed", 1),
            "delivery {id}"
        );
    }

    // Every pushed head is covered by exactly one run: the one its `queued` event names (a push
    // while a run is queued folds into it). That run succeeded, at that head or a later one.
    let queued: Vec<sync_events::Model> = sync_events::Entity::find()
        .filter(sync_events::Column::Id.gt(from))
        .filter(sync_events::Column::Kind.eq("queued"))
        .all(&conn)
        .await
        .unwrap();
    let runs: HashMap<i64, sync_runs::Model> = all_runs(&conn)
        .await
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut covering: BTreeSet<i64> = BTreeSet::new();
    for heads in &pushed {
        for (n, sha) in heads.iter().enumerate() {
            let named: Vec<i64> = queued
                .iter()
                .filter(|e| e.data["target_sha"] == sha.as_str())
                .map(|e| e.run_id.unwrap())
                .collect();
            assert_eq!(named.len(), 1, "push {sha} queued once: {named:?}");
            let run = &runs[&named[0]];
            assert_eq!(run.status, "succeeded", "the run covering {sha}");
            let synced_at = run.target_sha.as_deref().unwrap();
            let pos = heads.iter().position(|h| h == synced_at);
            assert!(
                pos.is_some_and(|p| p >= n),
                "run {} synced {synced_at}, before push {sha}",
                run.id
            );
            covering.insert(run.id);
        }
    }
    // No other run, and runs of one branch never overlapped.
    let new_runs: Vec<&sync_runs::Model> =
        runs.values().filter(|r| !before.contains(&r.id)).collect();
    let new_ids: BTreeSet<i64> = new_runs.iter().map(|r| r.id).collect();
    assert_eq!(new_ids, covering, "every run covers a push");
    let mut by_branch: HashMap<i64, Vec<&sync_runs::Model>> = HashMap::new();
    for r in &new_runs {
        by_branch.entry(r.project_sync_id).or_default().push(r);
    }
    for runs in by_branch.values_mut() {
        runs.sort_by_key(|r| r.started_at);
        for w in runs.windows(2) {
            assert!(
                w[0].finished_at <= w[1].started_at,
                "runs {} and {} overlapped",
                w[0].id,
                w[1].id
            );
        }
    }
    // Both replicas did the work, and a's stream showed b's runs.
    let by_b: BTreeSet<i64> = new_runs
        .iter()
        .filter(|r| r.leased_by.as_deref().is_some_and(|w| b.owns(w)))
        .map(|r| r.id)
        .collect();
    let by_a = new_runs.len() - by_b.len();
    eprintln!(
        "{} runs for {PUSHES} pushes: {by_a} on a, {} on b",
        new_runs.len(),
        by_b.len()
    );
    assert!(by_a > 0 && !by_b.is_empty(), "both replicas run syncs");
    let seen = until_succeeded(&mut on_a, &new_ids).await;
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "a's stream is in order"
    );
    for (k, repo) in repos.iter().enumerate() {
        let sel = synced::selection(&conn, repo.id, "main").await.unwrap();
        assert_eq!(
            sel.last_synced_sha.as_deref(),
            pushed[k].last().map(String::as_str)
        );
        assert_manifest_matches(&conn, sel.id, repo, "main", MAX).await;
    }

    // A replica killed with SIGKILL mid-run: the other takes the run over once its lease ends.
    let (on_b, _) = stream(&client, &b).await;
    let repo = &repos[0];
    for f in 0..30 {
        repo.write(&format!("f{f}.txt"), format!("big change {f}\n"));
    }
    repo.commit("big change");
    let push = repo.push("main");
    fake.inject(
        route::BLOB,
        Fault::Latency(Duration::from_millis(300)),
        1000,
    );
    let blobs = fake.requests(route::BLOB);
    let r = fake
        .push_event(&push)
        .send(&client, &a.url("/webhooks/github"), SECRET)
        .await;
    assert_eq!(r.status(), 202);
    let sel = synced::selection(&conn, repo.id, "main").await.unwrap();
    let mut signals = (watch.events(), fake.arrivals());
    let run = wait::until("the run starts fetching", &mut signals, async || {
        sync_runs::Entity::find()
            .filter(sync_runs::Column::ProjectSyncId.eq(sel.id))
            .filter(sync_runs::Column::Status.eq("running"))
            .one(&conn)
            .await
            .unwrap()
            .filter(|_| fake.requests(route::BLOB) >= blobs + 4)
    })
    .await;
    let owner = run.leased_by.clone().unwrap();
    let (survivor, mut survivor_stream) = if a.owns(&owner) {
        a.kill();
        (b, on_b)
    } else {
        b.kill();
        drop(on_b);
        (a, on_a)
    };
    eprintln!(
        "killed the replica running run {} ({owner}); {} takes over",
        run.id, survivor.name
    );
    // The survivor also takes new deliveries meanwhile.
    let other = &repos[1];
    other.write("after-kill.txt", "x\n");
    other.commit("after the kill");
    let later = other.push("main");
    let r = fake
        .push_event(&later)
        .send(&client, &survivor.url("/webhooks/github"), SECRET)
        .await;
    assert_eq!(r.status(), 202);
    synced::wait_synced(&watch, repo.id, "main", &push.after, WAIT).await;
    synced::wait_synced(&watch, other.id, "main", &later.after, WAIT).await;
    let run = sync_runs::Entity::find_by_id(run.id)
        .one(&conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, "succeeded");
    assert_eq!(run.attempt, 2, "taken over after the kill");
    assert!(
        run.leased_by.as_deref().is_some_and(|w| survivor.owns(w)),
        "{:?}",
        run.leased_by
    );
    until_succeeded(&mut survivor_stream, &BTreeSet::from([run.id])).await;
    let sel = synced::selection(&conn, repo.id, "main").await.unwrap();
    assert_manifest_matches(&conn, sel.id, repo, "main", MAX).await;
    drop(survivor);
    fake.stop().await;
}

async fn all_runs(db: &DatabaseConnection) -> Vec<sync_runs::Model> {
    sync_runs::Entity::find()
        .order_by_asc(sync_runs::Column::Id)
        .all(db)
        .await
        .unwrap()
}
