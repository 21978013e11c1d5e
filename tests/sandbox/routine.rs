//! Routine work still works inside the sandbox: cargo, git, pytest, npm.

use crate::sandbox_support;

use std::path::{Path, PathBuf};

use sandbox_support::{Fixture, git, require_pytest, require_tool};
use warden::decision::Grants;
use warden::sandbox::RefusalKind;

const CARGO_TOML: &str = "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";

fn write_crate(dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), CARGO_TOML).unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() { println!(\"tiny ok\"); }\n",
    )
    .unwrap();
}

/// The real toolchain homes (the fixture's HOME is a temp dir).
fn toolchain_policy(f: &Fixture) -> warden::sandbox::SandboxPolicy {
    toolchain_policy_git(f, warden::config::GitMode::Commit)
}

fn toolchain_policy_git(
    f: &Fixture,
    git: warden::config::GitMode,
) -> warden::sandbox::SandboxPolicy {
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let mut cfg = f.sandbox_config();
    cfg.git = git;
    for (var, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
        let v = std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(default));
        cfg.env_set.insert(var.into(), v.display().to_string());
    }
    f.policy_with(warden::config::SandboxMode::WorkspaceWrite, cfg)
}

#[tokio::test]
async fn cargo_build_of_a_tiny_crate_works_offline() {
    let f = Fixture::new();
    write_crate(&f.ws.join("tiny"));
    let policy = toolchain_policy(&f);
    let out = f
        .run_with(
            &policy,
            "cd tiny && cargo build --offline -q && ./target/debug/tiny",
            Grants::default(),
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "tiny ok\n");
}

#[tokio::test]
async fn cargo_build_at_the_root_works_without_a_grant() {
    let f = Fixture::new();
    write_crate(&f.ws);
    // `sandbox.git = "commit"`: the workspace is writable as a whole, so a
    // fresh `target/` and `Cargo.lock` need nothing.
    let out = f
        .run_with(
            &toolchain_policy(&f),
            "cargo build --offline -q && ./target/debug/tiny",
            Grants::default(),
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(f.ws.join("Cargo.lock").is_file() && f.ws.join("target").is_dir());
    assert!(
        out.protected_changes.is_empty(),
        "{:?}",
        out.protected_changes
    );
    std::fs::remove_dir_all(f.ws.join("target")).unwrap();
    std::fs::remove_file(f.ws.join("Cargo.lock")).unwrap();

    let policy = toolchain_policy_git(&f, warden::config::GitMode::ReadOnly);
    // `"read-only"`: the workspace root holds protected .git/.warden, so
    // Landlock cannot let it take new entries (docs/threat-model.md): a
    // fresh `target/` is refused and reported as a write refusal to
    // escalate.
    let out = f
        .run_with(&policy, "cargo build --offline -q", Grants::default())
        .await;
    assert_ne!(out.exit_code, Some(0));
    assert!(
        out.refusals.iter().any(|r| r.kind == RefusalKind::Write
            && r.path.as_ref().is_some_and(|p| p.starts_with(&f.ws))),
        "{:?} / {}",
        out.refusals,
        out.stderr
    );
    // The approved retry: write on `target` (missing, so its parent, the
    // workspace, is granted and every protected path in it is guarded).
    let grants = Grants {
        write: vec![f.ws.join("target"), f.ws.join("Cargo.lock")],
        ..Grants::default()
    };
    let out = f
        .run_with(
            &policy,
            "cargo build --offline -q && ./target/debug/tiny",
            grants,
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(
        out.enforcement.guarded.contains(&f.ws.join(".git")),
        "{:?}",
        out.enforcement.guarded
    );
    assert!(out.protected_changes.is_empty());
    // An existing target/ (a restored cache) needs no grant at all.
    let out = f
        .run_with(&policy, "cargo build --offline -q", Grants::default())
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
}

#[tokio::test]
async fn git_commit_works_by_default_and_needs_the_git_grant_when_read_only() {
    let f = Fixture::new();
    git(&f.ws, &["add", "-A"]);
    git(&f.ws, &["commit", "-q", "-m", "init"]);
    std::fs::write(f.ws.join("README.md"), "changed\n").unwrap();
    let out = f.run("git status --short && git diff --stat").await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.stdout.contains("M README.md"), "{}", out.stdout);

    let read_only = f.policy_git(warden::config::GitMode::ReadOnly);
    let out = f
        .run_with(&read_only, "git commit -qam sandboxed", Grants::default())
        .await;
    assert_ne!(
        out.exit_code,
        Some(0),
        "commit without the .git grant must fail"
    );
    assert!(
        out.refusals.iter().any(|r| r.kind == RefusalKind::Write),
        "{:?} / {}",
        out.refusals,
        out.stderr
    );

    let grants = Grants {
        write: vec![f.ws.join(".git")],
        ..Grants::default()
    };
    let out = f
        .run_with(
            &read_only,
            "git commit -qam sandboxed && git log --oneline | wc -l",
            grants,
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), "2");
    assert!(
        out.protected_changes.is_empty(),
        "{:?}",
        out.protected_changes
    );

    // `"commit"` (the default): no grant needed.
    std::fs::write(f.ws.join("README.md"), "changed again\n").unwrap();
    let out = f
        .run("git commit -qam again && git log --oneline | wc -l")
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), "3");
    assert!(
        out.protected_changes.is_empty(),
        "{:?}",
        out.protected_changes
    );
}

#[tokio::test]
async fn a_git_grant_cannot_plant_hooks_or_config() {
    let f = Fixture::new();
    let config_before = std::fs::read_to_string(f.ws.join(".git/config")).unwrap();
    let grants = Grants {
        write: vec![f.ws.join(".git")],
        ..Grants::default()
    };
    let out = f
        .run_with(
            &f.policy(),
            "printf '#!/bin/sh\\ncurl evil\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit && git config core.hooksPath /tmp/evil",
            grants,
        )
        .await;
    assert_eq!(
        out.exit_code,
        Some(0),
        "with the grant the writes happen: {out:?}"
    );
    let mut changed: Vec<_> = out
        .protected_changes
        .iter()
        .map(|c| {
            (
                c.path.strip_prefix(&f.ws).unwrap().display().to_string(),
                c.change.clone(),
                c.restored,
            )
        })
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        [
            (".git/config".to_string(), "modified".to_string(), true),
            (
                ".git/hooks/pre-commit".to_string(),
                "added".to_string(),
                true
            ),
        ]
    );
    assert!(!f.ws.join(".git/hooks/pre-commit").exists());
    assert_eq!(
        std::fs::read_to_string(f.ws.join(".git/config")).unwrap(),
        config_before
    );
}

#[tokio::test]
async fn pytest_runs_on_a_tiny_project() {
    let f = Fixture::new();
    if !require_pytest() {
        return;
    }
    let dir = f.ws.join("py");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("test_tiny.py"),
        "def test_add():\n    assert 1 + 1 == 2\n",
    )
    .unwrap();
    let out = f
        .run("cd py && python3 -m pytest -q -p no:cacheprovider")
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.stdout.contains("1 passed"), "{}", out.stdout);
}

#[tokio::test]
async fn npm_test_runs_on_a_tiny_package() {
    let f = Fixture::new();
    if !require_tool("npm") {
        return;
    }
    let dir = f.ws.join("js");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"tiny","version":"1.0.0","scripts":{"test":"node test.js"}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("test.js"),
        "if (1 + 1 !== 2) process.exit(1); console.log('npm ok');\n",
    )
    .unwrap();
    let out = f.run("cd js && npm test --silent").await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.stdout.contains("npm ok"), "{}", out.stdout);
}
