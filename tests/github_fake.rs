//! The fake GitHub's webhook deliveries: GitHub's shapes, signed like GitHub signs them.
use crate::support::{
    fake_github::{FakeGithub, ZERO_SHA},
    signing::github_signature,
};

#[tokio::test]
async fn push_deliveries_describe_real_pushes_and_are_signed() {
    let fake = FakeGithub::start().await;
    let inst = fake.add_installation("octo-org");
    let repo = fake.create_repo(inst, "widgets");
    repo.write("a.txt", "a\n");
    let first = repo.commit("first");
    let created = repo.push("main");
    assert!(created.created && !created.forced);
    assert_eq!(created.before, ZERO_SHA);

    let d = fake.push_event(&created);
    assert_eq!(d.event, "push");
    let headers = d.headers("s3cret");
    let sig = headers
        .iter()
        .find(|(k, _)| *k == "x-hub-signature-256")
        .unwrap();
    assert_eq!(sig.1, github_signature("s3cret", &d.body));
    assert!(headers
        .iter()
        .any(|(k, v)| *k == "x-github-delivery" && v.len() == 36));
    let p = d.payload();
    assert_eq!(p["ref"], "refs/heads/main");
    assert_eq!(p["after"], first);
    assert_eq!(p["created"], true);
    assert_eq!(p["repository"]["id"], repo.id);
    assert_eq!(p["repository"]["full_name"], "octo-org/widgets");
    assert_eq!(p["installation"]["id"], inst);
    assert_eq!(p["head_commit"]["id"], first);
    assert_eq!(p["head_commit"]["added"][0], "a.txt");

    repo.write("b.txt", "b\n");
    let second = repo.commit("second");
    let p = fake.push_event(&repo.push("main")).payload();
    assert_eq!(
        (p["before"].as_str(), p["after"].as_str()),
        (Some(first.as_str()), Some(second.as_str()))
    );
    assert_eq!(p["forced"], false);
    assert_eq!(p["commits"].as_array().unwrap().len(), 1);

    repo.reset_hard(&first);
    repo.write("c.txt", "c\n");
    repo.commit("rewritten");
    let forced = repo.force_push("main");
    let p = fake.push_event(&forced).payload();
    assert_eq!(p["forced"], true);
    assert_eq!(p["before"], second);

    repo.checkout("feature");
    let branch = repo.push("feature");
    let p = fake.branch_event(&branch).payload();
    assert_eq!(fake.branch_event(&branch).event, "create");
    assert_eq!(
        (p["ref"].as_str(), p["ref_type"].as_str()),
        (Some("feature"), Some("branch"))
    );
    assert_eq!(p["master_branch"], "main");
    let deleted = repo.delete_branch("feature");
    let d = fake.branch_event(&deleted);
    assert_eq!(d.event, "delete");
    let p = fake.push_event(&deleted).payload();
    assert_eq!(
        (p["deleted"].as_bool(), p["after"].as_str()),
        (Some(true), Some(ZERO_SHA))
    );
    assert!(p["head_commit"].is_null());
}

#[tokio::test]
async fn installation_deliveries_list_the_repositories() {
    let fake = FakeGithub::start().await;
    let inst = fake.add_installation("octo-org");
    let a = fake.create_repo(inst, "a");
    let b = fake.create_repo(inst, "b");
    let d = fake.installation_event(inst, "created");
    assert_eq!(d.event, "installation");
    let p = d.payload();
    assert_eq!(p["action"], "created");
    assert_eq!(p["installation"]["id"], inst);
    assert_eq!(p["installation"]["account"]["login"], "octo-org");
    assert_eq!(p["repositories"].as_array().unwrap().len(), 2);
    let p = fake.installation_event(inst, "suspend").payload();
    assert!(p["installation"]["suspended_at"].is_string());

    fake.remove_from_installation(inst, b.id);
    let d = fake.installation_repositories_event(inst, "removed", &[b.id]);
    assert_eq!(d.event, "installation_repositories");
    let p = d.payload();
    assert_eq!(p["repositories_removed"][0]["full_name"], "octo-org/b");
    assert_eq!(p["repositories_added"].as_array().unwrap().len(), 0);
    let p = fake
        .installation_repositories_event(inst, "added", &[a.id])
        .payload();
    assert_eq!(p["repositories_added"][0]["id"], a.id);
}
