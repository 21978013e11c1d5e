//! Routine work under the built-in `ci` profile's sandbox exactly as it
//! resolves (its deny-read list, protected paths, no network, the real
//! `HOME` and toolchains): a Rust crate (`cargo build` and `cargo test`,
//! offline, no dependencies), a Node package (`npm test` running
//! `node --test`, and `npm install` of a local `.tgz`), a Python project
//! (pytest). They keep routine builds working while the sandbox's defaults
//! are hardened.

use crate::sandbox_support;

use std::path::Path;

use sandbox_support::{Fixture, require_pytest, require_tool};
use warden::config::LoadOptions;
use warden::decision::Grants;
use warden::sandbox::{ExecOutput, SandboxPolicy};

fn ci_policy(ws: &Path) -> SandboxPolicy {
    let loaded = warden::config::load(&LoadOptions::builtin("ci")).expect("the ci profile loads");
    SandboxPolicy::from_config(&loaded.config, ws).expect("the ci sandbox resolves")
}

async fn run_ci(f: &Fixture, script: &str) -> ExecOutput {
    f.run_with(&ci_policy(&f.ws), script, Grants::default())
        .await
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[tokio::test]
async fn cargo_build_and_test_of_a_tiny_crate_work_under_ci() {
    if !require_tool("cargo") {
        return;
    }
    let f = Fixture::new();
    write(
        &f.ws.join("tiny"),
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            (
                "src/lib.rs",
                "pub fn add(a: u32, b: u32) -> u32 { a + b }\n\
                 #[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { assert_eq!(super::add(2, 3), 5); }\n}\n",
            ),
            (
                "src/main.rs",
                "fn main() { println!(\"tiny {}\", tiny::add(2, 3)); }\n",
            ),
        ],
    );
    let out = run_ci(
        &f,
        "cd tiny && cargo build --offline -q && ./target/debug/tiny && cargo test --offline -q 2>&1",
    )
    .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.stdout.starts_with("tiny 5\n"), "{}", out.stdout);
    assert!(out.stdout.contains("1 passed"), "{}", out.stdout);
}

fn node_package(f: &Fixture) {
    write(
        &f.ws.join("dep"),
        &[
            (
                "package.json",
                r#"{"name":"tinydep","version":"1.0.0","main":"index.js"}"#,
            ),
            ("index.js", "module.exports = (a, b) => a + b;\n"),
        ],
    );
    write(
        &f.ws.join("js"),
        &[
            (
                "package.json",
                r#"{"name":"tiny","version":"1.0.0","scripts":{"test":"node --test"}}"#,
            ),
            (
                "add.test.js",
                "const test = require('node:test');\nconst assert = require('node:assert');\n\
                 test('adds', () => { assert.strictEqual(1 + 1, 2); });\n",
            ),
        ],
    );
}

#[tokio::test]
async fn npm_test_with_node_test_works_under_ci() {
    if !require_tool("npm") || !require_tool("node") {
        return;
    }
    let f = Fixture::new();
    node_package(&f);
    let out = run_ci(&f, "cd js && npm test 2>&1").await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.stdout.contains("# pass 1"), "{}", out.stdout);
    assert!(out.stdout.contains("# fail 0"), "{}", out.stdout);
}

/// `npm install ./dep.tgz` needs no network, but npm unpacks through its
/// cache, `~/.npm`, which the sandbox does not let it write: today it fails
/// there with EACCES. With the cache in the command's private `TMPDIR`
/// (`--cache "$TMPDIR/npm-cache"`) the same install works offline. (In
/// `warden run --profile ci` the pipeline refuses `npm install` before the
/// sandbox is reached: the rules deny package installs there.)
#[tokio::test]
async fn npm_install_of_a_local_tarball_needs_a_writable_cache() {
    if !require_tool("npm") || !require_tool("node") {
        return;
    }
    let f = Fixture::new();
    node_package(&f);
    let pack = std::process::Command::new("npm")
        .args(["pack", "--silent"])
        .current_dir(f.ws.join("dep"))
        .output()
        .unwrap();
    assert!(pack.status.success(), "npm pack: {pack:?}");
    let tgz = "../dep/tinydep-1.0.0.tgz";
    assert!(f.ws.join("js").join(tgz).is_file());

    let out = run_ci(
        &f,
        &format!("cd js && npm install --offline --no-audit --no-fund {tgz}"),
    )
    .await;
    assert_ne!(
        out.exit_code,
        Some(0),
        "the default cache became writable: {out:?}"
    );
    // npm's own error format (`code EACCES` … `path …`) is not one the
    // refusal scan reads yet, so no escalation is proposed for it.
    let npm_cache = format!("{}/.npm/", std::env::var("HOME").unwrap_or_default());
    assert!(
        out.stderr.contains("EACCES") && out.stderr.contains(&npm_cache),
        "npm fails on its cache: {}",
        out.stderr
    );

    let out = run_ci(
        &f,
        &format!(
            "cd js && npm install --offline --no-audit --no-fund --cache \"$TMPDIR/npm-cache\" {tgz} \
             && node -e 'console.log(require(\"tinydep\")(2, 3))'"
        ),
    )
    .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.stdout.ends_with("5\n"), "{}", out.stdout);
    assert!(f.ws.join("js/node_modules/tinydep/index.js").is_file());
}

#[tokio::test]
async fn pytest_runs_a_tiny_project_under_ci() {
    if !require_tool("python3") {
        return;
    }
    if !require_pytest() {
        return;
    }
    let f = Fixture::new();
    write(
        &f.ws.join("py"),
        &[
            ("tiny.py", "def add(a, b):\n    return a + b\n"),
            (
                "test_tiny.py",
                "from tiny import add\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\
                 def test_tmp(tmp_path):\n    (tmp_path / 'x').write_text('ok')\n",
            ),
        ],
    );
    // pytest's own cache (`.pytest_cache`) and `__pycache__` land in the
    // project directory, which is writable.
    let out = run_ci(&f, "cd py && python3 -m pytest -q").await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.stdout.contains("2 passed"), "{}", out.stdout);
}
