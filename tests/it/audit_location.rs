//! Where `warden run` keeps its audit log when `--audit` is not given
//! (warden's state directory, one subdirectory per workspace, outside the
//! workspace), that `warden report`, `warden audit verify` and `warden
//! audit stats` find it there without a path, and that a log where
//! commands could write it is refused (exit 2) before anything is created.

use crate::run_support;

use std::path::{Path, PathBuf};

use run_support::RunFixture;

const SCENARIO: &str = r#"
prompt: List the workspace.
on_exhausted: error
turns:
  - tool_calls:
      - name: shell
        arguments: { command: "ls" }
  - text: Done.
"#;

/// `warden run --profile ci --provider script` without `--audit`.
fn run_without_audit(f: &RunFixture, env: &[(&str, &Path)]) -> std::process::Output {
    let scenario = f.write("list.yaml", SCENARIO);
    let mut cmd = f.warden_std();
    cmd.args([
        "run",
        "--profile",
        "ci",
        "--provider",
        "script",
        "--scenario",
    ])
    .arg(scenario);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The one `*.jsonl` in `dir/*/`.
fn only_log(dir: &Path) -> PathBuf {
    let subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(subdirs.len(), 1, "{subdirs:?}");
    let name = subdirs[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with("ws-"), "named after the workspace: {name}");
    let logs = warden::audit::location::logs_in(&subdirs[0]).unwrap();
    assert_eq!(logs.len(), 1, "{logs:?}");
    logs[0].clone()
}

#[test]
fn the_default_log_is_in_the_state_directory_and_found_without_a_path() {
    let f = RunFixture::new();
    let out = run_without_audit(&f, &[]);
    assert!(out.status.success(), "{out:?}");
    let log = only_log(&f.home.join(".local/state/warden/audit"));
    assert!(!log.starts_with(&f.ws));
    assert!(
        !f.ws.join(".warden").exists(),
        "nothing written in the workspace"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("run_finished"), "{text}");

    let verify = f.warden().args(["audit", "verify"]).output().unwrap();
    assert!(verify.status.success(), "{verify:?}");
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(said.starts_with(&format!("{}: ", log.display())), "{said}");
    let stats = f
        .warden()
        .args(["audit", "stats", "--json"])
        .output()
        .unwrap();
    assert!(stats.status.success(), "{stats:?}");
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["runs"], 1, "{stats}");
    let report = f
        .warden()
        .args(["report", "--format", "json"])
        .output()
        .unwrap();
    assert!(report.status.success(), "{report:?}");
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let run_id = log.file_stem().unwrap().to_string_lossy();
    assert_eq!(report["run_id"], *run_id, "{report}");

    // Another workspace has no logs yet: said, not an empty answer.
    let other = f.home.parent().unwrap().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let none = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .env_clear()
        .env("HOME", &f.home)
        .arg("--cwd")
        .arg(&other)
        .args(["audit", "stats"])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2), "{none:?}");
    assert!(String::from_utf8_lossy(&none.stderr).contains("no audit log of"));
}

#[test]
fn xdg_state_home_comes_first() {
    let f = RunFixture::new();
    let state = f.home.parent().unwrap().join("state");
    let out = run_without_audit(&f, &[("XDG_STATE_HOME", &state)]);
    assert!(out.status.success(), "{out:?}");
    only_log(&state.join("warden/audit"));
    assert!(!f.home.join(".local/state").exists());
}

/// Inside the workspace (as given, or through `XDG_STATE_HOME`) or a
/// writable root, the log is refused before anything exists.
#[test]
fn a_log_where_commands_write_is_refused_with_exit_2() {
    let f = RunFixture::new();
    let scenario = f.write("list.yaml", SCENARIO);
    let extra = f.home.parent().unwrap().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    for (audit, config) in [
        (f.ws.join("logs/run.jsonl"), None),
        (PathBuf::from("logs/run.jsonl"), None),
        (
            extra.join("run.jsonl"),
            Some(format!(
                "sandbox.writable_roots=[{:?}]",
                extra.display().to_string()
            )),
        ),
    ] {
        let mut cmd = f.warden_std();
        // Relative paths are relative to where warden starts.
        cmd.current_dir(&f.ws)
            .args([
                "run",
                "--profile",
                "ci",
                "--provider",
                "script",
                "--scenario",
            ])
            .arg(&scenario)
            .arg("--audit")
            .arg(&audit);
        if let Some(c) = &config {
            cmd.args(["-c", c]);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{audit:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("a command could rewrite"), "{stderr}");
        assert!(!f.ws.join("logs").exists() && !extra.join("run.jsonl").exists());
    }
    let out = run_without_audit(&f, &[("XDG_STATE_HOME", &f.ws.join("state"))]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("inside the workspace"));
    assert!(!f.ws.join("state").exists());
}
