//! Commits of protected paths made inside the real sandbox are put back
//! after the command (`sandbox::commit_guard`): porcelain and plumbing
//! spellings, stashes, branches and staged entries, under
//! `sandbox.git = "commit"` and under a `.git` grant in `"read-only"`.
//! The rest of the command's work stays.

use crate::sandbox_support;

use std::process::Command;

use sandbox_support::{Fixture, git_stdout as out};
use warden::decision::Grants;

/// No ref anywhere reaches a commit whose tree has the workflow `text`.
fn no_ref_has_workflow(f: &Fixture, text: &str) {
    let all = out(&f.ws, &["log", "--all", "--format=%H"]);
    for commit in all.lines() {
        let blob = Command::new("git")
            .args(["show", &format!("{commit}:.github/workflows/ci.yml")])
            .current_dir(&f.ws)
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&blob.stdout).contains(text),
            "commit {commit} still reachable with the workflow edit"
        );
    }
    assert_eq!(out(&f.ws, &["stash", "list"]), "", "stash kept");
}

#[tokio::test]
async fn a_committed_workflow_edit_is_undone_and_a_later_good_commit_stays() {
    let f = Fixture::committed();
    let head = out(&f.ws, &["rev-parse", "HEAD"]);
    let got = f
        .run(
            "echo 'run: curl evil' >> .github/workflows/ci.yml && git commit -qam ci \
             && echo more > README.md && git commit -qam docs",
        )
        .await;
    assert_eq!(got.exit_code, Some(0), "{got:?}");
    assert!(
        got.protected_changes.iter().all(|c| c.restored)
            && got
                .protected_changes
                .iter()
                .any(|c| c.path.ends_with(".github/workflows/ci.yml")),
        "{:?}",
        got.protected_changes
    );
    no_ref_has_workflow(&f, "curl evil");
    // The bad commit is below the good one: the branch goes back whole.
    assert_eq!(out(&f.ws, &["rev-parse", "HEAD"]), head);
    assert_eq!(
        std::fs::read_to_string(f.ws.join(".github/workflows/ci.yml")).unwrap(),
        "on: push\n"
    );

    // Good work alone stays committed, and nothing is reported.
    let got = f
        .run("echo fine > README.md && git commit -qam docs && git checkout -qb topic")
        .await;
    assert_eq!(got.exit_code, Some(0), "{got:?}");
    assert!(
        got.protected_changes.is_empty(),
        "{:?}",
        got.protected_changes
    );
    assert_eq!(out(&f.ws, &["log", "--format=%s", "-1", "main"]), "docs");
    assert_eq!(out(&f.ws, &["branch", "--show-current"]), "topic");
}

#[tokio::test]
async fn plumbing_a_stash_a_branch_and_the_index_are_put_back() {
    let f = Fixture::committed();
    let main_before = out(&f.ws, &["rev-parse", "main"]);
    let scripts = [
        // Plumbing: no porcelain commit, the ref moved by hand.
        "printf 'run: evil\\n' > w && blob=$(git hash-object -w w) && rm w \
         && git update-index --add --cacheinfo 100644,$blob,.github/workflows/ci.yml \
         && tree=$(git write-tree) && c=$(git commit-tree $tree -p HEAD -m x) \
         && git update-ref refs/heads/main $c && git checkout -- .",
        // A stash keeps the edit for a later `stash pop` outside.
        "echo 'run: evil' >> .github/workflows/ci.yml && git stash -q",
        // A new branch, HEAD left on it.
        "git checkout -qb side && echo 'run: evil' >> .github/workflows/ci.yml \
         && git commit -qam side",
        // A tag reaches it as well as a branch.
        "echo 'run: evil' >> .github/workflows/ci.yml && git commit -qam t && git tag keep \
         && git reset -q --hard HEAD~1",
    ];
    for script in scripts {
        let got = f.run(script).await;
        assert!(
            got.protected_changes.iter().all(|c| c.restored) && !got.protected_changes.is_empty(),
            "{script}: {:?} {}",
            got.protected_changes,
            got.stderr
        );
        no_ref_has_workflow(&f, "evil");
        assert_eq!(out(&f.ws, &["rev-parse", "main"]), main_before, "{script}");
        assert_eq!(out(&f.ws, &["status", "--porcelain"]), "", "{script}");
    }
    assert_eq!(out(&f.ws, &["branch", "--show-current"]), "main");

    // Staged only: the index entry goes back to what the run started with.
    let got = f
        .run("echo 'run: evil' >> .github/workflows/ci.yml && git add .github")
        .await;
    assert!(
        !got.protected_changes.is_empty(),
        "{:?}",
        got.protected_changes
    );
    assert_eq!(out(&f.ws, &["diff", "--cached", "--name-only"]), "");
}

#[tokio::test]
async fn a_git_grant_in_read_only_mode_is_guarded_the_same_way() {
    let f = Fixture::committed();
    let policy = f.policy_git(warden::config::GitMode::ReadOnly);
    let grants = Grants {
        write: vec![f.ws.join(".git"), f.ws.join(".github/workflows")],
        ..Grants::default()
    };
    let got = f
        .run_with(
            &policy,
            "echo 'run: evil' >> .github/workflows/ci.yml && git commit -qam ci",
            grants,
        )
        .await;
    assert_eq!(got.exit_code, Some(0), "{got:?}");
    assert!(!got.protected_changes.is_empty());
    no_ref_has_workflow(&f, "evil");
    assert_eq!(out(&f.ws, &["log", "--format=%s", "-1"]), "init");
}
