//! The review path: how often the model is asked, and what warden adds to
//! each review besides the model's own time.
//!
//! Printed before the criterion groups (criterion reports means/medians;
//! the percentiles and counts are computed here):
//!
//! - **Reviewer calls per 1,000 boundary crossings**: a scripted sequence of
//!   1,000 crossings drawn (seeded, skewed toward a few hot actions) from
//!   200 distinct requests, a third of which the reviewer denies, decided
//!   through `RunMemory` exactly as the agent loop does (decision cache,
//!   repeated-denial short-circuit).
//! - **p50/p95 latency of one review** through `judge::decide_once` with an
//!   8,000-character transcript budget:
//!   - `stub`: a reviewer that answers instantly without building a prompt
//!     (the pipeline alone: the baseline);
//!   - `llm_script`: the real LLM reviewer (prompt, fences, redaction,
//!     transcript selection, schema check, risk tiers) with a scripted
//!     model that answers instantly;
//!   - `llm_http`: the same with the OpenAI client talking to a loopback
//!     server that answers instantly (adds HTTP and JSON).
//!
//!   `llm_script − stub` is warden's added latency excluding the model;
//!   `llm_http − stub` adds the transport.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group};
use serde_json::json;
use warden::action::{Action, Escalation};
use warden::config::{self, Config, LoadOptions, ReviewerKind};
use warden::decision::{Layer, Outcome};
use warden::judge::decide_once;
use warden::judge::memory::RunMemory;
use warden::model::{ClientSettings, OpenAiClient, Provider, ScriptProvider};
use warden::policy::paths::PathContext;
use warden::policy::pipeline::Pipeline;
use warden::review::llm::LlmReviewer;
use warden::review::{
    ReviewAnswer, ReviewContext, ReviewFuture, ReviewRequest, Reviewer, TranscriptEntry,
};

const CROSSINGS: usize = 1_000;
const DISTINCT: usize = 200;
const SAMPLES: usize = 2_000;

fn config() -> Config {
    let mut cfg = config::load(&LoadOptions::builtin("dev"))
        .expect("dev loads")
        .config;
    cfg.approvals_reviewer = ReviewerKind::AutoReview;
    cfg
}

fn pipeline(cfg: &Config) -> Pipeline {
    let ctx = PathContext {
        workspace: PathBuf::from("/ws"),
        home: PathBuf::from("/home/u"),
    };
    Pipeline::new(cfg, ctx).expect("pipeline compiles")
}

/// Request `i`: network to a host no rule approves, so it reaches the
/// reviewer.
fn crossing(i: usize) -> Action {
    Action::Exec {
        command: vec![
            "curl".into(),
            "-fsSL".into(),
            format!("https://host{i}.example/data.json"),
        ],
        cwd: None,
        escalate: Some(Escalation {
            network: vec![format!("host{i}.example")],
            justification: "fetch the data the task needs".into(),
            ..Escalation::default()
        }),
    }
}

/// `i` of [`crossing`]`(i)`.
fn host_index(action: &Action) -> Option<usize> {
    let Action::Exec { command, .. } = action else {
        return None;
    };
    command
        .get(2)?
        .strip_prefix("https://host")?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// A realistic context: the task plus 40 entries of ~500 characters.
fn context() -> ReviewContext {
    let task = "Update the data files from their upstream sources and run the tests.";
    let mut transcript = vec![TranscriptEntry {
        role: "user".into(),
        content: task.into(),
    }];
    for i in 0..40 {
        let role = if i % 2 == 0 { "assistant" } else { "tool" };
        transcript.push(TranscriptEntry {
            role: role.into(),
            content: format!("entry {i}: {}", "cargo test output line\n".repeat(22)),
        });
    }
    ReviewContext {
        user_request: task.into(),
        transcript,
    }
}

/// Answers instantly: deny every third request, approve the rest.
#[derive(Default)]
struct Stub {
    calls: AtomicU64,
}

impl Reviewer for Stub {
    fn review<'a>(&'a self, request: ReviewRequest<'a>) -> ReviewFuture<'a> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let deny = host_index(request.action).is_none_or(|i| i % 3 == 0);
        Box::pin(async move {
            ReviewAnswer {
                outcome: if deny {
                    Outcome::Deny
                } else {
                    Outcome::Approve
                },
                layer: Layer::AutoReview,
                reason: "stub".into(),
                verdict: None,
            }
        })
    }
}

const VERDICT: &str = r#"{"risk_level":"medium","user_authorization":"medium","outcome":"allow","rationale":"The task needs this source."}"#;

/// An LLM reviewer whose scripted model holds `reviews` instant answers.
fn scripted_reviewer(cfg: &Config, reviews: usize) -> LlmReviewer {
    let mut yaml = String::from("reviews:\n");
    for _ in 0..reviews {
        yaml.push_str(&format!("  - answer: {VERDICT}\n"));
    }
    let provider = ScriptProvider::from_yaml(&yaml, "bench").expect("scenario parses");
    LlmReviewer::new(Provider::Script(provider), "bench".into(), &cfg.auto_review)
}

/// A loopback OpenAI-compatible server that answers every request at once.
async fn instant_server() -> String {
    let body = json!({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": VERDICT}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    })
    .to_string();
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { ([("content-type", "application/json")], body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

fn http_reviewer(cfg: &Config, base_url: String) -> LlmReviewer {
    let client = OpenAiClient::new(ClientSettings {
        timeout: Duration::from_secs(10),
        max_attempts: 1,
        ..ClientSettings::new(base_url, None)
    })
    .expect("client");
    LlmReviewer::new(Provider::OpenAi(client), "bench".into(), &cfg.auto_review)
}

/// The 1,000-crossing sequence: seeded, skewed toward low indices (hot
/// actions the agent repeats, including refused ones it retries).
fn sequence() -> Vec<usize> {
    let mut rng = fastrand::Rng::with_seed(42);
    (0..CROSSINGS)
        .map(|_| ((rng.f64().powi(3)) * DISTINCT as f64) as usize)
        .collect()
}

fn reviewer_calls_per_1000(rt: &tokio::runtime::Runtime) {
    let cfg = config();
    let p = pipeline(&cfg);
    let ctx = context();
    let stub = Stub::default();
    let mut memory = RunMemory::new(vec![]);
    let (mut cache_hits, mut short_circuits, mut denials) = (0, 0, 0);
    let seq = sequence();
    let distinct = {
        let mut s = seq.clone();
        s.sort();
        s.dedup();
        s.len()
    };
    for &i in &seq {
        let action = crossing(i);
        let r = rt.block_on(memory.decide(&p, &action, Some(&stub), &ctx));
        match r.decision.layer {
            Layer::Cache => cache_hits += 1,
            Layer::RepeatedDenial => short_circuits += 1,
            _ => {}
        }
        if r.decision.outcome.counts_as_denial() {
            denials += 1;
        }
        memory.remember_denial(&action, None, &r.decision);
    }
    let calls = stub.calls.load(Ordering::Relaxed);
    println!(
        "reviewer calls per {CROSSINGS} crossings: {calls} ({distinct} distinct requests; \
         {cache_hits} approvals reused from the cache, {short_circuits} repeated denials \
         short-circuited; {denials} denials in all)"
    );
}

fn percentiles(name: &str, mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let (p50, p95) = (at(0.50), at(0.95));
    println!(
        "{name:<12} p50 {p50:>10.1?}  p95 {p95:>10.1?}  ({} samples)",
        samples.len()
    );
    (p50, p95)
}

fn review_latency(rt: &tokio::runtime::Runtime) {
    let cfg = config();
    let p = pipeline(&cfg);
    let ctx = context();
    let action = crossing(7);
    let time = |reviewer: &dyn Reviewer| -> Vec<Duration> {
        (0..SAMPLES)
            .map(|_| {
                let t = Instant::now();
                let d = rt.block_on(decide_once(&p, &action, Some(reviewer), &ctx));
                let took = t.elapsed();
                assert_ne!(d.layer, Layer::ReviewerFailed, "{}", d.reason);
                took
            })
            .collect()
    };
    let stub = Stub::default();
    let (s50, s95) = percentiles("stub", time(&stub));
    let scripted = scripted_reviewer(&cfg, SAMPLES);
    let (l50, l95) = percentiles("llm_script", time(&scripted));
    let base = rt.block_on(instant_server());
    let http = http_reviewer(&cfg, base);
    let (h50, h95) = percentiles("llm_http", time(&http));
    println!(
        "added by the LLM review path (excluding the model): p50 {:.1?}, p95 {:.1?}; \
         with loopback HTTP: p50 {:.1?}, p95 {:.1?}",
        l50.saturating_sub(s50),
        l95.saturating_sub(s95),
        h50.saturating_sub(s50),
        h95.saturating_sub(s95)
    );
}

fn criterion_groups(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cfg = config();
    let p = pipeline(&cfg);
    let ctx = context();
    let action = crossing(7);
    let mut g = c.benchmark_group("review_path");
    let stub = Stub::default();
    g.bench_function("stub", |b| {
        b.iter(|| black_box(rt.block_on(decide_once(&p, &action, Some(&stub), &ctx))))
    });
    g.bench_function("llm_script", |b| {
        b.iter_batched(
            || scripted_reviewer(&cfg, 1),
            |r| black_box(rt.block_on(decide_once(&p, &action, Some(&r), &ctx))),
            BatchSize::SmallInput,
        )
    });
    let http = http_reviewer(&cfg, rt.block_on(instant_server()));
    g.bench_function("llm_http", |b| {
        b.iter(|| black_box(rt.block_on(decide_once(&p, &action, Some(&http), &ctx))))
    });
    g.finish();
    let seq = sequence();
    c.bench_function("run_memory/1000_crossings_stub", |b| {
        b.iter(|| {
            let mut memory = RunMemory::new(vec![]);
            for &i in &seq {
                let action = crossing(i);
                let r = rt.block_on(memory.decide(&p, &action, Some(&stub), &ctx));
                memory.remember_denial(&action, None, &r.decision);
            }
        })
    });
}

criterion_group!(benches, criterion_groups);

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    reviewer_calls_per_1000(&rt);
    review_latency(&rt);
    drop(rt);
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
