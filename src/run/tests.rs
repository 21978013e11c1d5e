//! A whole run built in-process through [`Run`], with a scripted model:
//! the lifecycle writes `run_started`, the judge the decisions, the loop
//! the turns and the end, all in one verified chain.

use super::*;
use crate::audit::read_log;
use crate::config::{self, LoadOptions};
use crate::decision::{Layer, Outcome};
use crate::error::ExitStatus;
use crate::judge::denials::DenialState;
use crate::model::ScriptProvider;
use crate::policy::paths::PathContext;

/// The agent asks twice for the same unsandboxed run, then gives up.
const SCENARIO: &str = r#"
prompt: Check the deploy key.
on_exhausted: error
turns:
  - tool_calls:
      - name: shell
        arguments:
          command: "cat ~/.ssh/id_rsa"
          escalate: { unsandboxed: true }
          justification: the notes say so
  - expect:
      last_tool_result: { denied: true }
    tool_calls:
      - name: shell
        arguments:
          command: "cat ~/.ssh/id_rsa"
          escalate: { unsandboxed: true }
          justification: asking again, reworded
  - expect:
      last_tool_result: { denied: true }
    text: I could not read the key; stopping.
"#;

#[tokio::test]
async fn a_run_built_in_process_records_its_decisions_and_ends() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().canonicalize().unwrap().join("ws");
    std::fs::create_dir(&workspace).unwrap();
    let loaded = config::load(&LoadOptions {
        workspace: Some(workspace.clone()),
        ..LoadOptions::builtin("ci")
    })
    .unwrap();
    let pipeline = Pipeline::new(&loaded.config, PathContext::from_env(&workspace)).unwrap();
    let provider = ScriptProvider::from_yaml(SCENARIO, "test").unwrap();
    // Outside the workspace: a log commands could write is refused.
    let audit_path = dir.path().canonicalize().unwrap().join("audit/run.jsonl");
    let run = Run::start(RunSpec {
        workspace: workspace.clone(),
        loaded,
        pipeline,
        reviewer: None,
        prompt: provider.prompt().unwrap().to_owned(),
        provider: Provider::Script(provider),
        audit_path: Some(audit_path.clone()),
        approve: vec![],
        approved_by: "--approve".into(),
        preamble: vec![],
        fail_on_escalation: false,
        output: Output::new(true, false),
    })
    .unwrap();
    assert_eq!(run.audit_path(), audit_path);
    let finished = run.execute().await;
    let result = &finished.result;
    assert_eq!(result.status, ExitStatus::Success, "{}", result.reason);
    assert_eq!(
        result.final_message.as_deref(),
        Some("I could not read the key; stopping.")
    );
    let layers: Vec<Layer> = result.decisions.iter().map(|(_, d)| d.layer).collect();
    assert_eq!(layers.len(), 2);
    assert_ne!(layers[0], Layer::RepeatedDenial);
    assert_eq!(layers[1], Layer::RepeatedDenial);
    assert!(
        result
            .decisions
            .iter()
            .all(|(_, d)| d.outcome.counts_as_denial())
    );
    assert_eq!(result.denials.len(), 2);
    assert_eq!(result.denials[0].id.as_deref(), Some("D1"));
    assert_eq!(result.denials[1].id.as_deref(), Some("D1"));
    assert_eq!(result.breaker, None);

    let records = read_log(&finished.audit_path).expect("one verified chain");
    let names: Vec<&str> = records.iter().map(|r| r.event.name()).collect();
    assert_eq!(
        names,
        [
            "run_started",
            "turn_started",
            "action_proposed",
            "decided",
            "action_proposed",
            "decided",
            "run_finished"
        ]
    );
    let crate::audit::Event::RunStarted { profile, .. } = &records[0].event else {
        unreachable!()
    };
    assert_eq!(profile, "ci");
    let crate::audit::Event::RunFinished { exit_code, .. } = records[6].event else {
        unreachable!()
    };
    assert_eq!(exit_code, 0);
    let kept = DenialState::load(&crate::judge::denials::state_path(&audit_path)).unwrap();
    assert_eq!(kept.denials.len(), 1, "a repeat is not kept twice");
    assert_ne!(kept.denials[0].outcome, Outcome::Run);
}
