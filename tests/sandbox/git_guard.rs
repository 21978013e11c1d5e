//! Submodule and worktree git directories (issue 12, class 9). A workspace
//! with a real submodule (itself holding a nested one, `git submodule add`
//! of local repositories) and a real linked worktree (`git worktree add`,
//! with `extensions.worktreeConfig` so `config.worktree` is read). The
//! attack plants hooks and `core.fsmonitor` commands in `.git/modules/**`
//! and `.git/worktrees/*`, or repoints a submodule's `.git` file at a
//! gitdir it wrote; each planted command would touch a canary file when a
//! later, unsandboxed `git status` (or checkout) runs it. Each test first
//! runs the attack without the sandbox and sees the canaries appear.

use crate::sandbox_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use sandbox_support::{Fixture, git, require_tool};
use warden::config::GitMode;
use warden::decision::Grants;

/// Every canary the planted commands can touch.
const ALL_CANARIES: [&str; 4] = ["fsm-nested", "fsm-sub", "fsm-wt", "post-checkout"];

struct Repo {
    f: Fixture,
    /// The linked worktree (outside the workspace).
    wt: PathBuf,
    /// Where the submodules come from.
    subsrc: PathBuf,
    /// Where planted commands leave their canaries.
    canaries: PathBuf,
}

fn git_c(dir: &Path, args: &[&str]) {
    let mut all = vec!["-c", "protocol.file.allow=always"];
    all.extend_from_slice(args);
    git(dir, &all);
}

fn commit(dir: &Path, msg: &str) {
    git(
        dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            msg,
        ],
    );
}

fn setup() -> Option<Repo> {
    if !require_tool("git") {
        return None;
    }
    let f = Fixture::new();
    let root = f.ws.parent().unwrap().to_path_buf();
    let (nest, sub) = (root.join("nestsrc"), root.join("subsrc"));
    for dir in [&nest, &sub] {
        std::fs::create_dir_all(dir).unwrap();
        git(dir, &["init", "-q", "-b", "main"]);
    }
    commit(&nest, "nested");
    git_c(
        &sub,
        &["submodule", "add", "-q", nest.to_str().unwrap(), "nested"],
    );
    commit(&sub, "sub");
    git(&f.ws, &["add", "README.md"]);
    commit(&f.ws, "init");
    git_c(
        &f.ws,
        &["submodule", "add", "-q", sub.to_str().unwrap(), "sub"],
    );
    git_c(
        &f.ws,
        &["submodule", "update", "-q", "--init", "--recursive"],
    );
    commit(&f.ws, "add sub");
    git(&f.ws, &["config", "extensions.worktreeConfig", "true"]);
    let wt = root.join("wt");
    git(
        &f.ws,
        &["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "wtb"],
    );
    let canaries = root.join("canaries");
    std::fs::create_dir_all(&canaries).unwrap();
    for must in [
        ".git/modules/sub/config",
        ".git/modules/sub/modules/nested/config",
        ".git/worktrees/wt/commondir",
        "sub/.git",
    ] {
        assert!(f.ws.join(must).is_file(), "setup: no {must}");
    }
    Some(Repo {
        f,
        wt,
        subsrc: sub,
        canaries,
    })
}

impl Repo {
    /// A script writing a hook that touches canary `name` to `path`.
    fn hook(&self, name: &str, path: &str) -> String {
        format!(
            "printf '#!/bin/sh\\ntouch {}/{name}\\n' > {path} && chmod +x {path}\n",
            self.canaries.display()
        )
    }

    /// Plant hooks and fsmonitor commands in the submodule and worktree
    /// gitdirs, and touch the rest of what git trusts there.
    fn plant_in_gitdirs(&self) -> String {
        let ws = self.f.ws.display();
        let mut s = String::from("set -e\n");
        s += &self.hook("post-checkout", ".git/modules/sub/hooks/post-checkout");
        for name in ["fsm-sub", "fsm-nested", "fsm-wt"] {
            s += &self.hook(name, &format!("src/{name}.sh"));
        }
        s += &format!(
            "git config -f .git/modules/sub/config core.fsmonitor {ws}/src/fsm-sub.sh\n\
             git config -f .git/modules/sub/modules/nested/config core.fsmonitor {ws}/src/fsm-nested.sh\n\
             git config -f .git/worktrees/wt/config.worktree core.fsmonitor {ws}/src/fsm-wt.sh\n\
             echo {ws}/.git > .git/worktrees/wt/commondir\n\
             echo /nonexistent/objects >> .git/objects/info/alternates\n\
             echo /nonexistent/objects >> .git/modules/sub/objects/info/alternates\n\
             mkdir -p .git/modules/planted/hooks && echo 'ref: refs/heads/main' > .git/modules/planted/HEAD\n"
        );
        s
    }

    /// Point the submodule's `.git` file at a gitdir written in the
    /// workspace, whose config runs a planted fsmonitor.
    fn repoint_submodule(&self) -> String {
        let ws = self.f.ws.display();
        let mut s = String::from("set -e\n");
        s += &self.hook("fsm-sub", "src/fsm-sub.sh");
        s += &format!(
            "cp -r .git/modules/sub src/planted\n\
             git config -f src/planted/config core.fsmonitor {ws}/src/fsm-sub.sh\n\
             git config -f src/planted/config core.worktree ../../sub\n\
             printf 'gitdir: ../src/planted\\n' > sub/.git\n"
        );
        s
    }

    /// What a later, unsandboxed step does: status in the superproject, the
    /// submodules and the worktree, and a checkout in the submodule. Returns
    /// the canaries planted commands left.
    fn later_unsandboxed_git(&self) -> Vec<String> {
        let ws = &self.f.ws;
        for (dir, args) in [
            (ws.clone(), vec!["status"]),
            (ws.join("sub"), vec!["status"]),
            (ws.join("sub/nested"), vec!["status"]),
            (self.wt.clone(), vec!["status"]),
            (ws.join("sub"), vec!["checkout", "-q", "--detach"]),
        ] {
            // Failures do not matter (a restored gitdir may say so): only
            // what the planted commands did.
            let _ = Command::new("git")
                .args(&args)
                .current_dir(&dir)
                .env("HOME", &self.f.home)
                .output()
                .unwrap();
        }
        let mut found: Vec<String> = std::fs::read_dir(&self.canaries)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        found
    }

    fn git_grant(&self) -> Grants {
        Grants {
            write: vec![self.f.ws.join(".git")],
            ..Grants::default()
        }
    }
}

#[tokio::test]
async fn a_git_grant_cannot_plant_in_submodule_or_worktree_gitdirs() {
    let Some(control) = setup() else { return };
    let direct = control.f.run_direct(&control.plant_in_gitdirs());
    assert!(direct.status.success(), "control: {direct:?}");
    assert_eq!(
        control.later_unsandboxed_git(),
        ALL_CANARIES,
        "control: the planted commands run from a plain git status"
    );

    let Some(r) = setup() else { return };
    // Files that may or may not exist in a fresh repository: added or
    // modified.
    let kind = |rel: &str| match r.f.ws.join(rel).exists() {
        true => "modified",
        false => "added",
    };
    let mut want: Vec<(String, String)> = [
        (".git/modules/planted", "added"),
        (".git/modules/sub/config", "modified"),
        (".git/modules/sub/hooks/post-checkout", "added"),
        (".git/modules/sub/modules/nested/config", "modified"),
        (".git/worktrees/wt/commondir", "modified"),
        (
            ".git/worktrees/wt/config.worktree",
            kind(".git/worktrees/wt/config.worktree"),
        ),
        (
            ".git/objects/info/alternates",
            kind(".git/objects/info/alternates"),
        ),
        (
            ".git/modules/sub/objects/info/alternates",
            kind(".git/modules/sub/objects/info/alternates"),
        ),
    ]
    .iter()
    .map(|(p, c)| (p.to_string(), c.to_string()))
    .collect();
    want.sort();
    let kept = [
        ".git/modules/sub/config",
        ".git/modules/sub/modules/nested/config",
        ".git/worktrees/wt/commondir",
        ".git/objects/info/alternates",
    ]
    .map(|rel| (rel, std::fs::read(r.f.ws.join(rel)).ok()));
    let out =
        r.f.run_with(&r.f.policy(), &r.plant_in_gitdirs(), r.git_grant())
            .await;
    assert_eq!(
        out.exit_code,
        Some(0),
        "with the grant the writes happen: {out:?}"
    );
    let mut changed: Vec<(String, String)> = out
        .protected_changes
        .iter()
        .inspect(|c| assert!(c.restored, "{c}"))
        .map(|c| {
            let rel = c.path.strip_prefix(&r.f.ws).unwrap().display().to_string();
            (rel, c.change.clone())
        })
        .collect();
    changed.sort();
    assert_eq!(changed, want);
    for (rel, content) in kept {
        assert_eq!(
            std::fs::read(r.f.ws.join(rel)).ok(),
            content,
            "{rel} restored"
        );
    }
    assert!(!r.f.ws.join(".git/modules/planted").exists());
    assert_eq!(
        r.later_unsandboxed_git(),
        Vec::<String>::new(),
        "a planted command ran after the sandboxed one"
    );
}

/// Without a grant nothing in the gitdirs can be written, and neither can
/// the submodule's `.git` file (in the workspace, otherwise writable).
#[tokio::test]
async fn without_a_grant_the_gitdirs_and_the_submodule_git_file_are_read_only() {
    let Some(control) = setup() else { return };
    let direct = control.f.run_direct(&control.repoint_submodule());
    assert!(direct.status.success(), "control: {direct:?}");
    assert_eq!(control.later_unsandboxed_git(), ["fsm-sub"], "control");

    // `sandbox.git = "commit"` (the default): the writes land in the
    // sandbox, and are undone before anything else runs.
    let Some(r) = setup() else { return };
    let gitfile = std::fs::read(r.f.ws.join("sub/.git")).unwrap();
    let out = r.f.run(&r.repoint_submodule()).await;
    assert_eq!(std::fs::read(r.f.ws.join("sub/.git")).unwrap(), gitfile);
    assert!(out.protected_changes.iter().all(|c| c.restored));
    assert!(
        out.protected_changes
            .iter()
            .any(|c| c.path == r.f.ws.join("sub/.git")),
        "{:?}",
        out.protected_changes
    );
    let out = r.f.run(&r.plant_in_gitdirs()).await;
    assert!(!out.protected_changes.is_empty(), "{out:?}");
    assert!(out.protected_changes.iter().all(|c| c.restored));
    assert_eq!(r.later_unsandboxed_git(), Vec::<String>::new());

    // `"read-only"`: each write is refused.
    let Some(r) = setup() else { return };
    let read_only = r.f.policy_git(GitMode::ReadOnly);
    let gitfile = std::fs::read(r.f.ws.join("sub/.git")).unwrap();
    let out =
        r.f.run_with(&read_only, &r.repoint_submodule(), Grants::default())
            .await;
    assert_ne!(
        out.exit_code,
        Some(0),
        "repointing sub/.git must fail: {out:?}"
    );
    assert_eq!(std::fs::read(r.f.ws.join("sub/.git")).unwrap(), gitfile);
    assert!(
        out.refusals
            .iter()
            .any(|x| x.path.as_ref() == Some(&r.f.ws.join("sub/.git"))),
        "the refusal names sub/.git: {:?} / {}",
        out.refusals,
        out.stderr
    );
    // Each write into the gitdirs fails on its own (`set -e` would stop at
    // the first), and nothing is guarded: there was no grant.
    for line in r.plant_in_gitdirs().lines().skip(1) {
        if line.starts_with("printf") && line.contains("src/") {
            continue; // scripts in the workspace are ordinary files
        }
        let out = r.f.run_with(&read_only, line, Grants::default()).await;
        assert_ne!(
            out.exit_code,
            Some(0),
            "`{line}` worked without a grant: {out:?}"
        );
        assert!(out.protected_changes.is_empty());
    }
    assert!(!r.f.ws.join(".git/modules/planted").exists());
    assert!(!r.f.ws.join(".git/modules/sub/hooks/post-checkout").exists());
    assert_eq!(r.later_unsandboxed_git(), Vec::<String>::new());
}

/// `git status` and `git -C sub status` keep working in the sandbox, and a
/// granted commit in the superproject is not undone.
#[tokio::test]
async fn routine_git_in_a_repository_with_submodules_and_worktrees_works() {
    let Some(r) = setup() else { return };
    let out = r
        .f
        .run("git status --short && git -C sub status --short && git submodule status --recursive")
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.stdout.contains(" sub "), "{}", out.stdout);
    let out =
        r.f.run_with(
            &r.f.policy(),
            "git -c user.name=t -c user.email=t@example.invalid commit -q --allow-empty -m granted \
             && git log --oneline | wc -l",
            r.git_grant(),
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), "3");
    assert!(
        out.protected_changes.is_empty(),
        "{:?}",
        out.protected_changes
    );
}

/// A submodule whose checkout keeps an embedded `.git` directory (a
/// repository cloned into place, then `git submodule add`ed): it has no
/// gitdir under `.git/modules/`, and `.gitmodules` names it instead.
#[tokio::test]
async fn an_embedded_submodule_git_directory_is_read_only() {
    for sandboxed in [false, true] {
        let Some(r) = setup() else { return };
        let emb = r.f.ws.join("emb");
        let clone = Command::new("git")
            .args([
                "clone",
                "-q",
                r.subsrc.to_str().unwrap(),
                emb.to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(clone.success());
        git_c(
            &r.f.ws,
            &["submodule", "add", "-q", r.subsrc.to_str().unwrap(), "emb"],
        );
        commit(&r.f.ws, "add emb");
        assert!(emb.join(".git").is_dir(), "setup: emb/.git is a directory");
        assert!(!r.f.ws.join(".git/modules/emb").exists());
        let mut plant = String::from("set -e\n");
        plant += &r.hook("fsm-sub", "src/fsm-sub.sh");
        plant += &format!(
            "git config -f emb/.git/config core.fsmonitor {}/src/fsm-sub.sh\n",
            r.f.ws.display()
        );
        if sandboxed {
            let read_only = r.f.policy_git(GitMode::ReadOnly);
            let out = r.f.run_with(&read_only, &plant, Grants::default()).await;
            assert_ne!(out.exit_code, Some(0), "emb/.git/config written: {out:?}");
            assert_eq!(r.later_unsandboxed_git(), Vec::<String>::new());
            let out = r.f.run(&plant).await;
            assert!(
                out.protected_changes
                    .iter()
                    .any(|c| c.restored && c.path.starts_with(&emb)),
                "{out:?}"
            );
            assert_eq!(r.later_unsandboxed_git(), Vec::<String>::new());
        } else {
            let direct = r.f.run_direct(&plant);
            assert!(direct.status.success(), "control: {direct:?}");
            assert_eq!(r.later_unsandboxed_git(), ["fsm-sub"], "control");
        }
    }
}
