//! `warden run` and guarded protected paths: a change a granted command
//! makes to a protected path is restored and recorded in the audit log and
//! the report; a change warden cannot undo stops the run at once (exit 5),
//! with the audit log and the report naming the path.

mod run_support;

use run_support::{RunFixture, events};

/// A protected path inside a directory an allow rule grants, and a command
/// the rule pre-approves.
fn fixture(script: &str) -> (RunFixture, std::path::PathBuf, std::path::PathBuf) {
    let f = RunFixture::new();
    std::fs::create_dir_all(f.ws.join("infra/sub")).unwrap();
    std::fs::write(f.ws.join("infra/sub/cfg"), "original\n").unwrap();
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&f.ws)
        .status()
        .unwrap();
    assert!(git.success());
    let cmd = f.ws.join("change.sh");
    std::fs::write(&cmd, format!("#!/bin/sh\nset -e\n{script}\n")).unwrap();
    std::fs::set_permissions(&cmd, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = f.write(
        "guard.toml",
        "[sandbox]\nprotected = [\"infra/sub/cfg\"]\n\n\
         [[command_rules]]\npattern = [\"./change.sh\"]\ndecision = \"allow\"\n\
         grants = { write = [\"infra\"] }\njustification = \"the grant covers a protected path\"\n",
    );
    let scenario = f.write(
        "scenario.yaml",
        r#"
prompt: Change the infra config.
on_exhausted: error
turns:
  - tool_calls:
      - name: shell
        arguments: { command: ["./change.sh"] }
  - text: Done.
"#,
    );
    (f, config, scenario)
}

#[test]
fn a_restored_change_is_in_the_audit_log_and_the_run_goes_on() {
    let (f, config, scenario) = fixture("echo planted > infra/sub/cfg");
    f.scripted("ci", &scenario)
        .arg("--config")
        .arg(&config)
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(f.ws.join("infra/sub/cfg")).unwrap(),
        "original\n"
    );
    let records = f.audit_records();
    let executed = events(&records, "executed");
    let changes = &executed[0]["protected_changes"];
    let cfg = f.ws.join("infra/sub/cfg").display().to_string();
    assert_eq!(
        changes,
        &serde_json::json!([{"path": cfg, "change": "modified", "restored": true}]),
        "{executed:?}"
    );
    let excerpt = executed[0]["output_excerpt"].as_str().unwrap();
    assert!(excerpt.contains("warden restored them"), "{excerpt}");
}

/// The protected file's directory is swapped for a file: warden cannot put
/// the file back, so nothing more runs.
#[test]
fn a_change_that_cannot_be_restored_stops_the_run_with_exit_5() {
    let (f, config, scenario) = fixture("rm -r infra/sub\necho swapped > infra/sub");
    let out = f
        .scripted("ci", &scenario)
        .arg("--config")
        .arg(&config)
        .assert()
        .code(5);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let cfg = f.ws.join("infra/sub/cfg").display().to_string();
    assert!(
        stderr.contains(&cfg) || stdout.contains(&cfg),
        "the output names the path: {stdout}\n{stderr}"
    );
    let records = f.audit_records();
    let executed = events(&records, "executed");
    assert_eq!(executed.len(), 1);
    assert_eq!(
        executed[0]["protected_changes"],
        serde_json::json!([{"path": cfg, "change": "removed", "restored": false}])
    );
    let finished = events(&records, "run_finished");
    assert_eq!(finished[0]["exit_code"], 5);
    let reason = finished[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&cfg) && reason.contains("could not restore"),
        "{reason}"
    );
    // The model was not asked again: the second turn never ran.
    assert_eq!(events(&records, "turn_started").len(), 1, "{records:?}");

    let report = f
        .warden()
        .args(["report", "--audit"])
        .arg(&f.audit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&report.stdout);
    assert!(
        report.contains("Protected paths changed") && report.contains("not restored"),
        "{report}"
    );
}
