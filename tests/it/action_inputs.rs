//! The composite action's contract, checked from `action.yml` itself:
//! every input reaches warden (a flag, parsed by warden's real command line,
//! or the environment variable warden reads), every documented output is
//! one the run step sets, every action is pinned by commit SHA, and no
//! `${{ }}` expression is spliced into a script.
//!
//! The run step's script (`scripts/action-run.sh`) is run here with
//! `WARDEN_BIN` pointing at a recorder that saves its arguments and
//! environment; the arguments are then parsed with `warden::cli::Cli`, so
//! a flag warden does not know fails the test.

use crate::workspace_support::warden_exe;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use clap::Parser;
use serde_norway::Value;
use warden::cli::{Cli, Command};
use warden::gh::outputs::OUTPUT_NAMES;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn action() -> Value {
    let text = std::fs::read_to_string(repo_root().join("action.yml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn steps(action: &Value) -> Vec<Value> {
    action["runs"]["steps"].as_sequence().unwrap().clone()
}

fn run_step(action: &Value) -> Value {
    steps(action)
        .into_iter()
        .find(|s| s["id"].as_str() == Some("run"))
        .expect("a step with id `run`")
}

fn names(map: &Value) -> Vec<String> {
    map.as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

/// The run step's environment: variable → the expression it holds.
fn run_env(action: &Value) -> BTreeMap<String, String> {
    run_step(action)["env"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_owned(),
                v.as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_input_is_used_and_every_output_is_set_by_the_run_step() {
    let action = action();
    let inputs = names(&action["inputs"]);
    let all_steps = serde_norway::to_string(&action["runs"]).unwrap();
    for input in &inputs {
        assert!(
            all_steps.contains(&format!("inputs.{input} "))
                || all_steps.contains(&format!("inputs.{input}}}")),
            "input `{input}` is not used by any step"
        );
        assert!(
            action["inputs"][input.as_str()]["description"]
                .as_str()
                .is_some_and(|d| d.len() > 10),
            "input `{input}` has no description"
        );
    }
    let mut outputs = names(&action["outputs"]);
    // The one output not about a run: where the binary is (mode: install).
    assert_eq!(
        action["outputs"]["warden-path"]["value"].as_str(),
        Some("${{ steps.prepare.outputs.root }}/bin/warden")
    );
    outputs.retain(|o| o != "warden-path");
    for output in &outputs {
        assert_eq!(
            action["outputs"][output.as_str()]["value"].as_str(),
            Some(format!("${{{{ steps.run.outputs.{output} }}}}").as_str()),
            "output `{output}` must come from the run step"
        );
        assert!(
            OUTPUT_NAMES.contains(&output.as_str()),
            "output `{output}` is not one `warden gh outputs` sets"
        );
    }
    for name in OUTPUT_NAMES {
        assert!(
            outputs.iter().any(|o| o == name),
            "`warden gh outputs` sets `{name}` but action.yml does not document it"
        );
    }
}

#[test]
fn secrets_and_inputs_reach_scripts_only_through_env() {
    let action = action();
    for step in steps(&action) {
        if let Some(run) = step["run"].as_str() {
            assert!(!run.contains("${{"), "expression in a run script: {run}");
            assert!(
                run.contains("$GITHUB_ACTION_PATH/scripts/"),
                "logic belongs in scripts/: {run}"
            );
        }
    }
    let env = run_env(&action);
    for (var, input) in [
        ("WARDEN_API_KEY", "api-key"),
        ("WARDEN_REVIEWER_API_KEY", "reviewer-api-key"),
        ("GITHUB_TOKEN", "github-token"),
    ] {
        assert_eq!(
            env.get(var).map(String::as_str),
            Some(format!("${{{{ inputs.{input} }}}}").as_str())
        );
    }
}

#[test]
fn every_action_used_is_pinned_by_commit_sha() {
    let action = action();
    let mut used = 0;
    for step in steps(&action) {
        let Some(uses) = step["uses"].as_str() else {
            continue;
        };
        let (_, sha) = uses.split_once('@').expect("uses with a ref");
        assert!(
            sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{uses} is not pinned to a full commit SHA"
        );
        used += 1;
    }
    assert_eq!(used, 3, "cache restore, cache save, upload-artifact");
}

/// A stand-in for the warden binary that records each call.
fn recorder(dir: &Path) -> PathBuf {
    let path = dir.join("recorder.sh");
    std::fs::write(
        &path,
        r#"#!/usr/bin/env bash
set -eu
n=$(find "$RECORD_DIR" -name 'call*.args' | wc -l)
printf '%s\0' "$@" >"$RECORD_DIR/call$n.args"
env -0 >"$RECORD_DIR/call$n.env"
while [ $# -gt 0 ]; do
  if [ "$1" = --prompt-file ]; then cp -- "$2" "$RECORD_DIR/call$n.prompt"; fi
  shift
done
"#,
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// One call of the recorder: arguments, environment, and the prompt file's
/// content when `--prompt-file` was given.
struct Call(Vec<String>, BTreeMap<String, String>, Option<String>);

struct Recorded {
    out: Output,
    calls: Vec<Call>,
}

/// Run the action's script with `inputs` as the run step would set them.
fn run_script(inputs: &[(&str, &str)]) -> Recorded {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record");
    std::fs::create_dir(&record).unwrap();
    let runner_temp = dir.path().join("runner_temp");
    std::fs::create_dir(&runner_temp).unwrap();
    let action = action();
    let env_map = run_env(&action);
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(repo_root().join("scripts/action-run.sh"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("RUNNER_TEMP", &runner_temp)
        .env("RECORD_DIR", &record)
        .env("WARDEN_BIN", recorder(dir.path()))
        .current_dir(dir.path());
    for (input, value) in inputs {
        let var = env_map
            .iter()
            .find(|(_, expr)| **expr == format!("${{{{ inputs.{input} }}}}"))
            .map(|(var, _)| var.clone())
            .unwrap_or_else(|| panic!("input `{input}` is not mapped into the run step's env"));
        cmd.env(var, value);
    }
    let out = cmd.output().unwrap();
    let mut calls = Vec::new();
    for n in 0.. {
        let Ok(args) = std::fs::read(record.join(format!("call{n}.args"))) else {
            break;
        };
        let args: Vec<String> = args
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8(a.to_vec()).unwrap())
            .collect();
        let env: BTreeMap<String, String> = std::fs::read(record.join(format!("call{n}.env")))
            .unwrap()
            .split(|b| *b == 0)
            .filter_map(|kv| {
                let kv = String::from_utf8_lossy(kv).into_owned();
                kv.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            })
            .collect();
        let prompt = std::fs::read_to_string(record.join(format!("call{n}.prompt"))).ok();
        calls.push(Call(args, env, prompt));
    }
    Recorded { out, calls }
}

fn parse(args: &[String]) -> Cli {
    Cli::try_parse_from(std::iter::once("warden".to_owned()).chain(args.iter().cloned()))
        .unwrap_or_else(|e| panic!("warden rejects {args:?}: {e}"))
}

#[test]
fn every_input_reaches_a_warden_flag_or_variable() {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let rec = run_script(&[
        ("prompt", "-Fix the lint\nthen stop"),
        ("profile", "nightly"),
        ("config", " a.toml\n\n b.toml \n"),
        ("requirements", "/org/requirements.toml"),
        ("provider", "anthropic"),
        ("scenario", "s.yaml"),
        ("model", "claude-x"),
        ("base-url", "http://127.0.0.1:1/v1"),
        ("api-key", "sk-agent-secret"),
        ("reviewer", "auto_review"),
        ("reviewer-model", "gpt-r"),
        ("reviewer-base-url", "http://127.0.0.1:2/v1"),
        ("reviewer-api-key", "sk-reviewer-secret"),
        ("github-token", "ghs_token"),
        ("approve", "D2, D15\nD3"),
        ("fail-on", "denial"),
        ("working-directory", "sub/dir"),
        ("audit-path", "/audit/run.jsonl"),
        ("max-turns", "7"),
        ("timeout", "15m"),
        ("head-sha", sha),
        ("report", "required"),
    ]);
    assert_eq!(
        rec.out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rec.out.stderr)
    );
    assert_eq!(rec.calls.len(), 2, "warden run, then warden gh outputs");
    let Call(run_args, run_env, prompt) = &rec.calls[0];
    let cli = parse(run_args);
    let Command::Run(run) = cli.command else {
        panic!("not a run: {run_args:?}")
    };
    assert_eq!(
        prompt.as_deref(),
        Some("-Fix the lint\nthen stop\n"),
        "the prompt goes through a file"
    );
    assert!(run.prompt.is_none());
    assert_eq!(run.profile.as_deref(), Some("nightly"));
    assert_eq!(
        cli.global.config,
        [PathBuf::from("a.toml"), PathBuf::from("b.toml")]
    );
    assert_eq!(
        cli.global.requirements,
        Some(PathBuf::from("/org/requirements.toml"))
    );
    assert_eq!(cli.global.cwd, Some(PathBuf::from("sub/dir")));
    assert_eq!(run.provider.as_deref(), Some("anthropic"));
    assert_eq!(run.scenario, Some(PathBuf::from("s.yaml")));
    assert_eq!(run.model.as_deref(), Some("claude-x"));
    assert_eq!(run.base_url.as_deref(), Some("http://127.0.0.1:1/v1"));
    assert_eq!(run.review.reviewer.as_deref(), Some("auto_review"));
    assert_eq!(run.review.reviewer_model.as_deref(), Some("gpt-r"));
    assert_eq!(
        run.review.reviewer_base_url.as_deref(),
        Some("http://127.0.0.1:2/v1")
    );
    assert_eq!(run.approve, ["D2", "D15", "D3"]);
    assert!(run.fail_on_escalation, "fail-on denial implies escalation");
    assert_eq!(run.audit, Some(PathBuf::from("/audit/run.jsonl")));
    assert_eq!(run.max_turns, Some(7));
    assert_eq!(run.timeout.as_deref(), Some("15m"));
    assert!(run.require_report && !run.no_report);
    assert!(run.output_last_message.is_some());
    assert_eq!(
        run_env.get("WARDEN_API_KEY").map(String::as_str),
        Some("sk-agent-secret")
    );
    assert_eq!(
        run_env.get("WARDEN_REVIEWER_API_KEY").map(String::as_str),
        Some("sk-reviewer-secret")
    );
    assert_eq!(
        run_env.get("GITHUB_TOKEN").map(String::as_str),
        Some("ghs_token")
    );
    assert_eq!(run_env.get("GITHUB_SHA").map(String::as_str), Some(sha));
    let leftover: Vec<&String> = run_env.keys().filter(|k| k.starts_with("INPUT_")).collect();
    assert!(
        leftover.is_empty(),
        "inputs left in warden's environment: {leftover:?}"
    );

    let Call(outputs_args, _, _) = &rec.calls[1];
    let cli = parse(outputs_args);
    let Command::Gh(warden::cli::gh::GhCommand::Outputs(o)) = cli.command else {
        panic!("not gh outputs: {outputs_args:?}")
    };
    assert_eq!(o.fail_on, warden::gh::outputs::FailOn::Denial);
    assert_eq!(o.audit, PathBuf::from("/audit/run.jsonl"));
    assert_eq!(o.exit_code, 0);
    assert!(!o.no_lookup);
    // Secrets never appear in the step's own log.
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&rec.out.stdout),
        String::from_utf8_lossy(&rec.out.stderr)
    );
    assert!(
        !log.contains("sk-agent-secret") && !log.contains("ghs_token"),
        "{log}"
    );
}

#[test]
fn defaults_are_the_safe_ones() {
    let rec = run_script(&[("prompt-file", "task.md"), ("report", "false")]);
    assert_eq!(
        rec.out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rec.out.stderr)
    );
    let Call(run_args, _, _) = &rec.calls[0];
    let cli = parse(run_args);
    let Command::Run(run) = cli.command else {
        panic!()
    };
    assert_eq!(run.prompt_file, Some(PathBuf::from("task.md")));
    assert!(run.fail_on_escalation, "fail-on defaults to escalation");
    assert!(run.no_report);
    let audit = run.audit.unwrap();
    assert!(
        audit
            .to_str()
            .unwrap()
            .contains("/runner_temp/warden-audit/warden-"),
        "{audit:?}"
    );
    assert!(audit.extension().is_some_and(|e| e == "jsonl"));
    let Call(outputs_args, _, _) = &rec.calls[1];
    assert!(outputs_args.iter().any(|a| a == "--no-lookup"));
    assert!(
        outputs_args
            .windows(2)
            .any(|w| w == ["--fail-on", "escalation"])
    );
    // action.yml's own defaults.
    let action = action();
    assert_eq!(action["inputs"]["profile"]["default"].as_str(), Some("ci"));
    assert_eq!(
        action["inputs"]["fail-on"]["default"].as_str(),
        Some("escalation")
    );
}

#[test]
fn bad_inputs_stop_the_step_before_warden_runs() {
    for inputs in [
        &[("fail-on", "sometimes")][..],
        &[("approve", "D2;touch /tmp/pwned")][..],
        &[("approve", "$(id)")][..],
        &[("approve", "d2")][..],
        &[("max-turns", "5; id")][..],
        &[("max-turns", "0")][..],
        &[("head-sha", "HEAD")][..],
        &[("report", "yes")][..],
        &[("prompt", "a"), ("prompt-file", "b")][..],
    ] {
        let rec = run_script(inputs);
        assert_eq!(rec.out.status.code(), Some(2), "{inputs:?}");
        assert!(rec.calls.is_empty(), "{inputs:?}: warden must not run");
        assert!(String::from_utf8_lossy(&rec.out.stderr).contains("warden action:"));
    }
}

#[test]
fn the_build_key_names_the_sources_and_an_earlier_build_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let runner_temp = dir.path().join("runner_temp");
    std::fs::create_dir(&runner_temp).unwrap();
    let key_step = |mode: &str| {
        let output = dir.path().join("github_output");
        let _ = std::fs::remove_file(&output);
        let out = std::process::Command::new("bash")
            .arg(repo_root().join("scripts/action-install.sh"))
            .arg("key")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("GITHUB_ACTION_PATH", repo_root())
            .env("GITHUB_OUTPUT", &output)
            .env("RUNNER_TEMP", &runner_temp)
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("INPUT_MODE", mode)
            .output()
            .unwrap();
        let text = std::fs::read_to_string(&output).unwrap_or_default();
        let map: BTreeMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (out.status.code(), map)
    };
    let (code, first) = key_step("install");
    assert_eq!(code, Some(0));
    let key = &first["key"];
    assert!(key.starts_with("warden-Linux-X64-"), "{key}");
    assert_eq!(
        key.rsplit('-').next().unwrap().len(),
        32,
        "a source hash ends the key"
    );
    assert_eq!(first["installed"], "false");
    let root = PathBuf::from(&first["root"]);
    assert_eq!(root, runner_temp.join("warden-action"));

    // What `build` leaves behind: the binary and the key it was built for.
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy(warden_exe(), root.join("bin/warden")).unwrap();
    std::fs::write(root.join(".key"), key).unwrap();
    let (_, again) = key_step("run");
    assert_eq!(&again["key"], key, "same sources, same key");
    assert_eq!(again["installed"], "true");
    std::fs::write(root.join(".key"), "warden-other").unwrap();
    assert_eq!(
        key_step("run").1["installed"],
        "false",
        "another build is not reused"
    );

    let (code, outputs) = key_step("deploy");
    assert_eq!(code, Some(2), "an unknown mode stops the action");
    assert!(outputs.is_empty());
}
