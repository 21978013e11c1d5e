//! The trace step's typed result keeps its serialised words, and the
//! builder records the deciding layer's step.

use super::*;

const EVERY_RESULT: [StepResult; 12] = [
    StepResult::Run,
    StepResult::Approve,
    StepResult::Deny,
    StepResult::Escalate,
    StepResult::Allow,
    StepResult::Prompt,
    StepResult::Forbidden,
    StepResult::Crossing,
    StepResult::NoMatch,
    StepResult::NoRule,
    StepResult::NotFullyUnderstood,
    StepResult::PreApproved,
];

/// A match that stops compiling when a variant is added without being
/// listed in `EVERY_RESULT`.
fn listed(r: StepResult) -> bool {
    match r {
        StepResult::Run
        | StepResult::Approve
        | StepResult::Deny
        | StepResult::Escalate
        | StepResult::Allow
        | StepResult::Prompt
        | StepResult::Forbidden
        | StepResult::Crossing
        | StepResult::NoMatch
        | StepResult::NoRule
        | StepResult::NotFullyUnderstood
        | StepResult::PreApproved => EVERY_RESULT.contains(&r),
    }
}

fn source(line: u32) -> Source {
    Source {
        file: "rules.toml".into(),
        line,
        column: None,
    }
}

#[test]
fn step_results_serialise_as_the_words_old_logs_hold() {
    // The words every earlier build wrote into `trace[].result`.
    let words = [
        "run",
        "approve",
        "deny",
        "escalate",
        "allow",
        "prompt",
        "forbidden",
        "crossing",
        "no match",
        "no rule",
        "not fully understood",
        "pre-approved",
    ];
    for (result, word) in EVERY_RESULT.into_iter().zip(words) {
        assert!(listed(result));
        assert_eq!(
            serde_json::to_string(&result).unwrap(),
            format!("\"{word}\"")
        );
        assert_eq!(result.as_str(), word);
        assert_eq!(result.to_string(), word);
        let parsed: StepResult = serde_json::from_str(&format!("\"{word}\"")).unwrap();
        assert_eq!(parsed, result);
    }
    assert!(serde_json::from_str::<StepResult>("\"maybe\"").is_err());
}

#[test]
fn outcomes_map_to_their_own_words() {
    for outcome in [
        Outcome::Run,
        Outcome::Approve,
        Outcome::Deny,
        Outcome::Escalate,
    ] {
        assert_eq!(StepResult::from(outcome).as_str(), outcome.as_str());
    }
}

#[test]
fn the_builder_records_its_own_step_after_the_trace() {
    let mut trace = vec![TraceStep {
        layer: Layer::Sandbox,
        result: StepResult::Crossing,
        source: None,
        detail: "network is off".into(),
    }];
    let d = Decision::deny(Layer::ReviewRules)
        .category(Category::SandboxApproval)
        .source(source(7))
        .reason("no network in CI")
        .step("rule detail")
        .after(&mut trace);
    assert!(trace.is_empty(), "the trace is taken");
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.category, Some(Category::SandboxApproval));
    assert_eq!(d.source, Some(source(7)));
    assert_eq!(d.reason, "no network in CI");
    assert_eq!(d.trace.len(), 2);
    let own = &d.trace[1];
    assert_eq!(own.layer, Layer::ReviewRules);
    assert_eq!(own.result, StepResult::Deny);
    assert_eq!(own.source, Some(source(7)));
    assert_eq!(own.detail, "rule detail");

    let d = Decision::deny(Layer::AutoReject)
        .source(source(3))
        .step_without_source("rules = false")
        .build();
    assert_eq!(d.source, Some(source(3)));
    assert_eq!(d.trace[0].source, None);

    let d = Decision::run(Layer::Sandbox).reason("inside").build();
    assert!(d.trace.is_empty(), "no step unless asked");
}

#[test]
fn only_an_approval_carries_grants() {
    let wanted = Grants {
        network: vec!["index.crates.io".into()],
        ..Grants::default()
    };
    for outcome in [Outcome::Run, Outcome::Deny, Outcome::Escalate] {
        let d = Decision::with_outcome(outcome, Layer::ReviewRules)
            .grants(wanted.clone())
            .build();
        assert!(d.grants.is_empty(), "{outcome}");
    }
    let d = Decision::approve(Layer::ReviewRules)
        .grants(wanted.clone())
        .build();
    assert_eq!(d.grants, wanted);
    let pending = Decision::escalate(Layer::AutoReview)
        .pending_grants(wanted.clone())
        .build();
    assert_eq!(pending.grants, wanted);
}

/// A log written by the build before `TraceStep.result` was a type
/// (`tests/fixtures/audit/previous-build.scenario.yaml` says how): it
/// verifies, every record reads back to the same JSON, and its traces hold
/// every word a [`StepResult`] stands for.
#[test]
fn a_log_written_by_the_previous_build_still_parses_and_verifies() {
    let bytes = include_bytes!("../../tests/fixtures/audit/previous-build.jsonl");
    let verified = crate::audit::verify_bytes(bytes).expect("the previous build's log verifies");
    assert!(verified.torn_tail.is_none());
    let lines: Vec<&[u8]> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(verified.records.len(), lines.len());
    let mut results = std::collections::HashSet::new();
    for (line, record) in lines.iter().zip(&verified.records) {
        let written: serde_json::Value = serde_json::from_slice(line).unwrap();
        let read_back = serde_json::to_value(record).unwrap();
        assert_eq!(
            read_back, written,
            "record {} changed on a round trip",
            record.seq
        );
        if let crate::audit::Event::Decided { decision, .. } = &record.event {
            results.extend(decision.trace.iter().map(|t| t.result));
        }
    }
    for result in EVERY_RESULT {
        assert!(results.contains(&result), "the log has no `{result}` step");
    }
}
