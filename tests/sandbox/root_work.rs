//! Issue 14's routine list at the workspace root, in the real sandbox with
//! `sandbox.git = "commit"` (the default): new root entries, a venv,
//! pytest's cache, an offline `npm install` of a tarball, a branch and a
//! stash round trip. And the background writer: a process that plants a
//! hook a second after its command returned is dead before the guard
//! verifies, so a later unsandboxed `git commit` runs nothing.

use crate::sandbox_support;

use std::path::Path;
use std::process::Command;

use sandbox_support::{Fixture, git_stdout, require_pytest, require_tool};

#[tokio::test]
async fn new_root_entries_a_venv_and_pytest_s_cache_at_the_root() {
    let f = Fixture::committed();
    let out = f
        .run("echo x > CONTRIBUTING.md && mkdir docs && echo y > docs/a.md && mv docs notes")
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(f.ws.join("CONTRIBUTING.md").is_file() && f.ws.join("notes/a.md").is_file());

    let out = f.run("python3 -m venv --without-pip .venv").await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(f.ws.join(".venv/pyvenv.cfg").is_file());

    if !require_pytest() {
        return;
    }
    std::fs::write(
        f.ws.join("test_root.py"),
        "def test_one():\n    assert True\n",
    )
    .unwrap();
    let out = f.run("python3 -m pytest -q test_root.py").await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(f.ws.join(".pytest_cache").is_dir(), "{}", out.stdout);
}

#[tokio::test]
async fn npm_install_of_a_local_tarball_creates_node_modules_and_the_lockfile() {
    let f = Fixture::committed();
    if !require_tool("npm") {
        return;
    }
    // The tarball is packed outside the sandbox, as a release would be.
    let src = f.home.join("dep");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("package.json"),
        r#"{"name":"dep","version":"1.0.0","main":"index.js"}"#,
    )
    .unwrap();
    std::fs::write(src.join("index.js"), "module.exports = 42;\n").unwrap();
    let packed = Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(&f.ws)
        .arg(&src)
        .env("npm_config_cache", f.home.join("npm-cache"))
        .output()
        .unwrap();
    assert!(packed.status.success(), "{packed:?}");
    std::fs::write(
        f.ws.join("package.json"),
        r#"{"name":"app","version":"0.1.0"}"#,
    )
    .unwrap();
    let out = f
        .run(
            "npm install --offline --no-audit --no-fund --cache \"$TMPDIR/npm\" \
             ./dep-1.0.0.tgz && node -e 'process.exit(require(\"dep\") === 42 ? 0 : 1)'",
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(f.ws.join("node_modules/dep/index.js").is_file());
    assert!(f.ws.join("package-lock.json").is_file());
}

#[tokio::test]
async fn a_branch_and_a_stash_round_trip_work_and_stay() {
    let f = Fixture::committed();
    std::fs::write(f.ws.join("README.md"), "work in progress\n").unwrap();
    let out = f
        .run(
            "git checkout -qb topic && git stash -q && test \"$(cat README.md)\" = hello \
             && git stash pop -q && git commit -qam wip && git log --format=%s -1",
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), "wip");
    assert!(
        out.protected_changes.is_empty(),
        "{:?}",
        out.protected_changes
    );
    assert_eq!(git_stdout(&f.ws, &["branch", "--show-current"]), "topic");
}

/// Plants `pre-commit` from a detached background process one second after
/// the command returns; the hook writes `marker` when git runs it.
fn late_planter(marker: &Path) -> String {
    format!(
        "(sleep 1; printf '#!/bin/sh\\ntouch {}\\n' > .git/hooks/pre-commit; \
         chmod +x .git/hooks/pre-commit) >/dev/null 2>&1 </dev/null & exit 0",
        marker.display()
    )
}

fn unsandboxed_commit(ws: &Path) {
    let st = Command::new("git")
        .args(["commit", "-q", "--allow-empty", "-m", "later step"])
        .current_dir(ws)
        .status()
        .unwrap();
    assert!(st.success());
}

#[tokio::test]
async fn a_hook_written_a_second_after_its_command_returned_never_lands() {
    // Control: without the sandbox the late writer plants the hook and a
    // later `git commit` runs it.
    let control = Fixture::committed();
    let marker = control.home.join("ran-control");
    let o = control.run_direct(&late_planter(&marker));
    assert!(o.status.success());
    std::thread::sleep(std::time::Duration::from_millis(2500));
    unsandboxed_commit(&control.ws);
    assert!(marker.exists(), "the control's planted hook did not run");

    let f = Fixture::committed();
    let marker = f.home.join("ran");
    let out = f.run(&late_planter(&marker)).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(!f.ws.join(".git/hooks/pre-commit").exists(), "hook planted");
    unsandboxed_commit(&f.ws);
    assert!(!marker.exists(), "a planted hook ran in a later step");
}
