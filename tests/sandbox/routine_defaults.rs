//! Routine builds under the built-in `ci` profile's own deny-read list
//! (issue 12, class 7: the list grew, and builds read HOME): a Rust crate
//! built and tested offline, an npm package's tests, a pytest run — each
//! through `warden sandbox --profile ci` with the real HOME, where the
//! toolchains live (`~/.cargo`, `~/.rustup`, `~/.npm`, `~/.pyenv`, …). A
//! missing tool fails under `CI=true` (`.ci/run` installs them).

use crate::sandbox_support;

use std::path::Path;
use std::process::Command;

use sandbox_support::{require_tool, warden_exe};

fn in_sandbox(ws: &Path, script: &str) -> std::process::Output {
    Command::new(warden_exe())
        .args(["sandbox", "--profile", "ci", "--cwd"])
        .arg(ws)
        .args(["--", "bash", "-c", script])
        .output()
        .unwrap()
}

fn project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let st = Command::new("git")
        .args(["init", "-q"])
        .current_dir(tmp.path())
        .status()
        .unwrap();
    assert!(st.success());
    tmp
}

#[test]
fn a_rust_crate_builds_and_tests_offline_under_the_ci_defaults() {
    if !require_tool("cargo") {
        return;
    }
    let tmp = project();
    let ws = tmp.path();
    std::fs::create_dir_all(ws.join("src")).unwrap();
    std::fs::write(
        ws.join("Cargo.toml"),
        "[package]\nname = \"routine\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("src/lib.rs"),
        "pub fn two() -> u8 { 2 }\n#[test]\nfn it_adds() { assert_eq!(two(), 2); }\n",
    )
    .unwrap();
    // A top-level file is not creatable in the sandbox (docs/threat-model.md,
    // "Top-level entries"); a checkout has its lock file.
    std::fs::write(ws.join("Cargo.lock"), "version = 4\n").unwrap();
    let out = in_sandbox(
        ws,
        "CARGO_TARGET_DIR=$TMPDIR/target cargo test --offline 2>&1",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("test it_adds ... ok"),
        "{text}"
    );
}

#[test]
fn npm_tests_run_under_the_ci_defaults() {
    if !require_tool("npm") {
        return;
    }
    let tmp = project();
    let ws = tmp.path();
    std::fs::write(
        ws.join("package.json"),
        r#"{"name":"routine","version":"1.0.0","scripts":{"test":"node -e \"console.log('node-ok')\""}}"#,
    )
    .unwrap();
    let out = in_sandbox(ws, "npm test 2>&1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("node-ok"), "{text}");
}

#[test]
fn pytest_runs_under_the_ci_defaults() {
    if !require_tool("python3") {
        return;
    }
    let has_pytest = Command::new("python3")
        .args(["-c", "import pytest"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_pytest {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "pytest is required under CI"
        );
        eprintln!("not run: pytest is not installed");
        return;
    }
    let tmp = project();
    let ws = tmp.path();
    std::fs::create_dir_all(ws.join("tests")).unwrap();
    std::fs::write(
        ws.join("tests/test_routine.py"),
        "def test_adds():\n    assert 1 + 1 == 2\n",
    )
    .unwrap();
    let out = in_sandbox(ws, "python3 -m pytest -q -p no:cacheprovider tests 2>&1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("1 passed"), "{text}");
}
