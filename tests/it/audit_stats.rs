//! `warden audit stats` over several runs written by the real writer.

use crate::workspace_support::warden_exe;

use crate::audit_support;

use std::path::Path;

use assert_cmd::Command;
use audit_support::*;
use predicates::prelude::*;
use warden::audit::stats::compute;
use warden::audit::{AuditSummary, Event};
use warden::decision::{Category, Layer, Outcome, ReviewerVerdict};

/// A quiet run: one reviewer approval (cached once) and one reviewer failure.
fn quiet_run() -> Vec<Event> {
    let mut events: Vec<Event> = sample_events().into_iter().take(5).collect();
    let mut approve = decision(
        Outcome::Approve,
        Some(Category::SandboxApproval),
        Layer::AutoReview,
        None,
        "fine",
    );
    approve.reviewer = Some(ReviewerVerdict {
        risk_level: "low".into(),
        user_authorization: "high".into(),
        model_outcome: "allow".into(),
        rationale: "ok".into(),
        latency_ms: 900,
    });
    for (id, cache_hit) in [("b1", false), ("b2", true)] {
        events.push(Event::ActionProposed {
            action_id: id.into(),
            tool: "shell".into(),
            action: serde_json::from_str(
                r#"{"kind":"exec","command":["cargo","fetch"],"escalate":{"network":["crates.io"]}}"#,
            )
            .unwrap(),
        });
        events.push(Event::Decided {
            action_id: id.into(),
            decision: approve.clone(),
            denial_id: None,
            cache_hit,
            latency_ms: 905,
        });
    }
    events.push(Event::ActionProposed {
        action_id: "b3".into(),
        tool: "shell".into(),
        action: serde_json::from_str(r#"{"kind":"network","host":"evil.example"}"#).unwrap(),
    });
    events.push(Event::Decided {
        action_id: "b3".into(),
        decision: decision(
            Outcome::Deny,
            Some(Category::SandboxApproval),
            Layer::ReviewerFailed,
            None,
            "reviewer timed out",
        ),
        denial_id: Some("D1".into()),
        cache_hit: false,
        latency_ms: 30_000,
    });
    events.push(Event::RunFinished {
        exit_code: 0,
        reason: "done".into(),
        usage: None,
    });
    events
}

fn write_runs(dir: &Path) {
    write_log(&dir.join("r1.jsonl"), "r1", sample_events());
    write_log(&dir.join("r2.jsonl"), "r2", sample_events());
    write_log(&dir.join("r3.jsonl"), "r3", quiet_run());
    // Interrupted run: no run_finished.
    write_log(
        &dir.join("r4.jsonl"),
        "r4",
        sample_events().into_iter().take(7).collect(),
    );
}

#[test]
fn statistics_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    write_runs(dir.path());
    let runs: Vec<AuditSummary> = ["r1", "r2", "r3", "r4"]
        .iter()
        .map(|r| AuditSummary::load(&dir.path().join(format!("{r}.jsonl"))).unwrap())
        .collect();
    let s = compute(&runs, 10);
    assert_eq!(s.runs, 4);
    assert_eq!(s.incomplete_runs, 1);
    // sample: 2 approve, 2 deny, 1 escalate (x2); quiet: 2 approve, 1 deny;
    // interrupted: 1 deny.
    assert_eq!((s.approvals, s.denials, s.escalations), (6, 6, 2));
    assert_eq!(s.reviews, 14);
    assert!((s.rejection_rate - 8.0 / 14.0).abs() < 1e-9);
    assert_eq!(s.overrides, 2);
    assert!((s.override_rate - 2.0 / 8.0).abs() < 1e-9);
    assert_eq!(s.auto_rejected, 2);
    assert_eq!(s.rule_denied, 3);
    assert_eq!(s.reviewer_failed, 1);
    assert_eq!(s.reviewer_denied, 0);
    assert_eq!(s.rejections_by_category["rules"], 3);
    assert_eq!(s.rejections_by_category["mcp_elicitations"], 2);
    assert_eq!(s.rejections_by_rule[0].key, ".warden/config.toml:12");
    assert_eq!(s.rejections_by_rule[0].count, 3);
    // The pipe-to-shell denial came back in three runs.
    let top = &s.repeated_rejected_actions[0];
    assert_eq!((top.count, top.runs), (3, 3));
    assert!(top.action.starts_with("exec bash -lc"));
    assert!(!top.action.contains("Plant3d"), "{}", top.action);
    // cargo fetch: approved 4 times in 3 runs, with a rule suggestion.
    let fetch = &s.approved_prefixes[0];
    assert_eq!(fetch.prefix, ["cargo", "fetch"]);
    assert_eq!((fetch.count, fetch.runs), (4, 3));
    let snippet = fetch.suggestion.as_ref().unwrap();
    let parsed: toml::Value = toml::from_str(snippet).unwrap();
    assert_eq!(
        parsed["command_rules"][0]["pattern"],
        toml::Value::Array(vec!["cargo".into(), "fetch".into()])
    );
    assert!(snippet.contains("needed network"));
    // Reviewer latency: 412 ×2 (sample runs), 900 (quiet, uncached), 30000
    // (failed); the cache hit is not a reviewer call.
    assert_eq!(s.reviewer_latency_ms.count, 4);
    assert_eq!(s.reviewer_latency_ms.p50, Some(412));
    assert_eq!(s.reviewer_latency_ms.p95, Some(30_000));
    assert_eq!(s.cache_hits, 1);
    assert_eq!(s.breaker_trips, 2);
    assert_eq!(s.runs_with_breaker_trip, 2);
    assert_eq!(s.escalations_per_run.max, 1);
    assert!((s.escalations_per_run.mean - 0.5).abs() < 1e-9);
}

#[test]
fn stats_command_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    write_runs(dir.path());
    Command::new(warden_exe())
        .args(["audit", "stats"])
        .arg(dir.path())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("runs: 4 (1 interrupted)"))
        .stdout(predicate::str::contains("rejection rate: 57.1%"))
        .stdout(predicate::str::contains("reviewer failed 1"))
        .stdout(predicate::str::contains("[[command_rules]]"))
        .stdout(predicate::str::contains("pattern = [\"cargo\", \"fetch\"]"))
        .stdout(predicate::str::contains("Plant3d").not());
    let out = Command::new(warden_exe())
        .args(["audit", "stats", "--json", "--top", "1"])
        .arg(dir.path().join("r1.jsonl"))
        .arg(dir.path().join("r3.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["runs"], 2);
    assert_eq!(v["approved_prefixes"].as_array().unwrap().len(), 1);
    assert_eq!(v["rejections_by_rule"].as_array().unwrap().len(), 1);
}

#[test]
fn stats_refuse_a_broken_log() {
    let dir = tempfile::tempdir().unwrap();
    write_runs(dir.path());
    let path = dir.path().join("r2.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\"deny\"", "\"approve\"", 1)).unwrap();
    Command::new(warden_exe())
        .args(["audit", "stats"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("r2.jsonl is broken at record"));
    Command::new(warden_exe())
        .args(["audit", "stats"])
        .arg(dir.path().join("empty-dir-that-does-not-exist"))
        .assert()
        .code(2);
}
