//! The protected-path guard around one command under `sandbox.git =
//! "commit"`: snapshot before, verify after, on a fresh `git init`
//! workspace (its sample hooks, `config`, `info/exclude`) with a workflow,
//! an action and a `.warden/config.toml`. This is what every command of
//! `warden run` pays on top of the sandbox when nothing changed.
//!
//! Run: `cargo bench --bench guard`.

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use warden::sandbox::guard::Guard;

fn workspace() -> PathBuf {
    let ws = Path::new(env!("CARGO_TARGET_TMPDIR")).join("guard-bench");
    let _ = std::fs::remove_dir_all(&ws);
    std::fs::create_dir_all(ws.join(".github/workflows")).unwrap();
    std::fs::create_dir_all(ws.join(".github/actions/setup")).unwrap();
    std::fs::create_dir_all(ws.join(".warden")).unwrap();
    let st = Command::new("git")
        .args(["init", "-q"])
        .current_dir(&ws)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(ws.join(".github/workflows/ci.yml"), "on: push\n".repeat(40)).unwrap();
    std::fs::write(ws.join(".github/actions/setup/action.yml"), "runs: {}\n").unwrap();
    std::fs::write(ws.join(".warden/config.toml"), "# project\n").unwrap();
    ws
}

fn guard(c: &mut Criterion) {
    let ws = workspace();
    let protected: Vec<PathBuf> = [".git", ".warden", ".github/workflows", ".github/actions"]
        .iter()
        .map(|p| ws.join(p))
        .collect();
    let writable = [ws.clone()];
    c.bench_function("guard_snapshot_and_verify_unchanged", |b| {
        b.iter(|| {
            let g = Guard::snapshot(&protected, &writable).unwrap();
            assert!(g.finish().unwrap().is_empty());
        })
    });
}

criterion_group!(benches, guard);
criterion_main!(benches);
