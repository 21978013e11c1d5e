//! Real git repositories in temp dirs: each way a command can put a
//! protected path into history, first shown to work (the history holds it),
//! then shown to be undone and reported; and what must stay (commits of
//! other paths, the working tree).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// A checkout with a committed workflow, warden config and a source file.
struct Repo {
    _tmp: tempfile::TempDir,
    ws: PathBuf,
    git: PathBuf,
}

fn protected() -> Vec<PathBuf> {
    [".github/workflows", ".github/actions", ".warden"]
        .iter()
        .map(PathBuf::from)
        .collect()
}

/// git on PATH is required: these tests never pass by skipping.
fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("git must be installed for these tests (.ci/run installs it)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Repo {
    fn new() -> Self {
        Self::with_init(&["init", "-q", "-b", "main"])
    }

    fn with_init(init: &[&str]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        git_in(&ws, init);
        std::fs::create_dir_all(ws.join(".github/workflows")).unwrap();
        std::fs::write(ws.join(".github/workflows/ci.yml"), "on: push\n").unwrap();
        std::fs::create_dir_all(ws.join(".warden")).unwrap();
        std::fs::write(ws.join(".warden/config.toml"), "# ok\n").unwrap();
        std::fs::write(ws.join("lib.rs"), "fn a() {}\n").unwrap();
        let repo = Repo {
            git: ws.join(".git"),
            ws,
            _tmp: tmp,
        };
        repo.run(&["add", "-A"]);
        repo.run(&["commit", "-qm", "base"]);
        repo
    }

    fn run(&self, args: &[&str]) -> String {
        git_in(&self.ws, args)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.ws.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn commit_all(&self, msg: &str) -> String {
        self.run(&["add", "-A"]);
        self.run(&["commit", "-qm", msg]);
        self.run(&["rev-parse", "HEAD"])
    }

    fn state(&self) -> (RefState, IndexBaseline) {
        (
            RefState::read(&self.git).unwrap(),
            IndexBaseline::read(&self.ws, &self.git, &protected()).unwrap(),
        )
    }

    fn check(&self, before: &(RefState, IndexBaseline)) -> Vec<ProtectedChange> {
        check_and_revert(&self.ws, &self.git, &before.0, &before.1, &protected()).unwrap()
    }

    fn reachable_from_refs(&self, commit: &str) -> bool {
        self.run(&["rev-list", "--all"])
            .lines()
            .any(|l| l == commit)
    }
}

fn assert_reverted(changes: &[ProtectedChange], path_end: &str, kind: &str) {
    assert!(
        changes
            .iter()
            .any(|c| c.path.ends_with(path_end) && c.change == kind && c.restored),
        "expected {path_end} {kind} restored in {changes:?}"
    );
}

#[test]
fn a_committed_workflow_edit_is_undone_and_the_rest_of_the_work_stays() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    r.write(".github/workflows/ci.yml", "on: push\njobs: {evil: {}}\n");
    r.write("CONTRIBUTING.md", "be nice\n");
    let bad = r.commit_all("sneaky");
    assert_eq!(r.run(&["rev-parse", "main"]), bad, "the commit landed");

    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_reverted(&changes, ".github/workflows/ci.yml", "staged");
    assert_eq!(r.run(&["rev-parse", "main"]), base);
    assert_eq!(r.run(&["symbolic-ref", "HEAD"]), "refs/heads/main");
    assert!(!r.reachable_from_refs(&bad));
    // The other work is still there, staged, and the workflow's index
    // entry is the committed one again.
    assert_eq!(
        std::fs::read_to_string(r.ws.join("CONTRIBUTING.md")).unwrap(),
        "be nice\n"
    );
    let staged = r.run(&["diff", "--cached", "--name-only"]);
    assert_eq!(staged, "CONTRIBUTING.md");
}

#[test]
fn a_commit_of_other_paths_stays_and_nothing_is_reported() {
    let r = Repo::new();
    let before = r.state();
    r.write("CONTRIBUTING.md", "be nice\n");
    r.write(".github/ISSUE_TEMPLATE/bug.md", "bug\n");
    let good = r.commit_all("docs");
    assert_eq!(r.check(&before), vec![]);
    assert_eq!(r.run(&["rev-parse", "main"]), good);
}

#[test]
fn a_bad_commit_reverted_by_a_second_commit_still_goes() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    r.write(".github/workflows/ci.yml", "evil\n");
    let bad = r.commit_all("bad");
    r.write(".github/workflows/ci.yml", "on: push\n");
    r.commit_all("looks innocent");
    assert_eq!(r.run(&["diff", &base, "HEAD", "--name-only"]), "");
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_eq!(r.run(&["rev-parse", "main"]), base);
    assert!(!r.reachable_from_refs(&bad));
}

#[test]
fn a_bad_commit_on_a_branch_merged_after_its_revert_is_found() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    r.run(&["checkout", "-qb", "side"]);
    r.write(".github/workflows/ci.yml", "evil\n");
    let bad = r.commit_all("bad");
    r.write(".github/workflows/ci.yml", "on: push\n");
    r.commit_all("undo");
    r.run(&["checkout", "-q", "main"]);
    r.write("other", "x\n");
    r.commit_all("other");
    r.run(&["merge", "-q", "--no-edit", "side"]);
    r.run(&["branch", "-qD", "side"]);
    assert!(r.reachable_from_refs(&bad));
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_eq!(r.run(&["rev-parse", "main"]), base);
    assert!(!r.reachable_from_refs(&bad));
}

#[test]
fn an_evil_merge_is_found_and_a_clean_merge_stays() {
    let r = Repo::new();
    r.run(&["checkout", "-qb", "side"]);
    r.write("side.txt", "s\n");
    r.commit_all("side");
    r.run(&["checkout", "-q", "main"]);
    r.write("main.txt", "m\n");
    let main_tip = r.commit_all("main");

    // Clean: merging an existing branch that changes no protected path.
    let before = r.state();
    r.run(&["merge", "-q", "--no-edit", "side"]);
    let merged = r.run(&["rev-parse", "HEAD"]);
    assert_eq!(r.check(&before), vec![]);
    assert_eq!(r.run(&["rev-parse", "main"]), merged);

    // Evil: the merge commit itself brings the workflow change.
    r.run(&["reset", "-q", "--hard", &main_tip]);
    let before = r.state();
    r.run(&["merge", "-q", "--no-commit", "side"]);
    r.write(".github/workflows/ci.yml", "evil\n");
    r.run(&["add", "-A"]);
    r.run(&["commit", "-qm", "merge"]);
    assert_eq!(r.run(&["rev-list", "--count", "--merges", "HEAD"]), "1");
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_eq!(r.run(&["rev-parse", "main"]), main_tip);
}

#[test]
fn a_new_branch_with_a_bad_commit_is_deleted_and_head_put_back() {
    let r = Repo::new();
    let before = r.state();
    r.run(&["checkout", "-qb", "feature"]);
    r.write(".warden/config.toml", "[rules]\nallow_all = true\n");
    let bad = r.commit_all("cfg");
    assert_eq!(r.run(&["symbolic-ref", "HEAD"]), "refs/heads/feature");
    let changes = r.check(&before);
    assert_reverted(&changes, ".warden/config.toml", "committed");
    assert_eq!(r.run(&["symbolic-ref", "HEAD"]), "refs/heads/main");
    assert!(!r.git.join("refs/heads/feature").exists());
    assert!(!r.reachable_from_refs(&bad));
}

#[test]
fn a_new_branch_of_good_work_stays() {
    let r = Repo::new();
    let before = r.state();
    r.run(&["checkout", "-qb", "feature"]);
    r.write("lib.rs", "fn b() {}\n");
    let good = r.commit_all("work");
    assert_eq!(r.check(&before), vec![]);
    assert_eq!(r.run(&["rev-parse", "feature"]), good);
    assert_eq!(r.run(&["symbolic-ref", "HEAD"]), "refs/heads/feature");
}

#[test]
fn a_stash_of_a_workflow_change_is_dropped() {
    let r = Repo::new();
    let before = r.state();
    r.write(".github/workflows/ci.yml", "evil\n");
    r.run(&["stash", "-q"]);
    let stash = r.run(&["rev-parse", "refs/stash"]);
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert!(!r.git.join("refs/stash").exists());
    assert!(!r.reachable_from_refs(&stash));
}

#[test]
fn a_stash_round_trip_of_other_work_stays() {
    let r = Repo::new();
    let before = r.state();
    r.write("lib.rs", "fn changed() {}\n");
    r.run(&["stash", "-q"]);
    assert_eq!(r.check(&before), vec![]);
    let before = r.state();
    r.run(&["stash", "pop", "-q"]);
    assert_eq!(r.check(&before), vec![]);
    assert_eq!(
        std::fs::read_to_string(r.ws.join("lib.rs")).unwrap(),
        "fn changed() {}\n"
    );
}

#[test]
fn an_amended_commit_is_undone() {
    let r = Repo::new();
    r.write("lib.rs", "fn b() {}\n");
    let good = r.commit_all("work");
    let before = r.state();
    r.write(".github/workflows/ci.yml", "evil\n");
    r.run(&["commit", "-qa", "--amend", "--no-edit"]);
    assert_ne!(r.run(&["rev-parse", "main"]), good);
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_eq!(r.run(&["rev-parse", "main"]), good);
}

#[test]
fn a_detached_head_commit_is_undone_and_head_is_symbolic_again() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    r.run(&["checkout", "-q", "--detach"]);
    r.write(".github/workflows/ci.yml", "evil\n");
    let bad = r.commit_all("detached");
    assert_eq!(r.run(&["rev-parse", "HEAD"]), bad);
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_eq!(r.run(&["symbolic-ref", "HEAD"]), "refs/heads/main");
    assert_eq!(r.run(&["rev-parse", "HEAD"]), base);
}

#[test]
fn a_detached_head_before_is_put_back_detached() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    r.run(&["checkout", "-q", "--detach"]);
    let before = r.state();
    r.run(&["checkout", "-q", "main"]);
    r.write(".github/workflows/ci.yml", "evil\n");
    r.commit_all("bad");
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_eq!(r.run(&["rev-parse", "HEAD"]), base);
    assert!(
        std::fs::read_to_string(r.git.join("HEAD"))
            .unwrap()
            .starts_with(&base)
    );
    assert_eq!(r.run(&["rev-parse", "main"]), base);
}

#[test]
fn packed_refs_are_read_and_put_back() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    r.run(&["tag", "v1"]);
    // Packing alone changes no ref's value: nothing to report, no git run.
    let before = r.state();
    r.run(&["pack-refs", "--all"]);
    assert!(!r.git.join("refs/heads/main").exists());
    assert_eq!(r.check(&before), vec![]);

    let before = r.state();
    r.write(".github/workflows/ci.yml", "evil\n");
    r.commit_all("bad");
    r.run(&["pack-refs", "--all"]);
    assert!(!r.git.join("refs/heads/main").exists(), "main is packed");
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_eq!(r.run(&["rev-parse", "main"]), base);
    assert_eq!(r.run(&["rev-parse", "v1"]), base);
}

#[test]
fn a_ref_that_is_a_symlink_is_removed_never_followed() {
    let r = Repo::new();
    let before = r.state();
    let base = r.run(&["rev-parse", "HEAD"]);
    let outside = r.ws.parent().unwrap().join("outside-ref");
    std::fs::write(&outside, format!("{base}\n")).unwrap();
    std::os::unix::fs::symlink(&outside, r.git.join("refs/heads/evil")).unwrap();
    assert_eq!(
        r.run(&["rev-parse", "refs/heads/evil"]),
        base,
        "git follows it"
    );
    let after = RefState::read(&r.git).unwrap();
    assert!(matches!(
        after.refs.get("refs/heads/evil"),
        Some(RefValue::Unreadable(_))
    ));
    let changes = r.check(&before);
    assert!(
        changes
            .iter()
            .any(|c| c.path.ends_with("refs/heads/evil") && c.restored),
        "{changes:?}"
    );
    assert!(std::fs::symlink_metadata(r.git.join("refs/heads/evil")).is_err());
    assert!(outside.exists(), "the target is not touched");
}

#[test]
fn a_renamed_workflows_directory_in_a_commit_is_undone() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    r.run(&["mv", ".github/workflows", ".github/wf-old"]);
    r.run(&["commit", "-qm", "rename"]);
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_eq!(r.run(&["rev-parse", "main"]), base);
}

#[test]
fn github_committed_as_a_symlink_counts_as_the_workflows_inside() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    r.write("evil/workflows/ci.yml", "evil\n");
    r.run(&["rm", "-rq", ".github"]);
    std::os::unix::fs::symlink("evil", r.ws.join(".github")).unwrap();
    r.commit_all("swap");
    let changes = r.check(&before);
    assert!(
        changes
            .iter()
            .any(|c| c.path.ends_with(".github") && c.change == "committed" && c.restored),
        "{changes:?}"
    );
    assert_eq!(r.run(&["rev-parse", "main"]), base);
}

#[test]
fn a_gitmodules_change_is_protected_without_being_listed() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    r.write(
        ".gitmodules",
        "[submodule \"x\"]\n\tpath = x\n\turl = https://example.invalid/x\n",
    );
    r.commit_all("sub");
    let changes = r.check(&before);
    assert_reverted(&changes, ".gitmodules", "committed");
    assert_eq!(r.run(&["rev-parse", "main"]), base);
}

#[test]
fn tags_light_and_annotated_with_a_bad_commit_are_deleted() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    r.run(&["checkout", "-q", "--detach"]);
    r.write(".github/actions/a/action.yml", "runs: {using: node20}\n");
    r.commit_all("action");
    r.run(&["tag", "light"]);
    r.run(&["tag", "-a", "-m", "annotated", "heavy"]);
    r.run(&["checkout", "-q", "main"]);
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/actions/a/action.yml", "committed");
    assert!(r.run(&["tag", "-l"]).is_empty());
    assert_eq!(r.run(&["rev-parse", "HEAD"]), base);
}

#[test]
fn update_ref_to_a_hand_made_commit_is_undone() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    r.write(".warden/config.toml", "evil\n");
    r.run(&["add", "-A"]);
    let tree = r.run(&["write-tree"]);
    r.run(&["reset", "-q"]);
    let bad = r.run(&["commit-tree", &tree, "-p", &base, "-m", "x"]);
    r.run(&["update-ref", "refs/heads/main", &bad]);
    r.run(&["update-ref", "refs/something/else", &bad]);
    let changes = r.check(&before);
    assert_reverted(&changes, ".warden/config.toml", "committed");
    assert_eq!(r.run(&["rev-parse", "main"]), base);
    assert!(!r.reachable_from_refs(&bad));
}

#[test]
fn a_staged_workflow_change_without_a_commit_is_unstaged() {
    let r = Repo::new();
    let committed = r.run(&["rev-parse", "HEAD:.github/workflows/ci.yml"]);
    let before = r.state();
    r.write(".github/workflows/ci.yml", "evil\n");
    r.write(".github/workflows/new.yml", "evil\n");
    r.write("lib.rs", "fn kept() {}\n");
    r.run(&["add", "-A"]);
    r.run(&["rm", "-q", "--cached", ".warden/config.toml"]);
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "staged");
    assert_reverted(&changes, ".github/workflows/new.yml", "staged");
    assert_reverted(&changes, ".warden/config.toml", "staged");
    assert_eq!(
        r.run(&["rev-parse", ":.github/workflows/ci.yml"]),
        committed
    );
    assert_eq!(r.run(&["diff", "--cached", "--name-only"]), "lib.rs");
    // The working tree is the file guard's; nothing here touches it.
    assert_eq!(
        std::fs::read_to_string(r.ws.join(".github/workflows/ci.yml")).unwrap(),
        "evil\n"
    );
}

#[test]
fn a_new_replace_ref_is_refused_even_for_harmless_commits() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    r.write("lib.rs", "fn b() {}\n");
    let other = r.commit_all("other");
    let before = r.state();
    r.run(&["replace", &base, &other]);
    let changes = r.check(&before);
    assert!(
        changes
            .iter()
            .any(|c| c.change == "replace ref added" && c.restored),
        "{changes:?}"
    );
    assert_eq!(r.run(&["replace", "-l"]), "");
    assert_eq!(r.run(&["rev-parse", "main"]), other);
}

#[test]
fn grafts_and_shallow_cannot_hide_a_bad_commit() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    r.write(".github/workflows/ci.yml", "evil\n");
    r.commit_all("bad");
    r.write(".github/workflows/ci.yml", "on: push\n");
    let cover = r.commit_all("cover");
    // Both cut `cover` from its parent: git's own walk no longer sees `bad`.
    std::fs::create_dir_all(r.git.join("info")).unwrap();
    std::fs::write(r.git.join("info/grafts"), format!("{cover}\n")).unwrap();
    std::fs::write(r.git.join("shallow"), format!("{cover}\n")).unwrap();
    assert_eq!(
        r.run(&["rev-list", "--count", "HEAD"]),
        "1",
        "history is cut"
    );
    let changes = r.check(&before);
    assert_reverted(&changes, "shallow", "added");
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert!(!r.git.join("shallow").exists());
    assert_eq!(r.run(&["rev-parse", "main"]), base);
}

#[test]
fn a_planted_merge_head_with_a_bad_commit_is_removed() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    r.run(&["checkout", "-q", "--detach"]);
    r.write(".github/workflows/ci.yml", "evil\n");
    let bad = r.commit_all("bad");
    r.run(&["checkout", "-q", "main"]);
    std::fs::write(r.git.join("MERGE_HEAD"), format!("{bad}\n")).unwrap();
    assert_eq!(r.run(&["rev-parse", "MERGE_HEAD"]), bad, "git reads it");
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert!(!r.git.join("MERGE_HEAD").exists());
    assert_eq!(r.run(&["rev-parse", "HEAD"]), base);
}

#[test]
fn a_reftable_repository_is_read_with_git_and_put_back() {
    let r = Repo::with_init(&["init", "-q", "-b", "main", "--ref-format=reftable"]);
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    assert_eq!(before.0.storage(), Storage::Reftable);
    assert!(
        matches!(before.0.refs.get("HEAD"), Some(RefValue::Symbolic(t)) if t == "refs/heads/main")
    );
    r.write(".github/workflows/ci.yml", "evil\n");
    r.commit_all("bad");
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_eq!(r.run(&["rev-parse", "main"]), base);
}

/// A fake `git` that records each call and fails: spawned only when a ref
/// or the index changed. The control (a change) proves it records.
#[test]
fn nothing_changed_runs_no_git() {
    let r = Repo::new();
    let fake = r.ws.parent().unwrap().join("fake-git");
    let log = r.ws.parent().unwrap().join("fake-git.log");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\nexit 1\n", log.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (before, baseline) = r.state();
    // Working-tree edits and reads of history change no ref and no index.
    r.write("lib.rs", "fn edited() {}\n");
    r.run(&["log", "--oneline"]);
    let got = check_and_revert_using(
        fake.as_os_str(),
        &r.ws,
        &r.git,
        &before,
        &baseline,
        &protected(),
    );
    assert_eq!(got, Ok(vec![]));
    assert!(
        !log.exists(),
        "git was run: {:?}",
        std::fs::read_to_string(&log)
    );

    // Control: a commit makes the check run git (the fake, which fails:
    // fail closed, reported as not restored).
    r.write(".github/workflows/ci.yml", "evil\n");
    r.commit_all("bad");
    let got = check_and_revert_using(
        fake.as_os_str(),
        &r.ws,
        &r.git,
        &before,
        &baseline,
        &protected(),
    )
    .unwrap();
    assert!(log.exists(), "the fake records its calls");
    assert!(
        !got.is_empty() && got.iter().all(|c| !c.restored),
        "{got:?}"
    );
}

#[test]
fn the_ref_state_sees_worktrees_and_never_lists_locks() {
    let r = Repo::new();
    let wt = r.ws.parent().unwrap().join("linked");
    r.run(&["worktree", "add", "-q", "-b", "side", wt.to_str().unwrap()]);
    std::fs::write(r.git.join("refs/heads/main.lock"), "x").unwrap();
    let state = RefState::read(&r.git).unwrap();
    assert!(matches!(
        state.refs.get("worktrees/linked/HEAD"),
        Some(RefValue::Symbolic(t)) if t == "refs/heads/side"
    ));
    assert!(!state.refs.contains_key("refs/heads/main.lock"));
    assert!(state.index.is_some());

    // A commit in the linked worktree is seen from the main one's check.
    let before = r.state();
    std::fs::write(wt.join(".github/workflows/ci.yml"), "evil\n").unwrap();
    git_in(&wt, &["commit", "-qam", "bad"]);
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_eq!(r.run(&["rev-parse", "side"]), r.run(&["rev-parse", "main"]));
}

#[test]
fn a_bad_stash_on_top_of_a_good_one_leaves_the_stash_list_as_it_was() {
    let r = Repo::new();
    r.write("lib.rs", "fn stashed() {}\n");
    r.run(&["stash", "-q"]);
    let good = r.run(&["rev-parse", "refs/stash"]);
    let list_before = r.run(&["stash", "list", "--format=%H"]);
    let before = r.state();
    r.write(".github/workflows/ci.yml", "evil\n");
    r.run(&["stash", "-q"]);
    assert_eq!(r.run(&["stash", "list", "--format=%H"]).lines().count(), 2);
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_eq!(r.run(&["rev-parse", "refs/stash"]), good);
    assert_eq!(r.run(&["stash", "list", "--format=%H"]), list_before);
}

#[test]
fn an_entry_appended_to_the_stash_reflog_is_a_stash() {
    let r = Repo::new();
    r.write("lib.rs", "fn stashed() {}\n");
    r.run(&["stash", "-q"]);
    let good = r.run(&["rev-parse", "refs/stash"]);
    let before = r.state();
    // A bad stash made elsewhere, then only its reflog line kept.
    r.write(".github/workflows/ci.yml", "evil\n");
    let bad = r.run(&["stash", "create"]);
    r.run(&["checkout", "-q", "--", "."]);
    let log = r.git.join("logs/refs/stash");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str(&format!(
        "{good} {bad} t <t@example.invalid> 1 +0000\tWIP\n"
    ));
    std::fs::write(&log, text).unwrap();
    assert_eq!(r.run(&["rev-parse", "stash@{1}"]), good, "git reads it");
    let changes = r.check(&before);
    assert_reverted(&changes, ".github/workflows/ci.yml", "committed");
    assert_eq!(r.run(&["stash", "list", "--format=%H"]), good);
}

#[test]
fn a_refs_directory_swapped_for_a_symlink_is_not_followed_and_is_put_back() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    // The command's own refs elsewhere: a bad commit, its branch, then the
    // whole `refs/` pointed there.
    r.write(".github/workflows/ci.yml", "evil\n");
    let bad = r.commit_all("bad");
    let elsewhere = r.ws.parent().unwrap().join("refs-elsewhere");
    std::fs::rename(r.git.join("refs"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, r.git.join("refs")).unwrap();
    assert_eq!(r.run(&["rev-parse", "main"]), bad, "git follows it");
    let after = RefState::read(&r.git).unwrap();
    assert!(!after.refs.contains_key("refs/heads/main"), "not followed");
    let changes = r.check(&before);
    assert!(changes.iter().all(|c| c.restored), "{changes:?}");
    assert!(!changes.is_empty());
    assert!(r.git.join("refs").is_dir() && !r.git.join("refs").is_symlink());
    assert_eq!(r.run(&["rev-parse", "main"]), base);
    assert!(
        elsewhere.join("heads/main").exists(),
        "nothing removed through the link"
    );
}

/// A ref to an object that is not there yet cannot be judged (a later
/// command could write the object): reverted, and still a failure.
#[test]
fn a_ref_to_a_missing_object_is_put_back_and_fails_closed() {
    let r = Repo::new();
    let base = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    let missing = "1234567890123456789012345678901234567890";
    std::fs::write(r.git.join("refs/heads/main"), format!("{missing}\n")).unwrap();
    let changes = r.check(&before);
    assert!(
        changes
            .iter()
            .any(|c| c.change.starts_with("commits unverifiable") && !c.restored),
        "{changes:?}"
    );
    assert_eq!(r.run(&["rev-parse", "main"]), base);
}

/// A nested repository at `rel` with one commit (`git add` of it stages a
/// gitlink, mode 160000).
fn nested_repo(r: &Repo, rel: &str) {
    let dir = r.ws.join(rel);
    std::fs::create_dir_all(&dir).unwrap();
    git_in(&dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("f"), "x\n").unwrap();
    git_in(&dir, &["add", "f"]);
    git_in(&dir, &["commit", "-qm", "nested"]);
}

fn gitlinks_in_index(r: &Repo) -> Vec<String> {
    r.run(&["ls-files", "-s"])
        .lines()
        .filter(|l| l.starts_with("160000 "))
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect()
}

#[test]
fn a_staged_new_gitlink_is_unstaged_and_the_rest_stays_staged() {
    let r = Repo::new();
    let before = r.state();
    nested_repo(&r, "sub");
    r.write("lib.rs", "fn kept() {}\n");
    r.run(&["add", "sub", "lib.rs"]);
    assert_eq!(
        gitlinks_in_index(&r),
        ["sub"],
        "control: git staged a gitlink"
    );
    let changes = r.check(&before);
    assert_reverted(&changes, "sub", "gitlink staged");
    assert!(gitlinks_in_index(&r).is_empty());
    assert_eq!(r.run(&["diff", "--cached", "--name-only"]), "lib.rs");
}

#[test]
fn a_committed_new_gitlink_is_undone_and_a_bumped_existing_one_stays() {
    let r = Repo::new();
    let head = r.run(&["rev-parse", "HEAD"]);
    let before = r.state();
    nested_repo(&r, "deep/sub");
    r.run(&["add", "deep/sub"]);
    r.run(&["commit", "-qm", "add a repository"]);
    let bad = r.run(&["rev-parse", "HEAD"]);
    let changes = r.check(&before);
    assert_reverted(&changes, "deep/sub", "committed");
    assert!(!r.reachable_from_refs(&bad));
    assert_eq!(r.run(&["rev-parse", "HEAD"]), head);
    assert!(gitlinks_in_index(&r).is_empty(), "the index too");

    // A gitlink there before the command (a submodule the project has) may
    // move to another commit: that is data, not a new repository.
    r.run(&["add", "deep/sub"]);
    r.run(&["commit", "-qm", "the user's submodule"]);
    let before = r.state();
    std::fs::write(r.ws.join("deep/sub/f"), "y\n").unwrap();
    git_in(&r.ws.join("deep/sub"), &["commit", "-qam", "bump"]);
    r.run(&["add", "deep/sub"]);
    r.run(&["commit", "-qm", "bump the submodule"]);
    let good = r.run(&["rev-parse", "HEAD"]);
    assert!(r.check(&before).is_empty());
    assert_eq!(r.run(&["rev-parse", "HEAD"]), good);
}
