//! `RefState::read`, taken before every command of `warden run` in a git
//! workspace (docs/threat-model.md, "Commits of protected paths"): on a
//! fresh checkout (one branch, its remote-tracking ref and `origin/HEAD`,
//! one tag, a packed-refs file as `git clone` leaves it), and on one with
//! 200 loose tags.
//!
//! Run: `cargo bench --bench git_refs`. Figures in `docs/benchmarks.md`.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use warden::sandbox::git_commits::RefState;

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args(["-c", "user.name=b", "-c", "user.email=b@example.invalid"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .expect("git is needed for this benchmark");
    assert!(st.success(), "git {args:?}");
}

/// A checkout like `actions/checkout` leaves one: a clone of a repository.
fn checkout(root: &Path, loose_tags: usize) -> std::path::PathBuf {
    let origin = root.join("origin");
    std::fs::create_dir_all(origin.join(".github/workflows")).unwrap();
    git(&origin, &["init", "-q", "-b", "main"]);
    std::fs::write(origin.join(".github/workflows/ci.yml"), "on: push\n").unwrap();
    std::fs::write(origin.join("lib.rs"), "fn a() {}\n").unwrap();
    git(&origin, &["add", "-A"]);
    git(&origin, &["commit", "-qm", "base"]);
    git(&origin, &["tag", "v1"]);
    let ws = root.join("ws");
    git(root, &["clone", "-q", "origin", "ws"]);
    for i in 0..loose_tags {
        git(&ws, &["tag", &format!("t{i}")]);
    }
    ws.join(".git")
}

fn ref_state(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = checkout(&tmp.path().join("fresh"), 0);
    let tagged = checkout(&tmp.path().join("tagged"), 200);
    let mut group = c.benchmark_group("git_refs");
    group.bench_function("ref_state_read_fresh_checkout", |b| {
        b.iter(|| RefState::read(black_box(&fresh)).unwrap())
    });
    group.bench_function("ref_state_read_200_loose_tags", |b| {
        b.iter(|| RefState::read(black_box(&tagged)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, ref_state);
criterion_main!(benches);
