//! The store's scoped reads on both engines: on SQLite the store filters them; on PostgreSQL,
//! connected as a non-superuser that owns the tables, only the policies do.
use hubsync::store::{
    migrate,
    scope::{self, Scope},
    scoped,
    snapshots::Unavailable,
    DatabaseUrl,
};

use super::{ids, seed, Role, A, B};
use crate::db_test;

db_test! {
    async fn scoped_reads_return_nothing_of_another_installation(db) {
        let role = Role::create(&db, true).await;
        let url = role.as_ref().map_or_else(|| db.url.clone(), Role::url);
        let conn = hubsync::store::connect(&DatabaseUrl::parse(&url).unwrap()).await.unwrap();
        migrate(&conn).await.unwrap();
        seed(&conn, A).await;
        seed(&conn, B).await;
        let (_, project_a, sel_a, run_a) = ids(A);
        let (_, project_b, sel_b, run_b) = ids(B);
        let a = Scope::installation(A);

        let all = scoped::projects(&conn, &Scope::All).await.unwrap();
        assert_eq!(all.iter().map(|p| p.project.id).collect::<Vec<_>>(), vec![project_a, project_b]);
        let seen = scoped::projects(&conn, &a).await.unwrap();
        assert_eq!(seen.iter().map(|p| p.project.id).collect::<Vec<_>>(), vec![project_a]);
        assert_eq!(seen[0].selections.len(), 1);

        assert!(scoped::project(&conn, &a, project_a).await.unwrap().is_some());
        assert!(scoped::project(&conn, &a, project_b).await.unwrap().is_none(), "B's project under A");
        assert!(scoped::project(&conn, &Scope::Installations(vec![]), project_a).await.unwrap().is_none());

        assert_eq!(scoped::manifest(&conn, &a, sel_a).await.unwrap().len(), 2);
        assert!(scoped::manifest(&conn, &a, sel_b).await.unwrap().is_empty(), "B's manifest under A");
        assert_eq!(scoped::manifest(&conn, &Scope::All, sel_b).await.unwrap().len(), 2);
        assert!(scoped::file(&conn, &a, sel_a, "a-1.txt").await.unwrap().is_some());
        assert!(scoped::file(&conn, &a, sel_b, "a-2.txt").await.unwrap().is_none(), "B's file under A");

        // The tree at B's synced commit: B's two files, not synced at all under A.
        let sha_b = format!("{:040x}", B);
        assert_eq!(scoped::tree_at(&conn, &Scope::All, sel_b, &sha_b).await.unwrap().unwrap().len(), 2);
        let under_a = scoped::tree_at(&conn, &a, sel_b, &sha_b).await.unwrap();
        assert_eq!(under_a, Err(Unavailable::NotSynced), "B's tree under A");

        // Whether B's commit is synced (`/synced`): yes under all, not under A.
        let (sha_b, main) = (hubsync::git::Sha::parse(&sha_b).unwrap(), hubsync::git::BranchName::parse("main").unwrap());
        let repo_b = hubsync::ids::RepositoryId(ids(B).0);
        let all = scoped::synced_head(&conn, &Scope::All, sel_b, repo_b, &main, &sha_b).await.unwrap();
        assert_eq!(all.map(|(_, run)| run), Some(run_b));
        let under_a = scoped::synced_head(&conn, &a, sel_b, repo_b, &main, &sha_b).await.unwrap();
        assert!(under_a.is_none(), "B's synced commit under A");

        // Asked for both branches' runs, A's scope gets A's run and its attempt only.
        let (runs, attempts) = scoped::history(&conn, &a, &[sel_a, sel_b], 10).await.unwrap();
        assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![run_a]);
        assert_eq!(attempts.keys().copied().collect::<Vec<_>>(), vec![run_a]);
        let (runs, _) = scoped::history(&conn, &Scope::All, &[sel_a, sel_b], 10).await.unwrap();
        assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![run_b, run_a]);

        // The feed, asked for every project: A's change only.
        let page = scoped::changes(&conn, &a, 0, None, 100).await.unwrap();
        assert_eq!(page.rows.iter().map(|c| c.project_id).collect::<Vec<_>>(), vec![project_a]);
        let page = scoped::changes(&conn, &a, 0, Some(hubsync::ids::ProjectId(project_b)), 100).await.unwrap();
        assert!(page.rows.is_empty(), "B's feed under A");
        let page = scoped::changes(&conn, &Scope::All, 0, None, 100).await.unwrap();
        assert_eq!(page.rows.len(), 2);

        // The scopes callers get: a project's installation; a user's from user_repositories.
        assert_eq!(scope::of_project(&conn, project_b).await.unwrap(), Scope::installation(B));
        assert_eq!(scope::of_project(&conn, 999).await.unwrap(), Scope::Installations(vec![]));
        assert_eq!(scope::of_user(&conn, A).await.unwrap(), Scope::installation(A));

        conn.close().await.unwrap();
        if let Some(role) = role {
            role.drop().await;
        }
    }
}

#[test]
fn a_scope_is_the_setting_the_policies_read() {
    assert_eq!(Scope::All.setting(), "*");
    assert_eq!(Scope::Installations(vec![3, 41]).setting(), "3,41");
    assert_eq!(Scope::Installations(vec![]).setting(), "");
    assert!(Scope::All.allows(7) && Scope::installation(7).allows(7));
    assert!(!Scope::installation(7).allows(8));
}
