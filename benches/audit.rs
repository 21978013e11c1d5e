//! Audit trail costs: one write-ahead append (redact, chain, write, fsync),
//! redaction on its own, and `warden audit stats` over 100,000 events.
//!
//! Run: `cargo bench --bench audit`. Logs go under Cargo's target tmp
//! directory (a real file system, so fsync is real).

#[path = "../tests/it/audit_support/mod.rs"]
mod audit_support;

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use warden::audit::stats::StatsBuilder;
use warden::audit::{AuditLog, AuditSummary, Event, GENESIS_PREV, Record, SCHEMA_VERSION};
use warden::redact::{Redactor, redact};

fn bench_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn append(c: &mut Criterion) {
    let dir = bench_dir("audit-append");
    let events = audit_support::sample_events();
    let decided = events[6].clone();
    let proposed = events[5].clone();
    let mut log = AuditLog::create(dir.join("bench.jsonl"), "bench").unwrap();
    log.append(events[0].clone()).unwrap();
    let mut group = c.benchmark_group("audit_append");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decided_event_with_fsync", |b| {
        b.iter(|| log.append(black_box(decided.clone())).unwrap())
    });
    group.bench_function("proposed_exec_with_secret_with_fsync", |b| {
        b.iter(|| log.append(black_box(proposed.clone())).unwrap())
    });
    group.finish();
}

fn redaction(c: &mut Criterion) {
    let ordinary =
        "cargo test --workspace -- --nocapture; commit 9fceb02d0ae598e95dc970b74767f19372d61af8 \
                    in /home/runner/work/demo/demo/src/main.rs:12:5 "
            .repeat(8);
    let with_token = format!("{ordinary} token={}", audit_support::PLANTED_TOKEN);
    let mut group = c.benchmark_group("redact");
    group.throughput(Throughput::Bytes(ordinary.len() as u64));
    group.bench_function("1KiB_nothing_to_redact", |b| {
        b.iter(|| redact(black_box(&ordinary)))
    });
    group.bench_function("1KiB_one_github_token", |b| {
        b.iter(|| redact(black_box(&with_token)))
    });
    let env: Vec<(String, String)> = (0..20)
        .map(|i| (format!("SECRET_{i}_TOKEN"), format!("value-{i}-0123456789")))
        .collect();
    let with_env = Redactor::new(env);
    group.bench_function("1KiB_nothing_to_redact_20_env_secrets", |b| {
        b.iter(|| with_env.redact(black_box(&ordinary)).len())
    });
    group.finish();
}

/// Write `runs` chained logs of `per_run` records each, without fsync (the
/// bench measures reading them).
fn generate_logs(dir: &Path, runs: usize, per_run: usize) -> Vec<PathBuf> {
    let events = audit_support::sample_events();
    let body: Vec<Event> = events[1..events.len() - 1].to_vec();
    (0..runs)
        .map(|run| {
            let run_id = format!("run-{run:04}");
            let path = dir.join(format!("{run_id}.jsonl"));
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            let mut prev = GENESIS_PREV.to_owned();
            for seq in 1..=per_run as u64 {
                let event = match seq {
                    1 => events[0].clone(),
                    s if s == per_run as u64 => events[events.len() - 1].clone(),
                    s => body[(s as usize - 2) % body.len()].clone(),
                };
                let record = Record {
                    v: SCHEMA_VERSION,
                    seq,
                    ts: "2026-11-05T10:15:00.000Z".into(),
                    run_id: run_id.clone(),
                    turn: Some(1),
                    prev: prev.clone(),
                    event,
                };
                let line = serde_json::to_vec(&record).unwrap();
                prev = hex::encode(Sha256::digest(&line));
                out.write_all(&line).unwrap();
                out.write_all(b"\n").unwrap();
            }
            path
        })
        .collect()
}

fn stats(c: &mut Criterion) {
    let dir = bench_dir("audit-stats");
    let files = generate_logs(&dir, 100, 1000);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    eprintln!("audit stats input: 100 logs, 100000 events, {bytes} bytes");
    let mut group = c.benchmark_group("audit_stats");
    group.sample_size(10);
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("verify_and_summarise_100k_events", |b| {
        b.iter(|| {
            let mut builder = StatsBuilder::default();
            for f in &files {
                builder.add_run(&AuditSummary::load(f).unwrap());
            }
            black_box(builder.finish(10))
        })
    });
    group.finish();
}

criterion_group!(benches, append, redaction, stats);
criterion_main!(benches);
