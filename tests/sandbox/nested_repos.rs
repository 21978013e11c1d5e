//! Issue 14, nested repositories: a repository a command creates (or
//! changes) anywhere in the workspace holds configuration a later,
//! unsandboxed git executes: `git status`, `git commit` or
//! `git submodule status` of the superproject recurse into a gitlink,
//! and git run inside it (`git -C sub status`) or below it reads its
//! config. Each attack is first shown to run the planted command without
//! the sandbox; after the sandboxed command, the same later git runs
//! nothing planted (`sandbox::git_nested`, `sandbox::git_commits`).

use crate::sandbox_support;

use std::path::Path;
use std::process::Command;

use sandbox_support::{Fixture, git, git_stdout, warden_exe};

/// The later, unsandboxed git a workflow step might run: superproject
/// status, submodule status and a commit, then git in and below `dirs`
/// (status and a commit there). Failures are ignored: only what runs counts.
fn later_git(f: &Fixture, dirs: &[&str]) {
    let run = |dir: &Path, args: &[&str]| {
        let _ = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("HOME", &f.home)
            .envs(IDENTITY)
            .output()
            .unwrap();
    };
    run(&f.ws, &["status"]);
    run(&f.ws, &["submodule", "status"]);
    std::fs::write(f.ws.join("README.md"), "later\n").unwrap();
    run(&f.ws, &["commit", "-qam", "a later step"]);
    for dir in dirs {
        let dir = f.ws.join(dir);
        if dir.is_dir() {
            run(&dir, &["status"]);
            run(
                &dir,
                &["commit", "-q", "--allow-empty", "-m", "later, inside"],
            );
        }
    }
}

/// Who commits in a nested repository (the fixture configures only the
/// workspace's own).
const IDENTITY: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "t"),
    ("GIT_AUTHOR_EMAIL", "t@example.invalid"),
    ("GIT_COMMITTER_NAME", "t"),
    ("GIT_COMMITTER_EMAIL", "t@example.invalid"),
];

/// The planted commands append to `pwned` in HOME (outside every writable
/// root, so a sandboxed command that triggers its own plant writes nothing).
fn plants(f: &Fixture) -> String {
    std::fs::read_to_string(f.home.join("pwned")).unwrap_or_default()
}

/// `core.fsmonitor` and a `pre-commit` hook planted in the gitdir `gitdir`
/// (relative to the workspace).
fn plant(f: &Fixture, gitdir: &str) -> String {
    let pwned = f.home.join("pwned");
    format!(
        "git config --file {gitdir}/config core.fsmonitor 'echo fsmonitor >> {p}; false' \
         && mkdir -p {gitdir}/hooks \
         && printf '#!/bin/sh\\necho hook >> {p}\\n' > {gitdir}/hooks/pre-commit \
         && chmod +x {gitdir}/hooks/pre-commit",
        p = pwned.display()
    )
}

/// A new repository `sub`, committed in itself, staged and committed as a
/// gitlink in the superproject, then planted.
fn gitlink_attack(f: &Fixture) -> String {
    format!(
        "git init -q -b main sub && echo x > sub/f && git -C sub add f \
         && git -C sub -c user.name=a -c user.email=a@b.invalid commit -qm s \
         && git add sub && git commit -qm 'add sub' && {}",
        plant(f, "sub/.git")
    )
}

#[tokio::test]
async fn a_repository_a_command_creates_and_gitlinks_runs_nothing_later() {
    // Control: without the sandbox, every later git runs the plant.
    let control = Fixture::committed();
    let direct = control.run_direct(&gitlink_attack(&control));
    assert!(direct.status.success(), "{direct:?}");
    std::fs::remove_file(control.home.join("pwned")).ok();
    later_git(&control, &["sub"]);
    let ran = plants(&control);
    assert!(
        ran.contains("fsmonitor") && ran.contains("hook"),
        "control: the plant did not run: {ran:?}"
    );

    let f = Fixture::committed();
    let head = git_stdout(&f.ws, &["rev-parse", "HEAD"]);
    let got = f.run(&gitlink_attack(&f)).await;
    assert_eq!(got.exit_code, Some(0), "{got:?}");
    let said = |end: &str, what: &str| {
        got.protected_changes
            .iter()
            .any(|c| c.path.ends_with(end) && c.change == what && c.restored)
    };
    assert!(
        said("sub/.git", "nested repository added") && said("sub", "committed"),
        "{:?}",
        got.protected_changes
    );
    assert!(!f.ws.join("sub/.git").exists(), "the nested .git stays");
    assert!(f.ws.join("sub/f").is_file(), "the files stay");
    assert_eq!(git_stdout(&f.ws, &["rev-parse", "HEAD"]), head);
    assert_eq!(
        git_stdout(&f.ws, &["ls-files", "-s", "sub"]),
        "",
        "gitlink staged"
    );
    later_git(&f, &["sub"]);
    assert_eq!(plants(&f), "", "a later git ran the plant");
}

#[tokio::test]
async fn a_gitlink_only_staged_is_unstaged() {
    let f = Fixture::committed();
    let got = f
        .run("git init -q sub && git -C sub -c user.name=a -c user.email=a@b.invalid commit -q --allow-empty -m s && git add sub")
        .await;
    assert_eq!(got.exit_code, Some(0), "{got:?}");
    assert!(
        got.protected_changes
            .iter()
            .any(|c| c.path.ends_with("sub") && c.change == "gitlink staged" && c.restored),
        "{:?}",
        got.protected_changes
    );
    assert_eq!(git_stdout(&f.ws, &["ls-files", "-s", "sub"]), "");
}

#[tokio::test]
async fn a_plant_in_a_nested_repository_from_before_the_run_is_restored() {
    let setup = |f: &Fixture| {
        let x = f.ws.join("vendor/x");
        std::fs::create_dir_all(&x).unwrap();
        git(&x, &["init", "-q", "-b", "main"]);
        git(&x, &["config", "user.name", "t"]);
        git(&x, &["config", "user.email", "t@example.invalid"]);
        git(&x, &["commit", "-q", "--allow-empty", "-m", "theirs"]);
    };
    let control = Fixture::committed();
    setup(&control);
    let direct = control.run_direct(&plant(&control, "vendor/x/.git"));
    assert!(direct.status.success(), "{direct:?}");
    later_git(&control, &["vendor/x"]);
    assert!(plants(&control).contains("fsmonitor"), "control");

    let f = Fixture::committed();
    setup(&f);
    let config = std::fs::read_to_string(f.ws.join("vendor/x/.git/config")).unwrap();
    let got = f.run(&plant(&f, "vendor/x/.git")).await;
    assert_eq!(got.exit_code, Some(0), "{got:?}");
    assert!(
        got.protected_changes
            .iter()
            .any(|c| c.path.ends_with("vendor/x/.git/config") && c.restored),
        "{:?}",
        got.protected_changes
    );
    assert_eq!(
        std::fs::read_to_string(f.ws.join("vendor/x/.git/config")).unwrap(),
        config
    );
    later_git(&f, &["vendor/x"]);
    assert_eq!(plants(&f), "");
    // The nested repository itself stays, history included.
    assert_eq!(
        git_stdout(&f.ws.join("vendor/x"), &["log", "--format=%s"]),
        "later, inside\ntheirs"
    );

    // Removing it whole is the command's business; moving it is put back.
    let got = f.run("mv vendor/x moved").await;
    assert_eq!(got.exit_code, Some(0), "{got:?}");
    assert!(f.ws.join("vendor/x/.git/HEAD").is_file(), "{got:?}");
    let got = f.run("rm -rf vendor").await;
    assert_eq!(got.exit_code, Some(0), "{got:?}");
    assert!(got.protected_changes.is_empty(), "{got:?}");
    assert!(!f.ws.join("vendor").exists());
}

/// The second spellings: a `gitdir:` file pointing at a bare-looking
/// directory the command made, through `warden sandbox` (one-shot).
#[test]
fn a_gitdir_file_and_a_bare_gitdir_made_by_warden_sandbox_run_nothing_later() {
    let attack = |f: &Fixture| {
        format!(
            "git init -q --bare tools/evil && git config --file tools/evil/config core.bare false \
             && echo 'gitdir: ../tools/evil' > src/.git && {}",
            plant(f, "tools/evil")
        )
    };
    let control = Fixture::committed();
    let direct = control.run_direct(&attack(&control));
    assert!(direct.status.success(), "{direct:?}");
    later_git(&control, &["src"]);
    assert!(plants(&control).contains("fsmonitor"), "control");

    let f = Fixture::committed();
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(warden_exe())
        .env("XDG_STATE_HOME", state.path())
        .env("HOME", &f.home)
        .args(["sandbox", "--cwd"])
        .arg(&f.ws)
        .args(["--", "bash", "-c", &attack(&f)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nested repository added") && stderr.contains("bare repository added"),
        "{stderr}"
    );
    assert!(!f.ws.join("src/.git").exists());
    assert!(!f.ws.join("tools/evil/HEAD").exists());
    later_git(&f, &["src", "tools/evil"]);
    assert_eq!(plants(&f), "");
}
