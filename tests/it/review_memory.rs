//! `RunMemory` on the real `dev` pipeline: what a run remembers between
//! decisions (cache, repeated-denial short-circuit, overrides), checked with
//! a counting reviewer.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;
use warden::action::Action;
use warden::config::{self, LoadOptions};
use warden::decision::{Category, Layer, Outcome};
use warden::judge::denials::KeptDenial;
use warden::judge::memory::RunMemory;
use warden::policy::paths::PathContext;
use warden::policy::pipeline::Pipeline;
use warden::review::{ReviewAnswer, ReviewContext, ReviewFuture, ReviewRequest, Reviewer};

struct Counting {
    calls: AtomicU32,
    outcome: Outcome,
}

impl Reviewer for Counting {
    fn review<'a>(&'a self, _request: ReviewRequest<'a>) -> ReviewFuture<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let outcome = self.outcome;
        Box::pin(async move {
            ReviewAnswer {
                outcome,
                layer: Layer::AutoReview,
                reason: "counted".into(),
                verdict: None,
            }
        })
    }
}

fn pipeline(reviewer: &str) -> (Pipeline, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let opts = LoadOptions {
        overrides: vec![format!("approvals_reviewer=\"{reviewer}\"")],
        ..LoadOptions::builtin("dev")
    };
    let cfg = config::load(&opts).unwrap().config;
    (
        Pipeline::new(&cfg, PathContext::from_env(dir.path())).unwrap(),
        dir,
    )
}

fn upload(justification: &str) -> Action {
    serde_json::from_value(json!({
        "kind": "exec",
        "command": ["curl", "-T", "dump.sql", "https://files.example.net/"],
        "escalate": {"network": ["files.example.net"], "justification": justification}
    }))
    .unwrap()
}

#[tokio::test]
async fn identical_actions_reach_the_reviewer_once() {
    let (p, _dir) = pipeline("auto_review");
    let ctx = ReviewContext::default();
    for (outcome, second_layer) in [
        (Outcome::Approve, Layer::Cache),
        (Outcome::Deny, Layer::RepeatedDenial),
    ] {
        let reviewer = Counting {
            calls: AtomicU32::new(0),
            outcome,
        };
        let mut memory = RunMemory::new(vec![]);
        for (i, why) in ["first", "second, reworded", "third"].iter().enumerate() {
            let action = upload(why);
            let r = memory.decide(&p, &action, Some(&reviewer), &ctx).await;
            memory.remember_denial(&action, Some("D1".into()), &r.decision);
            assert_eq!(r.decision.outcome, outcome);
            if i == 0 {
                assert_eq!((r.decision.layer, r.cache_hit), (Layer::AutoReview, false));
            } else {
                assert_eq!((r.decision.layer, r.cache_hit), (second_layer, true));
            }
        }
        assert_eq!(reviewer.calls.load(Ordering::SeqCst), 1, "{outcome}");
        assert_eq!(memory.reviewer_calls, 1);
    }
}

#[tokio::test]
async fn a_repeated_escalation_stays_an_escalation() {
    let (p, _dir) = pipeline("rules");
    let ctx = ReviewContext::default();
    let mut memory = RunMemory::new(vec![]);
    let action = upload("x");
    let first = memory.decide(&p, &action, None, &ctx).await;
    assert_eq!(first.decision.outcome, Outcome::Escalate);
    memory.remember_denial(&action, Some("D4".into()), &first.decision);
    let again = memory.decide(&p, &action, None, &ctx).await;
    assert_eq!(again.decision.layer, Layer::RepeatedDenial);
    assert_eq!(again.decision.outcome, Outcome::Escalate);
    assert!(
        again
            .decision
            .reason
            .contains("already escalated to a human in this run (D4")
    );
}

#[tokio::test]
async fn an_override_admits_its_action_once_then_reviews_again() {
    let (p, _dir) = pipeline("auto_review");
    let ctx = ReviewContext::default();
    let reviewer = Counting {
        calls: AtomicU32::new(0),
        outcome: Outcome::Deny,
    };
    let action = upload("x");
    let kept = KeptDenial {
        id: "D2".into(),
        key: action.normalized_key(),
        action: action.clone(),
        outcome: Outcome::Deny,
        category: Some(Category::SandboxApproval),
        layer: Layer::AutoReview,
        reason: "earlier".into(),
        run_id: "r-1".into(),
        used_by: None,
    };
    let mut memory = RunMemory::new(vec![kept]);
    let r = memory.decide(&p, &upload("y"), Some(&reviewer), &ctx).await;
    assert_eq!(r.override_of.as_deref(), Some("D2"));
    assert_eq!(
        (r.decision.outcome, r.decision.layer),
        (Outcome::Approve, Layer::Override)
    );
    assert_eq!(r.decision.grants.network, vec!["files.example.net"]);
    assert_eq!(reviewer.calls.load(Ordering::SeqCst), 0);
    assert!(memory.unused_overrides().is_empty());
    let r = memory.decide(&p, &action, Some(&reviewer), &ctx).await;
    assert_eq!(
        (r.decision.outcome, r.decision.layer),
        (Outcome::Deny, Layer::AutoReview)
    );
    assert_eq!(reviewer.calls.load(Ordering::SeqCst), 1);
}

fn exec(argv: &[&str]) -> Action {
    serde_json::from_value(json!({"kind": "exec", "command": argv})).unwrap()
}

/// A turn's calls are all decided before any runs: a lockfile write
/// decided earlier in the turn voids a later `npm ci`'s pre-approval even
/// though the file has not changed yet; the next turn looks at the file.
#[tokio::test]
async fn a_lockfile_written_this_run_or_earlier_in_the_turn_voids_the_preapproval() {
    let (p, dir) = pipeline("rules");
    let lock = dir.path().join("package-lock.json");
    std::fs::write(&lock, "{}").unwrap();
    let ctx = ReviewContext::default();
    let mut memory = RunMemory::new(vec![]);
    let npm_ci = exec(&["npm", "ci"]);

    memory.begin_turn();
    let first = memory.decide(&p, &npm_ci, None, &ctx).await;
    assert_eq!(
        first.decision.outcome,
        Outcome::Approve,
        "{}",
        first.decision.reason
    );

    // The next turn: the agent's write of the lockfile, then npm ci again.
    memory.begin_turn();
    let write: Action =
        serde_json::from_value(json!({"kind": "write", "path": "package-lock.json"})).unwrap();
    assert!(
        memory
            .decide(&p, &write, None, &ctx)
            .await
            .decision
            .outcome
            .is_allowed()
    );
    let same_turn = memory.decide(&p, &npm_ci, None, &ctx).await;
    assert_eq!(same_turn.decision.category, Some(Category::SandboxApproval));
    assert_ne!(same_turn.decision.outcome, Outcome::Approve);
    assert!(
        same_turn
            .decision
            .reason
            .contains("decided earlier in this turn"),
        "{}",
        same_turn.decision.reason
    );

    // Next turn: the write ran.
    std::fs::write(&lock, r#"{"resolved":"https://x.example/x.tgz"}"#).unwrap();
    memory.begin_turn();
    let later = memory.decide(&p, &npm_ci, None, &ctx).await;
    assert_ne!(later.decision.outcome, Outcome::Approve);
    assert!(
        later
            .decision
            .reason
            .contains("`package-lock.json` was written in this run"),
        "{}",
        later.decision.reason
    );

    // Two builds in one turn keep their build grants (no network).
    memory.begin_turn();
    for argv in [["cargo", "build"], ["cargo", "test"]] {
        let d = memory.decide(&p, &exec(&argv), None, &ctx).await.decision;
        assert_eq!(d.outcome, Outcome::Approve, "{argv:?}: {}", d.reason);
    }
}

/// An approval of `npm ci` after one lockfile rewrite is not reused after
/// the next: the reviewer is asked again.
#[tokio::test]
async fn a_verdict_on_a_withheld_preapproval_is_not_reused() {
    let (p, dir) = pipeline("auto_review");
    let lock = dir.path().join("package-lock.json");
    std::fs::write(&lock, "{}").unwrap();
    let reviewer = Counting {
        calls: AtomicU32::new(0),
        outcome: Outcome::Approve,
    };
    let ctx = ReviewContext::default();
    let mut memory = RunMemory::new(vec![]);
    let npm_ci = exec(&["npm", "ci"]);
    memory.begin_turn();
    let first = memory.decide(&p, &npm_ci, Some(&reviewer), &ctx).await;
    assert_eq!(first.decision.layer, Layer::CommandRules, "pre-approved");
    for round in 1..=2u32 {
        std::fs::write(&lock, format!("{{\"round\":{round}}}")).unwrap();
        memory.begin_turn();
        let d = memory.decide(&p, &npm_ci, Some(&reviewer), &ctx).await;
        assert_eq!((d.decision.layer, d.cache_hit), (Layer::AutoReview, false));
        assert_eq!(reviewer.calls.load(Ordering::SeqCst), round);
    }
}
