//! Configuration load, the part of every warden start that reads config:
//! the whole load of a built-in profile (parse, merge, checks, resolve),
//! the sandbox-only load of `warden sandbox` (no built-in rule tables), and
//! pieces — parsing the shared layer's TOML, and the resolved-config digest
//! that `warden run` records in the audit log.
//!
//! Run: `cargo bench --bench config`. Figures in `docs/benchmarks.md`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use warden::config::location::SourceText;
use warden::config::raw::RawLayer;
use warden::config::{LoadOptions, builtin, digest, load, load_sandbox, parse};

fn config_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("config");
    let opts = LoadOptions::builtin("ci");
    group.bench_function("load_builtin_ci", |b| {
        b.iter(|| load(black_box(&opts)).unwrap())
    });
    group.bench_function("load_sandbox_ci", |b| {
        b.iter(|| load_sandbox(black_box(&opts)).unwrap())
    });
    let common = SourceText::file(builtin::COMMON_NAME, builtin::COMMON);
    group.bench_function("parse_common_toml", |b| {
        b.iter(|| parse::parse_toml::<RawLayer>(black_box(&common)).unwrap())
    });
    let loaded = load(&opts).unwrap();
    group.bench_function("digest", |b| b.iter(|| digest(black_box(&loaded.config))));
    group.finish();
}

criterion_group!(benches, config_load);
criterion_main!(benches);
